"""Dagster assets of the mining stage that are not plain SQL models: the target process
tables, pm4py conformance, the discovered BPMN model and the KPI history."""

import os
from pathlib import Path

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
    multi_asset,
)

from ..monitoring.drift import (
    KPIS,
    SEGMENT_KPIS,
    DriftResult,
    SegmentDrift,
    evaluate_drift,
    evaluate_segments,
    read_history,
    read_segment_history,
    write_alerts,
)
from ..resources import WarehouseResource
from ..warehouse.duckdb_warehouse import WRITER_POOL
from ..warehouse.publish import staging_dir
from .business_hours import BusinessHoursError, write_business_hours, write_case_calendars
from .conformance import write_case_conformance
from .discovery import DEFAULT_COVERAGE, DEFAULT_MAX_VARIANTS, discover_bpmn
from .kpi_history import record_kpi_snapshot, record_segment_snapshot, snapshot_date
from .stage import CASE_CALENDAR_SOURCES
from .target_process import (
    TARGET_PROCESS_TABLES,
    TargetProcessError,
    catalogue_activities,
    default_process_file,
    load_target_process,
    write_target_process,
)

KPI_HISTORY = AssetKey(["reports", "kpi_history"])
KPI_ALERTS = AssetKey(["reports", "kpi_alerts"])
KPI_SEGMENT_HISTORY = AssetKey(["reports", "kpi_segment_history"])
CASE_CONFORMANCE = AssetKey(["mining", "case_conformance"])
CASE_CALENDARS = AssetKey(["mining", "case_calendars"])
PROCESS_MODEL = AssetKey(["mining", "process_model"])
_TARGET_PROCESS_DESCRIPTIONS = {
    "mining.reference_path": "The target process's reference path (process.yaml), one row per step.",
    "mining.process_rules": "The compliance rules of the target process (process.yaml).",
    "mining.compliance_allowlist": "Accepted deviations (process.yaml allowlist).",
}


def _target_process():
    try:
        return load_target_process(known_activities=catalogue_activities())
    except TargetProcessError as error:
        raise Failure(description=str(error)) from None


@multi_asset(
    specs=[
        AssetSpec(
            AssetKey(table.split(".")),
            group_name="process_mining",
            kinds={"duckdb", "yaml"},
            description=_TARGET_PROCESS_DESCRIPTIONS[table],
        )
        for table in TARGET_PROCESS_TABLES
    ],
    pool=WRITER_POOL,
)
def target_process(context: AssetExecutionContext, warehouse: WarehouseResource):
    """Load process.yaml (L2C_PROCESS_FILE) into the warehouse, checked first."""
    process = _target_process()
    with warehouse.connection() as con:
        rows = write_target_process(con, process)
    for table, count in rows.items():
        yield MaterializeResult(
            asset_key=AssetKey(table.split(".")),
            metadata={
                "rows": MetadataValue.int(count),
                "process_file": MetadataValue.path(str(default_process_file())),
            },
        )


@multi_asset(
    specs=[
        AssetSpec(
            AssetKey(["mining", "business_hours"]),
            deps=[
                AssetKey(["staging", "stg_business_hours"]),
                AssetKey(["staging", "stg_organization"]),
            ],
            group_name="process_mining",
            kinds={"duckdb"},
            description="The business calendars business time is counted in: L2C_BUSINESS_HOURS "
            "(one), else every active business hours of the org, else Monday to Friday "
            "09:00-17:00 in the org's time zone.",
        ),
        AssetSpec(
            AssetKey(["mining", "business_holidays"]),
            deps=[AssetKey(["staging", "stg_holidays"])],
            group_name="process_mining",
            kinds={"duckdb"},
            description="The holidays business time leaves out (the org's Holiday records).",
        ),
    ],
    pool=WRITER_POOL,
)
def business_hours(context: AssetExecutionContext, warehouse: WarehouseResource):
    """Choose the business hours (the setting, the org's default, the fallback)."""
    with warehouse.connection() as con:
        try:
            rows = write_business_hours(con)
        except BusinessHoursError as error:
            raise Failure(description=str(error)) from None
        week = con.execute(
            "SELECT time_zone, source FROM mining.business_hours ORDER BY NOT is_default LIMIT 1"
        ).fetchone() or ("none", "none")
        calendars = con.execute(
            "SELECT count(DISTINCT calendar_id) FROM mining.business_hours"
        ).fetchone()[0]
        holidays = con.execute("SELECT count(*) FROM mining.business_holidays").fetchone()[0]
    context.log.info(
        f"business hours: {calendars} calendar(s); the default one: {week[1]}, in {week[0]}; "
        f"{holidays} holiday(s)"
    )
    yield MaterializeResult(
        asset_key=AssetKey(["mining", "business_hours"]),
        metadata={
            "rows": MetadataValue.int(rows),
            "time_zone": MetadataValue.text(week[0]),
            "source": MetadataValue.text(week[1]),
            "calendars": MetadataValue.int(calendars),
        },
    )
    yield MaterializeResult(
        asset_key=AssetKey(["mining", "business_holidays"]),
        metadata={"rows": MetadataValue.int(holidays)},
    )


