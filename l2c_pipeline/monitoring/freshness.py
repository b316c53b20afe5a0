"""Freshness checks (README, "Monitoring"), WARN only, named freshness_* so they become alerts:

* freshness_sync, on each raw Salesforce object: its last successful sync (meta.sync_log,
  status synced; else meta.sync_state.last_synced_at) is at most L2C_FRESHNESS_HOURS old
  (default 36: one missed nightly run). An object the org lacks passes and says so.
* freshness_event_log, on core.event_log: its newest event is at most L2C_EVENT_LOG_LAG_HOURS
  (default 72) older than the org's clock. The extraction records no server time, so the org's
  clock is the newest sync watermark (meta.sync_state): the SystemModstamp / LastModifiedDate the
  org itself stamped on the last change it was read with. A larger lag means records change in
  the org but no events come of them (a broken mapping, an object no longer synced). With
  L2C_SOURCE=file there is no org clock: the check passes and says so.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from ..environment import number_setting

DEFAULT_FRESHNESS_HOURS = 36.0
DEFAULT_EVENT_LOG_LAG_HOURS = 72.0


def freshness_hours(environ: Mapping[str, str] | None = None) -> float:
    return number_setting(
        "L2C_FRESHNESS_HOURS", DEFAULT_FRESHNESS_HOURS, "a number of hours", environ
    )


def event_log_lag_hours(environ: Mapping[str, str] | None = None) -> float:
    return number_setting(
        "L2C_EVENT_LOG_LAG_HOURS", DEFAULT_EVENT_LOG_LAG_HOURS, "a number of hours", environ
    )


@dataclass(frozen=True)
class Freshness:
    subject: str  # the object, or "core.event_log"
    passed: bool
    description: str
    metadata: dict[str, object]


def _utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _stamp(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else "none"


def sync_freshness(
    con, objects: Iterable[str], max_hours: float, now: datetime | None = None
) -> list[Freshness]:
    """Each object's last successful sync against `max_hours` (UTC timestamps, as stored)."""
    now = now or _utc_now()
    results = []
    for name in objects:
        synced = con.execute(
            "SELECT max(finished_at) FROM meta.sync_log WHERE object_name = ? AND status = 'synced'",
            [name],
        ).fetchone()[0]
        if synced is None:
            synced = con.execute(
                "SELECT last_synced_at FROM meta.sync_state WHERE object_name = ?", [name]
            ).fetchone()
            synced = synced[0] if synced else None
        skipped = con.execute(
            "SELECT status = 'skipped' FROM meta.sync_log WHERE object_name = ? "
            "ORDER BY finished_at DESC LIMIT 1",
            [name],
        ).fetchone()
        rule = f"warn when the last successful sync is more than {max_hours:g} hours old"
        if synced is None:
            absent = bool(skipped and skipped[0])
            results.append(
                Freshness(
                    name,
                    absent,
                    f"raw.{name}: the org has no such object (skipped), nothing to be fresh"
                    if absent
                    else f"raw.{name} has never been synced successfully",
                    {"last_synced_at": "never", "max_age_hours": max_hours, "rule": rule},
                )
            )
            continue
        age = (now - synced).total_seconds() / 3600
        passed = age <= max_hours
        results.append(
            Freshness(
                name,
                passed,
                f"raw.{name} was last synced {age:.1f} hours ago ({_stamp(synced)}), "
                + ("within" if passed else "more than")
                + f" L2C_FRESHNESS_HOURS={max_hours:g}",
                {
                    "last_synced_at": _stamp(synced),
                    "value": round(age, 2),
                    "baseline": max_hours,
                    "age_hours": round(age, 2),
                    "max_age_hours": max_hours,
                    "rule": rule,
                },
            )
        )
    return results


def event_log_freshness(con, max_lag_hours: float, *, file_source: bool) -> Freshness:
    """The event log's newest event against the org's clock (the newest sync watermark)."""
    rule = (
        f"warn when the newest event is more than {max_lag_hours:g} hours older than the org's "
        "clock (the newest sync watermark)"
    )
    newest = con.execute("SELECT max(timestamp) FROM core.event_log").fetchone()[0]
    if file_source:
        return Freshness(
            "core.event_log",
            True,
            "the event log comes from a file (L2C_SOURCE=file): there is no org clock to compare "
            "its newest event with",
            {"newest_event": _stamp(newest), "org_clock": "none: file source", "rule": rule},
        )
    clock = con.execute("SELECT max(watermark) FROM meta.sync_state").fetchone()[0]
    if clock is None or newest is None:
        return Freshness(
            "core.event_log",
            True,
            "no sync watermark or no event yet: nothing to compare",
            {"newest_event": _stamp(newest), "org_clock": _stamp(clock), "rule": rule},
        )
    lag = (clock - newest).total_seconds() / 3600
    passed = lag <= max_lag_hours
    return Freshness(
        "core.event_log",
        passed,
        f"the newest event ({_stamp(newest)}) is {lag:.1f} hours older than the org's newest "
        f"change ({_stamp(clock)}), "
        + ("within" if passed else "more than")
        + f" L2C_EVENT_LOG_LAG_HOURS={max_lag_hours:g}",
        {
            "newest_event": _stamp(newest),
            "org_clock": _stamp(clock),
            "value": round(lag, 2),
            "baseline": max_lag_hours,
            "lag_hours": round(lag, 2),
            "max_lag_hours": max_lag_hours,
            "rule": rule,
        },
    )


def is_file_source(environ: Mapping[str, str] | None = None) -> bool:
    return (os.environ if environ is None else environ).get("L2C_SOURCE") == "file"
