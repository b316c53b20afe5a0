"""The pipeline's DuckDB files: schemas, the sync-state and sync-log tables, and raw upserts.

Two files. The warehouse (L2C_WAREHOUSE) holds what was extracted and staged: raw, meta,
staging and activities. Beside it, the models file (`<warehouse>.models.duckdb`) holds what
the analytics file publishes: core, mining and reports. Every warehouse connection attaches the
models file and searches it, so `core.event_log` and `raw.Lead` are named the same way in every
query; publishing is then a copy of one finished file, not a re-encoding of every table.

One run at a time (run_lock.py) and one writer at a time (the Dagster pool `duckdb_writer`);
a writer that finds the file locked by some other process waits a bounded time. Every change a sync makes to a raw
table and its watermark is one transaction, so a killed process leaves the file as it was
after the last committed page.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import duckdb

from ..environment import number_setting

SCHEMAS = ("raw", "staging", "meta")
# What the analytics file publishes, built in the models file.
MODEL_SCHEMAS = ("core", "mining", "reports")
MODELS_CATALOG = "l2c_models"
# The oldest DuckDB release whose readers open the models file, and so the analytics file that
# is its copy (the CLI, BI tools and notebooks on any DuckDB since 1.1).
MODELS_STORAGE_VERSION = "v1.1.0"
SQL_TYPES = {
    "id": "VARCHAR",
    "reference": "VARCHAR",
    "string": "VARCHAR",
    "picklist": "VARCHAR",
    "multipicklist": "VARCHAR",
    "textarea": "VARCHAR",
    "email": "VARCHAR",
    "phone": "VARCHAR",
    "url": "VARCHAR",
    "combobox": "VARCHAR",
    "encryptedstring": "VARCHAR",
    "boolean": "BOOLEAN",
    "datetime": "TIMESTAMP",
    "date": "DATE",
    "time": "VARCHAR",
    "double": "DOUBLE",
    "currency": "DOUBLE",
    "percent": "DOUBLE",
    "int": "BIGINT",
    "long": "BIGINT",
}
SYNCED_AT = "_l2c_synced_at"
# Every Dagster asset that writes the warehouse runs in this pool; dagster.yaml limits pools to
# one step at a time, so the DuckDB file never has two writers.
WRITER_POOL = "duckdb_writer"
DEFAULT_MEMORY_LIMIT = "3GB"
# The pipeline's own change history of tracked fields (no Salesforce object is named like this).
CHANGES_TABLE = "raw._l2c_field_changes"

_META_DDL = (
    """CREATE TABLE IF NOT EXISTS meta.sync_state (
        object_name VARCHAR PRIMARY KEY,
        cursor_field VARCHAR NOT NULL,
        watermark TIMESTAMP,
        rows_synced BIGINT NOT NULL DEFAULT 0,
        last_method VARCHAR,
        last_synced_at TIMESTAMP
    )""",
    "COMMENT ON TABLE meta.sync_state IS 'Per Salesforce object: the replication cursor and how far it has been read (moved in the same transaction as the rows).'",
    """CREATE TABLE IF NOT EXISTS meta.sync_log (
        run_id VARCHAR, object_name VARCHAR, started_at TIMESTAMP, finished_at TIMESTAMP,
        method VARCHAR, rows_read BIGINT, inserted BIGINT, updated BIGINT, deleted BIGINT,
        api_calls BIGINT, watermark_before TIMESTAMP, watermark_after TIMESTAMP,
        status VARCHAR, message VARCHAR
    )""",
    "COMMENT ON TABLE meta.sync_log IS 'One row per object per sync: what was read and written, how, and how it ended.'",
    """CREATE TABLE IF NOT EXISTS meta.describe_cache (
        object_name VARCHAR PRIMARY KEY, fields VARCHAR NOT NULL, fetched_at TIMESTAMP NOT NULL
    )""",
    "COMMENT ON TABLE meta.describe_cache IS 'Field names and types per object from the last describe call (JSON), reused for a while to save API calls.'",
    """CREATE TABLE IF NOT EXISTS meta.reconcile_state (
        object_name VARCHAR PRIMARY KEY, reconciled_at TIMESTAMP NOT NULL,
        months_compared BIGINT, months_reread BIGINT, records_recovered BIGINT
    )""",
    "COMMENT ON TABLE meta.reconcile_state IS 'Per Salesforce object: when its record counts per month were last compared with the org, and what that found and re-read.'",
    """CREATE TABLE IF NOT EXISTS meta.source (
        key VARCHAR PRIMARY KEY, value VARCHAR
    )""",
    "COMMENT ON TABLE meta.source IS 'The org the warehouse holds (kind, id, name, instance URL), checked before every sync so two orgs never mix, and the event-log file last loaded; never secrets.'",
    f"""CREATE TABLE IF NOT EXISTS {CHANGES_TABLE} (
        change_id VARCHAR PRIMARY KEY, object_name VARCHAR NOT NULL, record_id VARCHAR NOT NULL,
        field VARCHAR NOT NULL, old_value VARCHAR, new_value VARCHAR, observed_at TIMESTAMP,
        changed_by VARCHAR, first_seen BOOLEAN NOT NULL, sync_run_id VARCHAR,
        synced_at TIMESTAMP NOT NULL
    )""",
    f"COMMENT ON TABLE {CHANGES_TABLE} IS 'The pipeline''s own field history: every change of a "
    "tracked field (the mapping''s change_capture) seen between two syncs, timed by the record''s "
    "LastModifiedDate at the sync; append-only, never purged. Two changes between two syncs show "
    "as one.'",
    """CREATE TABLE IF NOT EXISTS meta.change_capture (
        object_name VARCHAR, field VARCHAR, tracked_since TIMESTAMP NOT NULL,
        PRIMARY KEY (object_name, field)
    )""",
    "COMMENT ON TABLE meta.change_capture IS 'Fields the pipeline tracks itself, and since when "
    "(changes before that are not in raw._l2c_field_changes).'",
)


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


DEFAULT_LOCK_WAIT_SECONDS = 120.0


class WarehouseBusy(Exception):
    """Another process holds the warehouse file's lock longer than a writer waits."""


