"""KPI drift: tonight's value of each headline KPI against a baseline from reports.kpi_history,
judged against the noise its case count explains.

The rule (README, "Monitoring"), for a KPI on snapshot day D:

* the value judged: for the KPIs measured between two events of a case (RECENT_KPIS: sales
  cycle, win rate, quote to contract, discount approval time) the value over a trailing window,
  the cases whose measured step ended in the `recent_days` (7) days up to the event log's newest
  event (reports.kpi_history's recent_ columns, with their own case count and standard error);
  for the others the whole-period value of reports.kpi_summary. A window with fewer than
  `min_recent_cases` (30) cases is not judged (the check passes and says so), nor is it part of
  a baseline: a median of a handful of cases has no trustworthy standard error. A whole-period value spans about
  two years of cases: a change that began a week ago moves it by a few per cent of its effect,
  far inside its noise, so it would be caught after months; over a trailing window a change
  weighs (days since it began) / recent_days of the value within days. Snapshots of another
  recent_days (or from before the window existed) are not a baseline for it;
* baseline: the median of the KPI's snapshots in the window_days before D (D itself left out);
  with fewer than min_snapshots of them the check passes and says so;
* z = (value - baseline) / sqrt(se_today^2 + se_baseline^2), signed so that a positive z is a
  move in the KPI's bad direction; se_today is the day's standard error (reports.kpi_summary),
  se_baseline the median standard error of the window's snapshots (snapshots written before the
  standard errors existed have none: then today's stands in for them);
* the check warns when z >= z_threshold AND the move in the bad direction is at least
  min_change of the baseline (relative): a tiny move over a huge org is not worth a warning.

Why z = 4 by default: one-sided, a stable KPI reaches z >= 4 by chance with probability 3.2e-5
per check and night; 10 KPIs x 365 nights are 3,650 checks a year, so about one false alarm
in nine years (z = 3 would give 1.3e-3, about 4 a year). Consecutive snapshots share most of their
cases (the whole period's all but a night's, a trailing window's all but a day's worth), so the
two errors are not independent: adding them as if they were overstates the noise of the
difference, which makes false alarms rarer still. A living demo org shows it: 90 simulated
nights with discount approvals three times slower from night 60 warn within 7 nights and never
before (tests/test_living_org.py).

Per segment (region, team: reports.kpi_segments, kept in reports.kpi_segment_history), the same
rule runs for each segment with at least min_segment_cases cases, with z raised so that all the
segments of a KPI together false-alarm no more often than the whole org's check (Bonferroni:
with 12 segments tested, z = 4.55 instead of 4). A segment can drift while the org's figure
holds: a region whose approvals slowed is diluted by the others. Segments are judged on their
whole-period values (a region's week holds too few cases to judge).

Everything here is plain Python over rows; the Dagster asset (mining/assets.py) calls
`evaluate_drift` once and both writes reports.kpi_alerts and reports the checks from the same
results, so the table and the checks never disagree.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

HIGHER = "higher_is_better"
LOWER = "lower_is_better"
DIRECTIONS = (HIGHER, LOWER)
# Every KPI of reports.kpi_summary and the direction that is good for it.
DEFAULT_DIRECTIONS: Mapping[str, str] = {
    "sales_cycle_time": LOWER,
    "lead_to_opportunity_conversion": HIGHER,
    "win_rate": HIGHER,
    "quote_to_contract_time": LOWER,
    "invoice_to_payment_time": LOWER,
    "days_sales_outstanding": LOWER,
    "order_rework_rate": LOWER,
    "conformance_rate": HIGHER,
    "average_discount": LOWER,
    "discount_approval_time": LOWER,
}
KPIS = tuple(DEFAULT_DIRECTIONS)
# The KPIs judged over a trailing window (recent_kpis.sql): one observation per case or approval,
# dated by the event that ends it.
RECENT_KPIS = ("sales_cycle_time", "win_rate", "quote_to_contract_time", "discount_approval_time")
# A week: every window holds one weekend, so the weekly rhythm of the work does not move it.
DEFAULT_RECENT_DAYS = 7
DEFAULT_MIN_RECENT_CASES = 30
DEFAULT_WINDOW_DAYS = 28
DEFAULT_MIN_SNAPSHOTS = 7
DEFAULT_Z = 4.0
DEFAULT_MIN_CHANGE = 0.05
# The dimensions reports.kpi_segments cuts by, and the KPIs it has (those of one case each).
SEGMENT_DIMENSIONS = ("region", "team")
SEGMENT_KPIS = (
    "sales_cycle_time",
    "lead_to_opportunity_conversion",
    "win_rate",
    "quote_to_contract_time",
    "invoice_to_payment_time",
    "conformance_rate",
    "average_discount",
)
DEFAULT_MIN_SEGMENT_CASES = 30


@dataclass(frozen=True)
class KpiRule:
    direction: str
    z: float
    min_change: float


@dataclass(frozen=True)
class Monitoring:
    """process.yaml's `monitoring:` key, defaults filled in."""

    window_days: int = DEFAULT_WINDOW_DAYS
    min_snapshots: int = DEFAULT_MIN_SNAPSHOTS
    z: float = DEFAULT_Z
    min_change: float = DEFAULT_MIN_CHANGE
    overrides: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    segments: tuple[str, ...] = SEGMENT_DIMENSIONS
    min_segment_cases: int = DEFAULT_MIN_SEGMENT_CASES
    recent_days: int = DEFAULT_RECENT_DAYS  # 0: every KPI judged over the whole period
    min_recent_cases: int = DEFAULT_MIN_RECENT_CASES

    def judges_recent(self, kpi: str) -> bool:
        return self.recent_days > 0 and kpi in RECENT_KPIS

    def rule(self, kpi: str) -> KpiRule:
        own = self.overrides.get(kpi, {})
        return KpiRule(
            direction=str(own.get("direction", DEFAULT_DIRECTIONS.get(kpi, LOWER))),
            z=float(own.get("z", self.z)),
            min_change=float(own.get("min_change", self.min_change)),
        )


