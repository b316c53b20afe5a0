"""Publishing the analytics file: core, mining and reports (not raw) copied into a new DuckDB
file, then renamed over the old one in one step.

Analysts open the analytics file read-only. A reader holding the old file keeps reading it
(the rename swaps the directory entry, not the open file) until it reconnects and sees the new
one; it never blocks the pipeline and never sees half a refresh.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path

import duckdb

from .duckdb_warehouse import quote, sql_literal

PUBLISHED_SCHEMAS = ("core", "mining", "reports")
# The oldest DuckDB release whose readers open the analytics file.
ANALYTICS_STORAGE_VERSION = "v1.1.0"


def default_analytics_path(warehouse: Path) -> Path:
    configured = os.environ.get("L2C_ANALYTICS")
    return Path(configured) if configured else Path(warehouse).with_name("analytics.duckdb")


def replace_file(path: Path, write: Callable[[Path], None]) -> Path:
    """Have `write` write a hidden sibling of `path` (same suffix: some writers insist on it),
    then rename it over `path`: a reader finds the old file or the new one, never half of one.
    The sibling is removed if writing fails."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.stem}.partial{path.suffix}")
    try:
        write(partial)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def staging_dir(warehouse: Path) -> Path:
    """Files a run makes for the output folder before the run has published (the BPMN model):
    they reach the output folder only with the analytics file they belong to."""
    warehouse = Path(warehouse)
    return warehouse.with_name(f".{warehouse.stem}.staging")


def default_output_dir(warehouse: Path) -> Path:
    """Where files for people go (process model, maps, report): L2C_OUTPUT_DIR, default
    'outputs' beside the warehouse."""
    configured = os.environ.get("L2C_OUTPUT_DIR")
    return Path(configured) if configured else Path(warehouse).with_name("outputs")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_leftover_staging(target: Path) -> list[Path]:
    """Staging files of publishes that were killed part-way (their process is gone)."""
    removed = []
    for leftover in Path(target).parent.glob(f".{Path(target).name}.*.publishing*"):
        pid = leftover.name.removeprefix(f".{Path(target).name}.").split(".", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and pid_alive(int(pid)):
            continue  # another process is publishing there right now
        leftover.unlink(missing_ok=True)
        removed.append(leftover)
    return removed


def publish_analytics(
    con: duckdb.DuckDBPyConnection, target: Path, schemas: tuple[str, ...] = PUBLISHED_SCHEMAS
) -> dict[str, int | None]:
    """Copy the schemas' tables and views (with their comments) from the warehouse connection
    into a new file and rename it to `target`; returns rows per published table (None for a
    view, which stays a view over the published tables)."""
    target = Path(target).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.{os.getpid()}.publishing")
    remove_leftover_staging(target)
    tables = con.execute(
        "SELECT schema_name, table_name, comment FROM duckdb_tables() "
        f"WHERE database_name = current_database() AND schema_name IN ({', '.join('?' * len(schemas))}) "
        "ORDER BY schema_name, table_name",
        list(schemas),
    ).fetchall()
    views = con.execute(
        "SELECT schema_name, view_name, comment, sql FROM duckdb_views() "
        f"WHERE database_name = current_database() AND NOT internal "
        f"AND schema_name IN ({', '.join('?' * len(schemas))}) ORDER BY schema_name, view_name",
        list(schemas),
    ).fetchall()
    columns = con.execute(
        "SELECT schema_name, table_name, column_name, comment FROM duckdb_columns() "
        "WHERE database_name = current_database() AND comment IS NOT NULL"
    ).fetchall()
    published: dict[str, int | None] = {}
    literal = str(staging).replace("'", "''")
    # Written in an older storage format, so DuckDB 1.1 and newer (the CLI, BI tools, notebooks
    # on any recent DuckDB) open it; the warehouse keeps the running DuckDB's own format.
    con.execute(
        f"ATTACH '{literal}' AS l2c_publishing (STORAGE_VERSION '{ANALYTICS_STORAGE_VERSION}')"
    )
    try:
        # One transaction for the whole file: each statement on its own would be a commit
        # (a write to disk) of its own, and a hundred tables have some five hundred comments.
        con.execute("BEGIN TRANSACTION")
        for schema in schemas:
            con.execute(f"CREATE SCHEMA IF NOT EXISTS l2c_publishing.{schema}")
        for schema, table, comment in tables:
            source, copy = f"{schema}.{quote(table)}", f"l2c_publishing.{schema}.{quote(table)}"
            con.execute(f"CREATE TABLE {copy} AS SELECT * FROM {source}")
            if comment:
                con.execute(f"COMMENT ON TABLE {copy} IS {sql_literal(comment)}")
            published[f"{schema}.{table}"] = con.execute(f"SELECT count(*) FROM {copy}").fetchone()[
                0
            ]
        # A view's SQL names its tables without a database, so it is created with the new file
        # as the default database and reads the published tables, there and wherever opened.
        warehouse_database = con.execute("SELECT current_database()").fetchone()[0]
        con.execute("USE l2c_publishing")
        try:
            for schema, view, comment, view_sql in views:
                con.execute(view_sql)
                if comment:
                    con.execute(f"COMMENT ON VIEW {schema}.{quote(view)} IS {sql_literal(comment)}")
                published[f"{schema}.{view}"] = None
        finally:
            con.execute(f"USE {quote(warehouse_database)}")
        for schema, table, column, comment in columns:
            if f"{schema}.{table}" in published:
                con.execute(
                    f"COMMENT ON COLUMN l2c_publishing.{schema}.{quote(table)}.{quote(column)} "
                    f"IS {sql_literal(comment)}"
                )
        con.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
        con.execute("DETACH l2c_publishing")
        staging.unlink(missing_ok=True)
        raise
    con.execute("DETACH l2c_publishing")  # checkpoints: the new file is complete on its own
    os.replace(staging, target)
    return published
