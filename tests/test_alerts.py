"""Alerts that reach people, over the real network stack: a local HTTP server in a thread
stands in for the Slack / Teams webhook (it records every POST) and a local SMTP server
(aiosmtpd, STARTTLS with a certificate from trustme, AUTH) for the mail relay. Nothing is
mocked: requests, smtplib, tenacity and Dagster run as they do at night."""

from __future__ import annotations

import json
import logging
import os
import socket
import ssl
import subprocess
import sys
import threading
from dataclasses import replace
from email import message_from_bytes
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from dagster import (
    AssetCheckEvaluation,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    DefaultSensorStatus,
    Failure,
    MetadataValue,
    asset,
    asset_check,
    build_run_status_sensor_context,
    materialize,
)

from l2c_pipeline.mining.assets import drift_check_result
from l2c_pipeline.monitoring.alerts import (
    WARN_CHECK_PREFIXES,
    AlertSettings,
    alerts_for_run,
    check_alert,
    deliver,
    notify_run,
)
from l2c_pipeline.monitoring.drift import DriftResult, SegmentDrift
from l2c_pipeline.monitoring.ledger import ledger_path
from l2c_pipeline.monitoring.sensors import alerts_on_failure, alerts_on_success

from .test_orchestration import l2c_run

TOKEN = "xoxTOKEN-s3cr3t-9f8e7d"
PASSWORD = "smtp-pa55word-s3cr3t"
DAGSTER_URL = "http://dagster.example.test:3000"


# ---------------------------------------------------------------------------------------------
# The local webhook and SMTP servers


