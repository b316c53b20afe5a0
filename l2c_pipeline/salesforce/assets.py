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
from ..warehouse.source import WarehouseHoldsAnotherSource, claim_for_org
from .catalogue import ObjectSpec
from .client import ApiLimitExceeded, AuthenticationFailed, ConnectionFailed, ExtractionError
from .settings import SettingsError, sync_options
from .sync import SyncResult, sync_object

# Failures no retry of the step can mend: a wrong setting, a refused login, the API limit.
_FINAL = (SettingsError, AuthenticationFailed, ConnectionFailed, ApiLimitExceeded)


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
    if result.reconciled is not None:
        found = result.reconciled
        metadata["reconciled_months"] = MetadataValue.int(found.months_compared)
        metadata["reconciled_months_reread"] = ", ".join(found.months_reread) or "none"
        metadata["reconciled_records_recovered"] = MetadataValue.int(found.recovered)
    if result.warnings:
        metadata["warnings"] = MetadataValue.md("\n".join(f"- {w}" for w in result.warnings))
    if preview:
        metadata["preview"] = MetadataValue.md(preview)
    return metadata


ORG_KEY = AssetKey(["meta", "source"])


def _connect(context: AssetExecutionContext, salesforce: SalesforceResource):
    """The run's one Salesforce connection (logged in by the first asset that asks); a wrong
    setting or a refused login fails the step with one line."""
    try:
        return salesforce.client(on_retry=context.log.warning)
    except (SettingsError, ExtractionError) as error:
        raise Failure(description=str(error), allow_retries=False) from None


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
    except (WarehouseHoldsAnotherSource, *_FINAL) as error:
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
    description="The run's pre-flight and which Salesforce org this warehouse holds "
    "(meta.source). Before any record is synced it checks the settings, logs in once and reads "
    "the org: a wrong setting, an unreachable host or a refused login stops the run here in one "
    "line, and another org than the one the warehouse was first loaded from stops it too, so "
    "two orgs' records never mix. One API call.",
)
def salesforce_org(
    context: AssetExecutionContext, salesforce: SalesforceResource, warehouse: WarehouseResource
) -> MaterializeResult:
    try:
        sync_options()  # a wrong sync setting stops the run here, not once per object
    except SettingsError as error:
        raise Failure(description=str(error), allow_retries=False) from None
    client = _connect(context, salesforce)
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
        client = _connect(context, salesforce)
        with warehouse.connection() as con:
            # Checked here too: an object materialized on its own must not mix orgs either.
            _claim_org(context, client, salesforce, warehouse, con)
            try:
                result = sync_object(
                    client,
                    con,
                    spec,
                    run_id=context.run.run_id,
                    progress=context.log.info,
                    **sync_options(),
                )
            except _FINAL as error:
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
