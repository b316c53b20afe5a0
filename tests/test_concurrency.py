"""One run at a time, and readers never break it: two `l2c run`s at once, an analyst's
connection and `l2c export` during a run, a killed publish's leftovers; one source per
warehouse, and `l2c reset` as the way to change it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from l2c_pipeline.warehouse.publish import publish_analytics
from l2c_pipeline.warehouse.run_lock import RunLock, RunLockTimeout

DATA = Path(__file__).parent / "data"


def demo_env(home: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SF_", "L2C_", "DAGSTER_"))}
    return {
        **env,
        "L2C_HOME": str(home),
        "L2C_SOURCE": "demo",
        "L2C_DEMO_LEADS": "300",
        **settings,
    }


def start(folder: Path, env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "l2c_pipeline.cli", *(args or ("run",))],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=300)
    return process.returncode, out, err


def run(folder: Path, env: dict[str, str], *args: str) -> tuple[int, str, str]:
    return finish(start(folder, env, *args))


def wait_for_lock_holder(warehouse: Path, timeout: float = 120) -> dict:
    """The run id written into the warehouse's lock file by the run holding it."""
    lock = warehouse.with_name(warehouse.name + ".lock")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            held = json.loads(lock.read_text() or "{}")
        except (OSError, ValueError):
            held = {}
        if held.get("run_id"):
            return held
        time.sleep(0.1)
    raise AssertionError("no run took the warehouse's run lock")


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """A demo warehouse built once (the demo org generated, everything published)."""
    folder = tmp_path_factory.mktemp("concurrency")
    code, _, err = run(folder, demo_env(folder))
    assert code == 0, err
    return folder


def test_two_runs_at_once_both_finish_one_after_the_other(home, tmp_path):
    warehouse = home / "warehouse.duckdb"
    # The first with its own DAGSTER_HOME, the second without: the lock holds either way.
    dagster_home = tmp_path / "dagster-home"
    dagster_home.mkdir()
    first = start(home, demo_env(home, DAGSTER_HOME=str(dagster_home)))
    holder = wait_for_lock_holder(warehouse)
    second = start(home, demo_env(home))
    first_code, _, first_err = finish(first)
    second_code, _, second_err = finish(second)
    assert first_code == 0, first_err
    assert second_code == 0, second_err
    assert f"run {holder['run_id']}" in second_err and "waiting for it to finish" in second_err
    with duckdb.connect(str(warehouse), read_only=True) as con:
        runs = con.execute(
            # An object the org lacks (a single-currency org's CurrencyType) is skipped, not failed.
            "SELECT run_id, min(started_at), max(finished_at), "
            "count(*) FILTER (WHERE status NOT IN ('synced', 'skipped')) "
            "FROM meta.sync_log GROUP BY run_id ORDER BY 2 DESC LIMIT 2"
        ).fetchall()
    (later, later_start, _, later_bad), (earlier, _, earlier_end, earlier_bad) = runs
    assert earlier == holder["run_id"] and later_bad == earlier_bad == 0
    assert later_start >= earlier_end  # the second synced only after the first had finished


def test_readers_of_the_analytics_file_and_export_never_break_a_run(home, tmp_path):
    analytics = home / "analytics.duckdb"
    warehouse = home / "warehouse.duckdb"
    analyst = duckdb.connect(str(analytics), read_only=True)  # open all through the run
    before = analyst.execute("SELECT count(*) FROM core.event_log").fetchone()[0]
    # Someone has the warehouse itself open when the run starts: the run waits for them.
    intruder = duckdb.connect(str(warehouse), read_only=True)
    running = start(home, demo_env(home, L2C_LOCK_WAIT_SECONDS="60"))
    wait_for_lock_holder(warehouse)
    exported = subprocess.run(
        [
            sys.executable,
            "-m",
            "l2c_pipeline.cli",
            "export",
            "--format",
            "csv",
            "--out",
            str(tmp_path),
        ],
        cwd=home,
        env=demo_env(home),
        capture_output=True,
        text=True,
        timeout=300,
    )
    time.sleep(15)  # the run's first step reaches the warehouse within this and waits
    intruder.close()
    # Once the run has the warehouse it keeps it to its end: a later intruder is refused at
    # once by DuckDB and can no longer hold up one of the run's steps.
    refused = None
    while refused is None and running.poll() is None:
        try:
            duckdb.connect(str(warehouse), read_only=True).close()
            time.sleep(0.05)
        except duckdb.IOException as error:
            refused = str(error)
    code, _, err = finish(running)
    assert code == 0, err
    assert exported.returncode == 0, exported.stderr
    exported_rows = duckdb.execute(
        "SELECT count(*) FROM read_csv(?)", [str(tmp_path / "event_log.csv")]
    ).fetchone()[0]
    assert exported_rows == before  # the export read the published file
    assert analyst.execute("SELECT count(*) FROM core.event_log").fetchone()[0] == before
    analyst.close()
    assert "is locked by another process" in err  # it waited for the first intruder
    assert refused is not None and "lock" in refused.lower()


