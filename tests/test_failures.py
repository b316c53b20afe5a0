"""What a data engineer meets on a bad night, through `l2c run` as a separate process: a wrong
address, a refused login, missing settings, an untrusted certificate, the API limit. Each stops
within seconds, in a few lines, with the cause in the last line; a refused login is tried once."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from l2c_pipeline.demo_org.server import DemoOrgServer


def clean_env(home: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SF_", "L2C_", "DAGSTER_"))}
    return {**env, "L2C_HOME": str(home), "L2C_SOURCE": "salesforce", **settings}


def l2c(folder: Path, env: dict[str, str], *args: str) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "l2c_pipeline.cli", *(args or ("run",))],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return done, time.monotonic() - started


def last_line(done: subprocess.CompletedProcess) -> str:
    return done.stderr.strip().splitlines()[-1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture()
def server(small_org, tmp_path):
    with DemoOrgServer(small_org, work_dir=tmp_path / "tls") as running:
        yield running


def test_an_unreachable_org_fails_fast_in_a_few_lines_naming_the_setting(tmp_path):
    env = clean_env(
        tmp_path, SF_INSTANCE_URL=f"https://127.0.0.1:{free_port()}", SF_ACCESS_TOKEN="00Dx!abc"
    )
    done, seconds = l2c(tmp_path, env)
    assert done.returncode == 1
    assert seconds < 30, seconds
    assert len(done.stderr.splitlines()) < 40, done.stderr
    assert "Traceback" not in done.stderr and "Stack Trace" not in done.stderr
    line = last_line(done)
    assert "meta/source" in line and "connection refused" in line and "SF_INSTANCE_URL" in line
    assert "00Dx!abc" not in done.stderr + done.stdout  # the token is a secret


def test_a_host_that_accepts_but_never_answers_is_not_retried(tmp_path):
    """A listener that takes the connection and says nothing (a wrong port on a busy host)."""
    from l2c_pipeline.salesforce.client import ConnectionFailed, SalesforceClient
    from l2c_pipeline.salesforce.settings import SalesforceSettings

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        url = f"https://127.0.0.1:{listener.getsockname()[1]}"
        settings = SalesforceSettings.from_env(
            {"SF_INSTANCE_URL": url, "SF_ACCESS_TOKEN": "x", "SF_TIMEOUT_SECONDS": "1"}
        )
        client = SalesforceClient(settings, on_retry=lambda message: None)
        started = time.monotonic()
        with pytest.raises(ConnectionFailed, match="no answer within SF_TIMEOUT_SECONDS"):
            client.organization()
        # One wait of the timeout, not SF_MAX_RETRIES of them with backoff in between.
        assert time.monotonic() - started < 4
        assert client.api_calls == 1


def test_missing_settings_are_named_once(tmp_path):
    done, seconds = l2c(tmp_path, clean_env(tmp_path))
    assert done.returncode == 1 and seconds < 30
    assert len(done.stderr.splitlines()) < 40, done.stderr
    assert done.stderr.count("no complete Salesforce login") == 1
    line = last_line(done)
    assert "SF_INSTANCE_URL and SF_ACCESS_TOKEN" in line and "SF_CLIENT_ID" in line


@pytest.mark.parametrize(
    "variable, value, message",
    [
        ("L2C_RUN_WAIT_MINUTES", "abc", "L2C_RUN_WAIT_MINUTES must be a number of minutes"),
        ("SF_TIMEOUT_SECONDS", "soon", "SF_TIMEOUT_SECONDS must be a number of seconds"),
        ("SF_MAX_RETRIES", "three", "SF_MAX_RETRIES must be a whole number"),
        ("L2C_DEMO_LEADS", "many", "L2C_DEMO_LEADS must be a whole number"),
    ],
)
def test_a_bad_number_in_a_setting_is_one_line_naming_it(tmp_path, variable, value, message):
    source = "demo" if variable.startswith("L2C_DEMO") else "salesforce"
    env = clean_env(
        tmp_path,
        L2C_SOURCE=source,
        SF_INSTANCE_URL="https://127.0.0.1:9",
        SF_ACCESS_TOKEN="x",
        **{variable: value},
    )
    done, _ = l2c(tmp_path, env)
    assert done.returncode == 1
    assert message in last_line(done) and repr(value) in last_line(done)
    assert len(done.stderr.splitlines()) < 10 and "Traceback" not in done.stderr


def test_a_bad_sync_setting_stops_the_run_before_any_call(tmp_path, server):
    env = clean_env(tmp_path, **server.environment(), L2C_SYNC_OVERLAP_MINUTES="ten")
    done, _ = l2c(tmp_path, env)
    assert done.returncode == 1
    assert "L2C_SYNC_OVERLAP_MINUTES must be a number of minutes" in last_line(done)
    assert server.api.api_calls == 0 and server.api.token_requests == 0


def test_every_wrong_setting_stops_the_run_before_any_call_each_named(tmp_path, server):
    """Settings read by late steps (the exports, freshness checks, the miner, alerts, the output
    folder...) are checked at the run's start: a typo once cost a night's extraction, or failed
    the run after the analytics file was published."""
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    wrong = {
        "L2C_EXPORT_FORMATS": ("pdf", "unknown export format 'pdf'"),
        "L2C_FRESHNESS_HOURS": ("-5", "L2C_FRESHNESS_HOURS must be a number of hours"),
        "L2C_SNAPSHOT_DATE": ("2026-13-45", "L2C_SNAPSHOT_DATE must be a date"),
        "L2C_DISCOVERY_MAX_VARIANTS": ("abc", "L2C_DISCOVERY_MAX_VARIANTS must be a whole number"),
        "L2C_BUSINESS_HOURS": ("whenever", "L2C_BUSINESS_HOURS='whenever': expected"),
        "L2C_ALERT_SMTP_PORT": ("abc", "L2C_ALERT_SMTP_PORT must be a port number"),
        "L2C_DUCKDB_MEMORY_LIMIT": ("-1GB", "L2C_DUCKDB_MEMORY_LIMIT must be a size"),
        "L2C_OUTPUT_DIR": (str(tmp_path / "a-file" / "out"), "which is a file, not a folder"),
    }
    settings = {variable: value for variable, (value, _) in wrong.items()}
    done, seconds = l2c(tmp_path, clean_env(tmp_path, **server.environment(), **settings))
    assert done.returncode == 1 and seconds < 60
    line = last_line(done)
    assert line.startswith("Error: run setup: ")
    for variable, (_, message) in wrong.items():
        assert message in line, variable
    assert "Traceback" not in done.stderr
    assert server.api.api_calls == 0 and server.api.token_requests == 0
    assert not (tmp_path / "analytics.duckdb").exists()


@pytest.mark.parametrize(
    "variable, value, message",
    [
        ("L2C_RECONCILE_NOW", "maybe", "L2C_RECONCILE_NOW must be 1 or 0"),
        ("SF_TIMEOUT_SECONDS", "-3", "SF_TIMEOUT_SECONDS must be a number of seconds above 0"),
    ],
)
def test_an_on_off_or_timeout_setting_out_of_range_is_refused(
    tmp_path, server, variable, value, message
):
    env = clean_env(tmp_path, **server.environment(), **{variable: value})
    done, _ = l2c(tmp_path, env)
    assert done.returncode == 1 and message in last_line(done)
    assert server.api.api_calls == 0


def test_a_wrong_password_is_tried_exactly_once_per_run(tmp_path, server):
    settings = server.environment()
    settings.pop("SF_ACCESS_TOKEN")
    settings["SF_PASSWORD"] = "wrong-password"
    done, seconds = l2c(tmp_path, clean_env(tmp_path, **settings))
    assert done.returncode == 1 and seconds < 30
    assert server.api.token_requests == 1  # not one per object: a real org would lock the user
    assert server.api.api_calls == 0
    line = last_line(done)
    assert "refused the password login" in line and "authentication failure" in line
    assert "SF_PASSWORD" in line
    assert "wrong-password" not in done.stderr + done.stdout
    assert len(done.stderr.splitlines()) < 40, done.stderr


def test_an_untrusted_certificate_is_said_at_once(tmp_path, server):
    settings = server.environment()
    settings.pop("SF_CA_BUNDLE")  # the demo org's CA is not among the system's
    done, seconds = l2c(tmp_path, clean_env(tmp_path, **settings))
    assert done.returncode == 1 and seconds < 30
    line = last_line(done)
    assert "TLS certificate is not trusted" in line and "SF_CA_BUNDLE" in line
    assert server.api.api_calls == 0  # the handshake failed: no call reached the org


def test_a_ca_bundle_without_a_certificate_is_named(tmp_path, server):
    """A CA bundle that is not PEM made every handshake fail, blamed on SF_DOMAIN."""
    bundle = tmp_path / "not-a-bundle.pem"
    bundle.write_text("hello\n", encoding="utf-8")
    settings = {**server.environment(), "SF_CA_BUNDLE": str(bundle)}
    done, _ = l2c(tmp_path, clean_env(tmp_path, **settings))
    assert done.returncode == 1
    assert f"SF_CA_BUNDLE points at {bundle}, which holds no PEM certificate" in last_line(done)
    assert server.api.api_calls == 0


def test_the_api_limit_stops_the_remaining_objects_without_calling(tmp_path, server):
    """The limit is hit part-way through the objects: what was read is kept, no other object
    calls again, and the published analytics file and outputs are not touched."""
    env = clean_env(tmp_path, **server.environment())
    first, _ = l2c(tmp_path, env)
    assert first.returncode == 0, first.stderr
    analytics = tmp_path / "analytics.duckdb"
    report = tmp_path / "outputs" / "report.html"
    published = (analytics.stat().st_mtime_ns, report.stat().st_mtime_ns)

    budget = server.api.api_calls + 10  # the next run may make ten calls
    server.api.daily_api_budget = budget
    server.api.apply({"advance_seconds": 3600, "touch_fraction": 0.05, "seed": 1})
    second, _ = l2c(tmp_path, env)
    assert second.returncode == 1
    assert "API request limit reached" in last_line(second)
    assert second.stderr.count("API request limit reached") == 1  # said once, not per object
    assert "also stopped for the same reason: raw/" in second.stderr
    # Ten calls answered and the one refused: every later object stopped without calling.
    assert server.api.api_calls == budget + 1
    assert (analytics.stat().st_mtime_ns, report.stat().st_mtime_ns) == published
    assert "analytics file and outputs are unchanged" in second.stderr


def test_a_run_stopped_by_sigterm_says_so_keeps_what_it_stored_and_the_next_run_finishes(
    tmp_path, server
):
    """SIGTERM (what `timeout`, systemd and Dagster's run termination send) while the run waits
    on the org: it stops within seconds, says it was interrupted in its last line, publishes
    nothing, and the next run completes the extraction from what was stored."""
    import signal

    from l2c_pipeline.warehouse.duckdb_warehouse import connect

    env = clean_env(tmp_path, **server.environment())
    server.api.add_faults("slow@query_more#2=60")  # the second page of a paged object hangs
    process = subprocess.Popen(
        [sys.executable, "-m", "l2c_pipeline.cli", "run"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while (
            not any(fault["fired"] for fault in server.api.faults.describe())
            and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        assert process.poll() is None, "the run ended before it could be stopped"
        time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        stopped = time.monotonic()
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert time.monotonic() - stopped < 15
    assert process.returncode == 1
    assert "Traceback" not in err and "DagsterExecutionInterruptedError" not in err
    step, message = err.strip().splitlines()[-1].removeprefix("Error: ").split(": ", 1)
    assert step.startswith("raw/") and message.startswith("interrupted (Ctrl-C or a stop signal")
    assert "analytics file and outputs are unchanged" in err
    assert not (tmp_path / "analytics.duckdb").exists()
    interrupted_object = step.removeprefix("raw/")
    con = connect(tmp_path / "warehouse.duckdb")
    try:
        stored = con.execute(f'SELECT count(*) FROM raw."{interrupted_object}"').fetchone()[0]
    finally:
        con.close()
    expected = server.store.row_counts(include_deleted=True)[interrupted_object]
    assert 0 < stored < expected  # the pages committed before the stop are kept

    server.api.faults.clear()
    done, _ = l2c(tmp_path, env)
    assert done.returncode == 0, done.stderr
    con = connect(tmp_path / "warehouse.duckdb")
    try:
        stored = con.execute(f'SELECT count(*) FROM raw."{interrupted_object}"').fetchone()[0]
    finally:
        con.close()
    assert stored == expected
    assert (tmp_path / "analytics.duckdb").exists()


@pytest.mark.parametrize(
    "chain",
    [
        [
            ("DagsterExecutionStepExecutionError", "Error occurred while executing op"),
            ("RuntimeError", "RuntimeError: Query interrupted"),
        ],  # a DuckDB query saw the signal
        [("DagsterExecutionInterruptedError", "")],  # the signal arrived in Python code
        [
            ("DagsterExecutionStepExecutionError", "Error occurred while executing op"),
            ("InterruptException", "_duckdb.InterruptException: INTERRUPT Error: Interrupted!"),
        ],  # DuckDB's own interrupt (con.interrupt())
    ],
)
def test_an_interrupted_step_is_named_as_interrupted_not_by_its_error_class(chain):
    from types import SimpleNamespace

    from dagster._utils.error import SerializableErrorInfo

    from l2c_pipeline.monitoring.alerts import INTERRUPTED, failure_message

    error = None
    for cls_name, message in reversed(chain):
        error = SerializableErrorInfo(message, [], cls_name, cause=error)
    event = SimpleNamespace(
        event_type_value="STEP_FAILURE", step_failure_data=SimpleNamespace(error=error)
    )
    assert failure_message(event) == INTERRUPTED
    error = SerializableErrorInfo("RuntimeError: Query failed: 1 row", [], "RuntimeError")
    event.step_failure_data.error = error
    assert failure_message(event) == "RuntimeError: Query failed: 1 row"


def _step_failure_of(run_query):
    """The failure event Dagster records when `run_query` raises inside a step."""
    from types import SimpleNamespace

    from dagster._utils.error import SerializableErrorInfo, serializable_error_info_from_exc_info

    try:
        run_query()
    except duckdb.Error:
        cause = serializable_error_info_from_exc_info(sys.exc_info())
    error = SerializableErrorInfo(
        "Error occurred while executing op", [], "DagsterExecutionStepExecutionError", cause=cause
    )
    return SimpleNamespace(
        event_type_value="STEP_FAILURE", step_failure_data=SimpleNamespace(error=error)
    )


def test_duckdb_out_of_memory_is_told_as_the_setting_to_raise(monkeypatch):
    from l2c_pipeline.monitoring.alerts import failure_message

    def aggregate_over_the_limit():
        con = duckdb.connect()
        con.execute("SET memory_limit = '20MB'")
        con.execute("SELECT list(range) FROM range(10000000)").fetchall()

    monkeypatch.setenv("L2C_DUCKDB_MEMORY_LIMIT", "20MB")
    message = failure_message(_step_failure_of(aggregate_over_the_limit))
    assert message.startswith("DuckDB ran out of memory (failed to allocate data of size "), message
    assert "L2C_DUCKDB_MEMORY_LIMIT (20MB) is too small" in message
    assert "rolled back" in message
    # DuckDB's own advice is SQL the user cannot type anywhere, and the class name is noise.
    assert "SET threads" not in message and "Exception" not in message


@pytest.mark.skipif(not os.access("/dev/full", os.W_OK), reason="needs Linux's /dev/full")
def test_a_full_disk_is_told_as_such_with_the_file_being_written():
    from l2c_pipeline.monitoring.alerts import failure_message

    def write_to_a_full_disk():
        con = duckdb.connect("/dev/full")  # every write ends with ENOSPC
        con.execute("CREATE TABLE t AS SELECT * FROM range(1000000)")
        con.execute("CHECKPOINT")

    message = failure_message(_step_failure_of(write_to_a_full_disk))
    assert message.startswith("the disk is full writing /dev/full: free space on it"), message
    assert "IOException" not in message


def test_a_spill_that_fills_the_disk_is_told_as_a_full_disk_not_as_memory(tmp_path):
    from l2c_pipeline.monitoring.alerts import failure_message

    def sort_beyond_memory_and_spill_room():
        con = duckdb.connect(str(tmp_path / "spill.duckdb"))
        con.execute("SET memory_limit = '50MB'")
        con.execute("SET threads = 1")
        con.execute("SET max_temp_directory_size = '20MB'")  # as if the disk held no more
        con.execute(
            "CREATE TABLE t AS SELECT range AS a, md5(range::VARCHAR) AS b FROM range(3000000) "
            "ORDER BY b"
        )

    message = failure_message(_step_failure_of(sort_beyond_memory_and_spill_room))
    assert message.startswith("DuckDB could not spill to disk what did not fit"), message
    assert "is full or nearly; free space on it" in message and "PRAGMA" not in message


@pytest.mark.parametrize(
    "variable, value, message",
    [
        ("L2C_ORG_SHAPE", "bogus", "L2C_ORG_SHAPE must be one of standard"),
        (
            "L2C_MAPPING_FILE",
            "{folder}",
            "the mapping file {folder} (L2C_MAPPING_FILE) is a folder",
        ),
        ("L2C_SCHEDULE_CRON", "not-a-cron", "L2C_SCHEDULE_CRON must be a cron expression"),
        ("L2C_SQL_DIR", "{folder}", "L2C_SQL_DIR: {folder} is not a folder of SQL models"),
        ("L2C_HOME", "{file}/home", "L2C_HOME: {file}/home lies under {file}, which is a file"),
    ],
)
def test_a_setting_the_definitions_read_is_one_line_not_a_traceback(
    tmp_path, variable, value, message
):
    """The mapping, the SQL folder and the schedule are read when the pipeline's definitions
    load, before any run: a wrong one printed a 40-line traceback ending in a KeyError."""
    folder, file = tmp_path / "a-folder", tmp_path / "a-file"
    folder.mkdir()
    file.write_text("", encoding="utf-8")
    env = clean_env(tmp_path / "home", L2C_SOURCE="demo", L2C_DEMO_LEADS="20")
    env[variable] = value.format(folder=folder, file=file)
    done, _ = l2c(tmp_path, env)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), done.stderr
    assert message.format(folder=folder, file=file) in lines[0]


def test_salesforce_failing_on_its_side_after_every_retry_is_said_so(tmp_path, server):
    """5xx answers on every try: one sentence saying the org's side fails (not a setting), the
    rows read kept, instead of simple-salesforce's exception and its JSON."""
    server.api.add_faults("500@query#1-400")
    env = clean_env(tmp_path, **server.environment(), SF_MAX_RETRIES="2")
    done, _ = l2c(tmp_path, env)
    assert done.returncode == 1
    line = last_line(done)
    assert "Salesforce answered with a server error (HTTP 500, UNKNOWN_EXCEPTION) 2 times" in line
    assert "SalesforceGeneralError" not in done.stderr and "Traceback" not in done.stderr


def test_a_run_whose_process_was_killed_is_marked_failed_by_the_next(tmp_path):
    """A SIGKILLed `l2c run` (the OOM killer, a reboot) stayed STARTED in Dagster's history for
    ever: the next run marks it failed and says so, once."""
    import signal

    log = Path(__file__).parent / "data" / "running-example.xes"
    env = clean_env(tmp_path / "home", L2C_SOURCE="file", L2C_EVENT_LOG_FILE=str(log))
    killed = subprocess.Popen(
        [sys.executable, "-m", "l2c_pipeline.cli", "run"],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    for line in killed.stderr:  # killed once the graph is running
        if "file_event_log" in line:
            break
    killed.send_signal(signal.SIGKILL)
    killed.wait(30)
    again, _ = l2c(tmp_path, env)
    assert again.returncode == 0, again.stderr
    abandoned = [line for line in again.stderr.splitlines() if "did not finish" in line]
    assert len(abandoned) == 1 and "the run's process ended before the run did" in abandoned[0]
    third, _ = l2c(tmp_path, env)
    assert third.returncode == 0 and "did not finish" not in third.stderr


@pytest.mark.parametrize(
    "settings, message",
    [
        (
            {"L2C_BUSINESS_HOURS": "Mars/Olympus Mon-Fri 09:00-17:00"},
            "L2C_BUSINESS_HOURS: unknown time zone 'Mars/Olympus'",
        ),
        ({"L2C_LOCK_WAIT_SECONDS": "abc"}, "L2C_LOCK_WAIT_SECONDS must be a number of seconds"),
        ({"L2C_DAGSTER_URL": "nonsense"}, "L2C_DAGSTER_URL must be the Dagster UI's http(s)://"),
        (
            {"L2C_ALERT_SMTP_HOST": "mail.example.com", "L2C_ALERT_EMAIL_TO": "ops, a@b.io"},
            "L2C_ALERT_EMAIL_TO must be e-mail addresses such as ops@example.com, got 'ops'",
        ),
        (
            {
                "L2C_ALERT_SMTP_HOST": "mail.example.com",
                "L2C_ALERT_EMAIL_TO": "Ops <ops@example.com>",
                "L2C_ALERT_EMAIL_FROM": "pipeline",
            },
            "L2C_ALERT_EMAIL_FROM must be an e-mail address",
        ),
        (
            {"SF_INSTANCE_URL": "acme.my.salesforce.com"},
            "SF_INSTANCE_URL must be your org's https:// address",
        ),
    ],
)
def test_settings_a_late_step_reads_are_refused_before_any_call(
    tmp_path, server, settings, message
):
    """Before, these passed the run's start: an unknown zone failed after extraction, a bad lock
    wait at the first model, the alert settings never (alerts linked to 'nonsense/runs/...'), and
    an address without https:// was 'cannot reach Salesforce at none'."""
    done, _ = l2c(tmp_path, clean_env(tmp_path, **(server.environment() | settings)))
    assert done.returncode == 1 and message in last_line(done), done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert server.api.api_calls == 0 and server.api.token_requests == 0


def test_an_empty_setting_is_its_default_and_none_writes_no_export(tmp_path, monkeypatch):
    from l2c_pipeline.outputs.assets import export_formats
    from l2c_pipeline.preflight import setting_problems
    from l2c_pipeline.warehouse.duckdb_warehouse import set_memory_limit

    monkeypatch.setenv("L2C_DUCKDB_MEMORY_LIMIT", "")
    monkeypatch.setenv("L2C_EXPORT_FORMATS", " ")
    assert setting_problems(tmp_path / "warehouse.duckdb") == []
    assert export_formats() == ("parquet",)
    with duckdb.connect() as con:
        set_memory_limit(con)
        assert con.execute("SELECT current_setting('memory_limit')").fetchone()[0] in (
            "2.7 GiB",
            "2.8 GiB",
        )
    monkeypatch.setenv("L2C_EXPORT_FORMATS", "none")
    assert export_formats() == ()


def test_a_wrong_explorer_memory_limit_is_one_line(tmp_path):
    env = clean_env(tmp_path, L2C_EXPLORE_MEMORY_LIMIT="lots")
    done, _ = l2c(tmp_path, env, "explore")
    assert done.returncode == 1
    assert last_line(done) == (
        "Error: L2C_EXPLORE_MEMORY_LIMIT must be a size such as 1GB or 800MB, got 'lots'"
    )
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "variable, value, message",
    [
        ("L2C_PROCESS_FILE", "no-such-process.yaml", "(L2C_PROCESS_FILE) does not exist"),
        ("L2C_MAPPING_FILE", "no-such-mapping.yaml", "(L2C_MAPPING_FILE) does not exist"),
        ("L2C_EVENT_LOG_FILE", "no-such-log.csv", "L2C_EVENT_LOG_FILE: "),
    ],
)
def test_a_missing_file_names_its_setting(tmp_path, variable, value, message):
    source = "file" if variable == "L2C_EVENT_LOG_FILE" else "demo"
    env = clean_env(tmp_path, L2C_SOURCE=source, **{variable: str(tmp_path / value)})
    done, _ = l2c(tmp_path, env)
    assert done.returncode == 1 and message in last_line(done), done.stderr[-2000:]
