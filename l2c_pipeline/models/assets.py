"""One Dagster asset per SQL model (group event_log), and the asset checks on core.event_log."""

from pathlib import Path

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
)

from ..resources import WarehouseResource
from ..terminal_log import one_line
from ..warehouse.duckdb_warehouse import WRITER_POOL
from .sql_models import ModelError, SqlModel, build_model, discover

EVENT_LOG = AssetKey(["core", "event_log"])
# Dagster groups follow the data flow; a schema of one's own gets a group of its own.
GROUPS = {
    "staging": "event_log",
    "activities": "event_log",
    "core": "event_log",
    "mining": "process_mining",
    "reports": "reports",
}


def _model_asset(model: SqlModel, models: dict, incremental: bool = False) -> AssetsDefinition:
    @asset(
        key=AssetKey([model.schema, model.name]),
        deps=[AssetKey(list(key)) for key in sorted(model.depends_on)],
        group_name=GROUPS.get(model.schema, model.schema),
        pool=WRITER_POOL,
        kinds={"duckdb", "sql"},
        description=model.description or f"{model.table}, built from {model.path.name}",
    )
    def _build(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
        with warehouse.connection() as con:
            notes: dict[str, str] = {}
            try:
                rows = build_model(con, model, models, incremental=incremental, notes=notes)
            except ModelError as error:
                raise Failure(description=str(error)) from None
            if rows is None:  # a view: previewing it would compute it
                context.log.info(f"{model.table}: view (computed when read)")
                return MaterializeResult(
                    metadata={
                        "materialized": MetadataValue.text("view"),
                        "sql_file": MetadataValue.path(str(model.path)),
                    }
                )
            preview = con.execute(f"SELECT * FROM {model.table} LIMIT 5").df()
        carried = notes.get("incremental")
        context.log.info(f"{model.table}: {rows:,} rows" + (f" ({carried})" if carried else ""))
        return MaterializeResult(
            metadata={
                "rows": MetadataValue.int(rows),
                "sql_file": MetadataValue.path(str(model.path)),
                "preview": MetadataValue.md(preview.to_markdown(index=False)),
                **({"incremental": MetadataValue.text(carried)} if carried else {}),
            }
        )

    return _build


def model_assets(
    sql_dir: Path | None = None,
    schemas: tuple[str, ...] | None = None,
    incremental: bool = False,
) -> list[AssetsDefinition]:
    """An asset per SQL model (only those of `schemas` when given: the file source supplies
    staging and core itself); with `incremental`, the case-local models rewrite only their
    changed cases (a file is loaded whole each run, so its models are built whole)."""
    models = discover(sql_dir)
    return [
        _model_asset(model, models, incremental)
        for model in models.values()
        if schemas is None or model.schema in schemas
    ]


def _check(context_sql: str, warehouse: WarehouseResource) -> int:
    with warehouse.connection() as con:
        return con.execute(context_sql).fetchone()[0]


@asset_check(
    asset=EVENT_LOG, description="No event lacks a case, an activity or a timestamp.", blocking=True
)
def event_log_has_no_missing_values(
    context: AssetCheckExecutionContext, warehouse: WarehouseResource
) -> AssetCheckResult:
    bad = _check(
        "SELECT count(*) FROM core.event_log WHERE case_id IS NULL OR activity IS NULL OR timestamp IS NULL",
        warehouse,
    )
    return AssetCheckResult(passed=bad == 0, metadata={"events_with_missing_values": bad})


@asset_check(asset=EVENT_LOG, description="event_id is unique.", blocking=True)
def event_ids_are_unique(
    context: AssetCheckExecutionContext, warehouse: WarehouseResource
) -> AssetCheckResult:
    duplicated = _check(
        "SELECT count(*) FROM (SELECT event_id FROM core.event_log GROUP BY 1 HAVING count(*) > 1)",
        warehouse,
    )
    return AssetCheckResult(passed=duplicated == 0, metadata={"duplicated_event_ids": duplicated})


@asset_check(asset=EVENT_LOG, description="No event is dated in the future.")
def no_events_in_the_future(
    context: AssetCheckExecutionContext, warehouse: WarehouseResource
) -> AssetCheckResult:
    future = _check(
        "SELECT count(*) FROM core.event_log WHERE timestamp > now()::TIMESTAMP", warehouse
    )
    return AssetCheckResult(passed=future == 0, metadata={"events_in_the_future": future})


@asset_check(
    asset=EVENT_LOG,
    description="Every case of the event log is in core.cases.",
    additional_deps=[AssetKey(["core", "cases"])],
)
def every_case_is_known(
    context: AssetCheckExecutionContext, warehouse: WarehouseResource
) -> AssetCheckResult:
    orphans = _check(
        "SELECT count(DISTINCT case_id) FROM core.event_log e "
        "WHERE NOT EXISTS (SELECT 1 FROM core.cases c WHERE c.case_id = e.case_id)",
        warehouse,
    )
    return AssetCheckResult(
        passed=orphans == 0, metadata={"cases_missing_from_core_cases": orphans}
    )


# The unknown activities the check names (it counts them all).
LISTED_ACTIVITIES = 20


@asset_check(
    asset=EVENT_LOG,
    description="Every activity is in core.activity_catalogue (or is a stage change).",
)
def every_activity_is_catalogued(
    context: AssetCheckExecutionContext, warehouse: WarehouseResource
) -> AssetCheckResult:
    with warehouse.connection() as con:
        rows = con.execute(
            f"""SELECT activity, count(*) OVER () FROM (
                    SELECT DISTINCT activity FROM core.event_log WHERE activity_rank = 999
                ) ORDER BY 1 LIMIT {LISTED_ACTIVITIES}"""
        ).fetchall()
    count = rows[0][1] if rows else 0
    # A file may hold thousands of names of any length: the first few, each on one line.
    listed = ", ".join(one_line(activity) for activity, _ in rows)
    if count > len(rows):
        listed += f" and {count - len(rows):,} more"
    return AssetCheckResult(
        passed=not rows,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "unknown_activities": MetadataValue.text(listed or "none"),
            "unknown_activity_count": count,
            "hint": "add them to sql/core/activity_catalogue.sql to give them a rank",
        },
    )


EVENT_LOG_CHECKS = [
    event_log_has_no_missing_values,
    event_ids_are_unique,
    no_events_in_the_future,
    every_case_is_known,
    every_activity_is_catalogued,
]
