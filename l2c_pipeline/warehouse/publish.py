"""Publishing the analytics file: core, mining and reports (not raw) copied into a new DuckDB
file, then renamed over the old one in one step. They are built in the models file beside the
warehouse, so the copy is that whole file, byte for byte.

Analysts open the analytics file read-only. A reader holding the old file keeps reading it
(the rename swaps the directory entry, not the open file) until it reconnects and sees the new
one; it never blocks the pipeline and never sees half a refresh.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb

from .duckdb_warehouse import (
    MODEL_SCHEMAS,
    MODELS_CATALOG,
    MODELS_STORAGE_VERSION,
    WarehouseBusy,
    attach_models,
    quote,
    search_path,
    sql_literal,
)

PUBLISHED_SCHEMAS = MODEL_SCHEMAS
# The oldest DuckDB release whose readers open the analytics file.
ANALYTICS_STORAGE_VERSION = MODELS_STORAGE_VERSION


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


def remove_leftovers(path: Path, kind: str) -> list[Path]:
    """`.<name>.<pid>.<kind>*` files beside `path` whose process is gone: what a publish or a
    compaction killed part-way left."""
    removed = []
    target = Path(path)
    for leftover in target.parent.glob(f".{target.name}.*.{kind}*"):
        pid = leftover.name.removeprefix(f".{target.name}.").split(".", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and pid_alive(int(pid)):
            continue  # another process is still writing it
        leftover.unlink(missing_ok=True)
        removed.append(leftover)
    return removed


def publish_analytics(
    con: duckdb.DuckDBPyConnection, target: Path, schemas: tuple[str, ...] = PUBLISHED_SCHEMAS
) -> dict[str, int | None]:
    """Publish the schemas' tables and views (with their comments) as a new file renamed to
    `target`; returns rows per published table (None for a view, which stays a view over the
    published tables).

    A warehouse connection builds them in the models file: that file, checkpointed and closed,
    is copied whole (the operating system copies bytes; nothing is decoded and compressed
    again). Other connections, or a subset of the schemas, have their tables copied one by one.
    """
    target = Path(target).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(target, "publishing")
    staging = target.with_name(f".{target.name}.{os.getpid()}.publishing")
    models_file = _attached_models_file(con)
    if models_file is None or tuple(schemas) != MODEL_SCHEMAS:
        return _publish_by_copying_tables(con, target, staging, schemas)
    remove_leftovers(models_file, "compacting")
    published = published_counts(con, MODELS_CATALOG, schemas)
    if _mostly_free_space(con):
        compact_models_file(con, models_file)
    _detach_models(con)
    try:
        try:
            shutil.copyfile(models_file, staging)
            with open(staging, "rb+") as copied:
                os.fsync(copied.fileno())
            os.replace(staging, target)
        finally:
            staging.unlink(missing_ok=True)
    except BaseException:
        # The copy's error is the one to tell; the next step attaches the models file anyway.
        with contextlib.suppress(duckdb.Error, WarehouseBusy):
            attach_models(con, models_file)
        raise
    attach_models(con, models_file)
    return published


def _detach_models(con: duckdb.DuckDBPyConnection) -> None:
    """Checkpoint and close the models file (the search path names it, so it goes first)."""
    con.execute(f"CHECKPOINT {MODELS_CATALOG}")
    con.execute("SET search_path = 'main'")
    con.execute(f"DETACH {MODELS_CATALOG}")


def _attached_models_file(con: duckdb.DuckDBPyConnection) -> Path | None:
    row = con.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = ?", [MODELS_CATALOG]
    ).fetchone()
    return Path(row[0]) if row and row[0] else None


def _mostly_free_space(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the models file holds more free blocks than used ones: every run replaces its
    tables, and DuckDB reuses the freed blocks but never shrinks a file by itself."""
    con.execute(f"CHECKPOINT {MODELS_CATALOG}")
    used, free = con.execute(
        "SELECT used_blocks, free_blocks FROM pragma_database_size() WHERE database_name = ?",
        [MODELS_CATALOG],
    ).fetchone()
    return free > max(used, 64)


