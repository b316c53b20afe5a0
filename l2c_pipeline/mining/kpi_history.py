"""reports.kpi_history: one dated snapshot of reports.kpi_summary per refresh, kept for trends;
reports.kpi_segment_history the same for reports.kpi_segments (the KPIs per region and team).
Beside each whole-period value, the KPIs the drift checks judge over a trailing window
(monitoring/recent_kpis.sql) have that window's value, cases and standard error.

Each refresh writes its day's rows; running again the same day replaces that day's rows, so a
re-run never duplicates a snapshot. The snapshot day is the refresh's UTC date, or
L2C_SNAPSHOT_DATE (YYYY-MM-DD) to backfill or test."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from ..models.sql_models import define_macros
from ..monitoring.drift import DEFAULT_RECENT_DAYS
from ..warehouse.duckdb_warehouse import transaction

_DDL = (
    "CREATE TABLE IF NOT EXISTS reports.kpi_history (snapshot_date DATE NOT NULL, kpi VARCHAR NOT NULL, "
    "value DOUBLE, unit VARCHAR, period VARCHAR, refreshed_at TIMESTAMP NOT NULL, cases BIGINT, "
    "standard_error DOUBLE)",
    # Tables written before the drift checks lack the last two columns: added, old rows null.
    "ALTER TABLE reports.kpi_history ADD COLUMN IF NOT EXISTS cases BIGINT",
    "ALTER TABLE reports.kpi_history ADD COLUMN IF NOT EXISTS standard_error DOUBLE",
    # And tables written before the trailing windows lack these: old rows null.
    "ALTER TABLE reports.kpi_history ADD COLUMN IF NOT EXISTS recent_days INTEGER",
    "ALTER TABLE reports.kpi_history ADD COLUMN IF NOT EXISTS recent_value DOUBLE",
    "ALTER TABLE reports.kpi_history ADD COLUMN IF NOT EXISTS recent_cases BIGINT",
    "ALTER TABLE reports.kpi_history ADD COLUMN IF NOT EXISTS recent_standard_error DOUBLE",
    "COMMENT ON TABLE reports.kpi_history IS 'One dated snapshot of reports.kpi_summary per refresh day: "
    "the KPI trends. A re-run on the same day replaces that day.'",
    "COMMENT ON COLUMN reports.kpi_history.snapshot_date IS 'the day of the refresh (UTC)'",
    "COMMENT ON COLUMN reports.kpi_history.kpi IS 'the KPI, as in reports.kpi_summary'",
    "COMMENT ON COLUMN reports.kpi_history.value IS 'its value that day'",
    "COMMENT ON COLUMN reports.kpi_history.unit IS 'days, share (0 to 1) or percent'",
    "COMMENT ON COLUMN reports.kpi_history.period IS 'the span of the event log the value covered'",
    "COMMENT ON COLUMN reports.kpi_history.refreshed_at IS 'when the snapshot was written (UTC)'",
    "COMMENT ON COLUMN reports.kpi_history.cases IS 'the cases behind the value (null in snapshots "
    "written before it was recorded)'",
    "COMMENT ON COLUMN reports.kpi_history.standard_error IS 'how much the value moves by chance, "
    "in its unit (reports.kpi_summary; null in older snapshots)'",
    "COMMENT ON COLUMN reports.kpi_history.recent_days IS 'the trailing window of the recent_ "
    "columns, in days up to the event log''s newest event (monitoring.recent_days); null for a KPI "
    "judged over the whole period'",
    "COMMENT ON COLUMN reports.kpi_history.recent_value IS 'the KPI over the cases whose measured "
    "step ended in the trailing window: what the drift check judges'",
    "COMMENT ON COLUMN reports.kpi_history.recent_cases IS 'the cases behind recent_value'",
    "COMMENT ON COLUMN reports.kpi_history.recent_standard_error IS 'how much recent_value moves "
    "by chance, in its unit'",
)
RECENT_SQL = Path(__file__).parent.parent / "monitoring" / "recent_kpis.sql"


_SEGMENT_DDL = (
    "CREATE TABLE IF NOT EXISTS reports.kpi_segment_history (snapshot_date DATE NOT NULL, "
    "dimension VARCHAR NOT NULL, segment VARCHAR NOT NULL, kpi VARCHAR NOT NULL, value DOUBLE, "
    "unit VARCHAR, cases BIGINT, standard_error DOUBLE, refreshed_at TIMESTAMP NOT NULL)",
    "COMMENT ON TABLE reports.kpi_segment_history IS 'One dated snapshot of reports.kpi_segments "
    "per refresh day: the KPI trends per region and team. A re-run on the same day replaces that "
    "day.'",
    "COMMENT ON COLUMN reports.kpi_segment_history.snapshot_date IS 'the day of the refresh (UTC)'",
    "COMMENT ON COLUMN reports.kpi_segment_history.dimension IS 'region or team'",
    "COMMENT ON COLUMN reports.kpi_segment_history.segment IS 'the region or team'",
    "COMMENT ON COLUMN reports.kpi_segment_history.kpi IS 'the KPI, as in reports.kpi_summary'",
    "COMMENT ON COLUMN reports.kpi_segment_history.value IS 'its value over the segment that day'",
    "COMMENT ON COLUMN reports.kpi_segment_history.unit IS 'days, share (0 to 1) or percent'",
    "COMMENT ON COLUMN reports.kpi_segment_history.cases IS 'the segment''s cases behind the "
    "value'",
    "COMMENT ON COLUMN reports.kpi_segment_history.standard_error IS 'how much the value moves by "
    "chance, in its unit'",
    "COMMENT ON COLUMN reports.kpi_segment_history.refreshed_at IS 'when the snapshot was written "
    "(UTC)'",
)


def snapshot_date() -> date:
    configured = os.environ.get("L2C_SNAPSHOT_DATE")
    living = os.environ.get("L2C_DEMO_AS_OF", "").strip()
    if not configured and living and os.environ.get("L2C_SOURCE", "demo") == "demo":
        # A living demo org's night is its clock's day, not the day the run happens.
        configured = living[:10]
    if configured:
        try:
            return date.fromisoformat(configured)
        except ValueError:
            raise ValueError(
                f"L2C_SNAPSHOT_DATE must be a date like 2026-11-27, got {configured!r}"
            ) from None
    return datetime.now(UTC).date()


def _replace_day(con, ddl: tuple[str, ...], table: str, insert: str, day: date) -> int:
    """In one transaction: the table made or brought up to date, the day's rows deleted and
    `insert` (a statement with the day as its one parameter) run; returns the day's rows."""
    with transaction(con):
        for statement in ddl:
            con.execute(statement)
        con.execute(f"DELETE FROM {table} WHERE snapshot_date = ?", [day])
        con.execute(insert, [day])
    return con.execute(f"SELECT count(*) FROM {table} WHERE snapshot_date = ?", [day]).fetchone()[0]


