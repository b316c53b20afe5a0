"""`l2c demo-org generate`: writes a demo org snapshot as Data Loader-style CSV files.

Leads are split into blocks of consecutive creation time. Each block is simulated on its own
(seeded by seed and block number, ids from its own number range), written to part files, and
the parts are concatenated in block order. Memory stays bounded by one block per worker, and
the files are byte-identical for a seed whatever the number of workers.

A living org: the leads are spread over a generation window that ends at the horizon (by
default the snapshot time itself), and a snapshot at `as_of` before the horizon holds what had
happened by then. For the same seed, size and horizon, the snapshot at a later time is what the
earlier one became (simulate.py): records nobody touched in between are identical, changed ones
carry the change's LastModifiedDate and SystemModstamp, new ones appear with a SystemModstamp
after the earlier snapshot. So a demo org advances day by day by generating it again at the
next day, and a replica catches up by SystemModstamp exactly as from a real org.
"""

from __future__ import annotations

import csv
import json
import math
import multiprocessing
import os
import shutil
import time
import zlib
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from .calendar import (
    business_hours_records,
    calendar_summary,
    holiday_records,
    organization_record,
)
from .catalogue import DEFAULT_SHAPE, SObject, objects_for
from .currencies import (
    CORPORATE,
    CURRENCIES,
    currency_type_records,
    dated_rate_records,
    localise,
)
from .ids import make_id
from .shapes import SHAPE_RULES
from .simulate import DAY, DRIFT_KINDS, BlockSimulation, Drift, Plant
from .truths import planted_truths
from .world import World, build_world

BLOCK_SIZE = 5000
HISTORY_DAYS = 730
DEFAULT_AS_OF = "2026-10-31T18:00:00Z"
EXPECTED_LOG = "expected_event_log.csv"
EXPECTED_AMOUNTS = "expected_amounts.csv"
EXPECTED_AMOUNTS_HEADER = (
    "object",
    "record_id",
    "currency",
    "amount",
    "conversion_rate",
    "corporate_amount",
)
EXPECTED_LOG_HEADER = (
    "case_id",
    "activity",
    "timestamp",
    "object_type",
    "object_id",
    "resource_id",
)
MAX_LEADS = 2_000_000  # 2M leads: about 19M events, 28M records


class DatetimeFormatter:
    """Formats epoch seconds as Data Loader datetimes (2025-03-01T14:05:00.000Z), fast."""

    def __init__(self) -> None:
        self._days: dict[int, str] = {}

    def day(self, ts: int) -> str:
        day = ts // DAY
        text = self._days.get(day)
        if text is None:
            text = self._days[day] = time.strftime("%Y-%m-%d", time.gmtime(day * DAY))
        return text

    def datetime(self, ts: int) -> str:
        seconds = ts % DAY
        hours, rest = divmod(seconds, 3600)
        return f"{self.day(ts)}T{hours:02d}:{rest // 60:02d}:{rest % 60:02d}.000Z"


def _converters(sobject: SObject, fmt: DatetimeFormatter) -> list[Callable]:
    def number(value) -> str:
        text = f"{value:.4f}".rstrip("0").rstrip(".")
        return "0" if text in ("", "-0") else text

    by_type: dict[str, Callable] = {
        "datetime": fmt.datetime,
        "date": fmt.day,
        "boolean": lambda v: "true" if v else "false",
        "currency": lambda v: f"{v:.2f}",
        "double": number,
        "percent": number,
        "int": lambda v: str(int(v)),
    }
    return [by_type.get(f.type, str) for f in sobject.fields]


def _write_rows(writer, sobject: SObject, rows: list[dict], converters: list[Callable]) -> None:
    names = sobject.field_names
    for row in rows:
        writer.writerow(
            [
                "" if (value := row.get(name)) is None else convert(value)
                for name, convert in zip(names, converters)
            ]
        )


def _open_csv(path: Path):
    handle = open(path, "w", newline="", encoding="utf-8")  # noqa: SIM115 - the caller closes it
    return handle, csv.writer(handle, quoting=csv.QUOTE_ALL, lineterminator="\n")


