"""The ledger of sent alerts: a small JSON file beside the warehouse, so each alert reaches each
channel once, whoever delivers it (the Dagster daemon's sensors, `l2c run`, a second try).

Which alerts are "the same" (the README's "Alerts" says it for people):

* a failed run: once per run (key: the job and the run id);
* a failed ERROR check: once per check and UTC day of the evaluation, however many runs that
  day fail it;
* a drift or freshness warning: once per check (and segment, when its metadata names one) while
  it stays open; the first later evaluation in which the check passes closes it, and a failure
  after that is announced anew. A drift still there tomorrow is therefore not announced again.

An entry is written only when its channel accepted the alert: what a channel refused is tried
again at the next delivery. The file is read and written under an exclusive lock (flock on
`<ledger>.lock`), held while the alerts are sent, so two notifiers at once never both send;
it is replaced atomically, so a killed notifier leaves the last whole version.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

# Entries of alerts that are once per run or day are forgotten after this long; open drift and
# freshness entries stay until their check passes.
KEEP_DAYS = 90
LOCK_WAIT_SECONDS = 60.0


class LedgerBusy(Exception):
    """Another notifier held the ledger longer than this one waits."""


def ledger_path(warehouse: Path | str) -> Path:
    warehouse = Path(warehouse)
    return warehouse.with_name(warehouse.name + ".alerts.json")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Ledger:
    """What was sent to which channel. Use `Ledger.open(path)` (a context manager: it holds the
    lock and writes nothing itself; `mark` and `close_open` write as they go)."""

    def __init__(self, path: Path, entries: dict[str, dict], note: str | None = None) -> None:
        self.path = path
        self.entries = entries
        self.note = note  # set when an unreadable ledger was put aside

    @classmethod
    @contextmanager
    def open(cls, path: Path | str, wait_seconds: float = LOCK_WAIT_SECONDS) -> Iterator[Ledger]:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            deadline = time.monotonic() + wait_seconds
            while True:
                try:
                    fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise LedgerBusy(
                            f"another notifier held the alert ledger {path} for {wait_seconds:g} s"
                        ) from None
                    time.sleep(0.2)
            entries, note = _read(path)
            yield cls(path, entries, note)
        finally:
            os.close(descriptor)  # releases the lock

    @staticmethod
    def entry_key(channel: str, key: str) -> str:
        return f"{channel} {key}"

    def has(self, channel: str, key: str) -> bool:
        return self.entry_key(channel, key) in self.entries

    def mark(self, channel: str, key: str, **about) -> None:
        self.entries[self.entry_key(channel, key)] = {"sent_at": _now(), **about}
        self._save()

    def close_open(self, kind: str, subject: str, passed_at: float) -> int:
        """Forget the open entries of a check (any channel, any segment) that passed at
        `passed_at` (seconds since the epoch), when they were seen failing before it."""
        closed = [
            name
            for name, entry in self.entries.items()
            if entry.get("kind") == kind
            and entry.get("open")
            and (
                entry.get("subject") == subject
                or entry.get("subject", "").startswith(subject + " [")
            )
            and float(entry.get("seen_at", 0)) < passed_at
        ]
        for name in closed:
            del self.entries[name]
        if closed:
            self._save()
        return len(closed)

    def _save(self) -> None:
        limit = (datetime.now(UTC) - timedelta(days=KEEP_DAYS)).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.entries = {
            name: entry
            for name, entry in self.entries.items()
            if entry.get("open") or entry.get("sent_at", "") >= limit
        }
        partial = self.path.with_name(f".{self.path.name}.{os.getpid()}.partial")
        partial.write_text(
            json.dumps({"version": 1, "sent": self.entries}, indent=1, sort_keys=True),
            encoding="utf-8",
        )
        os.replace(partial, self.path)


def _read(path: Path) -> tuple[dict[str, dict], str | None]:
    if not path.exists():
        return {}, None
    try:
        held = json.loads(path.read_text(encoding="utf-8"))
        entries = held["sent"]
        if not isinstance(entries, dict):
            raise ValueError("not a mapping")
        return entries, None
    except (OSError, ValueError, KeyError, TypeError):
        aside = path.with_name(path.name + ".unreadable")
        os.replace(path, aside)
        return {}, f"the alert ledger {path} could not be read; it was moved to {aside.name}"
