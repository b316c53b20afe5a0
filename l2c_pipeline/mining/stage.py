"""The mining stage outside Dagster: the SQL models and the Python steps between them, in
dependency order, on one connection. Tests, benchmarks and `l2c` use it; Dagster runs the
same steps as assets (mining/assets.py)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from ..models.sql_models import build_all
from .conformance import write_case_conformance
from .target_process import TARGET_PROCESS_TABLES, TargetProcess, load_target_process

REFERENCE_PATH = ("mining", "reference_path")
CASE_CONFORMANCE = ("mining", "case_conformance")


def python_steps(process: TargetProcess, log=lambda message: None) -> dict:
    """The steps that are Python, not SQL: key -> (dependencies, build(con) -> rows)."""
    from .target_process import write_target_process

    def target_process_tables(con) -> int:
        return write_target_process(con, process)["mining.reference_path"]

    steps = {REFERENCE_PATH: (set(), target_process_tables)}
    # The other two target-process tables are written by the same step.
    for table in TARGET_PROCESS_TABLES[1:]:
        steps[tuple(table.split("."))] = ({REFERENCE_PATH}, _count(table))
    steps[CASE_CONFORMANCE] = (
        {("mining", "case_variants"), ("mining", "activity_codes"), REFERENCE_PATH},
        lambda con: write_case_conformance(con, process, log)["cases"],
    )
    return steps


def _count(table: str):
    return lambda con: con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]


def build_pipeline(
    con: duckdb.DuckDBPyConnection,
    process: TargetProcess | None = None,
    sql_dir: Path | None = None,
    schemas: tuple[str, ...] | None = None,
    tables: set[str] | None = None,
    log=lambda message: None,
) -> dict[str, int]:
    """Build the models and the Python steps (all, or those of the given schemas or tables)."""
    process = process or load_target_process()
    return build_all(
        con, sql_dir, schemas=schemas, tables=tables, extra_steps=python_steps(process, log)
    )
