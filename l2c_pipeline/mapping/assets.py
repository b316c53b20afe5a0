"""The mapping step as one Dagster multi-asset: every mapped.* view and table, after extraction."""

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    Failure,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)

from ..resources import WarehouseResource
from ..warehouse.duckdb_warehouse import WRITER_POOL
from .load import Mapping, MappingError
from .views import MAPPED_TABLES, SCHEMA, missing_parts, write_mapped

SOURCES = AssetKey([SCHEMA, "sources"])


def mapping_asset(mapping: Mapping, raw_keys: list[AssetKey]) -> AssetsDefinition:
    """mapped.* from the raw tables the mapping reads (`raw_keys`), rebuilt after each sync."""

    @multi_asset(
        name="mapping",
        specs=[
            AssetSpec(
                AssetKey(table.split(".")),
                group_name="event_log",
                kinds={"duckdb", "yaml"},
                deps=raw_keys,
                description=f"{table}: the raw records as the mapping ({mapping.path.name}) "
                "reads them, under the names every SQL model uses.",
            )
            for table in MAPPED_TABLES
        ],
        pool=WRITER_POOL,
    )
    def _mapped(context: AssetExecutionContext, warehouse: WarehouseResource):
        with warehouse.connection() as con:
            try:
                rows = write_mapped(con, mapping)
            except MappingError as error:
                raise Failure(description=str(error)) from None
            missing = missing_parts(con)
            coverage = con.execute(
                f"SELECT part, name, column_name, object, field, status FROM {SCHEMA}.sources "
                "WHERE status <> 'ok' ORDER BY part, name, column_name"
            ).df()
        for sentence in missing:
            context.log.warning(f"the org lacks what the mapping names: {sentence}")
        for table in MAPPED_TABLES:
            key = AssetKey(table.split("."))
            metadata = {
                "mapping_file": MetadataValue.path(str(mapping.path)),
                "rows": "view" if rows[table] is None else MetadataValue.int(rows[table]),
            }
            if key == SOURCES:
                metadata["missing_in_org"] = MetadataValue.md(
                    "\n".join(f"- {s}" for s in missing)
                    or "nothing: the org has every object and field the mapping names"
                )
                if not coverage.empty:
                    metadata["not_ok"] = MetadataValue.md(coverage.to_markdown(index=False))
            yield MaterializeResult(asset_key=key, metadata=metadata)

    return _mapped
