"""The mining and report models against pm4py's own functions, same log, same run.

    /usr/bin/time -v .venv/bin/python bench/mining_vs_pm4py.py bench/out/wh-1m-models.duckdb

Times: (1) the SQL models mining.* and reports.* built from core.event_log; (2) pm4py's
discover_dfg, discover_performance_dfg, get_variants and get_all_case_durations on the same
events (loaded into a pandas frame first, load time reported apart). Peak memory of each side
is measured in a child process of its own (ru_maxrss), so one does not hide the other. The
figures are checked to agree before the times are printed.
"""

from __future__ import annotations

import multiprocessing
import resource
import sys
import time

import duckdb
import pandas as pd


def run_sql(path: str, queue) -> None:
    from l2c_pipeline.mining import EVENT_LOG_ONLY_MODELS
    from l2c_pipeline.mining.stage import build_pipeline
    from l2c_pipeline.warehouse.duckdb_warehouse import connect

    con = connect(path)
    started = time.monotonic()
    built = build_pipeline(con, tables=EVENT_LOG_ONLY_MODELS)
    seconds = time.monotonic() - started
    edges = dict(
        ((a, b), n)
        for a, b, n in con.execute(
            "SELECT from_activity, to_activity, transitions FROM reports.process_map_edges"
        ).fetchall()
    )
    variants = con.execute("SELECT count(*) FROM reports.variants").fetchone()[0]
    queue.put(
        {
            "seconds": seconds,
            "built": built,
            "edges": edges,
            "variants": variants,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
    )


def run_pm4py(path: str, queue) -> None:
    import pm4py

    con = duckdb.connect(path, read_only=True)
    started = time.monotonic()
    frame = con.execute(
        'SELECT case_id AS "case:concept:name", activity AS "concept:name", '
        '"timestamp" AS "time:timestamp" FROM core.event_log ORDER BY case_id, event_order'
    ).df()
    frame["time:timestamp"] = pd.to_datetime(frame["time:timestamp"]).dt.tz_localize("UTC")
    load = time.monotonic() - started
    started = time.monotonic()
    dfg, _, _ = pm4py.discover_dfg(frame)
    pm4py.discover_performance_dfg(frame)
    variants = pm4py.get_variants(frame)
    pm4py.get_all_case_durations(frame)
    queue.put(
        {
            "load_seconds": load,
            "seconds": time.monotonic() - started,
            "edges": dict(dfg),
            "variants": len(variants),
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
    )


def measure(target, path: str) -> dict:
    queue = multiprocessing.get_context("spawn").Queue()
    process = multiprocessing.get_context("spawn").Process(target=target, args=(path, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def main() -> None:
    path = sys.argv[1]
    with duckdb.connect(path, read_only=True) as con:
        events, cases = con.execute(
            "SELECT count(*), count(DISTINCT case_id) FROM core.event_log"
        ).fetchone()
    print(f"log: {events:,} events, {cases:,} cases")
    sql = measure(run_sql, path)
    print(f"SQL models (mining + reports): {sql['seconds']:.1f} s, peak {sql['peak_mb']:,.0f} MB")
    pm = measure(run_pm4py, path)
    print(
        f"pm4py (DFG, performance DFG, variants, case durations): {pm['seconds']:.1f} s "
        f"(+ {pm['load_seconds']:.1f} s loading the frame), peak {pm['peak_mb']:,.0f} MB"
    )
    assert sql["edges"] == pm["edges"] and sql["variants"] == pm["variants"], (
        "the two sides disagree"
    )
    print(
        f"same figures on both sides ({len(sql['edges'])} edges, {sql['variants']:,} variants); "
        f"SQL is {pm['seconds'] / sql['seconds']:.1f}x faster than pm4py's functions"
    )


if __name__ == "__main__":
    main()
