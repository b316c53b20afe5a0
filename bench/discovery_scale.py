"""Discovery's time against the number of variants, before and after L2C_DISCOVERY_MAX_VARIANTS.

    .venv/bin/python bench/discovery_scale.py [--quality] [--profile] [--caps 100,200,300,500]

The logs: BPI Challenge 2012 (tests/data/bpic2012.xes.gz) and seeded synthetic Lead-to-Cash
logs with a long tail of variants, short traces (about 16 events) and long ones (about 29),
each loaded through the file source and built as far as discovery reads
(mining.activity_codes, case_variants, variant_paths). On each log mining.process_model's
discovery runs twice: 'before' gives the inductive miner every variant the coverage needs
(max_variants=None, what the asset did before the limit), 'after' uses the default limit.
Each run's time is split into the SQL that picks the variants, building pm4py's DataFrame, the
miner (pm4py.discover_bpmn_inductive) and the rest (layout and writing the file).

--quality: on BPI Challenge 2012 at coverage 0.8, how well the models replay the variants the
coverage asked for (token-based replay, every covered variant, weighted by its cases), and
their precision, for 'before', 'after' and the miner on the directly-follows graph of the
covered variants (pm4py's IMd, the alternative not taken).
--profile: where the miner's time goes on BPI Challenge 2012, 'before', coverage 0.8.
--caps 100,200,...: discovery's time and share of cases on each log at these limits.
Generated logs go to bench/out/discovery/ (git-ignored).
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pm4py
import pm4py.util.constants as pm4py_constants

from l2c_pipeline.file_source.load import load_into_warehouse, read_event_file
from l2c_pipeline.mining import discovery
from l2c_pipeline.pipeline import build_pipeline

ROOT = Path(__file__).resolve().parents[1]
pm4py_constants.SHOW_PROGRESS_BAR = False
VARIANT_TABLES = {"mining.activity_codes", "mining.case_variants", "mining.variant_paths"}
BPIC2012 = ROOT / "tests" / "data" / "bpic2012.xes.gz"
STRAYS = ("Credit Check", "Order Cancelled", "Refund Issued", "Escalation")


def repeats(rng: random.Random, most: int, stop: float) -> int:
    n = 0
    while n < most and rng.random() > stop:
        n += 1
    return n


def synthetic_trace(rng: random.Random, rework: int, stop: float, noise: float) -> list[str]:
    """A Lead-to-Cash case: optional steps, quote and contract rework, fulfilment in any
    order, instalments; then noise (swapped neighbours, a dropped step, a stray event)."""
    t = ["Lead Created"]
    if rng.random() < 0.85:
        t.append("Lead Qualified")
    if rng.random() < 0.1:
        return [*t, "Lead Disqualified"]
    t.append("Opportunity Created")
    t += [s for s in ("Discovery Call", "Demo", "Proposal Sent") if rng.random() < 0.85]
    t.append("Quote Created")
    if rng.random() < 0.15:
        t += ["Discount Requested", rng.choice(["Discount Approved", "Discount Rejected"])]
    t.append("Quote Sent")
    for _ in range(repeats(rng, rework, stop)):
        t += ["Quote Revised", "Quote Sent"]
    if rng.random() < 0.25:
        return [*t, "Quote Rejected", "Closed Lost"]
    t += ["Quote Accepted", "Contract Drafted"]
    if rng.random() < 0.2:
        t.append("Legal Review")
    for _ in range(repeats(rng, rework // 2, stop)):
        t += ["Contract Redlined", "Legal Review"]
    t += ["Contract Signed", "Closed Won"]
    fulfilment = ["Order Created", "Order Activated", "Provisioning Started"]
    if rng.random() < 0.3:
        rng.shuffle(fulfilment)
    t += fulfilment
    for _ in range(1 + repeats(rng, rework, stop)):
        paid = rng.random() < 0.8
        t += [
            "Invoice Sent",
            "Payment Received" if paid else rng.choice(["Payment Reminder", "Partial Payment"]),
        ]
    while rng.random() < noise:
        i = rng.randrange(len(t) - 1)
        kind = rng.random()
        if kind < 0.4:
            t[i], t[i + 1] = t[i + 1], t[i]
        elif kind < 0.7:
            del t[i]
        else:
            t.insert(i, rng.choice(STRAYS))
    return t


PROFILES = {"short": {"rework": 3, "stop": 0.6}, "long": {"rework": 12, "stop": 0.2}}


def synthetic_log(path: Path, variants: int, profile: str, seed: int = 7, noise: float = 0.3):
    """Cases until the log has `variants` distinct traces, as the file source's CSV."""
    rng = random.Random(seed)
    first = datetime(2025, 1, 1)
    seen: set[tuple[str, ...]] = set()
    with path.open("w", encoding="utf-8") as out:
        out.write("case_id,activity,timestamp\n")
        case = 0
        while len(seen) < variants:
            trace = synthetic_trace(rng, noise=noise, **PROFILES[profile])
            seen.add(tuple(trace))
            opened = first + timedelta(hours=case)
            for minute, activity in enumerate(trace):
                moment = opened + timedelta(minutes=minute)
                out.write(f"C{case:07d},{activity},{moment:%Y-%m-%d %H:%M:%S}\n")
            case += 1
    return path