def compact_models_file(con: duckdb.DuckDBPyConnection, models_file: Path) -> None:
    """Rewrite the models file without its free space: its schemas copied into a new file,
    which then replaces it (a killed process leaves the old one, and its partial copy for
    publish_analytics to remove)."""
    compacted = models_file.with_name(f".{models_file.name}.{os.getpid()}.compacting")
    compacted.unlink(missing_ok=True)
    alias = "l2c_compacting"
    con.execute(
        f"ATTACH {sql_literal(str(compacted))} AS {alias} "
        f"(STORAGE_VERSION '{MODELS_STORAGE_VERSION}')"
    )
    try:
        copy_schemas(con, MODELS_CATALOG, alias, MODEL_SCHEMAS)
    except BaseException:
        con.execute(f"DETACH {alias}")
        compacted.unlink(missing_ok=True)
        raise
    con.execute(f"DETACH {alias}")
    _detach_models(con)
    try:
        os.replace(compacted, models_file)
        models_file.with_name(models_file.name + ".wal").unlink(missing_ok=True)
    except BaseException:
        compacted.unlink(missing_ok=True)
        with contextlib.suppress(duckdb.Error, WarehouseBusy):
            attach_models(con, models_file)
        raise
    attach_models(con, models_file)


def published_counts(
    con: duckdb.DuckDBPyConnection, catalog: str, schemas: tuple[str, ...]
) -> dict[str, int | None]:
    """Rows per table of the schemas in `catalog`, None per view."""
    listed = ", ".join("?" * len(schemas))
    counts: dict[str, int | None] = {}
    for schema, table in con.execute(
        f"SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = ? "
        f"AND schema_name IN ({listed}) ORDER BY schema_name, table_name",
        [catalog, *schemas],
    ).fetchall():
        counts[f"{schema}.{table}"] = con.execute(
            f"SELECT count(*) FROM {quote(catalog)}.{schema}.{quote(table)}"
        ).fetchone()[0]
    for schema, view in con.execute(
        f"SELECT schema_name, view_name FROM duckdb_views() WHERE database_name = ? "
        f"AND NOT internal AND schema_name IN ({listed}) ORDER BY schema_name, view_name",
        [catalog, *schemas],
    ).fetchall():
        counts[f"{schema}.{view}"] = None
    return counts


def _publish_by_copying_tables(
    con: duckdb.DuckDBPyConnection, target: Path, staging: Path, schemas: tuple[str, ...]
) -> dict[str, int | None]:
    literal = str(staging).replace("'", "''")
    source = _catalog_holding(con, schemas)
    con.execute(
        f"ATTACH '{literal}' AS l2c_publishing (STORAGE_VERSION '{ANALYTICS_STORAGE_VERSION}')"
    )
    try:
        published = copy_schemas(con, source, "l2c_publishing", schemas)
    except BaseException:
        con.execute("DETACH l2c_publishing")
        staging.unlink(missing_ok=True)
        raise
    con.execute("DETACH l2c_publishing")  # checkpoints: the new file is complete on its own
    os.replace(staging, target)
    return published


def _catalog_holding(con: duckdb.DuckDBPyConnection, schemas: tuple[str, ...]) -> str:
    """The models file's catalog when it holds the schemas, else the connection's database."""
    if _attached_models_file(con) is not None:
        return MODELS_CATALOG
    return con.execute("SELECT current_database()").fetchone()[0]


