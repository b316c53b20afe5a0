"""The whole build outside Dagster, on one connection: the mapping step, the SQL models and the
Python steps between them, in dependency order. Tests, benchmarks and `l2c` use it; Dagster runs
the same steps as assets (definitions.py)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from .mapping.load import Mapping, load_mapping
from .mapping.views import MAPPED_TABLES, write_mapped
from .mining.stage import python_steps
from .mining.target_process import TargetProcess, load_target_process
from .models.sql_models import build_all
from .outputs.exports import EVENT_OBJECTS, build_event_objects


def mapping_steps(mapping: Mapping) -> dict:
    """The mapping step as build steps: the first mapped table writes them all."""
    first, *others = (tuple(table.split(".")) for table in MAPPED_TABLES)
    steps = {first: (set(), lambda con: write_mapped(con, mapping)[".".join(first)])}
    for key in others:
        steps[key] = ({first}, lambda con: None)
    return steps


def build_pipeline(
    con: duckdb.DuckDBPyConnection,
    process: TargetProcess | None = None,
    sql_dir: Path | None = None,
    schemas: tuple[str, ...] | None = None,
    tables: set[str] | None = None,
    log=lambda message: None,
    mapping: Mapping | None = None,
    incremental: bool = False,
    notes: dict[str, str] | None = None,
) -> dict[str, int | None]:
    """Build the mapped views, the models and the Python steps (all, or those of the given
    schemas or tables); `incremental` as the nightly run on an org builds them."""
    process = process or load_target_process()
    steps = python_steps(process, log)
    # What the OCEL export reads from the published file.
    steps[tuple(EVENT_OBJECTS.split("."))] = (
        {("core", "event_log"), ("core", "cases"), ("staging", "stg_approvals")},
        build_event_objects,
    )
    if schemas is None or "mapped" in schemas:
        steps |= mapping_steps(mapping or load_mapping())
    return build_all(
        con,
        sql_dir,
        schemas=schemas,
        tables=tables,
        extra_steps=steps,
        incremental=incremental,
        notes=notes,
    )