def warehouse_of(log: Path, path: Path) -> Path:
    path.unlink(missing_ok=True)
    with duckdb.connect(str(path)) as con:
        load_into_warehouse(con, read_event_file(log))
        build_pipeline(con, tables=VARIANT_TABLES)
    return path


class Timings:
    """Wraps the steps discover_bpmn calls, to split its time."""

    def __init__(self):
        self.seconds: Counter = Counter()
        self.originals = {
            "top_variants": discovery.top_variants,
            "variant_frame": discovery.variant_frame,
            "miner": pm4py.discover_bpmn_inductive,
        }

    def timed(self, name, function):
        def run(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - start

        return run

    def __enter__(self):
        discovery.top_variants = self.timed("sql", self.originals["top_variants"])
        discovery.variant_frame = self.timed("frame", self.originals["variant_frame"])
        pm4py.discover_bpmn_inductive = self.timed("miner", self.originals["miner"])
        return self

    def __exit__(self, *_):
        discovery.top_variants = self.originals["top_variants"]
        discovery.variant_frame = self.originals["variant_frame"]
        pm4py.discover_bpmn_inductive = self.originals["miner"]


def timed_discovery(con, out: Path, coverage: float, max_variants):
    with Timings() as timings:
        start = time.perf_counter()
        model = discovery.discover_bpmn(con, out, coverage, max_variants)
        whole = time.perf_counter() - start
    rest = whole - timings.seconds["sql"] - timings.seconds["frame"] - timings.seconds["miner"]
    return model, whole, timings.seconds, rest


def measure(name: str, warehouse: Path, out: Path, coverage: float = discovery.DEFAULT_COVERAGE):
    with duckdb.connect(str(warehouse), read_only=True) as con:
        events, cases = con.execute(
            "SELECT sum(cases * len(activity_codes)), sum(cases) FROM mining.variant_paths"
        ).fetchone()
        covering, _, _ = discovery.top_variants(con, coverage)
        traces = sum(len(a) for a, _ in covering)
        row = [name, f"{int(events):,}", f"{int(cases):,}"]
        for max_variants in (None, discovery.DEFAULT_MAX_VARIANTS):
            model, whole, parts, rest = timed_discovery(con, out, coverage, max_variants)
            if max_variants is None:
                row += [
                    f"{model.variants_total:,}",
                    f"{model.variants_covering:,} ({traces:,} events)",
                    f"**{whole:.2f} s** (SQL {parts['sql']:.2f}, frame {parts['frame']:.2f}, "
                    f"miner {parts['miner']:.2f}, layout and file {rest:.2f})",
                ]
            else:
                row += [
                    f"{model.variants_used:,}, {model.coverage:.1%} of cases",
                    f"**{whole:.2f} s** (miner {parts['miner']:.2f})",
                ]
    print("| " + " | ".join(row) + " |", flush=True)


def quality(warehouse: Path, out: Path) -> None:
    from pm4py.algo.conformance.tokenreplay import algorithm as token_replay
    from pm4py.algo.discovery.inductive import algorithm as inductive_miner
    from pm4py.objects.dfg.obj import DFG
    from pm4py.objects.log.obj import Event, EventLog, Trace

    with duckdb.connect(str(warehouse), read_only=True) as con:
        covering, _, _ = discovery.top_variants(con, 0.8)
        models = {}
        for label, max_variants in (
            ("before: every covered variant", None),
            ("after: the 500 most frequent", discovery.DEFAULT_MAX_VARIANTS),
        ):
            model, whole, parts, _ = timed_discovery(con, out, 0.8, max_variants)
            models[label] = (pm4py.read_bpmn(str(model.path)), parts["miner"])
    graph, starts, ends = Counter(), Counter(), Counter()
    for activities, n in covering:
        starts[activities[0]] += n
        ends[activities[-1]] += n
        for pair in zip(activities, activities[1:]):
            graph[pair] += n
    start = time.perf_counter()
    tree = inductive_miner.apply(DFG(graph, starts, ends), variant=inductive_miner.Variants.IMd)
    models["IMd on the covered variants' directly-follows graph"] = (
        pm4py.convert_to_bpmn(tree),
        time.perf_counter() - start,
    )
    log = EventLog(
        [Trace([Event({"concept:name": a}) for a in activities]) for activities, _ in covering]
    )
    cases = sum(n for _, n in covering)
    print(
        "| model | miner | covered cases that fit | covered variants that fit | fitness | precision |"
    )
    print("|---|---|---|---|---|---|")
    for label, (bpmn, seconds) in models.items():
        net, initial, final = pm4py.convert_to_petri_net(bpmn)
        replayed = token_replay.apply(log, net, initial, final)
        fit_cases = sum(n for (_, n), r in zip(covering, replayed) if r["trace_is_fit"]) / cases
        fit_variants = sum(r["trace_is_fit"] for r in replayed) / len(replayed)
        fitness = sum(r["trace_fitness"] * n for r, (_, n) in zip(replayed, covering)) / cases
        precision = pm4py.precision_token_based_replay(log, net, initial, final)
        print(
            f"| {label} | {seconds:.2f} s | {fit_cases:.1%} | {fit_variants:.1%} | "
            f"{fitness:.4f} | {precision:.3f} |",
            flush=True,
        )


def profile(warehouse: Path, out: Path) -> None:
    import cProfile
    import pstats

    with duckdb.connect(str(warehouse), read_only=True) as con:
        profiler = cProfile.Profile()
        profiler.enable()
        discovery.discover_bpmn(con, out, 0.8, None)
        profiler.disable()
    stats = pstats.Stats(profiler).sort_stats("cumulative")
    stats.print_stats(r"pm4py/(algo/discovery/inductive|util/compression)", 15)


def caps(logs: dict[str, Path], out: Path, limits: list[int]) -> None:
    print("| log | " + " | ".join(f"limit {k}" for k in limits) + " |")
    print("|---|" + "---|" * len(limits))
    for name, warehouse in logs.items():
        row = [name]
        with duckdb.connect(str(warehouse), read_only=True) as con:
            for limit in limits:
                start = time.perf_counter()
                model = discovery.discover_bpmn(con, out, discovery.DEFAULT_COVERAGE, limit)
                row.append(f"{time.perf_counter() - start:.2f} s, {model.coverage:.1%}")
        print("| " + " | ".join(row) + " |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "discovery")
    parser.add_argument("--variants", default="1000,2000,4000,8000", help="synthetic logs' sizes")
    parser.add_argument("--profiles", default="short,long")
    parser.add_argument("--quality", action="store_true")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--caps", default="", help="limits to time discovery at, e.g. 100,500")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    model = args.out / "process_model.bpmn"
    bpic = warehouse_of(BPIC2012, args.out / "bpic2012.duckdb")
    # pm4py's imports and the first graphviz layout are paid once, not by the first row.
    discovery.discover_bpmn(duckdb.connect(str(bpic), read_only=True), model, 0.5)
    print(
        f"pm4py {pm4py.__version__}; L2C_DISCOVERY_MAX_VARIANTS {discovery.DEFAULT_MAX_VARIANTS}; "
        "coverage 0.8 unless the log's name says"
    )
    print(
        "| log | events | cases | variants | variants covering the coverage | before: all of them "
        "| after: variants mined | after |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for coverage in (0.8, 0.9, 1.0):
        measure(f"BPI Challenge 2012, coverage {coverage}", bpic, model, coverage)
    logs = {"BPI Challenge 2012": bpic}
    for profile_name in args.profiles.split(","):
        for size in (int(v) for v in args.variants.split(",")):
            csv = synthetic_log(args.out / f"{profile_name}-{size}.csv", size, profile_name)
            warehouse = warehouse_of(csv, args.out / f"{profile_name}-{size}.duckdb")
            logs[f"synthetic, {profile_name} traces, {size:,} variants"] = warehouse
            measure(f"synthetic, {profile_name} traces", warehouse, model)
    if args.caps:
        caps(logs, model, [int(k) for k in args.caps.split(",")])
    if args.quality:
        quality(bpic, model)
    if args.profile:
        profile(bpic, model)


if __name__ == "__main__":
    main()