def demo_organization(shape: str, leads: int, seed: int) -> dict:
    """The demo org's own record: one id per shape, size and seed, so a warehouse can tell two
    demo orgs apart as it tells two real orgs apart."""
    return {
        "Id": make_id("00D", zlib.crc32(f"{shape}/{leads}/{seed}".encode())),
        "Name": f"Demo org ({shape}, {leads:,} leads, seed {seed})",
    }


def parse_as_of(text: str) -> int:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def parse_drift(text: str) -> Drift:
    """A planted drift, `approval_slowdown=3@2026-11-15` (kind=factor@onset day, UTC); a wrong
    one raises ValueError in one line."""
    kind, _, rest = text.partition("=")
    factor, _, onset = rest.partition("@")
    kind = kind.strip()
    if kind not in DRIFT_KINDS or not factor or not onset:
        raise ValueError(
            f"--drift must be KIND=FACTOR@DAY with KIND one of {', '.join(DRIFT_KINDS)} "
            f"(e.g. approval_slowdown=3@2026-11-15), got {text!r}"
        )
    try:
        value = float(factor)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"--drift's factor must be a number above 0, got {factor!r}")
    try:
        start = parse_as_of(onset.strip() if "T" in onset else f"{onset.strip()}T00:00:00Z")
    except ValueError:
        raise ValueError(f"--drift's onset must be a day like 2026-11-15, got {onset!r}") from None
    return Drift(kind, value, start)


