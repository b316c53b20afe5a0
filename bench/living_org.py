"""Real nightly runs of a living demo org: `l2c run` once per simulated night, the demo source
advanced by L2C_DEMO_AS_OF, a drift planted from one night on; prints each night's wall time,
how many KPIs were judged (a KPI without enough cases or snapshots is not) and the drift
warnings, the org's and each segment's, then the totals.

    .venv/bin/python bench/living_org.py --nights 90 --onset 60 --leads 15000 --home bench/out/living

Each night generates the org as of that night (the continuation of the last), serves it over
HTTPS, extracts what changed by SystemModstamp and rebuilds the warehouse, as a real night would.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from l2c_pipeline.mining.target_process import load_target_process
from l2c_pipeline.monitoring.drift import (
    evaluate_drift,
    evaluate_segments,
    read_history,
    read_segment_history,
)
from l2c_pipeline.warehouse.duckdb_warehouse import connect_read_only

ROOT = Path(__file__).resolve().parents[1]
FIRST_NIGHT = datetime(2026, 9, 1, 23, tzinfo=UTC)


def night_checks(con, day, monitoring) -> dict[str, list]:
    """The night's drift checks, re-evaluated from the warehouse by the run's own functions:
    each KPI's result (z None: not judged, and why in its status) and the segment checks."""
    return {
        "kpis": evaluate_drift(day, read_history(con, day, monitoring), monitoring),
        "segments": evaluate_segments(day, read_segment_history(con, day, monitoring), monitoring),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nights", type=int, default=90)
    parser.add_argument("--onset", type=int, default=60, help="night the drift starts")
    parser.add_argument("--leads", type=int, default=15000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--shape", default="cpq_billing")
    parser.add_argument("--home", type=Path, default=ROOT / "bench" / "out" / "living")
    args = parser.parse_args()
    night = [FIRST_NIGHT + timedelta(days=n) for n in range(args.nights)]
    horizon = night[-1].strftime("%Y-%m-%dT%H:%M:%SZ")
    onset = (FIRST_NIGHT + timedelta(days=args.onset - 1)).date()
    shutil.rmtree(args.home, ignore_errors=True)
    args.home.mkdir(parents=True)
    env = {
        **os.environ,
        "L2C_HOME": str(args.home),
        "L2C_SOURCE": "demo",
        "L2C_ORG_SHAPE": args.shape,
        "L2C_DEMO_LEADS": str(args.leads),
        "L2C_DEMO_SEED": str(args.seed),
        "L2C_DEMO_HORIZON": horizon,
        "L2C_DEMO_DRIFT": f"approval_slowdown=3@{onset}",
    }
    env.pop("L2C_SNAPSHOT_DATE", None)
    env.pop("L2C_WAREHOUSE", None)
    monitoring = load_target_process(ROOT / "process.yaml").monitoring
    seconds, first_warning, false_alarms, nights_judged = [], None, [], []
    for n, moment in enumerate(night, start=1):
        env["L2C_DEMO_AS_OF"] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        started = time.monotonic()
        run = subprocess.run(
            [str(ROOT / ".venv" / "bin" / "l2c"), "run"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        seconds.append(time.monotonic() - started)
        if run.returncode not in (0, 1):  # 1: an ERROR check failed (a warning exits 0)
            print(run.stdout[-2000:], run.stderr[-2000:], file=sys.stderr)
            return run.returncode
        with connect_read_only(args.home / "warehouse.duckdb") as con:
            judged = night_checks(con, moment.date(), monitoring)
        warned = [r.kpi for r in judged["kpis"] if not r.passed]
        segment_warnings = [f"{r.kpi}[{r.segment}]" for c in judged["segments"] for r in c.warnings]
        if n < args.onset and (warned or segment_warnings):
            false_alarms.append((n, warned + segment_warnings))
        if n >= args.onset and first_warning is None and "discount_approval_time" in warned:
            first_warning = n
        scored = [r for r in judged["kpis"] if r.z is not None]
        nights_judged.append({r.kpi for r in scored})
        worst = max(scored, key=lambda r: r.z, default=None)
        print(
            f"night {n:3d} {moment.date()} {seconds[-1]:6.1f}s judged {len(scored):2d} KPIs"
            f" (highest z {f'{worst.z:+.1f} {worst.kpi}' if worst else '-'}),"
            f" {sum(len(c.results) for c in judged['segments'])} segment checks;"
            f" warnings: {', '.join(warned + segment_warnings) or '-'}"
        )
        sys.stdout.flush()
    total = sum(seconds)
    print(
        f"{args.nights} nights in {total / 60:.1f} min (median night {sorted(seconds)[len(seconds) // 2]:.1f}s); "
        f"drift from night {args.onset}, first warned on night {first_warning}; "
        f"false alarms before it: {false_alarms or 'none'}"
    )
    every_kpi = sorted(set().union(*nights_judged))
    print(
        "KPIs judged (nights): "
        + ", ".join(f"{k} {sum(k in judged for judged in nights_judged)}" for k in every_kpi)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