@asset(
    key=CASE_CALENDARS,
    # The same sources the pipeline's own build order gives the step (stage.py).
    deps=[AssetKey(list(key)) for key in sorted(CASE_CALENDAR_SOURCES)],
    group_name="process_mining",
    pool=WRITER_POOL,
    kinds={"duckdb", "yaml"},
    description="Which business calendar each case's business time counts in, and why "
    "(process.yaml business_calendars: by default the case owner's time zone).",
)
def case_calendars(context: AssetExecutionContext, warehouse: WarehouseResource):
    rule = _target_process().business_calendars
    with warehouse.connection() as con:
        try:
            rows = write_case_calendars(con, rule)
        except BusinessHoursError as error:
            raise Failure(description=str(error)) from None
        counts = con.execute(
            "SELECT calendar_name, count(*) FROM mining.case_calendars GROUP BY ALL ORDER BY 2 DESC"
        ).fetchall()
    shown = ", ".join(f"{name}: {cases:,}" for name, cases in counts)
    context.log.info(f"business calendars, {rule.described()}: {shown or 'no cases'}")
    return MaterializeResult(
        metadata={
            "rows": MetadataValue.int(rows),
            "rule": MetadataValue.text(rule.described()),
            "cases_per_calendar": MetadataValue.text(shown or "no cases"),
        }
    )


@asset(
    key=CASE_CONFORMANCE,
    deps=[
        AssetKey(["mining", "case_variants"]),
        AssetKey(["mining", "activity_codes"]),
        AssetKey(["mining", "reference_path"]),
        AssetKey(["core", "activity_evidence"]),
    ],
    group_name="process_mining",
    pool=WRITER_POOL,
    kinds={"duckdb", "pm4py"},
    description="Each case's conformance with the target process: pm4py alignments against the "
    "reference path, run once per distinct trace and joined back to every case.",
)
def case_conformance(
    context: AssetExecutionContext, warehouse: WarehouseResource
) -> MaterializeResult:
    process = _target_process()
    with warehouse.connection() as con:
        figures = write_case_conformance(con, process, context.log.info)
        preview = con.execute(
            "SELECT trace, fitness, is_conformant, detail, count(*) AS cases "
            "FROM mining.case_conformance GROUP BY ALL ORDER BY cases DESC LIMIT 5"
        ).df()
    return MaterializeResult(
        metadata={
            "rows": MetadataValue.int(figures["cases"]),
            "distinct_traces": MetadataValue.int(figures["distinct_traces"]),
            "traces_aligned_now": MetadataValue.int(figures["traces_aligned"]),
            "conformant_cases": MetadataValue.int(figures["conformant_cases"]),
            "steps_not_checked": MetadataValue.text(
                ", ".join(figures["unchecked_steps"]) or "none: the org records every step"
            ),
            "preview": MetadataValue.md(preview.to_markdown(index=False)),
        }
    )


def discovery_coverage() -> float:
    configured = os.environ.get("L2C_DISCOVERY_COVERAGE")
    if not configured:
        return DEFAULT_COVERAGE
    try:
        value = float(configured)
    except ValueError:
        value = -1.0
    if not 0 < value <= 1:
        raise ValueError(
            f"L2C_DISCOVERY_COVERAGE must be a share above 0 and at most 1, got {configured!r}"
        )
    return value