class MonitoringError(ValueError):
    """A wrong `monitoring:` setting; the caller adds the file's name."""


def _number(value, key: str, *, minimum: float, whole: bool = False, above: bool = False):
    kind = "a whole number" if whole else "a number"
    ok = isinstance(value, int if whole else (int, float)) and not isinstance(value, bool)
    if ok and not math.isfinite(value):
        ok = False
    if ok and (value <= minimum if above else value < minimum):
        ok = False
    if not ok:
        bound = f"above {minimum:g}" if above else f"of at least {minimum:g}"
        raise MonitoringError(f"key '{key}' must be {kind} {bound}, got {value!r}")
    return value


def parse_monitoring(document) -> Monitoring:
    """The `monitoring:` mapping of process.yaml (None: all defaults); a wrong key raises
    MonitoringError naming it."""
    if document is None:
        return Monitoring()
    if not isinstance(document, dict):
        raise MonitoringError(
            "key 'monitoring' must be a mapping of window_days, min_snapshots, z, min_change, "
            "kpis, segments, min_segment_cases, recent_days, min_recent_cases"
        )
    known = {
        "window_days",
        "min_snapshots",
        "z",
        "min_change",
        "kpis",
        "segments",
        "min_segment_cases",
        "recent_days",
        "min_recent_cases",
    }
    unknown = sorted(set(document) - known)
    if unknown:
        raise MonitoringError(
            f"key 'monitoring.{unknown[0]}' is not a monitoring setting "
            f"(known: {', '.join(sorted(known))})"
        )
    window = _number(
        document.get("window_days", DEFAULT_WINDOW_DAYS),
        "monitoring.window_days",
        minimum=1,
        whole=True,
    )
    least = _number(
        document.get("min_snapshots", DEFAULT_MIN_SNAPSHOTS),
        "monitoring.min_snapshots",
        minimum=1,
        whole=True,
    )
    if least > window:
        raise MonitoringError(
            f"key 'monitoring.min_snapshots' ({least}) cannot exceed monitoring.window_days "
            f"({window}): a day has one snapshot"
        )
    z = _number(document.get("z", DEFAULT_Z), "monitoring.z", minimum=0, above=True)
    change = _number(
        document.get("min_change", DEFAULT_MIN_CHANGE), "monitoring.min_change", minimum=0
    )
    kpis = document.get("kpis") or {}
    if not isinstance(kpis, dict):
        raise MonitoringError("key 'monitoring.kpis' must map KPI names to their settings")
    overrides: dict[str, dict[str, object]] = {}
    for kpi, settings in kpis.items():
        key = f"monitoring.kpis.{kpi}"
        if kpi not in DEFAULT_DIRECTIONS:
            raise MonitoringError(
                f"key '{key}' names no KPI of reports.kpi_summary (known: {', '.join(KPIS)})"
            )
        settings = settings or {}
        if not isinstance(settings, dict) or set(settings) - {"direction", "z", "min_change"}:
            raise MonitoringError(f"key '{key}' takes direction, z and min_change")
        own: dict[str, object] = {}
        if "direction" in settings:
            if settings["direction"] not in DIRECTIONS:
                raise MonitoringError(
                    f"key '{key}.direction' must be {HIGHER} or {LOWER}, "
                    f"got {settings['direction']!r}"
                )
            own["direction"] = settings["direction"]
        if "z" in settings:
            own["z"] = _number(settings["z"], f"{key}.z", minimum=0, above=True)
        if "min_change" in settings:
            own["min_change"] = _number(settings["min_change"], f"{key}.min_change", minimum=0)
        overrides[kpi] = own
    segments = document.get("segments", list(SEGMENT_DIMENSIONS))
    if segments is None:
        segments = []
    if not isinstance(segments, list) or any(d not in SEGMENT_DIMENSIONS for d in segments):
        raise MonitoringError(
            f"key 'monitoring.segments' must be a list of {', '.join(SEGMENT_DIMENSIONS)} "
            f"([] for none), got {segments!r}"
        )
    min_cases = _number(
        document.get("min_segment_cases", DEFAULT_MIN_SEGMENT_CASES),
        "monitoring.min_segment_cases",
        minimum=2,
        whole=True,
    )
    recent = _number(
        document.get("recent_days", DEFAULT_RECENT_DAYS),
        "monitoring.recent_days",
        minimum=0,
        whole=True,
    )
    min_recent = _number(
        document.get("min_recent_cases", DEFAULT_MIN_RECENT_CASES),
        "monitoring.min_recent_cases",
        minimum=2,
        whole=True,
    )
    return Monitoring(
        window,
        least,
        float(z),
        float(change),
        overrides,
        tuple(dict.fromkeys(segments)),
        min_cases,
        recent,
        min_recent,
    )


