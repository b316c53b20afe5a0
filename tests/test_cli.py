"""The `l2c` command as a user runs it: a separate process, real exit codes."""

from __future__ import annotations

import os
import subprocess
import sys


def run_l2c(*args: str, home) -> subprocess.CompletedProcess:
    env = {**os.environ, "L2C_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "l2c_pipeline.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_demo_round_trip_exits_cleanly(tmp_path):
    result = run_l2c("demo", "--leads", "500", "--seed", "3", home=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "round trip ok" in result.stdout
    lines = [line for line in result.stdout.splitlines() if line.rstrip().endswith(" ok")]
    assert len(lines) == 23  # every object of the catalogue, counted over HTTPS and matching
    assert "Lead records paged over REST: 500; over Bulk API 2.0: 500" in result.stdout


def test_generate_rejects_bad_arguments_with_one_line(tmp_path):
    result = run_l2c(
        "demo-org", "generate", "--leads", "0", "--out", str(tmp_path / "x"), home=tmp_path
    )
    assert result.returncode == 2
    assert "Invalid value for '--leads'" in result.stderr and "Traceback" not in result.stderr


def test_serve_reports_a_broken_snapshot_without_a_traceback(tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "Lead.csv").write_text('"Name"\n"no id column"\n', encoding="utf-8")
    result = run_l2c("demo-org", "serve", "--from", str(folder), home=tmp_path)
    assert result.returncode == 1
    assert "Error: Lead.csv: no Id column" in result.stderr and "Traceback" not in result.stderr


def test_serve_rejects_a_bad_fault_spec(tmp_path, small_org):
    result = run_l2c(
        "demo-org", "serve", "--from", str(small_org), "--faults", "boom@query", home=tmp_path
    )
    assert result.returncode == 1
    assert "unknown kind 'boom'" in result.stderr
