"""The whole mining + reports stage against pm4py's own functions for the same figures, same log,
same run.

    .venv/bin/python bench/mining_vs_pm4py.py bench/out/wh-10m.duckdb

The warehouse must hold core.event_log and the staging tables (bench/build_event_log.py).
(1) Our stage: every mining.* and reports.* step of the pipeline in dependency order, SQL models
and the Python steps (pm4py alignments once per distinct trace, BPMN discovery), timed one by
one; then (1b) only the steps that pm4py also does, again, alone in a fresh process (in the
whole stage other steps have read the event log before them). (2) pm4py on the same events, loaded into a pandas frame (load time reported apart):
discover_dfg, discover_performance_dfg, get_variants, get_all_case_durations, alignments of the
log projected onto the reference path, and the inductive miner on the same top variants. Each
side runs in a child process of its own and reports its own peak memory (ru_maxrss). The
script checks that both sides give the same edges, variants and conformant cases.
"""

from __future__ import annotations

import multiprocessing
import resource
import sys
import time
from queue import Empty

import pandas as pd

PM4PY_EQUIVALENT = {
    "mining.directly_follows",
    "mining.case_variants",
    "reports.process_map_edges",
    "reports.process_map_nodes",
    "reports.variants",
    "mining.reference_path",
    "mining.case_conformance",
    "mining.variant_paths",
    "mining.activity_codes",
    "mining.process_model",
}