class Webhook:
    def __init__(self) -> None:
        self.posts: list[dict] = []
        self.status = 200
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                recorder.posts.append(
                    {
                        "path": self.path,
                        "content_type": self.headers.get("Content-Type"),
                        "json": json.loads(body),
                    }
                )
                self.send_response(recorder.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/services/T0001/B0002/{TOKEN}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def webhook():
    hook = Webhook()
    yield hook
    hook.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Mailbox:
    def __init__(self) -> None:
        self.messages: list = []
        self.logins: list[tuple[str, str]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        message = message_from_bytes(envelope.original_content, policy=default_policy)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 OK"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.logins.append((login, password))
        ok = login == "alerts@acme.test" and password == PASSWORD
        return AuthResult(success=ok, handled=False)  # handled=False: the server says 535


@pytest.fixture(scope="module")
def certificate_authority(tmp_path_factory):
    ca = trustme.CA()
    bundle = tmp_path_factory.mktemp("smtp-ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    return ca, bundle


@pytest.fixture()
def mailbox(certificate_authority, monkeypatch):
    """An SMTP server that only takes mail after STARTTLS and a login; the client trusts its
    certificate through SSL_CERT_FILE, as it would a corporate CA."""
    ca, bundle = certificate_authority
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    box = Mailbox()
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=context,
        require_starttls=True,
        authenticator=box.authenticate,
        auth_required=True,
    )
    controller.start()
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    box.port = controller.port
    yield box
    controller.stop()


@pytest.fixture()
def alert_env(tmp_path, monkeypatch, webhook, mailbox):
    """The alert settings of a real installation, pointing at the local servers."""
    for name in list(os.environ):
        if name.startswith(("L2C_", "SF_", "DAGSTER_")):
            monkeypatch.delenv(name)
    settings = {
        "L2C_HOME": str(tmp_path),
        "L2C_ALERT_WEBHOOK_URL": webhook.url,
        "L2C_ALERT_SMTP_HOST": "127.0.0.1",
        "L2C_ALERT_SMTP_PORT": str(mailbox.port),
        "L2C_ALERT_SMTP_USER": "alerts@acme.test",
        "L2C_ALERT_SMTP_PASSWORD": PASSWORD,
        "L2C_ALERT_EMAIL_TO": "ops@acme.test, sales-ops@acme.test",
        "L2C_DAGSTER_URL": DAGSTER_URL,
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    return settings


def fast(settings: AlertSettings) -> AlertSettings:
    return replace(settings, retry_wait_seconds=0.01)


# ---------------------------------------------------------------------------------------------
# Tiny Dagster graphs: a failing asset, and a KPI summary with a drift check


@asset
def extraction_that_fails():
    raise Failure("meta/source: cannot reach Salesforce at acme.my.salesforce.com")


DRIFT = {"failing": True}


@asset(key=AssetKey(["reports", "kpi_summary"]))
def kpi_summary():
    return 1


@asset_check(asset=kpi_summary, name="kpi_drift_win_rate")
def kpi_drift_win_rate():
    if not DRIFT["failing"]:
        return AssetCheckResult(passed=True, severity=AssetCheckSeverity.WARN)
    return AssetCheckResult(
        passed=False,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "value": 0.18,
            "baseline": 0.25,
            "change": -0.07,
            "cases": 412,
            "rule": "more than 3 points from the 8-week median",
        },
    )


@asset_check(asset=kpi_summary, name="row_count_looks_odd")
def row_count_looks_odd():
    # A WARN check that is neither drift nor freshness: shown by `l2c run`, never an alert.
    return AssetCheckResult(passed=False, severity=AssetCheckSeverity.WARN)


SEGMENTS_DRIFTING: set[str] = set()
TESTED_SEGMENTS = ("region=APAC", "region=EMEA", "team=Sales, West")


@asset(key=AssetKey(["reports", "kpi_segment_history"]))
def kpi_segment_history():
    return 1


@asset_check(asset=kpi_segment_history, name="kpi_drift_win_rate_segments")
def kpi_drift_win_rate_segments():
    # The check as the kpi_history step writes it, from the segments' results tonight.
    results = [
        DriftResult(
            "win_rate",
            segment not in SEGMENTS_DRIFTING,
            "status",
            "the segment rule",
            value=0.12 if segment in SEGMENTS_DRIFTING else 0.30,
            baseline=0.30,
            change=-0.18 if segment in SEGMENTS_DRIFTING else 0.0,
            z=6.0 if segment == "region=EMEA" else 5.0 if segment in SEGMENTS_DRIFTING else 0.1,
            cases=800,
            segment=segment,
        )
        for segment in TESTED_SEGMENTS
    ]
    return drift_check_result(SegmentDrift("win_rate", results, "status", "the segment rule"))


def run_failure_context(instance, run_id: str):
    run = instance.get_run_by_id(run_id)
    event = instance.get_records_for_run(run_id, of_type=DagsterEventType.RUN_FAILURE).records[0]
    return build_run_status_sensor_context(
        sensor_name="l2c_alerts_on_failure",
        dagster_event=event.event_log_entry.dagster_event,
        dagster_instance=instance,
        dagster_run=run,
    ).for_run_failure()


def success_context(instance, result):
    return build_run_status_sensor_context(
        sensor_name="l2c_alerts_on_success",
        dagster_event=result.get_run_success_event(),
        dagster_instance=instance,
        dagster_run=result.dagster_run,
    )


def everything_dagster_recorded(instance, run_id: str) -> str:
    from dagster._serdes import serialize_value

    return "\n".join(serialize_value(entry) for entry in instance.all_logs(run_id))


# ---------------------------------------------------------------------------------------------
# Tests


def test_a_failed_run_is_one_post_and_one_email_and_never_sent_again(alert_env, webhook, mailbox):
    instance = DagsterInstance.ephemeral()
    result = materialize([extraction_that_fails], instance=instance, raise_on_error=False)
    assert not result.success
    run_id = result.run_id

    alerts_on_failure(run_failure_context(instance, run_id))

    assert len(webhook.posts) == 1 and len(mailbox.messages) == 1
    text = webhook.posts[0]["json"]["text"]
    assert run_id in text and "cannot reach Salesforce at acme.my.salesforce.com" in text
    assert f"{DAGSTER_URL}/runs/{run_id}" in text
    sender, recipients, mail = mailbox.messages[0]
    assert sender == "alerts@acme.test"
    assert recipients == ["ops@acme.test", "sales-ops@acme.test"]
    assert mail["Subject"].startswith("[l2c] Run failed: __ephemeral_asset_job__")
    body = mail.get_content()
    assert run_id in body and "cannot reach Salesforce" in body
    assert f"{DAGSTER_URL}/runs/{run_id}" in body
    assert mailbox.logins == [("alerts@acme.test", PASSWORD)]  # over STARTTLS only

    # The sensor again (a daemon restarted), then `l2c run`'s own delivery: nothing new.
    alerts_on_failure(run_failure_context(instance, run_id))
    report = notify_run(instance, run_id)
    assert report.already_sent == 2 and not report.sent
    assert len(webhook.posts) == 1 and len(mailbox.messages) == 1
    ledger = ledger_path(Path(alert_env["L2C_HOME"]) / "warehouse.duckdb")
    assert ledger.exists() and TOKEN not in ledger.read_text()
    assert TOKEN not in everything_dagster_recorded(instance, run_id)


def test_a_drift_warning_carries_its_figures_and_is_announced_once_until_it_clears(
    alert_env, webhook, mailbox
):
    instance = DagsterInstance.ephemeral()

    def nightly(failing: bool):
        DRIFT["failing"] = failing
        result = materialize(
            [kpi_summary, kpi_drift_win_rate, row_count_looks_odd], instance=instance
        )
        assert result.success
        alerts_on_success(success_context(instance, result))
        return result

    first = nightly(failing=True)
    assert len(webhook.posts) == 1 and len(mailbox.messages) == 1  # the odd WARN check is none
    text = webhook.posts[0]["json"]["text"]
    assert "KPI drift: win_rate" in text
    for figure in ("kpi: win_rate", "value: 0.18", "baseline: 0.25", "change: -0.07", "cases: 412"):
        assert figure in text, text
    assert "more than 3 points from the 8-week median" in text and first.run_id in text
    assert "value: 0.18" in mailbox.messages[0][2].get_content()

    nightly(failing=True)  # still drifting the next night: not news
    assert len(webhook.posts) == 1
    nightly(failing=False)  # back within its rule: the open alert closes
    assert len(webhook.posts) == 1
    back = nightly(failing=True)  # drifting again: announced anew
    assert len(webhook.posts) == 2 and back.run_id in webhook.posts[1]["json"]["text"]
    assert len(mailbox.messages) == 2


def test_each_drifting_segment_is_an_alert_of_its_own_until_it_clears(alert_env, webhook):
    instance = DagsterInstance.ephemeral()

    def nightly(*drifting: str) -> list[str]:
        SEGMENTS_DRIFTING.clear()
        SEGMENTS_DRIFTING.update(drifting)
        before = len(webhook.posts)
        result = materialize([kpi_segment_history, kpi_drift_win_rate_segments], instance=instance)
        assert result.success
        alerts_on_success(success_context(instance, result))
        return [post["json"]["text"].splitlines()[0] for post in webhook.posts[before:]]

    assert nightly("region=EMEA") == ["*KPI drift: win_rate (region=EMEA)*"]
    # A second region starts drifting: it is news, the first is not announced again.
    assert nightly("region=EMEA", "team=Sales, West") == [
        "*KPI drift: win_rate (team=Sales, West)*"
    ]
    # EMEA back within its rule while the team still drifts: EMEA's alert closes...
    assert nightly("team=Sales, West") == []
    # ...so EMEA drifting again is announced anew, and the team is still not repeated.
    assert nightly("region=EMEA", "team=Sales, West") == ["*KPI drift: win_rate (region=EMEA)*"]
    (emea,) = [t for t in [p["json"]["text"] for p in webhook.posts] if "EMEA" in t][-1:]
    for figure in ("value: 0.12", "baseline: 0.3", "change: -0.18", "cases: 800", "z: 6"):
        assert figure in emea, emea
    # The whole check passing closes every segment: both are news the next time.
    assert nightly() == []
    assert sorted(nightly("region=EMEA", "team=Sales, West")) == [
        "*KPI drift: win_rate (region=EMEA)*",
        "*KPI drift: win_rate (team=Sales, West)*",
    ]


def test_check_alerts_from_evaluations(alert_env):
    drift = AssetCheckEvaluation(
        asset_key=AssetKey(["reports", "kpi_summary"]),
        check_name="kpi_drift_cycle_time_days",
        passed=False,
        metadata={
            "value": MetadataValue.float(41.5),
            "baseline": MetadataValue.float(33.0),
            "change": MetadataValue.text("+26%"),
            "cases": MetadataValue.int(1250),
            "rule": MetadataValue.text("25% above the 8-week median"),
            "segment": MetadataValue.text("EMEA"),
        },
        severity=AssetCheckSeverity.WARN,
    )
    alert = check_alert(drift, "run-1", DAGSTER_URL, seen_at=1_700_000_000)
    assert alert.kind == "drift" and alert.title == "KPI drift: cycle_time_days (EMEA)"
    assert alert.fields == {
        "kpi": "cycle_time_days",
        "value": 41.5,
        "baseline": 33.0,
        "change": "+26%",
        "cases": 1250,
        "rule": "25% above the 8-week median",
        "segment": "EMEA",
    }
    assert alert.text == (
        "cycle_time_days is 41.5 against a baseline of 33 (change +26%) over 1,250 cases; "
        "rule: 25% above the 8-week median"
    )
    assert alert.subject == "reports/kpi_summary:kpi_drift_cycle_time_days [EMEA]"
    assert alert.link == f"{DAGSTER_URL}/runs/run-1"

    def evaluation(name, severity, passed=False):
        return AssetCheckEvaluation(
            asset_key=AssetKey(["core", "event_log"]),
            check_name=name,
            passed=passed,
            metadata={"events_with_missing_values": MetadataValue.int(3)},
            severity=severity,
        )

    error = check_alert(evaluation("no_missing_values", AssetCheckSeverity.ERROR), "run-2")
    assert error.kind == "check_error" and "events_with_missing_values 3" in error.text
    assert error.scope == "1970-01-01"  # once per check and day
    fresh = check_alert(evaluation("freshness_raw_opportunity", AssetCheckSeverity.WARN), "r")
    assert fresh.kind == "freshness"
    assert check_alert(evaluation("odd", AssetCheckSeverity.WARN), "r") is None
    passed = evaluation("no_missing_values", AssetCheckSeverity.ERROR, passed=True)
    assert check_alert(passed, "r") is None
    assert set(WARN_CHECK_PREFIXES) == {"kpi_drift_", "freshness"}


def test_a_failed_error_check_of_a_successful_run_is_an_alert(alert_env, webhook, mailbox):
    @asset(key=AssetKey(["core", "event_log"]))
    def event_log():
        return 1

    @asset_check(asset=event_log, description="No event lacks a case.")
    def every_case_is_known():
        return AssetCheckResult(passed=False, metadata={"cases_missing_from_core_cases": 1})

    instance = DagsterInstance.ephemeral()
    result = materialize([event_log, every_case_is_known], instance=instance)
    assert result.success  # the check is not blocking: Dagster calls the run a success
    found = alerts_for_run(instance, result.run_id, DAGSTER_URL)
    assert [a.kind for a in found.alerts] == ["check_error"]
    alerts_on_success(success_context(instance, result))
    text = webhook.posts[0]["json"]["text"]
    assert "Check failed: every_case_is_known on core/event_log" in text
    assert "cases_missing_from_core_cases: 1" in text


def warnings_of(caplog) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "l2c_pipeline.alerts" and r.levelno >= logging.WARNING
    ]


def test_a_webhook_that_fails_is_one_log_line_without_its_token(alert_env, webhook, caplog):
    caplog.set_level(logging.DEBUG)  # urllib3's own lines too: they name the URL's path
    instance = DagsterInstance.ephemeral()
    result = materialize([extraction_that_fails], instance=instance, raise_on_error=False)
    found = alerts_for_run(instance, result.run_id, DAGSTER_URL)
    settings = fast(replace(AlertSettings.from_env(), smtp_host=None, email_to=()))

    webhook.status = 500
    report = deliver(found.alerts, settings, cleared=found.cleared)
    assert len(webhook.posts) == 3  # a couple of retries on 5xx
    assert report.failed == {"webhook": "HTTP 500"} and not report.sent
    assert warnings_of(caplog) == [
        "alerts: webhook delivery failed (HTTP 500); 1 alert(s) not sent, tried again at the "
        "next delivery"
    ]
    assert any("urllib3" in r.name for r in caplog.records)  # they were there, redacted
    assert TOKEN not in caplog.text

    caplog.clear()
    refused = replace(settings, webhook_url=f"http://127.0.0.1:{free_port()}/services/{TOKEN}")
    report = deliver(found.alerts, refused)
    assert report.failed == {"webhook": "ConnectionError"}
    (line,) = warnings_of(caplog)
    assert "webhook delivery failed (ConnectionError)" in line
    assert TOKEN not in caplog.text

    # What was not delivered goes out at the next delivery, once.
    webhook.status = 200
    assert len(deliver(found.alerts, settings).sent) == 1
    assert len(deliver(found.alerts, settings).sent) == 0
    assert len(webhook.posts) == 4
    assert TOKEN not in caplog.text


def test_a_delivery_failure_fails_neither_the_sensor_nor_the_run(
    alert_env, webhook, mailbox, caplog, capfd, monkeypatch
):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("L2C_ALERT_SMTP_PASSWORD", "wrong-" + PASSWORD)
    webhook.status = 503
    instance = DagsterInstance.ephemeral()
    result = materialize([extraction_that_fails], instance=instance, raise_on_error=False)
    capfd.readouterr()
    alerts_on_failure(run_failure_context(instance, result.run_id))  # returns, raises nothing

    # The sensor's log (what the tick shows in the Dagster UI): one line per channel.
    printed = capfd.readouterr()
    lines = [line for line in printed.err.splitlines() if "alerts:" in line]
    assert len(lines) == 2, printed.err
    assert "webhook delivery failed (HTTP 503)" in lines[0]
    assert "email delivery failed (SMTPAuthenticationError 535 at login)" in lines[1]
    for secret in (TOKEN, PASSWORD):
        assert secret not in printed.err + printed.out + caplog.text
        assert secret not in everything_dagster_recorded(instance, result.run_id)
    assert mailbox.messages == []
    assert instance.get_run_by_id(result.run_id).status.value == "FAILURE"  # as it was
    assert len(mailbox.logins) == 2  # PLAIN, then LOGIN, in one session: never tried again


def test_a_wrong_setting_is_one_line_and_no_delivery(alert_env, webhook, caplog, monkeypatch):
    monkeypatch.setenv("L2C_ALERT_WEBHOOK_FORMAT", "discord")
    instance = DagsterInstance.ephemeral()
    result = materialize([extraction_that_fails], instance=instance, raise_on_error=False)
    report = notify_run(instance, result.run_id)
    assert not report.sent and webhook.posts == []
    assert warnings_of(caplog) == [
        "alerts: not delivered: L2C_ALERT_WEBHOOK_FORMAT must be one of auto, slack, teams, "
        "got 'discord'"
    ]
    monkeypatch.setenv("L2C_ALERT_WEBHOOK_FORMAT", "auto")
    monkeypatch.setenv("L2C_ALERT_WEBHOOK_URL", f"ftp://hooks.example/{TOKEN}")
    caplog.clear()
    notify_run(instance, result.run_id)
    assert warnings_of(caplog) == [
        "alerts: not delivered: L2C_ALERT_WEBHOOK_URL must be an http(s):// URL"
    ]
    settings = AlertSettings.from_env({"L2C_ALERT_WEBHOOK_URL": f"https://x.test/{TOKEN}"})
    assert TOKEN not in repr(settings)


def test_teams_gets_an_adaptive_card(alert_env, webhook, monkeypatch):
    monkeypatch.setenv("L2C_ALERT_WEBHOOK_FORMAT", "teams")
    monkeypatch.delenv("L2C_ALERT_SMTP_HOST")
    monkeypatch.delenv("L2C_ALERT_EMAIL_TO")
    instance = DagsterInstance.ephemeral()
    DRIFT["failing"] = True
    result = materialize([kpi_summary, kpi_drift_win_rate], instance=instance)
    notify_run(instance, result.run_id)
    (post,) = webhook.posts
    assert post["content_type"] == "application/json"
    message = post["json"]
    assert message["type"] == "message"
    (attachment,) = message["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard"
    assert card["body"][0]["text"] == "KPI drift: win_rate"
    facts = {fact["title"]: fact["value"] for fact in card["body"][2]["facts"]}
    assert facts["value"] == "0.18" and facts["baseline"] == "0.25" and facts["cases"] == "412"
    assert card["actions"][0]["url"] == f"{DAGSTER_URL}/runs/{result.run_id}"

    def style(url: str) -> str:
        return AlertSettings.from_env({"L2C_ALERT_WEBHOOK_URL": url}).payload_style()

    assert style("https://hooks.slack.com/services/T/B/x") == "slack"
    assert style("https://prod-12.westeurope.logic.azure.com:443/workflows/a/triggers") == "teams"
    assert style("https://acme.webhook.office.com/webhookb2/x") == "teams"
    assert style("https://default1.environment.api.powerplatform.com/powerautomate/x") == "teams"


def test_the_sensors_are_registered_and_on():
    from l2c_pipeline.definitions import defs

    for name in ("l2c_alerts_on_failure", "l2c_alerts_on_success"):
        assert defs.resolve_sensor_def(name).default_status == DefaultSensorStatus.RUNNING


def test_monitoring_imports_neither_salesforce_nor_the_demo_org():
    code = (
        "import sys, l2c_pipeline.monitoring.sensors\n"
        "bad = [m for m in sys.modules if m.startswith(('l2c_pipeline.salesforce', "
        "'l2c_pipeline.demo_org'))]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_l2c_run_delivers_its_failure_once_whoever_delivers(alert_env, webhook, mailbox, tmp_path):
    """`l2c run` without the daemon: its failed run reaches the webhook and the mailbox, once;
    the daemon's sensor, seeing the same run, sends nothing more. No secret in its output."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SF_", "DAGSTER_"))},
        "L2C_SOURCE": "salesforce",  # and no SF_* login: the run stops at once
    }
    done = l2c_run(tmp_path, env)
    assert done.returncode == 1, done.stderr[-3000:]
    assert "alerts: 2 sent (email, webhook)" in done.stderr
    for secret in (TOKEN, PASSWORD):
        assert secret not in done.stdout + done.stderr
    assert len(webhook.posts) == 1 and len(mailbox.messages) == 1
    text = webhook.posts[0]["json"]["text"]
    assert "no complete Salesforce login in the environment" in text

    from dagster._core.instance.ref import InstanceRef

    with DagsterInstance.from_ref(InstanceRef.from_dir(str(tmp_path / "dagster"))) as instance:
        (run,) = instance.get_runs()
        assert run.run_id in text and run.run_id in mailbox.messages[0][2].get_content()
        alerts_on_failure(run_failure_context(instance, run.run_id))  # the daemon, later
        assert len(webhook.posts) == 1 and len(mailbox.messages) == 1
        for secret in (TOKEN, PASSWORD):
            assert secret not in everything_dagster_recorded(instance, run.run_id)


def tables_holding(path: Path, secret: str) -> list[str]:
    """Every table of a DuckDB file with a row whose text holds `secret` (the file's bytes may be
    compressed, so each row is read as text)."""
    import duckdb

    found = []
    with duckdb.connect(str(path), read_only=True) as con:
        tables = con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_type = 'BASE TABLE'"
        ).fetchall()
        for schema, table in tables:
            name = f'"{schema}"."{table}"'
            hits = con.execute(
                f"SELECT count(*) FROM {name} AS t WHERE contains(t::VARCHAR, ?)", [secret]
            ).fetchone()[0]
            if hits:
                found.append(name)
    return found


def test_a_nightly_run_delivers_its_real_warnings_once_and_stores_no_secret(
    alert_env, webhook, mailbox, tmp_path
):
    """A whole `l2c run` on a small demo org whose every object is stale by the settings: each
    real freshness_sync warning is one post and one e-mail; delivering the run again sends
    nothing; and no file the run wrote (the warehouse's tables, the analytics file, the outputs,
    Dagster's storage, the ledger) holds the webhook's token or the SMTP password."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SF_", "DAGSTER_"))},
        "L2C_SOURCE": "demo",
        "L2C_DEMO_LEADS": "300",
        "L2C_FRESHNESS_HOURS": "0",  # every object synced more than 0 hours ago: stale
    }
    done = l2c_run(tmp_path, env)
    assert done.returncode == 0, done.stderr[-3000:]
    stale = [
        line
        for line in done.stderr.splitlines()
        if "CHECK WARNING" in line and " freshness_sync: " in line
    ]
    assert len(stale) >= 20, done.stderr[-3000:]  # one per extracted object
    posted = [post["json"]["text"].splitlines()[0] for post in webhook.posts]
    assert len(posted) == len(stale) and len(set(posted)) == len(stale), posted
    assert all(title.startswith("*Data not fresh: freshness_sync on raw/") for title in posted)
    assert len(mailbox.messages) == len(stale)
    assert f"alerts: {2 * len(stale)} sent (email, webhook)" in done.stderr

    from dagster._core.instance.ref import InstanceRef

    with DagsterInstance.from_ref(InstanceRef.from_dir(str(tmp_path / "dagster"))) as instance:
        (run,) = instance.get_runs()
        assert notify_run(instance, run.run_id).sent == []  # a daemon going over it again
        recorded = everything_dagster_recorded(instance, run.run_id)
    assert len(webhook.posts) == len(stale) and len(mailbox.messages) == len(stale)

    for secret in (TOKEN, PASSWORD):
        assert secret not in done.stdout + done.stderr + recorded
        files = [p for p in tmp_path.rglob("*") if p.is_file()]
        databases = [p for p in files if p.suffix == ".duckdb"]
        assert len(databases) >= 2  # the warehouse (and its models file), the analytics file
        for database in databases:
            assert tables_holding(database, secret) == [], database
        for other in set(files) - set(databases):
            assert secret.encode() not in other.read_bytes(), other
