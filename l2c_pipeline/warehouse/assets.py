"""The analytics file as the graph's last asset: published after every model it holds."""

from pathlib import Path

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    asset,
)

from ..resources import WarehouseResource
from .duckdb_warehouse import WRITER_POOL
from .publish import PUBLISHED_SCHEMAS, default_analytics_path, publish_analytics


def analytics_file_asset(model_keys: list[AssetKey]) -> AssetsDefinition:
    published = [key for key in model_keys if key.path[0] in PUBLISHED_SCHEMAS]

    @asset(
        key=AssetKey(["analytics_file"]),
        deps=published,
        group_name="reports",
        pool=WRITER_POOL,
        kinds={"duckdb"},
        description="The analytics file analysts open read-only (L2C_ANALYTICS, default beside the warehouse): "
        "core, mining and reports, written to a new file and renamed into place.",
    )
    def analytics_file(
        context: AssetExecutionContext, warehouse: WarehouseResource
    ) -> MaterializeResult:
        target = default_analytics_path(Path(warehouse.path))
        with warehouse.connection() as con:
            tables = publish_analytics(con, target)
        context.log.info(f"published {len(tables)} tables to {target}")
        return MaterializeResult(
            metadata={
                "path": MetadataValue.path(str(target)),
                "tables": MetadataValue.int(len(tables)),
                "rows": MetadataValue.md(
                    "\n".join(
                        f"- `{t}`: {'view' if n is None else f'{n:,}'}" for t, n in tables.items()
                    )
                ),
            }
        )

    return analytics_file