def discovery_max_variants() -> int:
    configured = os.environ.get("L2C_DISCOVERY_MAX_VARIANTS")
    if not configured:
        return DEFAULT_MAX_VARIANTS
    try:
        value = int(configured)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(
            f"L2C_DISCOVERY_MAX_VARIANTS must be a whole number, 1 or more, got {configured!r}"
        )
    return value


@asset(
    key=PROCESS_MODEL,
    deps=[AssetKey(["mining", "variant_paths"]), AssetKey(["core", "activity_catalogue"])],
    group_name="process_mining",
    pool=WRITER_POOL,
    kinds={"pm4py", "bpmn"},
    description="The process as discovered: pm4py's inductive miner on the most frequent "
    "variants, until they cover L2C_DISCOVERY_COVERAGE of the cases (default 0.8) but at most "
    "L2C_DISCOVERY_MAX_VARIANTS of them (default 500, which bounds the miner's time), saved as "
    "BPMN (it reaches the output folder once the run has published). The metadata says which "
    "variants and share of cases the model was mined from.",
)
def process_model(
    context: AssetExecutionContext, warehouse: WarehouseResource
) -> MaterializeResult:
    coverage = discovery_coverage()
    max_variants = discovery_max_variants()
    # Staged: the output folder gets it with the analytics file it belongs to (process_maps).
    path = staging_dir(Path(warehouse.path)) / "process_model.bpmn"
    with warehouse.connection() as con:
        model = discover_bpmn(con, path, coverage, max_variants)
    if model.path is None:
        # Not a failure: the maps and every report still describe the log.
        context.log.info(
            f"nothing to discover in {model.cases_total:,} cases: they hold only sales touches "
            "(calls, e-mails, meetings), which the process model leaves out; no model written"
        )
        return MaterializeResult(
            metadata={
                "path": MetadataValue.text("none: nothing to discover (only sales touches)"),
                "method": MetadataValue.text(model.method),
                "variants_used": MetadataValue.int(0),
                "cases_covered": MetadataValue.float(0.0),
            }
        )
    context.log.info(
        f"discovered a model from {model.variants_used:,} of {model.variants_total:,} variants "
        f"({model.coverage:.1%} of cases): {path}"
    )
    if model.capped:
        context.log.warning(
            f"the model sees {model.coverage:.1%} of the cases, not the {coverage * 100:g}% asked for: "
            f"{model.variants_covering:,} variants would be needed, more than "
            f"L2C_DISCOVERY_MAX_VARIANTS ({max_variants:,}), so the miner got the "
            f"{model.variants_used:,} most frequent"
        )
    return MaterializeResult(
        metadata={
            "path": MetadataValue.path(str(path)),
            "method": MetadataValue.text(model.method),
            "variants_used": MetadataValue.int(model.variants_used),
            "variants_total": MetadataValue.int(model.variants_total),
            "variants_covering": MetadataValue.int(model.variants_covering),
            "max_variants": MetadataValue.int(max_variants),
            "capped": MetadataValue.bool(model.capped),
            "cases_covered": MetadataValue.float(round(model.coverage, 4)),
            "coverage_asked": MetadataValue.float(coverage),
            "activities": MetadataValue.int(model.activities),
            "gateways": MetadataValue.int(model.gateways),
        }
    )


