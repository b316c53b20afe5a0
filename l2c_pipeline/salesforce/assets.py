"""One Dagster asset per Salesforce object (group salesforce_raw), each writing raw.<object>."""

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)

from ..resources import SalesforceResource, WarehouseResource
from ..warehouse.duckdb_warehouse import WRITER_POOL
from .catalogue import ObjectSpec
from .client import ApiLimitExceeded, ExtractionError
from .sync import SyncResult, sync_object


def _metadata(result: SyncResult, client, preview: str) -> dict:
    def stamp(moment) -> str:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else "none"

    metadata = {
        "status": result.status,
        "method": (result.method or "none").upper(),
        "rows_read": MetadataValue.int(result.rows_read),
        "rows_inserted": MetadataValue.int(result.inserted),
        "rows_updated": MetadataValue.int(result.updated),
        "rows_deleted": MetadataValue.int(result.deleted),
        "api_calls": MetadataValue.int(result.api_calls),
        "api_calls_remaining": MetadataValue.int(client.api_max - client.api_used)
        if client.api_max
        else "unknown",
        "cursor_field": result.cursor_field or "none",
        "watermark_before": stamp(result.watermark_before),
        "watermark_after": stamp(result.watermark_after),
        "duration_seconds": MetadataValue.float(round(result.seconds, 2)),
        "fields": MetadataValue.int(len(result.fields)),
    }
    if result.warnings:
        metadata["warnings"] = MetadataValue.md("\n".join(f"- {w}" for w in result.warnings))
    if preview:
        metadata["preview"] = MetadataValue.md(preview)
    return metadata


def raw_object_asset(spec: ObjectSpec) -> AssetsDefinition:
    @asset(
        key=AssetKey(["raw", spec.name]),
        group_name="salesforce_raw",
        pool=WRITER_POOL,
        kinds={"salesforce", "duckdb"},
        description=f"Salesforce {spec.name} records, synced incrementally into raw.{spec.name} "
        "(deleted records kept with IsDeleted = true; purged history kept).",
    )
    def _raw(
        context: AssetExecutionContext, salesforce: SalesforceResource, warehouse: WarehouseResource
    ) -> MaterializeResult:
        client = salesforce.client(on_retry=context.log.warning)
        with warehouse.connection() as con:
            try:
                result = sync_object(
                    client, con, spec, run_id=context.run.run_id, progress=context.log.info
                )
            except ApiLimitExceeded as error:
                raise Failure(description=str(error), allow_retries=False) from None
            except ExtractionError as error:
                raise Failure(description=f"{spec.name}: {error}") from None
            preview = ""
            if result.status == "synced":
                frame = con.execute(
                    f'SELECT * FROM raw."{spec.name}" ORDER BY "{result.cursor_field}" DESC LIMIT 5'
                ).df()
                preview = frame.drop(
                    columns=[c for c in frame.columns if c.startswith("_l2c")]
                ).to_markdown(index=False)
        for warning in result.warnings:
            context.log.warning(warning)
        return MaterializeResult(metadata=_metadata(result, client, preview))

    return _raw
