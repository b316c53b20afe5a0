"""Alerts that reach people: a failed run, a failed ERROR asset check, a new KPI drift or
freshness warning, sent to a webhook (Slack, Microsoft Teams) and/or by e-mail, each once.

Three parts, each usable on its own:

* building alerts from Dagster's objects (pure functions): `run_failure_alert` from a run's
  failure events, `check_alerts` from an asset check evaluation (a segment drift check: one
  alert per drifting segment), `alerts_for_run` reading both
  from a run's event log (what the sensors and `l2c run` call);
* `deliver(alerts, settings)`: sends what the ledger (ledger.py) has not seen sent, to every
  configured channel, and records what each channel accepted;
* `notify_run(instance, run_id)`: the two together with the settings from the environment,
  never raising: a delivery failure is one log line naming the channel and the error class or
  HTTP status, and the run, the sensor and `l2c run` go on as if nothing happened.

The webhook URL carries its secret token in the URL itself and the SMTP password is a secret:
both come from the environment only, are never part of an alert, a log line, an exception's
text, Dagster metadata or a repr, and urllib3's own debug lines are redacted while a webhook is
posted.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import smtplib
import socket
import ssl
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import requests
from tenacity import (
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from .ledger import Ledger, LedgerBusy, ledger_path

LOG = logging.getLogger("l2c_pipeline.alerts")

KINDS = ("run_failure", "check_error", "drift", "freshness")
# A WARN check becomes an alert when its name starts with one of these (the drift and
# freshness checks); a failed ERROR check always does, whatever its name.
WARN_CHECK_PREFIXES: Mapping[str, str] = {"kpi_drift_": "drift", "freshness": "freshness"}
# Alerts of these kinds stay open until their check passes; the others are once per run/day.
OPEN_KINDS = ("drift", "freshness")
DEFAULT_DAGSTER_URL = "http://127.0.0.1:3000"
WEBHOOK_FORMATS = ("auto", "slack", "teams")
SMTP_SECURITY = {"starttls": 587, "ssl": 465, "none": 25}
# Hosts of Microsoft Teams webhooks (Workflows / Power Automate, and the older connectors):
# with L2C_ALERT_WEBHOOK_FORMAT=auto these get an Adaptive Card, every other host Slack's JSON.
TEAMS_HOSTS = (
    "webhook.office.com",
    "outlook.office.com",
    "logic.azure.com",
    "powerautomate.com",
    "powerplatform.com",
    "flow.microsoft.com",
)
TIMEOUT_SECONDS = 15.0
ATTEMPTS = 3
MAX_TEXT = 1500


# ---------------------------------------------------------------------------------------------
# Alerts


@dataclass(frozen=True)
class Alert:
    """One thing a person should hear about, with what identifies it for the ledger."""

    kind: str  # one of KINDS
    title: str
    text: str  # one line
    run_id: str
    link: str  # where to look: the run in the Dagster UI
    subject: str  # what it is about: the job, or asset:check (with its segment)
    scope: str = ""  # the run id (run_failure), the UTC day (check_error), "" (open kinds)
    fields: dict[str, object] = field(default_factory=dict)  # the figures: kpi, value, ...
    seen_at: float = 0.0  # when Dagster recorded it (seconds since the epoch)

    @property
    def key(self) -> str:
        """Two alerts with the same key are the same alert: sent once per channel."""
        return f"{self.kind}|{self.subject}|{self.scope}"

    def figure_lines(self) -> list[str]:
        return [f"{name}: {shown(value)}" for name, value in self.fields.items()]

    def plain_text(self) -> str:
        """The alert as plain text (the e-mail's body)."""
        return "\n".join([self.title, "", self.text, "", *self.figure_lines(), "", self.link])


@dataclass(frozen=True)
class Cleared:
    """A drift or freshness check that passed: its open alert (if any) is closed."""

    kind: str
    subject: str
    passed_at: float


@dataclass
class RunAlerts:
    alerts: list[Alert] = field(default_factory=list)
    cleared: list[Cleared] = field(default_factory=list)


def shown(value: object) -> str:
    """A figure as a person reads it."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "none"
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
    text = " ".join(str(value).split())
    return text if len(text) <= 300 else text[:299] + "…"


def run_link(run_id: str, dagster_url: str = DEFAULT_DAGSTER_URL) -> str:
    return f"{(dagster_url or DEFAULT_DAGSTER_URL).rstrip('/')}/runs/{run_id}"


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def step_name(step_key: str) -> str:
    return step_key.replace("__", "/")


# A stop asked for while a step ran: Dagster raises its interrupt error in Python code, and a
# DuckDB query that sees the signal ends with "Query interrupted" (its InterruptException says
# "Interrupted!"). Either way the step's open transaction is rolled back; what was committed
# before (earlier steps' tables, the pages of an extraction) stays.
INTERRUPTED = (
    "interrupted (Ctrl-C or a stop signal such as SIGTERM): what was committed before the stop "
    "is kept, and the next run picks up from there"
)
_INTERRUPT_CLASSES = ("DagsterExecutionInterruptedError", "KeyboardInterrupt", "InterruptException")


def _interrupted(error) -> bool:
    while error is not None:
        message = error.message.strip()
        if error.cls_name in _INTERRUPT_CLASSES or message.endswith(
            ("Query interrupted", "INTERRUPT Error: Interrupted!")
        ):
            return True
        error = error.cause
    return False


def failure_message(event, list_lines: bool = False) -> str:
    """A step's or a resource's failure as one line: the pipeline's own message as written, any
    other error as its last line (class name kept), never a stack trace. `list_lines`: a
    message that lists problems (a heading, then `- ...` lines, as a bad event file's) keeps a
    line per problem, for a terminal; an alert takes one line."""
    if event.event_type_value == "STEP_FAILURE":
        error = event.step_failure_data.error
    elif event.event_type_value == "RUN_FAILURE":
        error = event.job_failure_data.error
    else:
        error = event.engine_event_data.error
    if error is None:
        if event.event_type_value == "RUN_FAILURE" and event.message:
            return " ".join(event.message.split())
        return "unknown error"
    if _interrupted(error):
        return INTERRUPTED
    # A Failure raised on purpose carries the whole message; its class name is noise.
    message = error.message.strip().removeprefix("dagster._core.definitions.events.Failure: ")
    cause = error
    while cause.cause is not None and cause.cls_name.startswith("Dagster"):
        cause = cause.cause  # Dagster's wrappers (step, resource) around the real error
    if cause is not error:
        message = cause.message.strip()
    # The pipeline's own errors (and ValueError, which it raises for bad settings) are written
    # to be read as they are; any other error keeps its class name, which says what it is.
    message = re.sub(r"^(l2c_pipeline\.[\w.]+|ValueError): ", "", message)
    lines = [" ".join(line.split()) for line in message.splitlines() if line.strip()]
    if list_lines and len(lines) > 1 and all(line.startswith(("- ", "... ")) for line in lines[1:]):
        return "\n".join([lines[0], *(f"  {line}" for line in lines[1:])])
    message = " ".join(lines)
    return _out_of_resources(message) or message or error.cls_name


# DuckDB's own words when it runs out of memory or disk; its advice that follows ("SET
# threads=X") is SQL a user of the pipeline cannot type anywhere.
_OUT_OF_MEMORY = re.compile(r"Out of Memory Error: (.*?)(?: Possible solutions:.*)?$")
_DISK_FULL = re.compile(r'(?:Could not write|Could not write all bytes to) file "([^"]+)"')
_ROLLED_BACK = "the step's open transaction was rolled back, what earlier steps committed is kept"


def _out_of_resources(message: str) -> str | None:
    """What to do when DuckDB ran out of memory or disk, instead of its error class and its
    advice in SQL."""
    from ..warehouse.duckdb_warehouse import DEFAULT_MEMORY_LIMIT

    if "max_temp_directory_size" in message or "failed to offload" in message:
        # Out of memory because what did not fit could not be spilled: the disk is the limit.
        return (
            "DuckDB could not spill to disk what did not fit in L2C_DUCKDB_MEMORY_LIMIT: the disk "
            "that holds the database file (its spill folder is beside it, named after it with "
            f".tmp) is full or nearly; free space on it, and run again ({_ROLLED_BACK})"
        )
    memory = _OUT_OF_MEMORY.search(message)
    if memory:
        limit = os.environ.get("L2C_DUCKDB_MEMORY_LIMIT", "").strip() or DEFAULT_MEMORY_LIMIT
        return (
            f"DuckDB ran out of memory ({memory.group(1).rstrip('.')}): L2C_DUCKDB_MEMORY_LIMIT "
            f"({limit}) is too small for this step on this data; raise it if the machine has the "
            f"memory to spare, and run again ({_ROLLED_BACK})"
        )
    if "No space left on device" in message:
        written = _DISK_FULL.search(message)
        where = f" writing {written.group(1)}" if written else ""
        return (
            f"the disk is full{where}: free space on it (DuckDB also spills to a folder beside "
            f"the database file, as large as the data being sorted), and run again ({_ROLLED_BACK})"
        )
    return None


def run_failure_alert(
    job_name: str,
    run_id: str,
    failure_events: Sequence,
    run_failure_event=None,
    dagster_url: str = DEFAULT_DAGSTER_URL,
    seen_at: float = 0.0,
) -> Alert:
    """The alert for a failed run: its first failure's own message (a step's, or the run
    setup's when a resource could not start), else the run failure's."""
    failures = []
    for event in failure_events:
        where = (
            "run setup" if event.event_type_value != "STEP_FAILURE" else step_name(event.step_key)
        )
        failures.append((where, failure_message(event)))
    if failures:
        where, message = failures[0]
        text = f"{where}: {message}"
        if len(failures) > 1:
            text += f" (and {len(failures) - 1} more failed step{'s' * (len(failures) > 2)})"
    elif run_failure_event is not None:
        where, text = "run", failure_message(run_failure_event)
    else:
        where, text = "run", "the run failed without a step failure"
    figures: dict[str, object] = {"job": job_name, "run_id": run_id, "failed_at": where}
    if failures:
        figures["failed_steps"] = len(failures)
    return Alert(
        kind="run_failure",
        title=f"Run failed: {job_name} ({run_id[:8]})",
        text=_one_line(text),
        run_id=run_id,
        link=run_link(run_id, dagster_url),
        subject=job_name,
        scope=run_id,
        fields=figures,
        seen_at=seen_at,
    )


def _check_kind(evaluation) -> str | None:
    from dagster import AssetCheckSeverity

    if evaluation.severity == AssetCheckSeverity.ERROR:
        return "check_error"
    for prefix, kind in WARN_CHECK_PREFIXES.items():
        if evaluation.check_name.startswith(prefix):
            return kind
    return None


def _metadata_values(metadata: Mapping) -> dict[str, object]:
    values: dict[str, object] = {}
    for name, value in metadata.items():
        plain = getattr(value, "value", value)
        if not isinstance(plain, (str, int, float, bool, type(None))):
            plain = (
                json.dumps(plain, default=str) if isinstance(plain, (dict, list)) else str(plain)
            )
        values[name] = plain
    return values


def _subject(evaluation, figures: Mapping[str, object]) -> str:
    subject = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
    segment = figures.get("segment")
    return f"{subject} [{segment}]" if segment not in (None, "") else subject


def _utc_day(seconds: float) -> str:
    return datetime.fromtimestamp(seconds or 0, UTC).date().isoformat()


def check_alert(
    evaluation,
    run_id: str,
    dagster_url: str = DEFAULT_DAGSTER_URL,
    seen_at: float = 0.0,
) -> Alert | None:
    """The alert for an asset check evaluation (dagster.AssetCheckEvaluation), or None: only a
    failed check is one, and of the WARN checks only those named with a WARN_CHECK_PREFIXES
    prefix. The figures are the evaluation's metadata (a drift's kpi first)."""
    if evaluation.passed:
        return None
    kind = _check_kind(evaluation)
    if kind is None:
        return None
    asset = evaluation.asset_key.to_user_string()
    metadata = _metadata_values(evaluation.metadata or {})
    figures: dict[str, object] = {}
    if kind == "drift":
        figures["kpi"] = metadata.pop("kpi", None) or evaluation.check_name.removeprefix(
            "kpi_drift_"
        )
    figures.update(metadata)
    subject = _subject(evaluation, figures)
    segment = figures.get("segment")
    in_segment = f" ({segment})" if segment not in (None, "") else ""
    description = " ".join((evaluation.description or "").split())
    listed = ", ".join(f"{name} {shown(value)}" for name, value in metadata.items())
    if kind == "drift":
        kpi = figures["kpi"]
        title = f"KPI drift: {kpi}{in_segment}"
        parts = []
        if "value" in figures:
            parts.append(f"{kpi} is {shown(figures['value'])}")
        if "baseline" in figures:
            parts.append(f"against a baseline of {shown(figures['baseline'])}")
        if "change" in figures:
            parts.append(f"(change {shown(figures['change'])})")
        if "cases" in figures:
            parts.append(f"over {shown(figures['cases'])} cases")
        text = " ".join(parts) or f"{kpi} drifted"
        if "rule" in figures:
            text += f"; rule: {shown(figures['rule'])}"
        if description:
            text += f". {description}"
    elif kind == "freshness":
        title = f"Data not fresh: {evaluation.check_name} on {asset}{in_segment}"
        text = description or listed or f"{evaluation.check_name} failed"
    else:
        title = f"Check failed: {evaluation.check_name} on {asset}"
        text = "; ".join(part for part in (description, listed) if part) or (
            f"{evaluation.check_name} failed"
        )
    return Alert(
        kind=kind,
        title=title,
        text=_one_line(text),
        run_id=run_id,
        link=run_link(run_id, dagster_url),
        subject=subject,
        scope=_utc_day(seen_at) if kind == "check_error" else "",
        fields=figures,
        seen_at=seen_at,
    )


def _json_list(evaluation, name: str) -> list:
    """A JSON list in the evaluation's metadata (a segment check's), else []."""
    text = _metadata_values(evaluation.metadata or {}).get(name)
    try:
        value = json.loads(text) if isinstance(text, str) else []
    except ValueError:
        return []
    return value if isinstance(value, list) else []


def check_alerts(
    evaluation,
    run_id: str,
    dagster_url: str = DEFAULT_DAGSTER_URL,
    seen_at: float = 0.0,
) -> list[Alert]:
    """The alerts of an asset check evaluation: a segment drift check (its metadata lists
    `drifting_segments`) is one alert per drifting segment, each with that segment's figures, so
    a second region that starts drifting is news while the first one is not announced again;
    any other check is check_alert's one alert, or none."""
    alert = check_alert(evaluation, run_id, dagster_url, seen_at)
    if alert is None or alert.kind != "drift":
        return [alert] if alert is not None else []
    segments = _json_list(evaluation, "drifting_segments")
    if not segments or not all(isinstance(s, dict) and s.get("segment") for s in segments):
        return [alert]
    # The segment check's own figures that are not one segment's (the rule, how many tested).
    shared = {
        name: value
        for name, value in alert.fields.items()
        if name in ("kpi", "rule", "segments_tested")
    }
    alerts = []
    for figures in segments:
        single = SimpleNamespace(
            asset_key=evaluation.asset_key,
            check_name=evaluation.check_name,
            passed=False,
            severity=evaluation.severity,
            description=None,
            metadata={**shared, **figures},
        )
        alerts.append(check_alert(single, run_id, dagster_url, seen_at))
    return alerts