@dataclass(frozen=True)
class Snapshot:
    """One row of reports.kpi_history (cases and standard_error are None in old rows)."""

    snapshot_date: date
    kpi: str
    value: float | None
    cases: int | None = None
    standard_error: float | None = None
    segment: str | None = None  # dimension=value for reports.kpi_segment_history rows


@dataclass(frozen=True)
class DriftResult:
    kpi: str
    passed: bool
    status: str  # one line: why it passed or warned
    rule: str  # the rule that fired or would fire, in words
    value: float | None = None
    baseline: float | None = None
    change: float | None = None  # value - baseline, in the KPI's unit
    relative_change: float | None = None  # change / |baseline|
    z: float | None = None  # positive: towards the KPI's bad direction
    cases: int | None = None
    snapshots: int = 0  # in the window
    segment: str | None = None

    def metadata(self) -> dict[str, object]:
        figures: dict[str, object] = {
            "kpi": self.kpi,
            "value": self.value,
            "baseline": self.baseline,
            "change": self.change,
            "relative_change": self.relative_change,
            "z": self.z,
            "cases": self.cases,
            "snapshots": self.snapshots,
            "rule": self.rule,
            "status": self.status,
        }
        if self.segment is not None:
            figures["segment"] = self.segment
        return figures


def _finite(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def rule_text(kpi: str, rule: KpiRule, monitoring: Monitoring) -> str:
    worse = "rose" if rule.direction == LOWER else "fell"
    over = (
        f" over the cases that ended in the {monitoring.recent_days} days before"
        if monitoring.judges_recent(kpi)
        else ""
    )
    return (
        f"warn when {kpi}{over} {worse} at least {rule.z:g} standard errors (z >= {rule.z:g}, "
        f"se = sqrt(se_today^2 + se_baseline^2)) and at least {rule.min_change:.0%} from its "
        f"baseline, the median of {monitoring.min_snapshots}+ snapshots in the "
        f"{monitoring.window_days} days before"
    )


def evaluate_kpi(
    kpi: str,
    day: date,
    history: Iterable[Snapshot],
    monitoring: Monitoring,
    segment: str | None = None,
) -> DriftResult:
    """The drift check of one KPI on `day` (of one segment's rows, when given), from its history
    rows (any days; those outside the window are ignored)."""
    return replace(_evaluate(kpi, day, history, monitoring, segment), segment=segment)


def _evaluate(
    kpi: str, day: date, history: Iterable[Snapshot], monitoring: Monitoring, segment: str | None
) -> DriftResult:
    rule = monitoring.rule(kpi)
    text = rule_text(kpi, rule, monitoring)
    rows = [row for row in history if row.kpi == kpi and row.segment == segment]
    recent = segment is None and monitoring.judges_recent(kpi)
    if recent:
        rows = [
            row
            for row in rows
            if row.snapshot_date == day or (row.cases or 0) >= monitoring.min_recent_cases
        ]
    today = next((row for row in rows if row.snapshot_date == day), None)
    start = day - timedelta(days=monitoring.window_days)
    window = [
        row for row in rows if start <= row.snapshot_date < day and _finite(row.value) is not None
    ]
    if today is None or _finite(today.value) is None:
        return DriftResult(
            kpi,
            True,
            f"no value of {kpi} on {day}: nothing to compare",
            text,
            snapshots=len(window),
        )
    value, cases = float(today.value), today.cases
    if recent and (cases or 0) < monitoring.min_recent_cases:
        return DriftResult(
            kpi,
            True,
            f"too few cases: {cases or 0} of {kpi} ended in the {monitoring.recent_days} days "
            f"before {day}, the check needs {monitoring.min_recent_cases} (a larger "
            "monitoring.recent_days, or 0 for the whole period, judges it)",
            text,
            value=value,
            cases=cases,
            snapshots=len(window),
        )
    if len(window) < monitoring.min_snapshots:
        return DriftResult(
            kpi,
            True,
            f"too little history: the baseline needs {monitoring.min_snapshots} snapshots in "
            f"the {monitoring.window_days} days before {day}, there are {len(window)}",
            text,
            value=value,
            cases=cases,
            snapshots=len(window),
        )
    baseline = statistics.median(float(row.value) for row in window)
    se_today = _finite(today.standard_error)
    if se_today is None:
        return DriftResult(
            kpi,
            True,
            f"no standard error of {kpi} on {day} (fewer than 2 cases): its noise is unknown",
            text,
            value=value,
            baseline=baseline,
            change=value - baseline,
            cases=cases,
            snapshots=len(window),
        )
    errors = [e for e in (_finite(row.standard_error) for row in window) if e is not None]
    se_baseline = statistics.median(errors) if errors else se_today
    change = value - baseline
    bad = 1.0 if rule.direction == LOWER else -1.0
    spread = math.sqrt(se_today**2 + se_baseline**2)
    toward_bad = bad * change
    if spread > 0:
        z = toward_bad / spread
    else:
        z = math.copysign(math.inf, toward_bad) if toward_bad else 0.0
    relative = change / abs(baseline) if baseline else (math.inf if change else 0.0)
    relative = math.copysign(relative, change) if math.isinf(relative) else relative
    warns = z >= rule.z and bad * relative >= rule.min_change
    direction = "up" if change > 0 else "down" if change < 0 else "unchanged"
    status = (
        f"{kpi} {direction} {abs(change):.4g} ({relative:+.1%}) against a baseline of "
        f"{baseline:.4g} from {len(window)} snapshots; z = {z:.2f} toward worse "
        + ("(beyond the rule)" if warns else "(within the rule)")
    )
    return DriftResult(
        kpi,
        not warns,
        status,
        text,
        value=value,
        baseline=baseline,
        change=change,
        relative_change=_finite(relative),
        z=_finite(z),
        cases=cases,
        snapshots=len(window),
    )


def evaluate_drift(
    day: date, history: Iterable[Snapshot], monitoring: Monitoring, kpis: Iterable[str] = KPIS
) -> list[DriftResult]:
    rows = list(history)
    return [evaluate_kpi(kpi, day, rows, monitoring) for kpi in kpis]


def segment_z(z: float, tests: int) -> float:
    """The z each of `tests` segment checks needs so that together they reach it by chance no
    more often than one check at z (one-sided, Bonferroni)."""
    normal = statistics.NormalDist()
    if tests <= 1:
        return z
    return normal.inv_cdf(1 - (1 - normal.cdf(z)) / tests)


@dataclass(frozen=True)
class SegmentDrift:
    """The segment check of one KPI: every segment tested, and the one line it says."""

    kpi: str
    results: list[DriftResult]  # one per segment tested
    status: str
    rule: str

    @property
    def warnings(self) -> list[DriftResult]:
        return sorted((r for r in self.results if not r.passed), key=lambda r: -(r.z or 0))

    @property
    def passed(self) -> bool:
        return not self.warnings

    def metadata(self) -> dict[str, object]:
        """The worst segment's figures, plus every drifting segment's own (`drifting_segments`,
        worst first: each is an alert of its own) and the tested segments within the rule
        (`passing_segments`: their open alerts close)."""
        worst = self.warnings[0].metadata() if self.warnings else {"kpi": self.kpi}
        drifting = [
            {
                name: value
                for name, value in r.metadata().items()
                if name in SEGMENT_FIGURES and value is not None
            }
            for r in self.warnings
        ]
        passing = [r.segment for r in self.results if r.passed and r.segment]
        return worst | {
            "segments_tested": len(self.results),
            "segments_warning": ", ".join(r.segment or "" for r in self.warnings) or None,
            "drifting_segments": drifting or None,
            "passing_segments": passing or None,
            "rule": self.rule,
            "status": self.status,
        }


# What each drifting segment carries to its own alert.
SEGMENT_FIGURES = ("segment", "value", "baseline", "change", "relative_change", "z", "cases")


def evaluate_segments(
    day: date,
    history: Iterable[Snapshot],
    monitoring: Monitoring,
    kpis: Iterable[str] = SEGMENT_KPIS,
) -> list[SegmentDrift]:
    """The segment drift check of each KPI on `day` from reports.kpi_segment_history rows: each
    segment with at least min_segment_cases cases today, at the raised z (segment_z)."""
    rows = [row for row in history if row.segment is not None]
    dimensions = tuple(f"{d}=" for d in monitoring.segments)
    checks = []
    for kpi in kpis:
        own = [row for row in rows if row.kpi == kpi and row.segment.startswith(dimensions)]
        tested = sorted(
            {
                row.segment
                for row in own
                if row.snapshot_date == day and (row.cases or 0) >= monitoring.min_segment_cases
            }
        )
        rule = monitoring.rule(kpi)
        z = segment_z(rule.z, len(tested))
        raised = replace(
            monitoring,
            overrides={**monitoring.overrides, kpi: {**monitoring.overrides.get(kpi, {}), "z": z}},
        )
        text = (
            rule_text(kpi, raised.rule(kpi), monitoring)
            + f"; for each region or team with {monitoring.min_segment_cases}+ cases, z raised "
            f"from {rule.z:g} for the {len(tested)} tested together"
        )
        results = [
            replace(evaluate_kpi(kpi, day, own, raised, segment), rule=text) for segment in tested
        ]
        warnings = [r for r in results if not r.passed]
        if not monitoring.segments:
            status = "segment checks off (monitoring.segments: [])"
        elif not tested:
            status = (
                f"no region or team has {monitoring.min_segment_cases} cases of {kpi} on {day}: "
                "nothing tested"
            )
        elif warnings:
            status = f"{kpi} drifted in {len(warnings)} of {len(tested)} segments: " + "; ".join(
                f"{r.segment}: {r.status}" for r in sorted(warnings, key=lambda r: -(r.z or 0))
            )
        else:
            status = f"{kpi} within the rule in all {len(tested)} segments tested"
        checks.append(SegmentDrift(kpi, results, status, text))
    return checks


def read_segment_history(con, day: date, monitoring: Monitoring) -> list[Snapshot]:
    """The reports.kpi_segment_history rows the segment checks of `day` need, each with its
    segment as dimension=value (none before the table exists)."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_schema = 'reports' AND table_name = 'kpi_segment_history'"
    ).fetchone()[0]
    if not exists:
        return []
    start = day - timedelta(days=monitoring.window_days)
    rows = con.execute(
        "SELECT snapshot_date, kpi, value, cases, standard_error, dimension || '=' || segment "
        "FROM reports.kpi_segment_history WHERE snapshot_date BETWEEN ? AND ?",
        [start, day],
    ).fetchall()
    return [Snapshot(*row) for row in rows]


def read_history(con, day: date, monitoring: Monitoring) -> list[Snapshot]:
    """The kpi_history rows the checks of `day` need (the window and the day), each with the
    value the rule judges: the trailing window's for RECENT_KPIS (null in a snapshot of another
    recent_days or one written before the window existed), else the whole period's."""
    start = day - timedelta(days=monitoring.window_days)
    columns = {
        name
        for (name,) in con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'reports' AND table_name = 'kpi_history'"
        ).fetchall()
    }
    cases = "cases" if "cases" in columns else "NULL"
    error = "standard_error" if "standard_error" in columns else "NULL"
    value = "value"
    recent = [k for k in RECENT_KPIS if monitoring.judges_recent(k)]
    if recent:
        # The KPI names are constants of this module; recent_days a validated whole number.
        names = ", ".join(f"'{k}'" for k in recent)
        same = f"kpi IN ({names})"
        if "recent_value" in columns:
            own = f"recent_days = {int(monitoring.recent_days)}"
            value = f"CASE WHEN {same} THEN CASE WHEN {own} THEN recent_value END ELSE value END"
            cases = f"CASE WHEN {same} THEN CASE WHEN {own} THEN recent_cases END ELSE {cases} END"
            error = (
                f"CASE WHEN {same} THEN CASE WHEN {own} THEN recent_standard_error END "
                f"ELSE {error} END"
            )
        else:
            value = f"CASE WHEN {same} THEN NULL ELSE value END"
    rows = con.execute(
        f"SELECT snapshot_date, kpi, {value}, {cases}, {error} FROM reports.kpi_history "
        "WHERE snapshot_date BETWEEN ? AND ?",
        [start, day],
    ).fetchall()
    return [Snapshot(*row) for row in rows]