def test_a_second_lock_waits_its_bounded_time_then_names_the_holder(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    holder = RunLock(warehouse)
    holder.acquire("first-run", wait_seconds=0)
    said = []
    try:
        with pytest.raises(RunLockTimeout, match="run first-run .* is writing the warehouse"):
            RunLock(warehouse).acquire(
                "second", wait_seconds=1.5, say=said.append, poll_seconds=0.1
            )
    finally:
        holder.release()
    assert len(said) == 1 and "waiting for it to finish" in said[0]
    again = RunLock(warehouse)
    again.acquire("third", wait_seconds=0)  # released: free at once
    again.release()


def test_a_run_that_will_not_wait_names_the_run_holding_the_warehouse(tmp_path):
    holder = RunLock(tmp_path / "warehouse.duckdb")
    holder.acquire("nightly-run-1", wait_seconds=0)
    try:
        code, _, err = run(tmp_path, demo_env(tmp_path, L2C_RUN_WAIT_MINUTES="0"))
        reset_code, _, reset_err = run(tmp_path, demo_env(tmp_path), "reset", "--yes")
    finally:
        holder.release()
    assert code == 1
    last = err.strip().splitlines()[-1]
    assert last.startswith("Error: run setup: run nightly-run-1 (pid ")
    assert "is writing the warehouse" in last and "stops without changing anything" in last
    assert not (tmp_path / "warehouse.duckdb").exists()  # nothing was written
    assert reset_code == 0 and "nothing to reset" in reset_err + _  # no warehouse yet


def test_a_killed_publish_leaves_nothing_behind_after_the_next(tmp_path):
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    con.execute("CREATE SCHEMA core; CREATE TABLE core.t AS SELECT 1 AS x")
    target = tmp_path / "analytics.duckdb"
    # What a publish killed part-way leaves: its staging file and WAL, named by a dead pid.
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    pid = int(dead.stdout)
    leftovers = [
        tmp_path / f".analytics.duckdb.{pid}.publishing",
        tmp_path / f".analytics.duckdb.{pid}.publishing.wal",
    ]
    for leftover in leftovers:
        leftover.write_bytes(b"x" * 1024)
    publish_analytics(con, target, schemas=("core",))
    con.close()
    assert not any(leftover.exists() for leftover in leftovers)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["analytics.duckdb", "warehouse.duckdb"]


def test_one_source_per_warehouse_and_reset_to_change_it(tmp_path):
    home = tmp_path
    code, _, err = run(home, demo_env(home))
    assert code == 0, err
    log = str(DATA / "running-example.xes")
    file_env = demo_env(home, L2C_SOURCE="file", L2C_EVENT_LOG_FILE=log)
    code, _, err = run(home, file_env)
    assert code == 1
    last = err.strip().splitlines()[-1]
    assert "holds the records of demo org" in last and "running-example.xes" in last
    assert "`l2c reset`" in last
    code, out, err = run(home, file_env, "reset")  # not a terminal and no --yes: refused
    assert code == 1 and "confirm with --yes" in err
    assert (home / "warehouse.duckdb").exists()
    code, out, err = run(home, file_env, "reset", "--yes")
    assert code == 0 and "removed" in out, err
    assert not (home / "warehouse.models.duckdb").exists()  # the KPI history went with it
    code, _, err = run(home, file_env)
    assert code == 0, err
    # And back: the org is refused while the warehouse holds the file's log.
    code, _, err = run(home, demo_env(home))
    assert code == 1
    assert "holds the event log loaded from the file" in err.strip().splitlines()[-1]
    # The warehouse removed by hand: its models file (the file's KPI history) is not adopted by
    # the next source, and reset removes what is left.
    (home / "warehouse.duckdb").unlink()
    code, _, err = run(home, demo_env(home))
    assert code == 1 and not (home / "warehouse.duckdb").exists()
    assert "of a warehouse that is gone" in err and "`l2c reset --yes`" in err
    code, out, err = run(home, demo_env(home), "reset", "--yes")
    assert code == 0 and "removed" in out, err
    assert not (home / "warehouse.models.duckdb").exists()
