"""Every environment variable the pipeline reads, in a line each: what `l2c run --help` lists
(the README's settings table says more of each). A test keeps this list, the code and the
README in step."""

from __future__ import annotations

import math
import os

SETTINGS: tuple[tuple[str, str, str], ...] = (
    ("L2C_SOURCE", "demo (the built-in demo org), salesforce, or file", "demo"),
    ("L2C_EVENT_LOG_FILE", "with L2C_SOURCE=file: the template (.xlsx), .csv or .xes(.gz)", "none"),
    ("L2C_MAX_FILE_MB", "the largest event-log file read (unpacked size for .gz)", "4096"),
    ("L2C_WAREHOUSE", "the DuckDB file the pipeline writes", "$L2C_HOME/warehouse.duckdb"),
    ("L2C_HOME", "working folder: demo orgs, warehouse, Dagster history of l2c run", ".l2c"),
    (
        "L2C_ORG_SHAPE",
        "standard, cpq_billing or custom: the shipped mapping (and demo org)",
        "standard",
    ),
    ("L2C_MAPPING_FILE", "the org's own mapping file", "the shape's"),
    (
        "L2C_OBJECTS_FILE",
        "YAML changing the object catalogue (objects, fields, where: filters)",
        "none",
    ),
    ("L2C_SCHEDULE_CRON", "cron of the nightly schedule (UTC)", "0 2 * * *"),
    (
        "L2C_SCHEDULE",
        "on: the nightly schedule runs whenever a Dagster daemon serves the code; off: it "
        "waits to be switched on in the UI",
        "on",
    ),
    ("L2C_DEMO_LEADS", "size of the demo org", "2000"),
    ("L2C_DEMO_SEED", "seed of the demo org", "42"),
    ("L2C_DEMO_FAULTS", "faults the demo org injects, e.g. 503@query#2,limit=500", "none"),
    (
        "L2C_DEMO_AS_OF",
        "a living demo org's clock: each run extracts the org as of that time (UTC), the "
        "continuation of the last; also the kpi_history day unless L2C_SNAPSHOT_DATE is set",
        "none: the fixed demo org",
    ),
    (
        "L2C_DEMO_HORIZON",
        "the end of a living demo org's generation window",
        "2027-10-31T18:00:00Z",
    ),
    (
        "L2C_DEMO_DRIFT",
        "a drift planted in a living demo org, e.g. approval_slowdown=3@2026-12-01",
        "none",
    ),
    (
        "L2C_ANALYTICS",
        "the analytics file analysts open read-only",
        "analytics.duckdb by the warehouse",
    ),
    (
        "L2C_DUCKDB_MEMORY_LIMIT",
        "most memory DuckDB may use, file source included (it spills to disk beyond)",
        "3GB",
    ),
    ("L2C_SNAPSHOT_DATE", "the day reports.kpi_history files the refresh under", "today (UTC)"),
    (
        "L2C_BUSINESS_HOURS",
        "business hours business time is counted in, e.g. 'Europe/Berlin Mon-Fri 09:00-17:00'",
        "every active BusinessHours of the org, each case in its own (process.yaml)",
    ),
    (
        "L2C_PROCESS_FILE",
        "the target process file (also the drift checks' monitoring:)",
        "process.yaml",
    ),
    (
        "L2C_FRESHNESS_HOURS",
        "hours after a raw object's last successful sync that freshness_sync warns",
        "36",
    ),
    (
        "L2C_EVENT_LOG_LAG_HOURS",
        "hours the newest event may trail the org's newest change before freshness_event_log warns",
        "72",
    ),
    (
        "L2C_OUTPUT_DIR",
        "where maps, the BPMN model, the report and exports go",
        "outputs/ by the warehouse",
    ),
    (
        "L2C_EXPORT_FORMATS",
        "exports written on every run (each only when the event log changed): csv, parquet, "
        "xes, ocel",
        "parquet",
    ),
    ("L2C_DISCOVERY_COVERAGE", "share of cases whose variants the inductive miner sees", "0.8"),
    (
        "L2C_DISCOVERY_MAX_VARIANTS",
        "most variants the inductive miner sees (bounds its time)",
        "500",
    ),
    ("L2C_SQL_DIR", "the folder of SQL models", "sql/"),
    ("L2C_SYNC_OVERLAP_MINUTES", "how far behind each watermark a sync re-reads", "10"),
    ("L2C_RECONCILE_EVERY_DAYS", "how often record counts are reconciled with the org; never", "7"),
    ("L2C_RECONCILE_NOW", "reconcile in this run (what l2c run --reconcile sets)", "unset"),
    ("L2C_RUN_WAIT_MINUTES", "how long a run waits for another run on the same warehouse", "60"),
    (
        "L2C_LOCK_WAIT_SECONDS",
        "how long a writer waits for another process holding the file",
        "120",
    ),
    (
        "L2C_ALERT_WEBHOOK_URL",
        "secret: Slack or Teams incoming-webhook URL that alerts are posted to",
        "none",
    ),
    ("L2C_ALERT_WEBHOOK_FORMAT", 'auto, slack ({"text"}) or teams (Adaptive Card)', "auto"),
    ("L2C_ALERT_SMTP_HOST", "SMTP server that alert e-mails go through", "none"),
    ("L2C_ALERT_SMTP_PORT", "the SMTP server's port", "587 (ssl: 465, none: 25)"),
    ("L2C_ALERT_SMTP_SECURITY", "starttls, ssl or none", "starttls"),
    ("L2C_ALERT_SMTP_USER", "SMTP login", "none: no login"),
    ("L2C_ALERT_SMTP_PASSWORD", "secret: the SMTP user's password", ""),
    ("L2C_ALERT_EMAIL_FROM", "sender of alert e-mails", "the SMTP user, else l2c@host"),
    ("L2C_ALERT_EMAIL_TO", "recipients of alert e-mails, comma-separated", "none"),
    (
        "L2C_EXPLORE_TOKEN",
        "secret: the token l2c explore asks for when bound off the loopback",
        "one made at start and printed once",
    ),
    (
        "L2C_EXPLORE_MEMORY_LIMIT",
        "most memory DuckDB may use in l2c explore (it spills to disk beyond)",
        "1GB",
    ),
    (
        "L2C_DAGSTER_URL",
        "the Dagster UI's address, for the run links in alerts",
        "http://127.0.0.1:3000",
    ),
    ("SF_INSTANCE_URL", "the org's URL, e.g. https://acme.my.salesforce.com", ""),
    ("SF_ACCESS_TOKEN", "a session id / access token (cannot log in again when it expires)", ""),
    ("SF_CLIENT_ID", "connected app: client credentials, or with the password / JWT flows", ""),
    ("SF_CLIENT_SECRET", "the connected app's secret", ""),
    ("SF_USERNAME", "username (password flow, JWT bearer)", ""),
    ("SF_PASSWORD", "password (password flow)", ""),
    ("SF_SECURITY_TOKEN", "security token appended to the password (password flow)", ""),
    ("SF_JWT_PRIVATE_KEY_FILE", "PEM key of the connected app's certificate (JWT bearer)", ""),
    (
        "SF_DOMAIN",
        "where to log in: login, test, a My Domain or an https:// URL",
        "SF_INSTANCE_URL",
    ),
    ("SF_CA_BUNDLE", "PEM bundle the client trusts (wins over REQUESTS_CA_BUNDLE)", "system trust"),
    ("SF_API_VERSION", "REST API version", "62.0"),
    ("SF_TIMEOUT_SECONDS", "per-request timeout (connecting gives up after 15 s)", "120"),
    ("SF_MAX_RETRIES", "attempts per call on 5xx, timeouts and dropped connections", "5"),
)


def settings_help() -> str:
    """The settings as lines for a command's help (click keeps a paragraph starting with \\b)."""
    width = max(len(name) for name, _, _ in SETTINGS)
    lines = ["\b", "Settings (environment variables; see the README):"]
    for name, meaning, default in SETTINGS:
        shown = f" [default: {default}]" if default else ""
        lines.append(f"  {name:<{width}}  {meaning}{shown}")
    return "\n".join(lines)


def number_setting(
    variable: str, default: float, what: str, environ=None, error: type[ValueError] = ValueError
) -> float:
    """A setting that is a finite number, 0 or more (unset or empty: the default); anything
    else raises `error` with one line naming the variable and the value."""
    raw = (os.environ if environ is None else environ).get(variable, "")
    if raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (value >= 0 and math.isfinite(value)):
        raise error(f"{variable} must be {what} (0 or more), got {raw!r}")
    return value