def run_stage(path: str, only: frozenset | None, queue) -> None:
    from pathlib import Path

    # Imported before the clock starts, as the pm4py side imports it before its own: otherwise
    # the first step that aligns (mining.case_conformance) pays pm4py's import, 1-2 s.
    import pm4py  # noqa: F401

    from l2c_pipeline.mining.discovery import discover_bpmn
    from l2c_pipeline.mining.stage import python_steps
    from l2c_pipeline.mining.target_process import load_target_process
    from l2c_pipeline.models.sql_models import build_order, discover
    from l2c_pipeline.pipeline import build_pipeline
    from l2c_pipeline.warehouse.duckdb_warehouse import connect

    con = connect(path)  # as the pipeline opens it (memory limit included)
    process = load_target_process()
    steps = python_steps(process)
    order = [
        ".".join(key)
        for key in build_order(discover(), {k: d for k, (d, _) in steps.items()})
        if key[0] in ("mining", "reports") and (only is None or ".".join(key) in only)
    ]
    timings = {}
    started = time.monotonic()
    for table in order:
        began = time.monotonic()
        rows = build_pipeline(con, process, tables={table})[table]
        timings[table] = (time.monotonic() - began, rows)
        count = "view" if rows is None else f"{rows:,} rows"
        print(f"  {table:<34}{count:>17} {timings[table][0]:>7.1f} s", flush=True)
    began = time.monotonic()
    model = discover_bpmn(con, Path(path).with_name("process_model.bpmn"))
    timings["mining.process_model"] = (time.monotonic() - began, model.variants_used)
    print(
        f"  {'mining.process_model (BPMN)':<34}{model.variants_used:>12,} vars "
        f"{timings['mining.process_model'][0]:>7.1f} s",
        flush=True,
    )
    seconds = time.monotonic() - started
    if only is not None:
        queue.put(
            {
                "seconds": seconds,
                "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
        return
    edges = dict(
        ((a, b), n)
        for a, b, n in con.execute(
            "SELECT from_activity, to_activity, transitions FROM reports.process_map_edges"
        ).fetchall()
    )
    queue.put(
        {
            "seconds": seconds,
            "timings": timings,
            "edges": edges,
            "variants": con.execute("SELECT count(*) FROM reports.variants").fetchone()[0],
            "conformant": con.execute(
                "SELECT count(*) FILTER (WHERE is_conformant) FROM mining.case_conformance "
                "WHERE trace <> ''"
            ).fetchone()[0],
            "top_variants": model.variants_used,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
    )


def run_pm4py(path: str, top_k: int, queue) -> None:
    from dataclasses import replace

    import pm4py
    from pm4py.util import constants

    from l2c_pipeline.mining.conformance import reference_net, unrecorded_steps
    from l2c_pipeline.mining.target_process import load_target_process

    constants.SHOW_PROGRESS_BAR = False
    process = load_target_process()
    from l2c_pipeline.warehouse.duckdb_warehouse import connect_read_only

    con = connect_read_only(path)
    # The same model both sides align with: the steps this org does not record are optional.
    process = replace(
        process,
        optional_activities=(*process.optional_activities, *unrecorded_steps(con, process)),
    )
    started = time.monotonic()
    frame = con.execute(
        'SELECT e.case_id AS "case:concept:name", e.activity AS "concept:name", '
        'e."timestamp" AS "time:timestamp", coalesce(e.started_at, e."timestamp") AS start, '
        "c.family "
        "FROM core.event_log AS e LEFT JOIN core.activity_catalogue AS c USING (activity) "
        "ORDER BY e.case_id, e.event_order"
    ).df()
    for column in ("time:timestamp", "start"):
        frame[column] = pd.to_datetime(frame[column]).dt.tz_localize("UTC")
    # An interval log (a file with start and complete events) is ordered by its activities'
    # starts, as the event log orders it; without starts the start is the event's time.
    order = {"timestamp_key": "start"}
    load = time.monotonic() - started
    timings = {}

    def timed(name, function):
        began = time.monotonic()
        result = function()
        timings[name] = time.monotonic() - began
        print(f"  {name:<44}{timings[name]:>7.1f} s", flush=True)
        return result

    started = time.monotonic()
    dfg, _, _ = timed("discover_dfg", lambda: pm4py.discover_dfg(frame, **order))
    timed("discover_performance_dfg", lambda: pm4py.discover_performance_dfg(frame, **order))
    variants = timed("get_variants", lambda: pm4py.get_variants(frame, **order))
    timed("get_all_case_durations", lambda: pm4py.get_all_case_durations(frame))
    net, initial, final = reference_net(process)
    projected = frame[frame["concept:name"].isin(process.reference_path)]
    alignments = timed(
        "conformance_diagnostics_alignments (projected)",
        lambda: pm4py.conformance_diagnostics_alignments(
            projected, net, initial, final, return_diagnostics_dataframe=True, **order
        ),
    )
    milestones = frame[frame["family"].fillna("") != "touch"]
    timed(
        "filter_variants_top_k + discover_bpmn_inductive",
        lambda: pm4py.discover_bpmn_inductive(
            pm4py.filter_variants_top_k(milestones, top_k, **order), **order
        ),
    )
    queue.put(
        {
            "load_seconds": load,
            "seconds": time.monotonic() - started,
            "timings": timings,
            "edges": dict(dfg),
            "variants": len(variants),
            # A log with no event on the reference path (a public log) aligns nothing.
            "conformant": int(alignments["is_fit"].sum()) if len(alignments) else 0,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
    )


def measure(target, *args) -> dict:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(*args, queue))
    process.start()
    while True:
        try:
            result = queue.get(timeout=5)
            break
        except Empty:
            if not process.is_alive():  # it died without a result: say so rather than wait
                raise SystemExit(
                    f"{target.__name__} failed (exit code {process.exitcode})"
                ) from None
    process.join()
    return result


def main() -> None:
    path = sys.argv[1]
    from l2c_pipeline.warehouse.duckdb_warehouse import connect_read_only

    with connect_read_only(path) as con:
        events, cases = con.execute(
            "SELECT count(*), count(DISTINCT case_id) FROM core.event_log"
        ).fetchone()
    print(f"log: {events:,} events, {cases:,} cases")
    print("our mining + reports stage, step by step:")
    ours = measure(run_stage, path, None)
    subset = sum(s for table, (s, _) in ours["timings"].items() if table in PM4PY_EQUIVALENT)
    print(
        f"whole stage: {ours['seconds']:.1f} s, peak {ours['peak_mb']:,.0f} MB; "
        f"the steps with a pm4py equivalent: {subset:.1f} s"
    )
    # In the whole stage, other steps read the event log first; run the equivalent steps again
    # on their own in a fresh process, so they pay for their own first read of the log.
    print("the steps with a pm4py equivalent again, alone, in a fresh process:")
    alone = measure(run_stage, path, frozenset(PM4PY_EQUIVALENT))
    print(f"equivalent steps alone: {alone['seconds']:.1f} s, peak {alone['peak_mb']:,.0f} MB")
    print("pm4py, same figures:")
    pm = measure(run_pm4py, path, ours["top_variants"])
    print(
        f"pm4py: {pm['seconds']:.1f} s (+ {pm['load_seconds']:.1f} s loading the frame), "
        f"peak {pm['peak_mb']:,.0f} MB"
    )
    assert ours["edges"] == pm["edges"], "directly-follows frequencies differ"
    assert ours["variants"] == pm["variants"], "variant counts differ"
    assert ours["conformant"] == pm["conformant"], (ours["conformant"], pm["conformant"])
    print(
        f"same figures ({len(ours['edges'])} edges, {ours['variants']:,} variants, "
        f"{ours['conformant']:,} conformant cases); pm4py / our equivalent steps alone = "
        f"{pm['seconds'] / alone['seconds']:.1f}x (within the whole stage: "
        f"{pm['seconds'] / subset:.1f}x); pm4py / our whole stage = "
        f"{pm['seconds'] / ours['seconds']:.1f}x"
    )


if __name__ == "__main__":
    main()