@multi_asset(
    specs=[
        AssetSpec(
            KPI_HISTORY,
            deps=[AssetKey(["reports", "kpi_summary"])],
            group_name="reports",
            kinds={"duckdb"},
            description="One dated snapshot of reports.kpi_summary per refresh day (a same-day "
            "re-run replaces it): the KPI trends, with the cases and standard error of each value.",
        ),
        AssetSpec(
            KPI_SEGMENT_HISTORY,
            deps=[AssetKey(["reports", "kpi_segments"])],
            group_name="reports",
            kinds={"duckdb"},
            description="One dated snapshot of reports.kpi_segments (the KPIs per region and "
            "team) per refresh day: the segment drift checks' history.",
        ),
        AssetSpec(
            KPI_ALERTS,
            deps=[KPI_HISTORY, KPI_SEGMENT_HISTORY],
            group_name="reports",
            kinds={"duckdb"},
            description="The KPI drift warnings per snapshot day (the kpi_drift_ checks' "
            "failures, from the same evaluation); a same-day re-run replaces that day.",
        ),
    ],
    # The checks run after the day's snapshot is written: they compare it with the days before.
    # They are evaluated here, in the step that writes reports.kpi_alerts, so the table and the
    # checks come from one evaluation and cannot disagree.
    check_specs=[
        AssetCheckSpec(
            f"kpi_drift_{kpi}",
            asset=KPI_HISTORY,
            blocking=False,
            description=f"{kpi} against the median of its recent snapshots, in standard errors "
            "(README, Monitoring; thresholds in process.yaml monitoring:)",
        )
        for kpi in KPIS
    ]
    + [
        AssetCheckSpec(
            f"kpi_drift_{kpi}_segments",
            asset=KPI_SEGMENT_HISTORY,
            blocking=False,
            description=f"{kpi} per region and team against each segment's recent snapshots, "
            "z raised for the number of segments tested (README, Monitoring)",
        )
        for kpi in SEGMENT_KPIS
    ],
    pool=WRITER_POOL,
)
def kpi_history(context: AssetExecutionContext, warehouse: WarehouseResource):
    monitoring = _target_process().monitoring
    day = snapshot_date()
    with warehouse.connection() as con:
        rows = record_kpi_snapshot(con, day, monitoring.recent_days)
        days = con.execute(
            "SELECT count(DISTINCT snapshot_date) FROM reports.kpi_history"
        ).fetchone()[0]
        preview = con.execute(
            "SELECT * FROM reports.kpi_history WHERE snapshot_date = ?", [day]
        ).df()
        segment_rows = record_segment_snapshot(con, day)
        results = evaluate_drift(day, read_history(con, day, monitoring), monitoring)
        segments = evaluate_segments(day, read_segment_history(con, day, monitoring), monitoring)
        alerts = write_alerts(con, day, results + [r for check in segments for r in check.warnings])
        alert_days = con.execute(
            "SELECT count(DISTINCT snapshot_date) FROM reports.kpi_alerts"
        ).fetchone()[0]
    yield MaterializeResult(
        asset_key=KPI_HISTORY,
        metadata={
            "snapshot_date": str(day),
            "rows": MetadataValue.int(rows),
            "snapshots": MetadataValue.int(days),
            "preview": MetadataValue.md(preview.to_markdown(index=False)),
        },
    )
    yield MaterializeResult(
        asset_key=KPI_SEGMENT_HISTORY,
        metadata={
            "snapshot_date": str(day),
            "rows": MetadataValue.int(segment_rows),
            "segments_tested": MetadataValue.int(sum(len(c.results) for c in segments)),
        },
    )
    yield MaterializeResult(
        asset_key=KPI_ALERTS,
        metadata={
            "snapshot_date": str(day),
            "rows": MetadataValue.int(alerts),
            "days_with_alerts": MetadataValue.int(alert_days),
        },
    )
    for result in results:
        if not result.passed:
            context.log.warning(f"KPI drift: {result.status}")
        yield drift_check_result(result)
    for check in segments:
        if not check.passed:
            context.log.warning(f"KPI drift by segment: {check.status}")
        yield drift_check_result(check)


def drift_check_result(result: DriftResult | SegmentDrift) -> AssetCheckResult:
    """The WARN check of a KPI (kpi_drift_<kpi> on reports/kpi_history) or of its segments
    (kpi_drift_<kpi>_segments on reports/kpi_segment_history: the worst segment's figures, and
    each drifting segment's own as JSON, an alert each)."""
    by_segment = isinstance(result, SegmentDrift)
    return AssetCheckResult(
        asset_key=KPI_SEGMENT_HISTORY if by_segment else KPI_HISTORY,
        check_name=f"kpi_drift_{result.kpi}" + ("_segments" if by_segment else ""),
        passed=result.passed,
        severity=AssetCheckSeverity.WARN,
        description=result.status,
        metadata={
            name: MetadataValue.json(value) if isinstance(value, list) else value
            for name, value in result.metadata().items()
            if value is not None
        },
    )


MINING_ASSETS = [
    target_process,
    business_hours,
    case_calendars,
    case_conformance,
    process_model,
    kpi_history,
]