class OrphanedModelsFile(Exception):
    """A models file whose warehouse is gone: it holds another warehouse's tables."""


def lock_wait_seconds() -> float:
    return number_setting("L2C_LOCK_WAIT_SECONDS", DEFAULT_LOCK_WAIT_SECONDS, "a number of seconds")


def models_path(warehouse: Path | str) -> Path:
    """The models file of a warehouse: core, mining and reports, beside it."""
    warehouse = Path(warehouse)
    return warehouse.with_name(f"{warehouse.stem}.models{warehouse.suffix or '.duckdb'}")


def warehouse_files(warehouse: Path | str) -> list[Path]:
    """Every file a warehouse consists of (with DuckDB's write-ahead logs), the models file
    first: removed in this order, an interrupted removal never leaves a models file without
    the warehouse that says which source it holds."""
    files = [models_path(warehouse), Path(warehouse)]
    return [f for path in files for f in (path, path.with_name(path.name + ".wal"))]


def _open_waiting(
    path: Path, say: Callable[[str], None], open_file: Callable[[], object] | None = None
):
    """duckdb.connect (or `open_file`), waiting a bounded time while another process (a reader
    who opened the warehouse itself instead of the analytics file) holds the file's lock."""
    wait = lock_wait_seconds()
    deadline, told = time.monotonic() + wait, False
    open_file = open_file or (lambda: duckdb.connect(str(path)))
    while True:
        try:
            return open_file()
        except duckdb.IOException as error:
            if "Could not set lock" not in str(error) and "Conflicting lock" not in str(error):
                raise
            holder = str(error).split("Conflicting lock is held in", 1)[-1].strip().rstrip(".")
            if time.monotonic() >= deadline:
                raise WarehouseBusy(
                    f"the warehouse {path} is locked by another process ({holder}) and stayed "
                    f"locked for {wait:g} s (L2C_LOCK_WAIT_SECONDS). Analysts and exports read "
                    "the analytics file, never the warehouse: close that connection and run again"
                ) from None
            if not told:
                say(
                    f"the warehouse {path} is locked by another process ({holder}); waiting up "
                    f"to {wait:g} s for it to let go"
                )
                told = True
            time.sleep(0.5)


class UnusablePath(ValueError):
    """A path DuckDB cannot keep a database at."""


def check_database_path(path: Path, setting: str) -> None:
    """DuckDB reads a ? in a database's path as the start of options and a backslash as a
    separator (it then writes, or looks for, its log elsewhere): such a path is refused by
    name before DuckDB fails on it."""
    if "?" in str(path) or "\\" in str(path):
        raise UnusablePath(
            f"{path}: DuckDB cannot keep a database at a path with '?' or a backslash in it; "
            f"choose another folder ({setting})"
        )


