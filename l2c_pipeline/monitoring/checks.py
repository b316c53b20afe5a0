"""The freshness checks as Dagster asset checks (freshness.py has the rules): WARN, never
blocking, named freshness_* so a failure is an alert and a pass clears it."""

from collections.abc import Sequence

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    AssetsDefinition,
    Failure,
    asset_check,
    multi_asset_check,
)

from ..resources import WarehouseResource
from .freshness import (
    Freshness,
    event_log_freshness,
    event_log_lag_hours,
    freshness_hours,
    is_file_source,
    sync_freshness,
)

EVENT_LOG = AssetKey(["core", "event_log"])


def _result(key: AssetKey, name: str, found: Freshness) -> AssetCheckResult:
    return AssetCheckResult(
        asset_key=key,
        check_name=name,
        passed=found.passed,
        severity=AssetCheckSeverity.WARN,
        description=found.description,
        metadata=found.metadata,
    )


def _setting(read) -> float:
    try:
        return read()
    except ValueError as error:
        raise Failure(description=str(error)) from None


def sync_freshness_checks(raw_keys: Sequence[AssetKey]):
    """One freshness_sync check per raw object, evaluated together in one step."""

    @multi_asset_check(
        specs=[
            AssetCheckSpec(
                "freshness_sync",
                asset=key,
                blocking=False,
                description="The object's last successful sync is at most L2C_FRESHNESS_HOURS "
                "(default 36) old.",
            )
            for key in raw_keys
        ],
        name="freshness_sync",
    )
    def _freshness_sync(context: AssetCheckExecutionContext, warehouse: WarehouseResource):
        hours = _setting(freshness_hours)
        by_name = {key.path[-1]: key for key in raw_keys}
        with warehouse.connection() as con:
            found = sync_freshness(con, list(by_name), hours)
        for result in found:
            yield _result(by_name[result.subject], "freshness_sync", result)

    return _freshness_sync


@asset_check(
    asset=EVENT_LOG,
    name="freshness_event_log",
    blocking=False,
    description="The newest event is at most L2C_EVENT_LOG_LAG_HOURS (default 72) older than "
    "the org's clock (the newest sync watermark); with L2C_SOURCE=file there is none: passes.",
)
def freshness_event_log(
    context: AssetCheckExecutionContext, warehouse: WarehouseResource
) -> AssetCheckResult:
    hours = _setting(event_log_lag_hours)
    with warehouse.connection() as con:
        found = event_log_freshness(con, hours, file_source=is_file_source())
    return _result(EVENT_LOG, "freshness_event_log", found)


def freshness_checks(raw_assets: Sequence[AssetsDefinition]) -> list:
    keys = [key for asset in raw_assets for key in asset.keys]
    return [freshness_event_log, *([sync_freshness_checks(keys)] if keys else [])]
