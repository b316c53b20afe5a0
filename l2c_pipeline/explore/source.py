"""The published analytics file as the explorer reads it.

Each published file is attached READ_ONLY to an in-memory DuckDB database of its own (a plain
`duckdb.connect(path)` would hand back the instance already open on the path, so the old file),
and prepared once: the tables the filters and maps read, keyed by small integers (a case by
its number, an activity by mining.activity_codes) and taken from the published definitions
(mining.directly_follows, mining.milestone_events, mining.case_variants, mining.case_dimensions),
so a filtered map counts what the report tables count.

The pipeline publishes by writing a new file and renaming it over the old one: the explorer
holds the old file open (the rename does not touch it) and never blocks the refresh. When the
path names another file (device, inode, size or modification time changed), a thread prepares
the new one while the old keeps answering; then the new one answers and the old one is closed
once its last request is done.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from ..warehouse.duckdb_warehouse import set_memory_limit
from .filters import P

log = logging.getLogger("l2c.explore")

# The tables the explorer cannot do without: an older analytics file lacks some.
REQUIRED = (
    "core.event_log",
    "core.cases",
    "mining.activity_codes",
    "mining.case_variants",
    "mining.variant_paths",
    "mining.directly_follows",
    "mining.milestone_events",
    "reports.process_map_edges",
    "reports.milestone_map_edges",
)
# How often the file's identity is looked at, at most (seconds).
CHECK_EVERY = 1.0


def _exists(con, name: str) -> bool:
    schema, table = name.split(".")
    return (
        con.execute(
            "SELECT count(*) FROM (SELECT 1 FROM duckdb_tables() WHERE database_name = 'analytics' "
            "AND schema_name = ? AND table_name = ? UNION ALL SELECT 1 FROM duckdb_views() "
            "WHERE database_name = 'analytics' AND schema_name = ? AND view_name = ?)",
            [schema, table, schema, table],
        ).fetchone()[0]
        > 0
    )


PREPARE = f"""
CREATE SCHEMA {P};
CREATE TABLE {P}.activities AS
    SELECT a.activity_code AS code, a.activity,
           coalesce(c.family, '') = 'touch' AS is_touch
    FROM mining.activity_codes AS a
    LEFT JOIN core.activity_catalogue AS c USING (activity);
