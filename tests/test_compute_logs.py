"""The processes that mirror a run's output to the terminal ignore Ctrl-C, so that the terminal's
interrupt reaches the run alone (which prints one line), not them (which printed tracebacks)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dagster._core.storage.local_compute_log_manager import LocalComputeLogManager

from l2c_pipeline.compute_logs import QuietLocalComputeLogManager

ROOT = Path(__file__).resolve().parents[1]


def _children() -> dict[int, str]:
    """This process's children: pid -> command line."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        parent = next(line for line in status.splitlines() if line.startswith("PPid:"))
        if int(parent.split()[1]) == os.getpid():
            found[int(entry.name)] = command
    return found


def _ignores_sigint(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status").read_text()
    mask = next(line for line in status.splitlines() if line.startswith("SigIgn:"))
    return bool(int(mask.split()[1], 16) & (1 << (signal.SIGINT - 1)))


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc (Linux)")
@pytest.mark.parametrize(
    "manager_class, ignored", [(QuietLocalComputeLogManager, True), (LocalComputeLogManager, False)]
)
def test_the_mirroring_processes_ignore_ctrl_c_and_the_run_does_not(
    tmp_path, manager_class, ignored
):
    # Dagster's own manager is the control: its processes take Ctrl-C (and printed tracebacks).
    if shutil.which("tail") is None:
        pytest.skip("no tail")
    handler = signal.getsignal(signal.SIGINT)
    manager = manager_class(str(tmp_path))
    before = set(_children())
    with manager.capture_logs(["run", "step"]):
        # A tail and a watcher for stdout and for stderr; looked for again for a few seconds,
        # in case one is not listed under /proc yet.
        deadline = time.monotonic() + 10
        while True:
            started = {
                pid: command
                for pid, command in _children().items()
                if pid not in before
                and (command.startswith("tail -F") or "watch_orphans.py" in command)
            }
            if len(started) == 4 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert sum(command.startswith("tail -F") for command in started.values()) == 2, started
        assert len(started) >= 3, started
        ignoring = {pid: _ignores_sigint(pid) for pid in started if Path(f"/proc/{pid}").exists()}
        assert len(ignoring) >= 3 and set(ignoring.values()) == {ignored}, ignoring
        assert signal.getsignal(signal.SIGINT) is handler  # this process still takes it
    assert signal.getsignal(signal.SIGINT) is handler


def test_l2c_run_uses_it_with_or_without_the_repository_settings(tmp_path):
    """Both instances `l2c run` makes: from the repository's dagster.yaml, and without one."""
    script = (
        "from l2c_pipeline.cli import _dagster_instance\n"
        "with _dagster_instance() as instance:\n"
        "    print(type(instance.compute_log_manager).__name__)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    with_yaml = tmp_path / "repository"
    with_yaml.mkdir()
    shutil.copy(ROOT / "dagster.yaml", with_yaml / "dagster.yaml")
    without_yaml = tmp_path / "elsewhere"
    without_yaml.mkdir()
    for cwd in (with_yaml, without_yaml):
        shown = subprocess.run(
            [sys.executable, "-c", script],
            cwd=cwd,
            env=env | {"L2C_HOME": str(cwd / "home")},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        assert shown[-1] == "QuietLocalComputeLogManager", cwd