def connect(
    path: Path | str, *, on_wait: Callable[[str], None] = lambda message: None
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse file for writing, creating schemas and meta tables."""
    path = Path(path)
    check_database_path(path, "L2C_HOME or L2C_WAREHOUSE")
    path.parent.mkdir(parents=True, exist_ok=True)
    models = models_path(path)
    if not path.exists() and models.exists():
        # Its KPI history and tables belong to a warehouse that is gone (removed by hand, or a
        # removal cut short): adopting them would mix two sources' figures.
        raise OrphanedModelsFile(
            f"{models} holds the core, mining and reports tables (KPI history included) of a "
            f"warehouse that is gone ({path} does not exist): restore that warehouse beside "
            "it, or remove both with `l2c reset --yes`"
        )
    con = _open_waiting(path, on_wait)
    try:
        set_memory_limit(con)
        attach_models(con, models, on_wait=on_wait)  # with the session settings
    except BaseException:
        con.close()
        raise
    for schema in SCHEMAS:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    for statement in _META_DDL:
        con.execute(statement)
    return con


def connect_read_only(path: Path | str) -> duckdb.DuckDBPyConnection:
    """The warehouse and its models file opened read-only, named as in a run (`core.cases`,
    `raw.Lead`): for tools and tests that look inside. An older warehouse without a models file
    holds its core, mining and reports itself."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        models = models_path(path)
        if models.exists():
            # IF NOT EXISTS: a second connection in this process shares the first's database.
            con.execute(
                f"ATTACH IF NOT EXISTS {sql_literal(str(models))} AS {MODELS_CATALOG} (READ_ONLY)"
            )
    except BaseException:
        con.close()
        raise
    return session(con)


def attach_models(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    on_wait: Callable[[str], None] = lambda message: None,
) -> None:
    """Attach the models file for writing (created if missing) with its schemas; a warehouse
    that still holds core, mining and reports itself (written before the models file existed)
    has them moved into it once, KPI history included. Leaves `con` with the session
    settings (a search path naming a detached file would fail every statement)."""
    con.execute("SET search_path = 'main'")
    if not models_attached(con):
        _open_waiting(
            path,
            on_wait,
            lambda: con.execute(
                f"ATTACH {sql_literal(str(path))} AS {MODELS_CATALOG} "
                f"(STORAGE_VERSION '{MODELS_STORAGE_VERSION}')"
            ),
        )
    for schema in MODEL_SCHEMAS:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {MODELS_CATALOG}.{schema}")
    _move_models_out_of_the_warehouse(con)
    session(con)


def _move_models_out_of_the_warehouse(con: duckdb.DuckDBPyConnection) -> None:
    warehouse = con.execute("SELECT current_database()").fetchone()[0]
    held = [
        schema
        for (schema,) in con.execute(
            "SELECT schema_name FROM duckdb_schemas() WHERE database_name = current_database() "
            f"AND schema_name IN ({', '.join('?' * len(MODEL_SCHEMAS))})",
            list(MODEL_SCHEMAS),
        ).fetchall()
    ]
    if not held:
        return
    from .publish import copy_schemas  # publishing's copy, tables, views and comments

    copy_schemas(con, warehouse, MODELS_CATALOG, tuple(held), replace=True)
    with transaction(con):
        for schema in held:
            con.execute(f"DROP SCHEMA {quote(warehouse)}.{schema} CASCADE")


def session(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """The session settings every warehouse connection and cursor works with: UTC, no progress
    bar, and names found in the models file too (a cursor does not inherit them)."""
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")  # logs, not a terminal
    con.execute(f"SET search_path = {sql_literal(search_path(con))}")
    # An ASOF join whose left side DuckDB expects to be small (a generated series of days is
    # estimated at one row) runs as a nested loop: minutes for a calendar of a few centuries
    # (mining.business_clock_days), where the sort-based join takes a fraction of a second.
    with suppress(duckdb.Error):  # a DuckDB without the setting has no such loop
        con.execute("SET asof_loop_join_threshold = 0")
    return con


def models_attached(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM duckdb_databases() WHERE database_name = ?", [MODELS_CATALOG]
        ).fetchone()[0]
    )


def search_path(con: duckdb.DuckDBPyConnection) -> str:
    """The warehouse's own schemas (through `main`: a schema-qualified name is looked up in
    every catalog on the path), then the models file's, if it is attached."""
    if not models_attached(con):
        return "main"
    return ",".join(["main", *(f"{MODELS_CATALOG}.{schema}" for schema in MODEL_SCHEMAS)])


def set_memory_limit(
    con: duckdb.DuckDBPyConnection,
    variable: str = "L2C_DUCKDB_MEMORY_LIMIT",
    default: str = DEFAULT_MEMORY_LIMIT,
) -> str:
    """The memory limit `variable` sets (empty: `default`) on `con`: bounded memory for a
    nightly job on a shared machine (DuckDB spills to disk beyond it). A bad setting is a
    ValueError naming it. Returns the limit."""
    limit = os.environ.get(variable, "").strip() or default
    try:
        if limit.startswith("-"):  # DuckDB reads a negative size as no limit at all
            raise duckdb.InvalidInputException(limit)
        con.execute(f"SET memory_limit = {sql_literal(limit)}")
    except duckdb.Error:
        raise ValueError(
            f"{variable} must be a size such as {default} or 800MB, got {limit!r}"
        ) from None
    return limit


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def ensure_raw_table(con, object_name: str, fields: dict[str, str]) -> list[str]:
    """Create raw.<object> or add the columns it lacks; returns the columns added."""
    table = f"raw.{quote(object_name)}"
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'raw' AND table_name = ?",
        [object_name],
    ).fetchone()[0]
    if not exists:
        columns = ", ".join(
            f"{quote(name)} {SQL_TYPES.get(t, 'VARCHAR')}" for name, t in fields.items()
        )
        con.execute(f"CREATE TABLE {table} ({columns}, {SYNCED_AT} TIMESTAMP, PRIMARY KEY (Id))")
        con.execute(
            f"COMMENT ON TABLE {table} IS 'Salesforce {object_name} records as extracted "
            f"(deleted ones kept with IsDeleted = true; history kept after the org purges it).'"
        )
        return list(fields)
    present = {
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'raw' AND table_name = ?",
            [object_name],
        ).fetchall()
    }
    added = [name for name in fields if name not in present]
    for name in added:
        con.execute(
            f"ALTER TABLE {table} ADD COLUMN {quote(name)} {SQL_TYPES.get(fields[name], 'VARCHAR')}"
        )
    return added