def cleared_checks(evaluation, passed_at: float) -> list[Cleared]:
    """What a drift or freshness check closes: all its open alerts when it passed; when a
    segment drift check still fails, the open alerts of its segments now within the rule
    (`passing_segments`), so a segment that drifts again later is announced anew."""
    kind = _check_kind(evaluation)
    if kind not in OPEN_KINDS:
        return []
    subject = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
    if evaluation.passed:
        return [Cleared(kind=kind, subject=subject, passed_at=passed_at)]
    segments = _json_list(evaluation, "passing_segments")
    return [
        Cleared(kind=kind, subject=f"{subject} [{segment}]", passed_at=passed_at)
        for segment in segments
        if isinstance(segment, str) and segment
    ]


def alerts_for_run(instance, run_id: str, dagster_url: str = DEFAULT_DAGSTER_URL) -> RunAlerts:
    """The alerts of one run, read from the Dagster instance's event log: the run's failure (if
    it failed) and each asset check evaluation that is an alert; plus the drift and freshness
    checks that passed."""
    from dagster import DagsterEventType, DagsterRunStatus

    found = RunAlerts()
    run = instance.get_run_by_id(run_id)
    if run is None:
        return found
    records = instance.get_records_for_run(
        run_id,
        of_type={
            DagsterEventType.STEP_FAILURE,
            DagsterEventType.RESOURCE_INIT_FAILURE,
            DagsterEventType.RUN_FAILURE,
            DagsterEventType.ASSET_CHECK_EVALUATION,
        },
    ).records
    failures, run_failure, failed_at = [], None, 0.0
    for record in records:
        event = record.event_log_entry.dagster_event
        if event is None:
            continue
        kind = event.event_type_value
        if kind in ("STEP_FAILURE", "RESOURCE_INIT_FAILURE"):
            failures.append(event)
            failed_at = failed_at or record.timestamp
        elif kind == "RUN_FAILURE":
            run_failure = event
            failed_at = failed_at or record.timestamp
        elif kind == "ASSET_CHECK_EVALUATION":
            evaluation = event.asset_check_evaluation_data
            found.alerts.extend(
                check_alerts(evaluation, run_id, dagster_url, seen_at=record.timestamp)
            )
            found.cleared.extend(cleared_checks(evaluation, record.timestamp))
    if run.status == DagsterRunStatus.FAILURE or run_failure is not None:
        found.alerts.insert(
            0,
            run_failure_alert(run.job_name, run_id, failures, run_failure, dagster_url, failed_at),
        )
    return found


