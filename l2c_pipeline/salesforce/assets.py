"""The Salesforce extraction (group salesforce_raw): one asset per object, each writing
raw.<object>, after one asset that checks which org the warehouse holds (meta.source)."""

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
from ..warehouse.source import WarehouseHoldsAnotherOrg, claim_for_org
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


ORG_KEY = AssetKey(["meta", "source"])


def _claim_org(
    context: AssetExecutionContext, client, salesforce: SalesforceResource, warehouse, con
) -> dict:
    """The org this run reaches, recorded as the warehouse's org; another org than the one
    the warehouse holds fails the step before anything is written."""
    try:
        org = client.organization()
        warning = claim_for_org(
            con,
            warehouse.path,
            kind=salesforce.source,
            org_id=org["id"],
            org_name=org["name"],
            details={
                "instance_url": client.instance_url,
                "demo_org_folder": str(salesforce.demo_folder) if salesforce.demo_folder else None,
            },
            run_id=context.run.run_id,
        )
    except (WarehouseHoldsAnotherOrg, ApiLimitExceeded) as error:
        raise Failure(description=str(error), allow_retries=False) from None
    except ExtractionError as error:
        raise Failure(description=f"Organization: {error}") from None
    if warning:
        context.log.warning(warning)
    return org


@asset(
    key=ORG_KEY,
    group_name="salesforce_raw",
    pool=WRITER_POOL,
    kinds={"salesforce", "duckdb"},
    description="Which Salesforce org this warehouse holds (meta.source). Checks, before any "
    "record is synced, that the connection reaches the org the warehouse was first loaded from: "
    "another org stops the run, so two orgs' records never mix. One API call.",
)
def salesforce_org(
    context: AssetExecutionContext, salesforce: SalesforceResource, warehouse: WarehouseResource
) -> MaterializeResult:
    client = salesforce.client(on_retry=context.log.warning)
    with warehouse.connection() as con:
        org = _claim_org(context, client, salesforce, warehouse, con)
    return MaterializeResult(
        metadata={
            "org_id": org["id"],
            "org_name": org["name"] or "unknown (the Organization record is not readable)",
            "sandbox": "unknown" if org["is_sandbox"] is None else str(org["is_sandbox"]).lower(),
            "instance_url": MetadataValue.url(client.instance_url),
            "source": salesforce.source,
        }
    )


def raw_object_asset(spec: ObjectSpec) -> AssetsDefinition:
    @asset(
        key=AssetKey(["raw", spec.name]),
        deps=[ORG_KEY],
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
            # Checked here too: an object materialized on its own must not mix orgs either.
            _claim_org(context, client, salesforce, warehouse, con)
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