def copy_schemas(
    con: duckdb.DuckDBPyConnection,
    source: str,
    target: str,
    schemas: tuple[str, ...],
    *,
    replace: bool = False,
) -> dict[str, int | None]:
    """Copy the schemas' tables and views, with their comments, from the attached catalog
    `source` into `target`, in one transaction; returns rows per table (None per view).
    `replace`: tables already in `target` are replaced, not an error."""
    listed = ", ".join("?" * len(schemas))
    tables = con.execute(
        "SELECT schema_name, table_name, comment, sql FROM duckdb_tables() "
        f"WHERE database_name = ? AND schema_name IN ({listed}) ORDER BY schema_name, table_name",
        [source, *schemas],
    ).fetchall()
    views = con.execute(
        "SELECT schema_name, view_name, comment, sql FROM duckdb_views() "
        f"WHERE database_name = ? AND NOT internal AND schema_name IN ({listed}) "
        "ORDER BY schema_name, view_name",
        [source, *schemas],
    ).fetchall()
    columns = con.execute(
        "SELECT schema_name, table_name, column_name, comment FROM duckdb_columns() "
        "WHERE database_name = ? AND comment IS NOT NULL",
        [source],
    ).fetchall()
    published: dict[str, int | None] = {}
    warehouse_database = con.execute("SELECT current_database()").fetchone()[0]
    # One transaction for the whole file: each statement on its own would be a commit (a write
    # to disk) of its own, and a hundred tables have some five hundred comments.
    con.execute("BEGIN TRANSACTION")
    try:
        for schema in schemas:
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(target)}.{schema}")
        # Tables and views are created from their own DDL with the target as the default
        # database (and nothing else searched): a table keeps its NOT NULL and keys (the KPI
        # history's), and a view's SQL, which names its tables without a database, reads the
        # copied tables, there and wherever the file is opened.
        con.execute(f"USE {quote(target)}")
        con.execute("SET search_path = 'main'")
        for schema, table, comment, table_sql in tables:
            copy = f"{quote(target)}.{schema}.{quote(table)}"
            if replace:
                con.execute(f"DROP TABLE IF EXISTS {copy}")
            con.execute(table_sql)
            con.execute(f"INSERT INTO {copy} SELECT * FROM {quote(source)}.{schema}.{quote(table)}")
            if comment:
                con.execute(f"COMMENT ON TABLE {copy} IS {sql_literal(comment)}")
            published[f"{schema}.{table}"] = con.execute(f"SELECT count(*) FROM {copy}").fetchone()[
                0
            ]
        # DuckDB 1.1's storage format keeps no mark of a `lambda x:`, so a view read from such
        # a file (the models file) gives its lambdas back as `x -> ...`, which DuckDB 2 parses
        # only when asked to; the view stored again binds as before.
        arrow = _allow_arrow_lambdas(con) if views else False
        for schema, view, comment, view_sql in views:
            if replace:
                con.execute(f"DROP VIEW IF EXISTS {schema}.{quote(view)}")
            con.execute(view_sql)
            if comment:
                con.execute(f"COMMENT ON VIEW {schema}.{quote(view)} IS {sql_literal(comment)}")
            published[f"{schema}.{view}"] = None
        if arrow:
            con.execute("RESET lambda_syntax")
        con.execute(f"USE {quote(warehouse_database)}")
        con.execute(f"SET search_path = {sql_literal(search_path(con))}")
        for schema, table, column, comment in columns:
            if f"{schema}.{table}" in published:
                con.execute(
                    f"COMMENT ON COLUMN {quote(target)}.{schema}.{quote(table)}.{quote(column)} "
                    f"IS {sql_literal(comment)}"
                )
        con.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
        # Back to the warehouse as the default database, whatever failed: the caller detaches
        # the target, and DuckDB cannot detach the default database.
        with contextlib.suppress(duckdb.Error):
            con.execute("RESET lambda_syntax")
        con.execute(f"USE {quote(warehouse_database)}")
        con.execute(f"SET search_path = {sql_literal(search_path(con))}")
        raise
    return published


def _allow_arrow_lambdas(con: duckdb.DuckDBPyConnection) -> bool:
    """Let this session parse `x -> ...` lambdas; False where DuckDB has no such setting (before
    1.3, which parses them anyway)."""
    try:
        con.execute("SET lambda_syntax = 'ENABLE_SINGLE_ARROW'")
    except duckdb.Error:
        return False
    return True