def cast_sql(column: str, field_type: str) -> str:
    """Text from the API (JSON or CSV) to the raw column's type; '' is null."""
    value = f"NULLIF(CAST({quote(column)} AS VARCHAR), '')"
    if field_type == "datetime":
        return f"CAST(CAST({value} AS TIMESTAMPTZ) AS TIMESTAMP)"
    if field_type == "boolean":
        return f"CAST(lower({value}) AS BOOLEAN)"
    return f"CAST({value} AS {SQL_TYPES.get(field_type, 'VARCHAR')})"


def replace_table(
    con: duckdb.DuckDBPyConnection,
    table: str,
    select_sql: str,
    description: str,
    columns: dict[str, str],
    parameters: list | None = None,
) -> int:
    """Create or replace `table` from a SELECT, with its comments, in one transaction (readers
    see the old table or the new one); returns the row count. A column without a comment is
    a mistake: the comments are the analysts' documentation."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {table.split('.')[0]}")
    with transaction(con):
        con.execute(f"CREATE OR REPLACE TABLE {table} AS {select_sql}", parameters or [])
        actual = [row[0] for row in con.execute(f"DESCRIBE {table}").fetchall()]
        missing = [column for column in actual if column not in columns]
        if missing:
            raise ValueError(f"{table}: no comment for column(s) {', '.join(missing)}")
        write_comments(con, table, description, {c: columns[c] for c in actual})
    return con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]


def drop_other_kind(con: duckdb.DuckDBPyConnection, table: str, kind: str) -> None:
    """Drop `table` ("schema.name") if it exists as the other kind (a view where a table is
    wanted, or a table where a view is), so CREATE OR REPLACE of `kind` can take its place.
    In whichever attached file holds the schema: the one the name resolves to."""
    existing = con.execute(
        "SELECT table_type FROM information_schema.tables "
        "WHERE table_schema = ? AND table_name = ?",
        table.split("."),
    ).fetchall()
    wanted = "VIEW" if kind == "view" else "BASE TABLE"
    if existing and existing[0][0] != wanted:
        con.execute(f"DROP {'VIEW' if existing[0][0] == 'VIEW' else 'TABLE'} {table}")


def write_comments(
    con: duckdb.DuckDBPyConnection,
    table: str,
    description: str,
    columns: dict[str, str],
    kind: str = "table",
) -> None:
    """COMMENT ON the table (or view) and its columns: the analysts' documentation in the file
    itself."""
    if description:
        con.execute(f"COMMENT ON {kind.upper()} {table} IS {sql_literal(description)}")
    for column, comment in columns.items():
        con.execute(f"COMMENT ON COLUMN {table}.{column} IS {sql_literal(comment)}")


def sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