-- Variants ranked by cases; a variant's key (a hash of its activity names) stays the same from
-- one published file to the next, so a URL naming it still does.
CREATE TABLE {P}.variants AS
    WITH keyed AS (
        SELECT activity_codes, activities, events, cases, median_throughput_seconds,
               substr(md5(array_to_string(activities, chr(31))), 1, 16) AS key
        FROM mining.variant_paths
    )
    SELECT row_number() OVER (ORDER BY cases DESC, key)::INTEGER AS variant_idx, *,
           coalesce(sum(cases) OVER (ORDER BY cases DESC, key
               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
               / sum(cases) OVER () AS coverage_before
    FROM keyed;
-- Each case's milestones (mining.milestone_events) as lists in step order: the pairs of
-- activity codes (one integer a pair, as reports.process_map_edges pairs them) and the wait
-- after each. The distinct milestone paths are kept once (ms_variants) and each case names
-- its own: a filtered frequency map counts the filtered cases per path and unnests the paths,
-- a performance map unnests the filtered cases' pairs and waits side by side.
CREATE TEMP TABLE milestone_lists AS
    SELECT m.case_id, list(a.code ORDER BY m.step) AS ms_codes,
           list(m.wait_hours ORDER BY m.step) FILTER (WHERE m.next_activity IS NOT NULL) AS ms_waits
    FROM mining.milestone_events AS m
    JOIN {P}.activities AS a USING (activity)
    GROUP BY m.case_id;
CREATE TABLE {P}.ms_variants AS
    SELECT row_number() OVER (ORDER BY ms_codes)::INTEGER AS ms_variant_idx, ms_codes,
           list_transform(range(1, len(ms_codes)),
                          lambda i: ms_codes[i]::INTEGER * 65536 + ms_codes[i + 1]) AS ms_pairs
    FROM (SELECT DISTINCT ms_codes FROM milestone_lists);
CREATE TABLE {P}.cases AS
    SELECT row_number() OVER (ORDER BY cv.case_id)::INTEGER AS case_idx, cv.case_id,
           cv.started_at, cv.ended_at, cv.throughput_seconds, cv.events,
           cv.activity_codes[1] AS start_code, cv.activity_codes[-1] AS end_code, v.variant_idx,
           f.outcome, k.is_conformant, mv.ms_variant_idx, mv.ms_pairs, m.ms_waits
    FROM mining.case_variants AS cv
    JOIN {P}.variants AS v USING (activity_codes)
    LEFT JOIN milestone_lists AS m USING (case_id)
    LEFT JOIN {P}.ms_variants AS mv USING (ms_codes)
    LEFT JOIN ([outcomes]) AS f USING (case_id)
    LEFT JOIN ([conformance]) AS k USING (case_id);
DROP TABLE milestone_lists;
CREATE TABLE {P}.df AS
    SELECT c.case_idx, f.code AS from_code, t.code AS to_code, d.wait_seconds
    FROM mining.directly_follows AS d
    JOIN {P}.cases AS c USING (case_id)
    JOIN {P}.activities AS f ON f.activity = d.from_activity
    JOIN {P}.activities AS t ON t.activity = d.to_activity;
CREATE TABLE {P}.service AS
    SELECT c.case_idx, a.code, epoch(e."timestamp" - e.started_at) / 3600 AS service_hours
    FROM core.event_log AS e
    JOIN {P}.cases AS c USING (case_id)
    JOIN {P}.activities AS a USING (activity)
    WHERE e.started_at IS NOT NULL;
"""

# Each case's outcome and conformance, where the file has the tables that say them.
OUTCOMES = """SELECT case_id, CASE WHEN is_won THEN 'won' WHEN is_lost THEN 'lost'
    WHEN is_closed THEN 'closed lead' ELSE 'open' END AS outcome FROM mining.case_facts"""
NO_OUTCOMES = "SELECT NULL::VARCHAR AS case_id, NULL::VARCHAR AS outcome WHERE false"
CASE_CONFORMANCE = "SELECT case_id, is_conformant FROM mining.case_conformance"
NO_CASE_CONFORMANCE = "SELECT NULL::VARCHAR AS case_id, NULL::BOOLEAN AS is_conformant WHERE false"

# The attributes: mining.case_dimensions where the file has it, and from mining.case_facts the
# outcome and the case type.
DIMENSIONS = f"""
CREATE TABLE {P}.case_dims AS
    SELECT c.case_idx, d.dimension, d.dimension_value AS value
    FROM mining.case_dimensions AS d JOIN {P}.cases AS c USING (case_id)
    WHERE d.dimension_value IS NOT NULL
    UNION ALL
    SELECT c.case_idx, 'outcome',
           CASE WHEN f.is_won THEN 'won' WHEN f.is_lost THEN 'lost'
                WHEN f.is_closed THEN 'closed lead' ELSE 'open' END
    FROM mining.case_facts AS f JOIN {P}.cases AS c USING (case_id)
    UNION ALL
    SELECT c.case_idx, 'case_type', f.case_type
    FROM mining.case_facts AS f JOIN {P}.cases AS c USING (case_id)
    WHERE f.case_type IS NOT NULL;
CREATE TABLE {P}.dim_values AS
    SELECT row_number() OVER (ORDER BY dimension, value)::INTEGER AS value_idx, dimension, value,
           count(*) AS cases
    FROM {P}.case_dims GROUP BY dimension, value;
-- In the order of the values: a filter on one reads only its stretch of the table.
CREATE TABLE {P}.dims AS
    SELECT d.case_idx, v.value_idx
    FROM {P}.case_dims AS d JOIN {P}.dim_values AS v USING (dimension, value)
    ORDER BY v.value_idx, d.case_idx;
DROP TABLE {P}.case_dims;
"""
NO_DIMENSIONS = f"""
CREATE TABLE {P}.dim_values (value_idx INTEGER, dimension VARCHAR, value VARCHAR, cases BIGINT);
CREATE TABLE {P}.dims (case_idx INTEGER, value_idx INTEGER);
"""
VIOLATIONS = f"""
CREATE TABLE {P}.violations AS
    SELECT DISTINCT c.case_idx, v.rule, v.severity
    FROM reports.compliance_violations AS v JOIN {P}.cases AS c USING (case_id);
"""
NO_VIOLATIONS = f"CREATE TABLE {P}.violations (case_idx INTEGER, rule VARCHAR, severity VARCHAR);"


class AnalyticsFileError(RuntimeError):
    """The analytics file is missing or lacks what the explorer reads: one line."""


def identity(path: Path) -> tuple | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


@dataclass
class Generation:
    """One published file, attached and prepared."""

    path: Path
    identity: tuple
    con: duckdb.DuckDBPyConnection
    number: int
    prepared_seconds: float
    events: int = 0
    cases: int = 0
    published_at: float = 0.0
    has: dict = field(default_factory=dict)
    # What does not change while the file does (the form's values, the report's answers).
    cache: dict = field(default_factory=dict)
    users: int = 0
    retired: bool = False
    temp_dir: str = ""

    def close_if_done(self) -> None:
        if self.retired and self.users == 0:
            try:
                self.con.close()
            finally:
                import shutil

                shutil.rmtree(self.temp_dir, ignore_errors=True)


class ExplorerSettingError(ValueError):
    """A wrong explorer setting: one line naming it."""


def memory_limit() -> str:
    """DuckDB's memory limit in the explorer (its prepared tables count in it: beyond it they
    and the queries' work spill to a temporary folder): L2C_EXPLORE_MEMORY_LIMIT, checked."""
    with duckdb.connect(":memory:") as con:
        try:
            return set_memory_limit(con, "L2C_EXPLORE_MEMORY_LIMIT", "1GB")
        except ValueError as error:
            raise ExplorerSettingError(str(error)) from None


def open_generation(path: Path, number: int = 1) -> Generation:
    """Attach the file read-only in a new in-memory database and prepare its tables."""
    started = time.monotonic()
    ident = identity(path)
    if ident is None:
        raise AnalyticsFileError(
            f"no analytics file at {path}: run `l2c run` (or `l2c demo`) first"
        )
    limit = memory_limit()
    temp_dir = tempfile.mkdtemp(prefix="l2c-explore-")
    con = duckdb.connect(
        ":memory:", config={"memory_limit": limit, "temp_directory": temp_dir, "threads": 2}
    )
    try:
        literal = str(path).replace("'", "''")
        con.execute(f"ATTACH '{literal}' AS analytics (READ_ONLY)")
        # The file attached is the one opened now: if it was replaced between the stat and the
        # attach, the next check sees a newer identity and prepares again.
        ident = identity(path) or ident
        con.execute("USE analytics")
        missing = [name for name in REQUIRED if not _exists(con, name)]
        if missing:
            raise AnalyticsFileError(
                f"{path} lacks {', '.join(missing)}: it was published by an older version or "
                "not by l2c; run `l2c run` once to publish it anew"
            )
        has = {
            name: _exists(con, name)
            for name in (
                "mining.case_dimensions",
                "mining.case_facts",
                "mining.case_conformance",
                "reports.compliance_violations",
                "reports.kpi_summary",
                "core.case_attributes",
            )
        }
        con.execute(
            PREPARE.replace(
                "[outcomes]", OUTCOMES if has["mining.case_facts"] else NO_OUTCOMES
            ).replace(
                "[conformance]",
                CASE_CONFORMANCE if has["mining.case_conformance"] else NO_CASE_CONFORMANCE,
            )
        )
        has["service times"] = bool(con.execute(f"SELECT count(*) FROM {P}.service").fetchone()[0])
        con.execute(
            DIMENSIONS
            if has["mining.case_dimensions"] and has["mining.case_facts"]
            else NO_DIMENSIONS
        )
        con.execute(VIOLATIONS if has["reports.compliance_violations"] else NO_VIOLATIONS)
        cases, events = con.execute(
            f"SELECT count(*), coalesce(sum(events), 0) FROM {P}.cases"
        ).fetchone()
    except BaseException:
        con.close()
        import shutil

        shutil.rmtree(temp_dir, ignore_errors=True)
        raise
    return Generation(
        path=path,
        identity=ident,
        con=con,
        number=number,
        prepared_seconds=time.monotonic() - started,
        events=int(events),
        cases=int(cases),
        published_at=ident[3] / 1e9,
        has=has,
        temp_dir=temp_dir,
    )


class AnalyticsSource:
    """The current generation of the analytics file, replaced when a new file is published."""

    def __init__(self, path: Path, background: bool = True):
        self.path = Path(path).resolve()
        self._lock = threading.Lock()
        self._checked = 0.0
        self._preparing: threading.Thread | None = None
        self._failed_identity: tuple | None = None
        self.background = background
        self.last_error: str | None = None
        self.current = open_generation(self.path)

    def _check(self) -> None:
        now = time.monotonic()
        if now - self._checked < CHECK_EVERY:
            return
        self._checked = now
        ident = identity(self.path)
        if ident is None or ident == self.current.identity or ident == self._failed_identity:
            return
        if not self.background:
            self._replace(ident)
            return
        with self._lock:  # one preparation at a time
            if self._preparing is not None and self._preparing.is_alive():
                return
            self._preparing = threading.Thread(
                target=self._replace, args=(ident,), name="l2c-explore-prepare", daemon=True
            )
            self._preparing.start()

    def _replace(self, ident: tuple) -> None:
        try:
            new = open_generation(self.path, self.current.number + 1)
        except Exception as error:  # keep answering from the file before
            self._failed_identity = ident
            self.last_error = str(error).splitlines()[0]
            log.warning("the newly published analytics file was not taken: %s", self.last_error)
            return
        log.info(
            "analytics file %s published anew: %s events in %s cases, prepared in %.1f s",
            self.path,
            f"{new.events:,}",
            f"{new.cases:,}",
            new.prepared_seconds,
        )
        with self._lock:
            old, self.current = self.current, new
            old.retired = True
            old.close_if_done()
        self.last_error = None

    def wait_for_preparation(self, timeout: float = 60) -> None:
        """Wait for a file being prepared (tests, the benchmark)."""
        thread = self._preparing
        if thread is not None:
            thread.join(timeout)

    @contextmanager
    def cursor(self):
        """A cursor on the current generation (its own connection: one per request)."""
        self._check()
        with self._lock:
            generation = self.current
            generation.users += 1
        try:
            cur = generation.con.cursor()
            try:
                cur.execute("USE analytics")
                yield generation, cur
            finally:
                cur.close()
        finally:
            with self._lock:
                generation.users -= 1
                generation.close_if_done()

    def close(self) -> None:
        thread = self._preparing
        if thread is not None:
            thread.join(120)
        with self._lock:
            self.current.retired = True
            self.current.close_if_done()
