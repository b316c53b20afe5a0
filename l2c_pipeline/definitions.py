"""The one Dagster Definitions object: assets, jobs, schedules, sensors and resources.

Settings come from the environment (README, "Settings"): secrets reach the resources as
`EnvVar`s only, and only the variables that are set are handed over, so an unset optional
variable keeps its default instead of failing the code location.
"""

from __future__ import annotations

import os

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    Definitions,
    EnvVar,
    ScheduleDefinition,
    colored_console_logger,
    define_asset_job,
    in_process_executor,
)

from .file_source.assets import file_event_log
from .mapping.assets import mapping_asset
from .mapping.load import check_touch_activities, load_mapping
from .mining.assets import MINING_ASSETS
from .mining.target_process import catalogue_activities, load_target_process
from .models.assets import EVENT_LOG_CHECKS, model_assets
from .models.sql_models import catalogue_rows
from .monitoring.checks import freshness_checks
from .monitoring.sensors import ALERT_SENSORS
from .outputs.assets import OUTPUT_ASSETS, PUBLISHED_OUTPUT_TABLES
from .resources import SalesforceResource, WarehouseResource, l2c_home
from .salesforce.assets import raw_object_asset, salesforce_org
from .salesforce.catalogue import load_catalogue
from .salesforce.settings import ENV as SF_ENV
from .terminal_log import LOGGER_NAME, terminal_logger
from .warehouse.assets import analytics_file_asset

NIGHTLY_JOB = "l2c_nightly"
# The resource's settings and the variables they come from: the SF_* ones as the Salesforce
# settings define them, plus the pipeline's own. All arrive as text; the resource checks them.
_SALESFORCE_ENV = {
    **SF_ENV,
    "source": "L2C_SOURCE",
    "demo_faults": "L2C_DEMO_FAULTS",
    "demo_shape": "L2C_ORG_SHAPE",
    "demo_leads": "L2C_DEMO_LEADS",
    "demo_seed": "L2C_DEMO_SEED",
    "demo_as_of": "L2C_DEMO_AS_OF",
    "demo_horizon": "L2C_DEMO_HORIZON",
    "demo_drift": "L2C_DEMO_DRIFT",
}


def _salesforce_resource() -> SalesforceResource:
    settings = {name: EnvVar(var) for name, var in _SALESFORCE_ENV.items() if os.environ.get(var)}
    return SalesforceResource(**settings)


def _warehouse_resource() -> WarehouseResource:
    if os.environ.get("L2C_WAREHOUSE"):
        return WarehouseResource(path=EnvVar("L2C_WAREHOUSE"))
    return WarehouseResource(path=str(l2c_home() / "warehouse.duckdb"))


# The target process and the mapping are checked when the code location loads: a wrong key
# stops it with the file, the key and the value named.
TARGET_PROCESS = load_target_process(known_activities=catalogue_activities())

# L2C_SOURCE=file: a file replaces the extraction and the event-log models; the rest is the same.
FILE_SOURCE = os.environ.get("L2C_SOURCE") == "file"
if FILE_SOURCE:
    raw_assets = []
    source_assets = [file_event_log]
    sql_model_assets = model_assets(schemas=("mining", "reports"))
else:
    MAPPING = load_mapping()
    check_touch_activities(MAPPING, catalogue_rows())
    raw_assets = [
        raw_object_asset(spec)
        for spec in load_catalogue(
            MAPPING.objects, os.environ.get("L2C_OBJECTS_FILE") or None, MAPPING.change_capture
        )
    ]
    source_assets = [
        salesforce_org,
        *raw_assets,
        mapping_asset(MAPPING, [key for asset in raw_assets for key in asset.keys]),
    ]
    # An org is read incrementally: its case-local models rewrite only the changed cases.
    sql_model_assets = model_assets(incremental=True)
nightly_job = define_asset_job(
    NIGHTLY_JOB,
    selection=AssetSelection.all(),
    description="Materialize the whole graph: what the nightly schedule and `l2c run` do.",
)


def schedule_status(setting: str | None) -> DefaultScheduleStatus:
    """The nightly schedule runs as soon as a Dagster daemon serves the code location, unless
    L2C_SCHEDULE is 'off' (then it waits to be switched on in the UI)."""
    value = (setting or "on").strip().lower()
    if value not in ("on", "off"):
        raise ValueError(f"L2C_SCHEDULE must be 'on' or 'off', got {setting!r}")
    return DefaultScheduleStatus.RUNNING if value == "on" else DefaultScheduleStatus.STOPPED


def schedule_cron(setting: str | None) -> str:
    """L2C_SCHEDULE_CRON: five cron fields (UTC), default 02:00 every night."""
    from dagster._utils.schedules import is_valid_cron_string

    cron = (setting or "").strip() or "0 2 * * *"
    if not is_valid_cron_string(cron):
        raise ValueError(
            f"L2C_SCHEDULE_CRON must be a cron expression of five fields, e.g. '0 2 * * *', "
            f"got {setting!r}"
        )
    return cron


nightly_schedule = ScheduleDefinition(
    name="l2c_nightly_schedule",
    job=nightly_job,
    cron_schedule=schedule_cron(os.environ.get("L2C_SCHEDULE_CRON")),
    execution_timezone="UTC",
    default_status=schedule_status(os.environ.get("L2C_SCHEDULE")),
    description="Refresh everything every night (L2C_SCHEDULE_CRON, default 02:00 UTC); on "
    "whenever a Dagster daemon runs, unless L2C_SCHEDULE=off.",
)

defs = Definitions(
    assets=[
        *source_assets,
        *sql_model_assets,
        *MINING_ASSETS,
        *PUBLISHED_OUTPUT_TABLES,
        *OUTPUT_ASSETS,
        analytics_file_asset(
            [
                *(a.key for a in sql_model_assets),
                *(key for a in [*MINING_ASSETS, *PUBLISHED_OUTPUT_TABLES] for key in a.keys),
            ]
        ),
    ],
    # The drift checks are the kpi_history step's own (mining/assets.py); freshness here.
    asset_checks=[*EVENT_LOG_CHECKS, *freshness_checks(raw_assets)],
    jobs=[nightly_job],
    schedules=[nightly_schedule],
    # Alerts for the runs the daemon sees (failed runs, failed ERROR checks, drift and
    # freshness warnings); `l2c run` delivers the same alerts itself, each once (README, Alerts).
    sensors=ALERT_SENSORS,
    resources={"warehouse": _warehouse_resource()}
    | ({} if FILE_SOURCE else {"salesforce": _salesforce_resource()}),
    # Every asset writes the one DuckDB file, one at a time: a single process serves the run
    # and its resources (one demo org, one Salesforce session) are set up once.
    executor=in_process_executor,
    # Dagster's console logger for the UI and the daemon; `l2c run` picks the terminal one.
    loggers={"console": colored_console_logger, LOGGER_NAME: terminal_logger},
)