def _block_plan(
    leads: int, horizon: int, history_days: int = HISTORY_DAYS
) -> list[tuple[int, int, int, int]]:
    """(block number, lead count, start, end) for each block of consecutive creation times over
    the generation window (the history_days before the horizon)."""
    blocks = max(1, math.ceil(leads / BLOCK_SIZE))
    start = horizon - history_days * DAY
    span = history_days * DAY
    plan = []
    for index in range(blocks):
        count = leads // blocks + (1 if index < leads % blocks else 0)
        plan.append(
            (index + 1, count, start + span * index // blocks, start + span * (index + 1) // blocks)
        )
    return plan


# Worker state, set once per process by _init_worker (the world is the same for all blocks).
_WORKER: dict = {}


def _init_worker(
    seed: int,
    leads: int,
    as_of: int,
    plant: Plant,
    parts: str,
    shape: str = DEFAULT_SHAPE,
    horizon: int | None = None,
    drift: Drift | None = None,
    history_days: int = HISTORY_DAYS,
) -> None:
    horizon = horizon or as_of
    created = horizon - history_days * DAY - 30 * DAY
    _WORKER.update(
        world=build_world(seed, leads, created, shape),
        world_created=created,
        seed=seed,
        as_of=as_of,
        horizon=horizon,
        drift=drift,
        plant=plant,
        parts=Path(parts),
        shape=shape,
    )


def _simulate_block(task: tuple[int, int, int, int]) -> tuple[int, dict[str, int], int]:
    block_no, count, start, end = task
    world: World = _WORKER["world"]
    simulation = BlockSimulation(
        world,
        _WORKER["plant"],
        block_no,
        _WORKER["as_of"],
        _WORKER["seed"],
        _WORKER["shape"],
        horizon=_WORKER["horizon"],
        drift=_WORKER["drift"],
    )
    lead_times = [simulation.rng.randrange(start, end) for _ in range(count)]
    simulation.run(lead_times, start, end)

    fmt = DatetimeFormatter()
    parts: Path = _WORKER["parts"]
    if SHAPE_RULES[_WORKER["shape"]].currencies:
        # The records in their customers' currencies; the simulation itself stays corporate.
        expected = localise(simulation.rows, _WORKER["world_created"], _WORKER["horizon"])
        handle, writer = _open_csv(parts / f"{EXPECTED_AMOUNTS}.{block_no:06d}")
        with handle:
            for obj, record_id, currency, amount, rate, corporate in expected:
                writer.writerow(
                    (obj, record_id, currency, repr(amount), repr(rate), repr(corporate))
                )
    counts = {}
    for sobject in objects_for(_WORKER["shape"]):
        rows = simulation.rows[sobject.name]
        counts[sobject.name] = len(rows)
        if not rows:
            continue
        handle, writer = _open_csv(parts / f"{sobject.name}.{block_no:06d}")
        with handle:
            _write_rows(writer, sobject, rows, _converters(sobject, fmt))
    simulation.events.sort(key=lambda e: (e[0], e[2]))
    handle, writer = _open_csv(parts / f"{EXPECTED_LOG}.{block_no:06d}")
    with handle:
        for case_id, activity, ts, object_type, object_id, resource in simulation.events:
            writer.writerow((case_id, activity, fmt.datetime(ts), object_type, object_id, resource))
    return block_no, counts, len(simulation.events)


def generate(
    out: Path,
    *,
    leads: int,
    seed: int,
    as_of: str = DEFAULT_AS_OF,
    workers: int | None = None,
    plant: Plant | None = None,
    progress: Callable[[str], None] | None = None,
    shape: str = DEFAULT_SHAPE,
    horizon: str | None = None,
    drift: Drift | str | None = None,
    history_days: int = HISTORY_DAYS,
) -> dict:
    """Write the org snapshot of the shape (standard, cpq_billing or custom), truths.json,
    expected_event_log.csv and org.json into `out`: the org as of `as_of` of an org generated
    up to `horizon` (default: as_of), with the planted drift if any."""
    if not 1 <= leads <= MAX_LEADS:
        raise ValueError(f"--leads must be between 1 and {MAX_LEADS:,}, got {leads:,}")
    objects = objects_for(shape)
    plant = plant or Plant()
    as_of_ts = parse_as_of(as_of)
    horizon = horizon or as_of
    horizon_ts = parse_as_of(horizon)
    if as_of_ts > horizon_ts:
        raise ValueError(f"--as-of ({as_of}) must not be after the horizon ({horizon})")
    if isinstance(drift, str):
        drift = parse_drift(drift)
    if not isinstance(history_days, int) or not 30 <= history_days <= 3650:
        raise ValueError(f"--history-days must be from 30 to 3650, got {history_days!r}")
    out.mkdir(parents=True, exist_ok=True)
    parts = out / ".parts"
    shutil.rmtree(parts, ignore_errors=True)
    parts.mkdir()
    plan = _block_plan(leads, horizon_ts, history_days)
    workers = max(1, min(workers or os.cpu_count() or 1, len(plan)))
    say = progress or (lambda message: None)
    started = time.monotonic()

    _init_worker(seed, leads, as_of_ts, plant, str(parts), shape, horizon_ts, drift, history_days)
    world: World = _WORKER["world"]
    totals = {o.name: 0 for o in objects}
    event_count = 0
    done = 0

    def record(result: tuple[int, dict[str, int], int]) -> None:
        nonlocal event_count, done
        _, counts, events = result
        for name, count in counts.items():
            totals[name] += count
        event_count += events
        done += 1
        if done == len(plan) or done % max(1, len(plan) // 20) == 0:
            leads_done = sum(p[1] for p in plan[:done])
            say(
                f"simulated {done}/{len(plan)} blocks ({leads_done:,} leads) in {time.monotonic() - started:.0f}s"
            )

    if workers == 1:
        for task in plan:
            record(_simulate_block(task))
    else:
        # Spawned, never forked: a process with threads (a test session, Dagster, a DuckDB
        # connection) can hold a lock at the moment of a fork, and the forked worker then waits
        # for it for ever (and its parent for the worker, at exit).
        context = multiprocessing.get_context("spawn")
        with context.Pool(
            workers,
            _init_worker,
            (seed, leads, as_of_ts, plant, str(parts), shape, horizon_ts, drift, history_days),
        ) as pool:
            for result in pool.imap(_simulate_block, plan):
                record(result)
            # Every block is done: the workers end on their own (close, then join), not by the
            # SIGTERM that leaving the block sends them: a graceful end needs no signal delivered.
            pool.close()
            pool.join()

    # The world's own records (users, roles, products) come first in their files.
    fmt = DatetimeFormatter()
    # The org's own set-up (holidays, rates) is there from the start up to the horizon: a later
    # snapshot finds nothing new in it that an incremental extraction could miss.
    world_created = horizon_ts - history_days * DAY - 30 * DAY
    organization = demo_organization(shape, leads, seed)
    holidays = holiday_records(world_created, horizon_ts, world.integration_user_id)
    world_rows = {
        "UserRole": world.roles,
        "User": world.users,
        "Product2": world.products,
        "Organization": [
            organization_record(organization, world_created, world.integration_user_id)
        ],
        "BusinessHours": business_hours_records(world_created, world.integration_user_id),
        "Holiday": holidays,
    }
    if SHAPE_RULES[shape].currencies:
        world_rows["CurrencyType"] = currency_type_records(world_created, world.integration_user_id)
        world_rows["DatedConversionRate"] = dated_rate_records(
            world_created, horizon_ts, world.integration_user_id
        )
    # Each file is written under a temporary name and renamed into place when complete, and
    # org.json comes last: a reader never sees a half-written snapshot.
    (out / "org.json").unlink(missing_ok=True)
    for sobject in objects:
        final = out / f"{sobject.name}.csv"
        handle, writer = _open_csv(parts / final.name)
        with handle:
            writer.writerow(sobject.field_names)
            if sobject.name in world_rows:
                _write_rows(writer, sobject, world_rows[sobject.name], _converters(sobject, fmt))
                totals[sobject.name] += len(world_rows[sobject.name])
            _append_parts(handle, parts, sobject.name, plan)
        (parts / final.name).replace(final)
    handle, writer = _open_csv(parts / EXPECTED_LOG)
    with handle:
        writer.writerow(EXPECTED_LOG_HEADER)
        _append_parts(handle, parts, EXPECTED_LOG, plan)
    (parts / EXPECTED_LOG).replace(out / EXPECTED_LOG)
    if SHAPE_RULES[shape].currencies:
        handle, writer = _open_csv(parts / EXPECTED_AMOUNTS)
        with handle:
            writer.writerow(EXPECTED_AMOUNTS_HEADER)
            _append_parts(handle, parts, EXPECTED_AMOUNTS, plan)
        (parts / EXPECTED_AMOUNTS).replace(out / EXPECTED_AMOUNTS)
    else:
        (out / EXPECTED_AMOUNTS).unlink(missing_ok=True)
    shutil.rmtree(parts)

    truths = planted_truths(world, plant, shape)
    # Beside the truths, not among them: a drift is a change over time, not a finding of the
    # whole history (the truths' checks and the explore questions take every truth as one).
    drift_record = _drift_record(drift)
    (out / "truths.json").write_text(
        json.dumps(
            {
                "seed": seed,
                "leads": leads,
                "as_of": as_of,
                "horizon": horizon,
                "drift": drift_record,
                "shape": shape,
                "truths": truths,
            },
            indent=2,
            ensure_ascii=False,
        )
        + "\n",
        encoding="utf-8",
    )
    manifest = {
        "generator": "l2c_pipeline demo org",
        "shape": shape,
        "seed": seed,
        "leads": leads,
        "as_of": as_of,
        "horizon": horizon,
        "history_days": history_days,
        "drift": drift_record,
        "organization": organization,
        "calendar": calendar_summary(holidays),
        "currencies": (
            {"corporate": CORPORATE, "currencies": sorted(CURRENCIES), "dated_rates": "monthly"}
            if SHAPE_RULES[shape].currencies
            else {"corporate": None, "currencies": [], "dated_rates": None}
        ),
        "objects": totals,
        "events": event_count,
        "plant": asdict(plant),
    }
    (out / "org.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    say(
        f"wrote {sum(totals.values()):,} records in {len(objects)} objects ({shape}) and {event_count:,} "
        f"expected events to {out} in {time.monotonic() - started:.0f}s"
    )
    return manifest


def _drift_record(drift: Drift | None) -> dict | None:
    if drift is None:
        return None
    onset = time.strftime("%Y-%m-%d", time.gmtime(drift.onset))
    return {
        "id": f"drift_{drift.kind}",
        "kind": drift.kind,
        "factor": drift.factor,
        "onset": onset,
        "statement": f"Discount approvals requested on or after {onset} take {drift.factor:g} "
        "times as long to be decided (a drift planted in a living demo org).",
        "kpi": "discount_approval_time",
    }


def _append_parts(handle, parts: Path, name: str, plan) -> None:
    handle.flush()
    for block_no, *_ in plan:
        part = parts / f"{name}.{block_no:06d}"
        if part.exists():
            with open(part, encoding="utf-8", newline="") as source:
                shutil.copyfileobj(source, handle, 1 << 20)
