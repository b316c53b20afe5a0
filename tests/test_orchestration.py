"""Dagster wiring: assets, groups, the writer pool, the nightly schedule, the instance config, `l2c run`."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from dagster import AssetKey, DagsterInstance
from dagster._core.instance.ref import InstanceRef

from l2c_pipeline.mapping.load import load_mapping, shape_file
from l2c_pipeline.monitoring.drift import KPIS, SEGMENT_KPIS
from l2c_pipeline.warehouse.duckdb_warehouse import connect_read_only

# The code location's default: the standard shape's mapping and demo org.
DEFAULT_OBJECTS = load_mapping(shape_file("standard")).objects

ROOT = Path(__file__).resolve().parents[1]


def l2c_run(folder: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`l2c run` as a user runs it, in `folder`: a separate process, real exit code."""
    return subprocess.run(
        [sys.executable, "-m", "l2c_pipeline.cli", "run"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def load_definitions(monkeypatch, **env: str):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    import l2c_pipeline.definitions as definitions

    return importlib.reload(definitions)


def test_one_raw_asset_per_object_in_the_writer_pool(monkeypatch):
    definitions = load_definitions(monkeypatch)
    for name in DEFAULT_OBJECTS:
        asset = definitions.defs.get_assets_def(AssetKey(["raw", name]))
        assert asset.group_names_by_key[AssetKey(["raw", name])] == "salesforce_raw"
        assert asset.op.pool == "duckdb_writer"
        assert asset.descriptions_by_key[AssetKey(["raw", name])]


def test_nightly_schedule_runs_the_whole_graph_at_two_utc_unless_configured(monkeypatch):
    monkeypatch.delenv("L2C_SCHEDULE_CRON", raising=False)
    definitions = load_definitions(monkeypatch)
    schedule = definitions.defs.get_schedule_def("l2c_nightly_schedule")
    assert schedule.cron_schedule == "0 2 * * *" and schedule.execution_timezone == "UTC"
    assert schedule.job_name == "l2c_nightly"
    configured = load_definitions(monkeypatch, L2C_SCHEDULE_CRON="30 4 * * 1-5")
    assert configured.defs.get_schedule_def("l2c_nightly_schedule").cron_schedule == "30 4 * * 1-5"
    # On as soon as a daemon serves the code, unless told otherwise.
    from dagster import DefaultScheduleStatus

    monkeypatch.delenv("L2C_SCHEDULE", raising=False)
    assert schedule.default_status == DefaultScheduleStatus.RUNNING
    off = load_definitions(monkeypatch, L2C_SCHEDULE="off").defs
    assert off.get_schedule_def("l2c_nightly_schedule").default_status == (
        DefaultScheduleStatus.STOPPED
    )
    with pytest.raises(ValueError, match="L2C_SCHEDULE must be 'on' or 'off', got 'sometimes'"):
        load_definitions(monkeypatch, L2C_SCHEDULE="sometimes")


def test_dagster_yaml_keeps_one_writer_and_persistent_history(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    with DagsterInstance.from_ref(
        InstanceRef.from_dir(str(tmp_path), config_dir=str(ROOT))
    ) as instance:
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
        # Run history goes under the repo's .l2c/dagster even when DAGSTER_HOME is a temporary folder.
        assert (
            instance.run_storage._conn_string
            == f"sqlite:///{Path.cwd() / '.l2c/dagster/storage/history/runs.db'}"
        )
        # The event log keeps its connections open; its files are where Dagster's `storage:
        # sqlite:` layout puts them, so history written before is read on.
        events = instance.event_log_storage
        assert type(events).__name__ == "KeptOpenSqliteEventLogStorage"
        assert Path(events._base_dir) == Path.cwd() / ".l2c/dagster/storage/history/runs"
        assert Path(instance.schedule_storage._conn_string.removeprefix("sqlite:///")) == (
            Path.cwd() / ".l2c/dagster/storage/schedules/schedules.db"
        )


def test_l2c_run_exits_non_zero_with_a_clear_message(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SF_")}
    env.update(L2C_SOURCE="salesforce", L2C_HOME=str(tmp_path))
    result = l2c_run(tmp_path, env)
    assert result.returncode == 1
    assert "no complete Salesforce login in the environment" in result.stderr
    assert "run " in result.stderr and "failed" in result.stderr


def test_l2c_run_on_the_demo_source_twice_is_incremental(tmp_path):
    env = {**os.environ, "L2C_SOURCE": "demo", "L2C_HOME": str(tmp_path), "L2C_DEMO_LEADS": "300"}
    for attempt in range(2):
        result = l2c_run(tmp_path, env)
        assert result.returncode == 0, result.stderr[-2000:]
        synced = [
            line.split() for line in result.stdout.splitlines() if line.rstrip().endswith(" synced")
        ]
        skipped = [
            line.split()[0]
            for line in result.stdout.splitlines()
            if line.rstrip().endswith(" skipped")
        ]
        # A single-currency org has no currency objects: skipped, as any optional object it lacks.
        assert sorted(skipped) == ["CurrencyType", "DatedConversionRate"]
        assert len(synced) + len(skipped) == len(DEFAULT_OBJECTS)
        new_rows = sum(int(row[3].replace(",", "")) for row in synced)
        assert (new_rows > 1000) if attempt == 0 else (new_rows == 0)
    # Another org (here a demo org of another size) is refused before anything is written.
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        leads_before = con.execute('SELECT count(*) FROM raw."Lead"').fetchone()[0]
    other = l2c_run(tmp_path, {**env, "L2C_DEMO_LEADS": "200"})
    assert other.returncode == 1
    last = other.stderr.strip().splitlines()[-1]
    assert last.startswith(
        f"Error: meta/source: the warehouse {tmp_path / 'warehouse.duckdb'} holds the records of "
        "demo org 'Demo org (standard, 300 leads, seed 42)'"
    )
    assert "'Demo org (standard, 200 leads, seed 42)'" in last and "`l2c reset`" in last
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute('SELECT count(*) FROM raw."Lead"').fetchone()[0] == leads_before


def test_whole_graph_runs_and_the_event_log_checks_pass(monkeypatch, tmp_path):
    definitions = load_definitions(
        monkeypatch,
        L2C_SOURCE="demo",
        L2C_DEMO_LEADS="300",
        L2C_HOME=str(tmp_path),
        L2C_WAREHOUSE=str(tmp_path / "warehouse.duckdb"),
    )
    with DagsterInstance.ephemeral() as instance:
        result = definitions.defs.resolve_job_def("l2c_nightly").execute_in_process(
            instance=instance
        )
    assert result.success
    materialized = {event.asset_key for event in result.get_asset_materialization_events()}
    assert {
        AssetKey(["core", "event_log"]),
        AssetKey(["core", "cases"]),
        AssetKey(["raw", "Lead"]),
        AssetKey(["reports", "variants"]),
        AssetKey(["mining", "reference_path"]),
        AssetKey(["mining", "case_conformance"]),
        AssetKey(["mining", "process_model"]),
        AssetKey(["reports", "compliance_violations"]),
        AssetKey(["reports", "root_causes"]),
        AssetKey(["analytics_file"]),
    } <= materialized
    outputs = tmp_path / "outputs"
    for name in (
        "process_model.bpmn",
        "process_model.svg",
        "process_map_frequency.svg",
        "process_map_performance.png",
        "process_map_performance.svg",
        "process_map_business.svg",
        "process_map_with_touches_business.png",
        "process_map_with_touches_frequency.png",
        "process_map_with_touches_performance.svg",
        "report.html",
        "event_log.parquet",
    ):
        assert (outputs / name).stat().st_size > 0, name
    assert not (outputs / "event_log.csv").exists()  # the large formats are written on demand
    assert {
        AssetKey(["process_maps"]),
        AssetKey(["html_report"]),
        AssetKey(["event_log_exports"]),
    } <= materialized
    with duckdb.connect(str(tmp_path / "analytics.duckdb"), read_only=True) as analytics:
        for table in ("process_map_edges", "milestone_map_edges", "milestone_map_nodes"):
            assert analytics.execute(f"SELECT count(*) FROM reports.{table}").fetchone()[0] > 0
        history = analytics.execute(
            "SELECT count(*), count(DISTINCT snapshot_date) FROM reports.kpi_history"
        ).fetchone()
        assert history == (10, 1)  # the ten KPIs of reports.kpi_summary
        # Each KPI with a value has the cases behind it and a standard error (this small org
        # has no invoices: its two invoice KPIs have no value).
        precision = analytics.execute(
            "SELECT count(*) FILTER (WHERE value IS NOT NULL), count(*) FILTER (WHERE "
            "value IS NOT NULL AND cases > 0 AND standard_error > 0) FROM reports.kpi_history"
        ).fetchone()
        assert precision == (8, 8)
        # Published with the other reports; empty: one night is too little history to warn.
        assert analytics.execute("SELECT count(*) FROM reports.kpi_alerts").fetchone()[0] == 0
        # The segment snapshot is reports.kpi_segments, row for row.
        assert (
            analytics.execute(
                "SELECT count(*) FROM (SELECT dimension, segment, kpi, value, cases "
                "FROM reports.kpi_segment_history EXCEPT SELECT dimension, segment, kpi, value, cases "
                "FROM reports.kpi_segments)"
            ).fetchone()[0]
            == 0
        )
        assert analytics.execute("SELECT count(*) FROM reports.kpi_segments").fetchone()[0] > 20
    evaluations = result.get_asset_check_evaluations()
    checks = {
        (e.asset_key.to_user_string(), e.check_name): (e.passed, e.metadata) for e in evaluations
    }
    assert all(passed for passed, _ in checks.values())
    names = {name for _, name in checks}
    assert names == {
        "event_log_has_no_missing_values",
        "event_ids_are_unique",
        "no_events_in_the_future",
        "every_case_is_known",
        "every_activity_is_catalogued",
        "freshness_event_log",
        "freshness_sync",
        *(f"kpi_drift_{kpi}" for kpi in KPIS),
        *(f"kpi_drift_{kpi}_segments" for kpi in SEGMENT_KPIS),
    }
    # A freshness check on every raw object, just synced.
    assert {asset for asset, name in checks if name == "freshness_sync"} == {
        key.to_user_string() for key in materialized if key.path[0] == "raw"
    }
    assert checks[("raw/Lead", "freshness_sync")][1]["age_hours"].value < 1
    drift = checks[("reports/kpi_history", "kpi_drift_lead_to_opportunity_conversion")][1]
    assert "too little history" in drift["status"].value
    # The win rate is judged over the last week's closed deals: this small org has too few.
    drift = checks[("reports/kpi_history", "kpi_drift_win_rate")][1]
    assert drift["status"].value.startswith("too few cases: ")
    lag = checks[("core/event_log", "freshness_event_log")][1]
    print(
        "event log lag", lag["lag_hours"].value, lag["org_clock"].value, lag["newest_event"].value
    )


def test_the_file_source_runs_the_same_graph_and_a_bad_file_fails_cleanly(monkeypatch, tmp_path):
    log = tmp_path / "log.csv"
    log.write_text(
        "Opportunity ID,Activity,Event timestamp,Sales rep\n"
        "006A,Opportunity Created,2026-01-05 10:00:00,Ana Lima\n"
        "006A,Quote Created,2026-01-06 10:00:00,Ana Lima\n"
        "006A,Opportunity Closed Won,2026-01-20 10:00:00,Ana Lima\n"
        "006B,Opportunity Created,2026-01-07 10:00:00,Bo Rossi\n"
        "006B,Opportunity Closed Lost,2026-02-01 10:00:00,Bo Rossi\n",
        encoding="utf-8",
    )
    definitions = load_definitions(
        monkeypatch,
        L2C_SOURCE="file",
        L2C_EVENT_LOG_FILE=str(log),
        L2C_HOME=str(tmp_path),
        L2C_WAREHOUSE=str(tmp_path / "warehouse.duckdb"),
    )
    assert not [
        k for k in definitions.defs.resolve_asset_graph().get_all_asset_keys() if k.path[0] == "raw"
    ]
    with DagsterInstance.ephemeral() as instance:
        result = definitions.defs.resolve_job_def("l2c_nightly").execute_in_process(
            instance=instance
        )
    assert result.success
    with duckdb.connect(str(tmp_path / "analytics.duckdb"), read_only=True) as analytics:
        assert analytics.execute("SELECT count(*) FROM core.event_log").fetchone()[0] == 5
        win_rate = analytics.execute(
            "SELECT value FROM reports.kpi_summary WHERE kpi = 'win_rate'"
        ).fetchone()[0]
        assert win_rate == 0.5
    assert (tmp_path / "outputs" / "report.html").exists()

    log.write_text("Opportunity ID,Activity,Event timestamp\n006A,Opportunity Created,someday\n")
    with DagsterInstance.ephemeral() as instance:
        result = definitions.defs.resolve_job_def("l2c_nightly").execute_in_process(
            instance=instance, raise_on_error=False
        )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "line 2, column 'Event timestamp': 'someday' is not a date and time" in (
        failure.step_failure_data.user_failure_data.description
    )
    with connect_read_only(tmp_path / "warehouse.duckdb") as warehouse:
        assert (
            warehouse.execute("SELECT count(*) FROM core.event_log").fetchone()[0] == 5
        )  # unchanged


def test_l2c_run_reports_a_failed_check_and_exits_non_zero(tmp_path):
    # An activity model of the org's own whose events name no known case: the check on
    # core.event_log fails, and the run says so instead of exiting 0 in silence.
    import shutil

    from l2c_pipeline.models.sql_models import default_sql_dir

    sql = tmp_path / "sql"
    shutil.copytree(default_sql_dir(), sql)
    (sql / "activities" / "stray_events.sql").write_text(
        "SELECT 'stray:1' AS event_id, 'no-such-case' AS case_id, 'Call' AS activity,\n"
        "       TIMESTAMP '2025-01-01 10:00:00' AS timestamp, NULL AS resource_id, 'Task' AS object_type,\n"
        "       'none' AS object_id, NULL AS old_value, NULL AS new_value\n",
        encoding="utf-8",
    )
    env = {
        **os.environ,
        "L2C_SOURCE": "demo",
        "L2C_HOME": str(tmp_path),
        "L2C_DEMO_LEADS": "300",
        "L2C_SQL_DIR": str(sql),
        # Every object synced more than 0 hours ago: each freshness check warns.
        "L2C_FRESHNESS_HOURS": "0",
    }
    result = l2c_run(tmp_path, env)
    assert result.returncode == 1, result.stderr[-2000:]
    assert (
        "CHECK FAILED core/event_log every_case_is_known: cases_missing_from_core_cases=1"
        in result.stderr
    )
    # Warnings are listed with their one-line cause (the check's own sentence) but do not fail.
    warnings = [line for line in result.stderr.splitlines() if "CHECK WARNING" in line]
    assert any(
        re.search(
            r"CHECK WARNING raw/Opportunity freshness_sync: raw\.Opportunity was last synced "
            r"[0-9.]+ hours ago \(.+\), more than L2C_FRESHNESS_HOURS=0$",
            line,
        )
        for line in warnings
    ), warnings
    assert "failed" in result.stderr.splitlines()[-1]