# ---------------------------------------------------------------------------------------------
# Settings


class AlertSettingsError(ValueError):
    """A wrong alert setting: one line naming the variable (never a secret's value)."""


def _check_address(variable: str, text: str) -> None:
    """An e-mail address (`ops@example.com`, or `Ops <ops@example.com>`), else the error."""
    _, address = parseaddr(text)
    if not re.fullmatch(r"[^@\s<>]+@[^@\s<>]+", address):
        raise AlertSettingsError(
            f"{variable} must be {'an e-mail address' if variable.endswith('FROM') else 'e-mail addresses'}"
            f" such as ops@example.com, got {text!r}"
        )


def default_warehouse(environ: Mapping[str, str] | None = None) -> Path:
    """The warehouse file, as WarehouseResource and `l2c run` find it (L2C_WAREHOUSE, else
    $L2C_HOME/warehouse.duckdb)."""
    env = os.environ if environ is None else environ
    if env.get("L2C_WAREHOUSE"):
        return Path(env["L2C_WAREHOUSE"]).resolve()
    return (Path(env.get("L2C_HOME") or ".l2c") / "warehouse.duckdb").resolve()


@dataclass(frozen=True)
class AlertSettings:
    # The secrets are never in a repr (a log line or a traceback showing the settings).
    webhook_url: str | None = field(default=None, repr=False)
    webhook_format: str = "auto"
    smtp_host: str | None = None
    smtp_port: int | None = None
    smtp_user: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_security: str = "starttls"
    email_from: str | None = None
    email_to: tuple[str, ...] = ()
    dagster_url: str = DEFAULT_DAGSTER_URL
    ledger: Path | None = None
    timeout_seconds: float = TIMEOUT_SECONDS
    attempts: int = ATTEMPTS
    retry_wait_seconds: float = 1.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AlertSettings:
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = (env.get(name) or "").strip()
            return value or None

        webhook_format = (get("L2C_ALERT_WEBHOOK_FORMAT") or "auto").lower()
        if webhook_format not in WEBHOOK_FORMATS:
            raise AlertSettingsError(
                f"L2C_ALERT_WEBHOOK_FORMAT must be one of {', '.join(WEBHOOK_FORMATS)}, "
                f"got {webhook_format!r}"
            )
        webhook_url = get("L2C_ALERT_WEBHOOK_URL")
        if webhook_url and urlsplit(webhook_url).scheme not in ("http", "https"):
            # The value itself is the secret: it is not repeated here.
            raise AlertSettingsError("L2C_ALERT_WEBHOOK_URL must be an http(s):// URL")
        security = (get("L2C_ALERT_SMTP_SECURITY") or "starttls").lower()
        if security not in SMTP_SECURITY:
            raise AlertSettingsError(
                f"L2C_ALERT_SMTP_SECURITY must be one of {', '.join(SMTP_SECURITY)}, "
                f"got {security!r}"
            )
        port_text = get("L2C_ALERT_SMTP_PORT")
        if port_text is not None and not (port_text.isdigit() and 0 < int(port_text) < 65536):
            raise AlertSettingsError(
                f"L2C_ALERT_SMTP_PORT must be a port number (1 to 65535), got {port_text!r}"
            )
        host = get("L2C_ALERT_SMTP_HOST")
        to = tuple(
            address.strip()
            for address in (get("L2C_ALERT_EMAIL_TO") or "").split(",")
            if address.strip()
        )
        if host and not to:
            raise AlertSettingsError(
                "L2C_ALERT_SMTP_HOST is set but L2C_ALERT_EMAIL_TO is empty: name the recipients"
            )
        if to and not host:
            raise AlertSettingsError(
                "L2C_ALERT_EMAIL_TO is set but L2C_ALERT_SMTP_HOST is not: name the SMTP server"
            )
        for address in to:
            _check_address("L2C_ALERT_EMAIL_TO", address)
        user = get("L2C_ALERT_SMTP_USER")
        sender = get("L2C_ALERT_EMAIL_FROM")
        if sender is not None:
            _check_address("L2C_ALERT_EMAIL_FROM", sender)
        if sender is None and host:
            sender = user if user and "@" in user else f"l2c@{socket.getfqdn()}"
        dagster_url = get("L2C_DAGSTER_URL") or DEFAULT_DAGSTER_URL
        address = urlsplit(dagster_url)
        if address.scheme not in ("http", "https") or not address.netloc:
            raise AlertSettingsError(
                f"L2C_DAGSTER_URL must be the Dagster UI's http(s):// address, got {dagster_url!r}"
            )
        return cls(
            webhook_url=webhook_url,
            webhook_format=webhook_format,
            smtp_host=host,
            smtp_port=int(port_text) if port_text else SMTP_SECURITY[security],
            smtp_user=user,
            smtp_password=env.get("L2C_ALERT_SMTP_PASSWORD") or None,
            smtp_security=security,
            email_from=sender,
            email_to=to,
            dagster_url=dagster_url,
            ledger=ledger_path(default_warehouse(env)),
        )

    def channels(self) -> list[str]:
        return [
            name for name, on in (("webhook", self.webhook_url), ("email", self.smtp_host)) if on
        ]

    def payload_style(self) -> str:
        if self.webhook_format != "auto":
            return self.webhook_format
        host = (urlsplit(self.webhook_url or "").hostname or "").lower()
        teams = any(host == known or host.endswith("." + known) for known in TEAMS_HOSTS)
        return "teams" if teams else "slack"