ALERTS_DDL = (
    "CREATE TABLE IF NOT EXISTS reports.kpi_alerts (snapshot_date DATE NOT NULL, kpi VARCHAR NOT NULL, "
    "segment VARCHAR, value DOUBLE, baseline DOUBLE, change DOUBLE, z DOUBLE, cases BIGINT, "
    "severity VARCHAR NOT NULL, rule VARCHAR NOT NULL, evaluated_at TIMESTAMP NOT NULL)",
    "COMMENT ON TABLE reports.kpi_alerts IS 'The KPI drift warnings, one row per snapshot day and "
    "alert, written with the kpi_drift_ checks from the same evaluation (README, Monitoring); a "
    "re-run on the same day replaces that day.'",
    "COMMENT ON COLUMN reports.kpi_alerts.snapshot_date IS 'the snapshot day the KPI was checked on'",
    "COMMENT ON COLUMN reports.kpi_alerts.kpi IS 'the KPI, as in reports.kpi_summary'",
    "COMMENT ON COLUMN reports.kpi_alerts.segment IS 'the segment that drifted (dimension=value); "
    "null for the whole org'",
    "COMMENT ON COLUMN reports.kpi_alerts.value IS 'the KPI''s value that day'",
    "COMMENT ON COLUMN reports.kpi_alerts.baseline IS 'the median of its snapshots in the window "
    "before'",
    "COMMENT ON COLUMN reports.kpi_alerts.change IS 'value - baseline, in the KPI''s unit'",
    "COMMENT ON COLUMN reports.kpi_alerts.z IS 'the change in standard errors toward worse'",
    "COMMENT ON COLUMN reports.kpi_alerts.cases IS 'the cases behind the value'",
    "COMMENT ON COLUMN reports.kpi_alerts.severity IS 'WARN (the checks never block the run)'",
    "COMMENT ON COLUMN reports.kpi_alerts.rule IS 'the rule that fired'",
    "COMMENT ON COLUMN reports.kpi_alerts.evaluated_at IS 'when the checks ran (UTC)'",
)


def write_alerts(con, day: date, results: Iterable[DriftResult]) -> int:
    """Replace the day's rows of reports.kpi_alerts with the warnings among `results`; returns
    the rows written. Kept across runs like reports.kpi_history."""
    rows = [
        (day, r.kpi, r.segment, r.value, r.baseline, r.change, r.z, r.cases, "WARN", r.rule)
        for r in results
        if not r.passed
    ]
    con.execute("BEGIN TRANSACTION")
    try:
        for statement in ALERTS_DDL:
            con.execute(statement)
        con.execute("DELETE FROM reports.kpi_alerts WHERE snapshot_date = ?", [day])
        if rows:
            con.executemany(
                "INSERT INTO reports.kpi_alerts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now()::TIMESTAMP)",
                rows,
            )
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
    return len(rows)
