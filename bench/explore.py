"""`l2c explore` on a large log: time from a filter change to a rendered map in Chromium, over
a fixed list of 50 filter combinations, for the frequency map and the map with waiting-time
medians (performance), and the explorer's peak memory.

    .venv/bin/python bench/explore.py bench/out/wh-10m.duckdb

The warehouse must hold core.event_log and the staging tables (bench/extract_10m.sh builds
it). Unless --analytics names a published file that exists, the mining and reports stage is
built on a copy-free connection to the warehouse and the analytics file published beside it
(bench/out/analytics-10m.duckdb). The explorer then runs as `l2c explore --port 0` in a
process of its own; Debian's Chromium (headless, through Playwright) opens each address and
the clock stops when the map's SVG is in the page (`load`: the page and its drawing are
parsed). The explorer's peak memory is its process's VmHWM.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import duckdb

ROOT = Path(__file__).resolve().parents[1]


def publish(warehouse: Path, analytics: Path) -> float:
    from l2c_pipeline.pipeline import build_pipeline
    from l2c_pipeline.warehouse.duckdb_warehouse import connect
    from l2c_pipeline.warehouse.publish import publish_analytics

    started = time.monotonic()
    con = connect(warehouse)
    try:
        build_pipeline(con, schemas=("mining", "reports"))
        publish_analytics(con, analytics)
    finally:
        con.close()
    return time.monotonic() - started


def combinations(analytics: Path) -> list[list[tuple[str, str]]]:
    """The fixed 50: each filter kind alone, then a few together; values the log's most
    frequent ones."""
    con = duckdb.connect(str(analytics), read_only=True)

    def top(dimension: str, n: int) -> list[str]:
        return [
            v
            for (v,) in con.execute(
                "SELECT dimension_value FROM mining.case_dimensions WHERE dimension = ? "
                "AND dimension_value IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT ?",
                [dimension, n],
            ).fetchall()
        ]

    first, last = con.execute(
        "SELECT min(started_at), max(ended_at) FROM mining.case_variants"
    ).fetchone()
    middle = first + (last - first) / 2
    span = [
        ("tf_from", (middle - (last - first) / 6).date().isoformat()),
        ("tf_to", (middle + (last - first) / 6).date().isoformat()),
    ]
    out: list[list[tuple[str, str]]] = []
    out += [[("attr", f"region:{v}")] for v in top("region", 4)]
    out += [[("attr", f"team:{v}")] for v in top("team", 4)]
    out += [[("attr", f"segment:{v}")] for v in top("segment", 3)]
    out += [[("attr", f"product_family:{v}")] for v in top("product_family", 2)]
    out += [[("attr", f"lead_source:{v}")] for v in top("lead_source", 2)]
    out += [[("attr", f"deal_size:{v}")] for v in top("deal_size", 3)]
    out += [[("attr", f"discount_band:{v}")] for v in top("discount_band", 3)]
    out += [[("attr", f"outcome:{v}")] for v in ("won", "lost", "open")]
    out += [
        [("tf_mode", mode), *span] for mode in ("started", "ended", "contained", "intersecting")
    ]
    out += [[("cov", c)] for c in ("50", "80", "95")]
    out += [[("cyc_min", a), ("cyc_max", b)] for a, b in (("0", "7"), ("7", "30"), ("30", "90"))]
    out += [[("cyc_min", "90")]]
    out += [
        [("start", "Lead Created")],
        [("end", "Payment Received")],
        [("end", "Opportunity Closed Lost")],
    ]
    out += [
        [("fol_a", "Quote Created"), ("fol_b", "Contract Signed")],
        [("fol_a", "Quote Created"), ("fol_b", "Contract Signed"), ("fol_within", "720")],
        [("fol_a", "Quote Created"), ("fol_b", "Quote Presented"), ("fol_mode", "directly")],
        [("fol_a", "Discount Approval Requested"), ("fol_b", "Quote Accepted"), ("fol_not", "1")],
    ]
    out += [
        [("conf", "conformant")],
        [("conf", "nonconformant")],
        [("conf", "rule:max_occurrences")],
    ]
    region, team, segment = top("region", 1)[0], top("team", 1)[0], top("segment", 1)[0]
    out += [
        [("attr", f"region:{region}"), ("attr", "outcome:won")],
        [("attr", f"segment:{segment}"), ("cyc_min", "30")],
        [
            ("tf_mode", "started"),
            *span,
            ("attr", f"region:{region}"),
            ("fol_a", "Quote Created"),
            ("fol_b", "Contract Signed"),
        ],
        [("cov", "80"), ("conf", "nonconformant")],
        [("attr", f"team:{team}"), ("attr", "outcome:lost")],
    ]
    con.close()
    assert len(out) == 50, len(out)
    return out


def start_explorer(analytics: Path) -> tuple[subprocess.Popen, str, str]:
    env = {**os.environ, "L2C_ANALYTICS": str(analytics)}
    process = subprocess.Popen(
        [str(ROOT / ".venv/bin/l2c"), "explore", "--port", "0"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = []
    for line in process.stderr:
        lines.append(line.rstrip())
        found = re.search(r"explorer: (http://\S+/)", line)
        if found:
            return process, found.group(1), "\n".join(lines)
    raise SystemExit("the explorer did not start:\n" + "\n".join(lines))


def peak_memory_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("warehouse", type=Path)
    parser.add_argument("--analytics", type=Path, default=ROOT / "bench/out/analytics-10m.duckdb")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/out/explore.json")
    args = parser.parse_args()
    if not args.analytics.exists():
        print(f"building mining + reports and publishing {args.analytics} ...", flush=True)
        print(f"  published in {publish(args.warehouse, args.analytics):.1f} s", flush=True)
    with duckdb.connect(str(args.analytics), read_only=True) as con:
        events, cases = con.execute(
            "SELECT count(*), count(DISTINCT case_id) FROM core.event_log"
        ).fetchone()
    print(f"log: {events:,} events in {cases:,} cases", flush=True)
    combos = combinations(args.analytics)
    started = time.monotonic()
    process, base, said = start_explorer(args.analytics)
    ready = time.monotonic() - started
    print(said, flush=True)
    print(f"explorer answering after {ready:.1f} s (start-up and preparation)", flush=True)
    from playwright.sync_api import sync_playwright

    results: dict[str, list[dict]] = {"frequency": [], "performance": []}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
            )
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            page.goto(base)  # the first page: pays for the imports, not counted
            for kind in ("frequency", "performance"):
                for params in combos:
                    url = base + "?" + urlencode([("view", "map"), ("kind", kind), *params])
                    t0 = time.perf_counter()
                    response = page.goto(url, wait_until="load")
                    page.wait_for_selector(".map svg, .map .none", state="attached")
                    seconds = time.perf_counter() - t0
                    assert response.status == 200, (url, response.status)
                    selected = int(page.locator("#cases-selected").get_attribute("data-value"))
                    results[kind].append({"params": params, "seconds": seconds, "cases": selected})
                    print(
                        f"{kind:<12}{seconds:6.3f} s  {selected:>9,} cases  {urlencode(params)[:90]}",
                        flush=True,
                    )
            browser.close()
        peak = peak_memory_mb(process.pid)
    finally:
        process.terminate()
        process.wait(30)
    summary = {
        "events": events,
        "cases": cases,
        "start_seconds": ready,
        "peak_memory_mb": peak,
        **{
            kind: {
                "median_s": statistics.median(r["seconds"] for r in listed),
                "p95_s": p95([r["seconds"] for r in listed]),
                "max_s": max(r["seconds"] for r in listed),
                "median_cases": statistics.median(r["cases"] for r in listed),
            }
            for kind, listed in results.items()
        },
    }
    args.out.write_text(json.dumps({"summary": summary, "runs": results}, indent=1, default=str))
    print()
    print("| map | median | p95 | slowest |")
    print("|---|---|---|---|")
    for kind in ("frequency", "performance"):
        s = summary[kind]
        print(f"| {kind} | {s['median_s']:.3f} s | {s['p95_s']:.3f} s | {s['max_s']:.3f} s |")
    print(f"\nexplorer peak memory (VmHWM): {peak:,.0f} MB; start-up {ready:.1f} s")
    sys.exit(0)


if __name__ == "__main__":
    main()
