"""The file source as one Dagster asset: L2C_EVENT_LOG_FILE (a filled template, a CSV or an XES
file) checked and loaded into core.event_log, core.cases and the staging tables the reports
read, all or nothing. With L2C_SOURCE=file it replaces the Salesforce extraction and the
event-log SQL models; everything downstream is the same graph."""

import os
from pathlib import Path

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    Failure,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)

from ..resources import WarehouseResource
from ..warehouse.duckdb_warehouse import WRITER_POOL
from ..warehouse.source import (
    WarehouseHoldsAnotherSource,
    check_file_source,
    record_file_source,
)
from .load import (
    FILE_SOURCE_TABLES,
    EventFileError,
    SettingError,
    catalogue_activities,
    load_into_warehouse,
    read_event_file,
)


def _deal_size_bands():
    """The mapping file's deal-size bands (L2C_MAPPING_FILE or the shape's), for the file's cases."""
    from ..mapping.load import MappingError, load_mapping

    try:
        return [(band.label, band.below) for band in load_mapping().deal_size_bands]
    except MappingError as error:
        raise Failure(description=str(error)) from None


def event_log_file() -> Path:
    configured = os.environ.get("L2C_EVENT_LOG_FILE")
    if not configured:
        raise Failure(
            description="L2C_SOURCE=file needs L2C_EVENT_LOG_FILE: the filled template (.xlsx), "
            "a .csv or an .xes file to load"
        )
    path = Path(configured)
    if not path.exists() and not path.is_symlink():
        raise Failure(description=f"L2C_EVENT_LOG_FILE: {path} does not exist")
    return path


@multi_asset(
    specs=[
        AssetSpec(
            AssetKey(table.split(".")),
            group_name="event_log",
            kinds={"duckdb", "file"},
            description=f"{table}, loaded from L2C_EVENT_LOG_FILE (file source)",
        )
        for table in FILE_SOURCE_TABLES
    ],
    pool=WRITER_POOL,
)
def file_event_log(context: AssetExecutionContext, warehouse: WarehouseResource):
    """Check the file (every problem named, with sheet, row and column) and load it."""
    path = event_log_file()
    try:
        # Staged beside the warehouse: the disk that holds the warehouse holds its log too.
        loaded = read_event_file(
            path,
            known_activities=catalogue_activities(),
            work_dir=Path(warehouse.path).resolve().parent,
        )
    except (EventFileError, SettingError) as error:
        raise Failure(description=str(error)) from None
    with loaded, warehouse.connection() as con:
        try:
            check_file_source(con, warehouse.path, str(path.resolve()))
        except WarehouseHoldsAnotherSource as error:
            raise Failure(description=str(error), allow_retries=False) from None
        rows = load_into_warehouse(con, loaded, deal_size_bands=_deal_size_bands())
        record_file_source(con, str(path.resolve()))
    figures = loaded.figures
    context.log.info(
        f"loaded {rows['core.event_log']:,} events in {rows['core.cases']:,} cases from {path}"
        f" ({figures['activity_instances_with_start']:,} with their start, "
        f"{figures['duplicate_events_dropped']:,} exact duplicate events dropped, "
        f"{figures['lifecycle_events_left_out']:,} lifecycle events left out: "
        "transitions other than start and complete, starts never completed)"
    )
    for table, count in rows.items():
        metadata = {"rows": MetadataValue.int(count), "file": MetadataValue.path(str(path))}
        if table == "core.event_log":
            metadata |= {name: MetadataValue.int(value) for name, value in figures.items()}
        yield MaterializeResult(asset_key=AssetKey(table.split(".")), metadata=metadata)