# ---------------------------------------------------------------------------------------------
# Messages


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(alert: Alert) -> dict:
    """Slack's incoming-webhook JSON: `text` in Slack's mrkdwn (the older Teams connectors read
    `text` too)."""
    lines = [f"*{_slack_escape(alert.title)}*", _slack_escape(alert.text)]
    if alert.fields:
        lines.append(" · ".join(_slack_escape(line) for line in alert.figure_lines()))
    lines.append(f"<{alert.link}|Run {alert.run_id} in Dagster>")
    return {"text": "\n".join(lines)}


def teams_payload(alert: Alert) -> dict:
    """An Adaptive Card in a message: what Teams Workflows webhooks (Power Automate's "When a
    Teams webhook request is received") post, and the older Teams connectors accept too."""
    body: list[dict] = [
        {
            "type": "TextBlock",
            "text": alert.title,
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
        },
        {"type": "TextBlock", "text": alert.text, "wrap": True},
    ]
    if alert.fields:
        body.append(
            {
                "type": "FactSet",
                "facts": [{"title": name, "value": shown(v)} for name, v in alert.fields.items()],
            }
        )
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.2",
        "body": body,
        "actions": [
            {"type": "Action.OpenUrl", "title": f"Run {alert.run_id[:8]}", "url": alert.link}
        ],
    }
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


