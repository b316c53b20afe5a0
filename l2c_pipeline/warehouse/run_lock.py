"""One run at a time per warehouse: an exclusive lock on a file beside it, held for the run.

Whatever starts a run (`l2c run`, the nightly schedule, the Dagster UI, with or without
DAGSTER_HOME), a second run on the same warehouse waits for the first to finish and then
proceeds, or stops after L2C_RUN_WAIT_MINUTES without touching anything. The lock is the
operating system's (flock): a killed run releases it with its process, so it is never stale.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from ..environment import number_setting

DEFAULT_WAIT_MINUTES = 60.0


class RunLockTimeout(Exception):
    """Another run held the warehouse for longer than this run was willing to wait."""


def wait_minutes() -> float:
    return number_setting("L2C_RUN_WAIT_MINUTES", DEFAULT_WAIT_MINUTES, "a number of minutes")


def lock_path(warehouse: Path) -> Path:
    warehouse = Path(warehouse)
    return warehouse.with_name(warehouse.name + ".lock")


def _holder(descriptor: int) -> str:
    try:
        os.lseek(descriptor, 0, os.SEEK_SET)
        held = json.loads(os.read(descriptor, 4096) or b"{}")
    except (OSError, ValueError):
        held = {}
    if not held:
        return "another run"
    return (
        f"run {held.get('run_id', '?')} (pid {held.get('pid', '?')} on {held.get('host', '?')}, "
        f"started {held.get('started_at', '?')})"
    )


class RunLock:
    def __init__(self, warehouse: Path) -> None:
        self.warehouse = Path(warehouse)
        self.path = lock_path(self.warehouse)
        self._descriptor: int | None = None

    def acquire(
        self,
        run_id: str,
        *,
        wait_seconds: float,
        say: Callable[[str], None] = lambda message: None,
        poll_seconds: float = 1.0,
    ) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + wait_seconds
        told = False
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = _holder(descriptor)
                if time.monotonic() >= deadline:
                    os.close(descriptor)
                    raise RunLockTimeout(
                        f"{holder} is writing the warehouse {self.warehouse}; this run waited "
                        f"{wait_seconds / 60:g} min (L2C_RUN_WAIT_MINUTES) and stops without "
                        "changing anything. Run again when it has finished"
                    ) from None
                if not told:
                    say(
                        f"{holder} is writing the warehouse {self.warehouse}; waiting for it to "
                        f"finish (up to {wait_seconds / 60:g} min, L2C_RUN_WAIT_MINUTES)"
                    )
                    told = True
                time.sleep(poll_seconds)
        held = {
            "run_id": run_id,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, json.dumps(held).encode(), 0)
        self._descriptor = descriptor
        if told:
            say("the other run has finished; this run goes on")

    def release(self) -> None:
        if self._descriptor is None:
            return
        try:
            os.ftruncate(self._descriptor, 0)
            fcntl.flock(self._descriptor, fcntl.LOCK_UN)
        finally:
            os.close(self._descriptor)
            self._descriptor = None