def recent_kpis(con: duckdb.DuckDBPyConnection, recent_days: int) -> list[tuple]:
    """The trailing-window KPIs over core.event_log: (kpi, value, cases, standard_error,
    window_start, window_end) rows; none without an event log."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_schema = 'core' AND table_name = 'event_log'"
    ).fetchone()[0]
    if not exists:
        return []
    define_macros(con)
    return con.execute(
        RECENT_SQL.read_text(encoding="utf-8"), {"recent_days": recent_days}
    ).fetchall()


def record_kpi_snapshot(
    con: duckdb.DuckDBPyConnection, day: date, recent_days: int = DEFAULT_RECENT_DAYS
) -> int:
    """Replace the day's snapshot with the current reports.kpi_summary and, for the KPIs judged
    over a trailing window of recent_days (0: none), that window's figures; returns rows
    written."""
    rows = recent_kpis(con, recent_days) if recent_days > 0 else []
    con.execute(
        "CREATE OR REPLACE TEMP TABLE kpi_recent_tonight (kpi VARCHAR, value DOUBLE, "
        "cases BIGINT, standard_error DOUBLE)"
    )
    if rows:
        con.executemany(
            "INSERT INTO kpi_recent_tonight VALUES (?, ?, ?, ?)", [row[:4] for row in rows]
        )
    try:
        return _replace_day(
            con,
            _DDL,
            "reports.kpi_history",
            "INSERT INTO reports.kpi_history (snapshot_date, kpi, value, unit, period, "
            "refreshed_at, cases, standard_error, recent_days, recent_value, recent_cases, "
            "recent_standard_error) SELECT ?, s.kpi, s.value, s.unit, s.period, "
            f"now()::TIMESTAMP, s.cases, s.standard_error, CASE WHEN r.kpi IS NOT NULL THEN "
            f"{int(recent_days)} END, r.value, r.cases, r.standard_error "
            "FROM reports.kpi_summary AS s LEFT JOIN kpi_recent_tonight AS r USING (kpi)",
            day,
        )
    finally:
        con.execute("DROP TABLE IF EXISTS kpi_recent_tonight")


def record_segment_snapshot(con: duckdb.DuckDBPyConnection, day: date) -> int:
    """Replace the day's rows of reports.kpi_segment_history with the current
    reports.kpi_segments; returns rows written."""
    return _replace_day(
        con,
        _SEGMENT_DDL,
        "reports.kpi_segment_history",
        "INSERT INTO reports.kpi_segment_history (snapshot_date, dimension, segment, kpi, "
        "value, unit, cases, standard_error, refreshed_at) SELECT ?, dimension, segment, kpi, "
        "value, unit, cases, standard_error, now()::TIMESTAMP FROM reports.kpi_segments",
        day,
    )
