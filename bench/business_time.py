"""What business time adds to the mining stage: the whole mining + reports stage (SQL models and
the Python steps, pm4py alignments included; not BPMN discovery) with the SQL models of another
commit (default fbcecd0^, the last one before business time) and with this checkout's,
alternately, each run in a fresh child process on the same warehouse.

    .venv/bin/python bench/business_time.py bench/out/wh-10m.duckdb [--before fbcecd0^] [--rounds 2]

The warehouse must hold core.event_log and the staging tables (bench/build_event_log.py). Prints
each round's whole-stage time and, for the steps business time changes, their time on each side.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import subprocess
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The commit that added business time, whose parent is the default "before".
BUSINESS_TIME_ADDED = "fbcecd0"
CHANGED = (
    "mining.business_hours",
    "mining.case_calendars",
    "mining.business_holiday_dates",
    "mining.business_calendar",
    "mining.business_clock_days",
    "mining.approval_waits",
    "mining.milestone_events",
    "mining.stage_visits",
    "reports.process_map_edges",
    "reports.milestone_map_edges",
    "reports.stage_durations",
    "reports.bottlenecks",
    "reports.quote_to_contract",
)


def sql_of(ref: str, into: Path) -> Path:
    """The sql/ folder of a commit, unpacked into a folder."""
    archive = subprocess.run(
        ["git", "archive", ref, "sql"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "sql"


def run_stage(path: str, sql_dir: str | None, queue) -> None:
    from l2c_pipeline.mining.stage import (
        BUSINESS_HOLIDAYS,
        BUSINESS_HOURS,
        CASE_CALENDARS,
        python_steps,
    )
    from l2c_pipeline.mining.target_process import load_target_process
    from l2c_pipeline.models.sql_models import build_model, build_order, discover
    from l2c_pipeline.warehouse.duckdb_warehouse import connect

    con = connect(path)  # as the pipeline opens it (memory limit included)
    models = discover(Path(sql_dir) if sql_dir else None)
    steps = python_steps(load_target_process())
    if "mining.business_calendar" not in {m.table for m in models.values()}:
        # The commit before business time has no business-hours step either.
        skipped = (BUSINESS_HOURS, BUSINESS_HOLIDAYS, CASE_CALENDARS)
        steps = {k: v for k, v in steps.items() if k not in skipped}
    timings = {}
    started = time.monotonic()
    for key in build_order(models, {k: d for k, (d, _) in steps.items()}):
        if key[0] not in ("mining", "reports"):
            continue
        began = time.monotonic()
        if key in models:
            build_model(con, models[key], models)
        elif key in steps:
            steps[key][1](con)
        else:
            continue
        timings[".".join(key)] = time.monotonic() - began
    queue.put({"seconds": time.monotonic() - started, "timings": timings})
    con.close()


def in_child(path: str, sql_dir: str | None) -> dict:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=run_stage, args=(path, sql_dir, queue))
    child.start()
    result = queue.get()
    child.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("warehouse")
    parser.add_argument(
        "--before", default=f"{BUSINESS_TIME_ADDED}^", help="the commit without business time"
    )
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    from l2c_pipeline.warehouse.duckdb_warehouse import connect_read_only

    with connect_read_only(args.warehouse) as con:
        events, cases = con.execute(
            "SELECT count(*), count(DISTINCT case_id) FROM core.event_log"
        ).fetchone()
    print(f"event log: {events:,} events in {cases:,} cases")
    with tempfile.TemporaryDirectory() as folder:
        before_sql = str(sql_of(args.before, Path(folder)))
        runs: dict[str, list[dict]] = {"before": [], "with": []}
        for round_no in range(1, args.rounds + 1):
            for side, sql_dir in (("before", before_sql), ("with", None)):
                result = in_child(args.warehouse, sql_dir)
                runs[side].append(result)
                print(
                    f"round {round_no} {side:<7} whole stage {result['seconds']:6.1f} s", flush=True
                )
    print(f"\n{'step':<30}{'before':>10}{'with':>10}   (median of {args.rounds} rounds, s)")
    for step in CHANGED:
        cells = []
        for side in ("before", "with"):
            times = [r["timings"][step] for r in runs[side] if step in r["timings"]]
            cells.append(f"{statistics.median(times):10.2f}" if times else f"{'-':>10}")
        print(f"{step:<30}{''.join(cells)}")
    whole = {side: statistics.median(r["seconds"] for r in runs[side]) for side in runs}
    changed = {
        side: statistics.median(
            sum(t for s, t in r["timings"].items() if s in CHANGED) for r in runs[side]
        )
        for side in runs
    }
    print(
        f"\nwhole stage: {whole['before']:.1f} s before, {whole['with']:.1f} s with business time "
        f"({whole['with'] - whole['before']:+.1f} s); the steps above: {changed['before']:.1f} s "
        f"-> {changed['with']:.1f} s ({changed['with'] - changed['before']:+.1f} s)"
    )


if __name__ == "__main__":
    main()