def email_message(alert: Alert, settings: AlertSettings) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = f"[l2c] {alert.title}"
    message["From"] = settings.email_from or "l2c@localhost"
    message["To"] = ", ".join(settings.email_to)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="l2c.local")
    message.set_content(alert.plain_text() + "\n")
    return message


# ---------------------------------------------------------------------------------------------
# Sending


class DeliveryError(Exception):
    """A channel did not take an alert. `reason` is safe to log: the error's class or the HTTP
    status, never the URL (its token) or a password."""

    def __init__(self, reason: str, retry: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry = retry


class _Redact(logging.Filter):
    """Replaces the webhook URL and its path (the token) in urllib3's debug lines."""

    def __init__(self, url: str) -> None:
        super().__init__()
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        self.secrets = [s for s in (url, path, parts.query) if s and s != "/"]

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # a record that cannot be formatted says nothing either
            return False
        if any(secret in text for secret in self.secrets):
            for secret in self.secrets:
                text = text.replace(secret, "<webhook>")
            record.msg, record.args = text, None
        return True


_URLLIB3_LOGGERS = ("urllib3.connectionpool", "urllib3.connection", "urllib3.util.retry")


@contextmanager
def _redacted(url: str) -> Iterator[None]:
    redact = _Redact(url)
    loggers = [logging.getLogger(name) for name in _URLLIB3_LOGGERS]
    for logger in loggers:
        logger.addFilter(redact)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(redact)


def _retrying(settings: AlertSettings) -> Retrying:
    return Retrying(
        stop=stop_after_attempt(max(1, settings.attempts)),
        wait=wait_exponential(multiplier=settings.retry_wait_seconds, max=10),
        retry=retry_if_exception(lambda error: isinstance(error, DeliveryError) and error.retry),
        reraise=True,
    )


def _post_once(url: str, payload: dict, timeout: float) -> None:
    try:
        response = requests.post(url, json=payload, timeout=(min(timeout, 10.0), timeout))
    except (requests.ConnectionError, requests.Timeout) as error:
        raise DeliveryError(type(error).__name__, retry=True) from None
    except requests.RequestException as error:
        raise DeliveryError(type(error).__name__) from None
    status = response.status_code
    response.close()
    if 200 <= status < 300:
        return
    raise DeliveryError(f"HTTP {status}", retry=status >= 500 or status == 429)


def send_webhook(alert: Alert, settings: AlertSettings) -> None:
    if not settings.webhook_url:
        raise DeliveryError("no L2C_ALERT_WEBHOOK_URL")
    style = settings.payload_style()
    payload = teams_payload(alert) if style == "teams" else slack_payload(alert)
    with _redacted(settings.webhook_url):
        for attempt in _retrying(settings):
            with attempt:
                _post_once(settings.webhook_url, payload, settings.timeout_seconds)


def _send_email_once(message: EmailMessage, settings: AlertSettings) -> None:
    host, port = settings.smtp_host, settings.smtp_port or SMTP_SECURITY[settings.smtp_security]
    try:
        if settings.smtp_security == "ssl":
            smtp = smtplib.SMTP_SSL(
                host, port, timeout=settings.timeout_seconds, context=ssl.create_default_context()
            )
        else:
            smtp = smtplib.SMTP(host, port, timeout=settings.timeout_seconds)
        with smtp:
            smtp.ehlo()
            if settings.smtp_security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if settings.smtp_user:
                try:
                    smtp.login(settings.smtp_user, settings.smtp_password or "")
                except (smtplib.SMTPException, OSError) as error:
                    # A refused login is never tried again at once (servers lock accounts out
                    # after repeated failures), whatever the server said or did.
                    code = getattr(error, "smtp_code", None)
                    raise DeliveryError(
                        f"{type(error).__name__}" + (f" {code}" if code else "") + " at login"
                    ) from None
            smtp.send_message(message)
    except DeliveryError:
        raise
    except smtplib.SMTPResponseException as error:
        # 4xx is the server's "try again later"; 5xx (a refused login, a refused sender) is not.
        code = error.smtp_code
        raise DeliveryError(f"{type(error).__name__} {code}", retry=400 <= code < 500) from None
    except smtplib.SMTPServerDisconnected as error:
        raise DeliveryError(type(error).__name__, retry=True) from None
    except (smtplib.SMTPException, ssl.SSLError) as error:
        # Refused recipients, no STARTTLS or AUTH offered, an untrusted certificate: as final
        # as a 5xx.
        raise DeliveryError(type(error).__name__) from None
    except OSError as error:  # refused, unreachable, timed out: worth another try
        raise DeliveryError(type(error).__name__, retry=True) from None


def send_email(alert: Alert, settings: AlertSettings) -> None:
    if not settings.smtp_host or not settings.email_to:
        raise DeliveryError("no L2C_ALERT_SMTP_HOST / L2C_ALERT_EMAIL_TO")
    message = email_message(alert, settings)
    for attempt in _retrying(settings):
        with attempt:
            _send_email_once(message, settings)


SENDERS = {"webhook": send_webhook, "email": send_email}


@dataclass
class DeliveryReport:
    sent: list[tuple[str, Alert]] = field(default_factory=list)
    already_sent: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # channel -> reason
    waiting: dict[str, int] = field(default_factory=dict)  # channel -> alerts left unsent

    def summary(self) -> str:
        parts = []
        if self.sent:
            channels = sorted({channel for channel, _ in self.sent})
            parts.append(f"{len(self.sent)} sent ({', '.join(channels)})")
        if self.already_sent:
            parts.append(f"{self.already_sent} already sent before")
        for channel, reason in self.failed.items():
            parts.append(f"{channel} failed ({reason})")
        return "alerts: " + ("; ".join(parts) if parts else "nothing to send")


def deliver(
    alerts: Iterable[Alert],
    settings: AlertSettings,
    *,
    cleared: Iterable[Cleared] = (),
    log: logging.Logger | logging.LoggerAdapter | None = None,
) -> DeliveryReport:
    """Send each alert to each configured channel that the ledger has not seen take it, and
    record what each channel accepted. Never raises: a channel that fails is tried no more in
    this delivery (its alerts wait for the next one) and is one warning line."""
    log = log or LOG
    report = DeliveryReport()
    alerts, cleared = list(alerts), list(cleared)
    channels = settings.channels()
    if not channels or not (alerts or cleared):
        return report
    try:
        with Ledger.open(settings.ledger or ledger_path(default_warehouse())) as book:
            if book.note:
                log.warning(f"alerts: {book.note}")
            for done in cleared:
                book.close_open(done.kind, done.subject, done.passed_at)
            for alert in alerts:
                for channel in channels:
                    if book.has(channel, alert.key):
                        report.already_sent += 1
                        continue
                    if channel not in report.failed:
                        try:
                            SENDERS[channel](alert, settings)
                        except DeliveryError as error:
                            report.failed[channel] = error.reason
                        except Exception as error:  # noqa: BLE001 - never fails the run
                            report.failed[channel] = type(error).__name__
                    if channel in report.failed:
                        report.waiting[channel] = report.waiting.get(channel, 0) + 1
                        continue
                    book.mark(
                        channel,
                        alert.key,
                        kind=alert.kind,
                        subject=alert.subject,
                        run_id=alert.run_id,
                        title=alert.title,
                        open=alert.kind in OPEN_KINDS,
                        seen_at=alert.seen_at,
                    )
                    report.sent.append((channel, alert))
    except LedgerBusy as error:
        log.warning(f"alerts: not delivered: {error}")
        return report
    except OSError as error:
        log.warning(f"alerts: not delivered: the alert ledger failed ({type(error).__name__})")
        return report
    for channel, reason in report.failed.items():
        log.warning(
            f"alerts: {channel} delivery failed ({reason}); {report.waiting[channel]} alert(s) "
            "not sent, tried again at the next delivery"
        )
    return report


def notify_run(
    instance,
    run_id: str,
    *,
    log: logging.Logger | logging.LoggerAdapter | None = None,
    environ: Mapping[str, str] | None = None,
) -> DeliveryReport:
    """The alerts of a run, delivered with the settings from the environment: what the sensors
    and `l2c run` call. Never raises; whatever goes wrong is one warning line."""
    log = log or LOG
    try:
        settings = AlertSettings.from_env(environ)
        if not settings.channels():
            return DeliveryReport()
        found = alerts_for_run(instance, run_id, settings.dagster_url)
        return deliver(found.alerts, settings, cleared=found.cleared, log=log)
    except AlertSettingsError as error:
        log.warning(f"alerts: not delivered: {error}")
    except Exception as error:  # noqa: BLE001 - alerts never fail the run or the sensor
        # Only the class: an exception's text may hold a URL.
        log.warning(f"alerts: not delivered ({type(error).__name__})")
    return DeliveryReport()
