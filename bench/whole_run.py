"""The whole `l2c run` on BPI Challenge 2012 replicated N times, against a plain pm4py script on
the same CSV, interleaved.

    .venv/bin/python bench/whole_run.py [LOG.xes.gz] --copies 1 10 40 80 --repeat 3 [--sides "l2c run"]

The replicated CSVs are bench/file_source.py's, from the XES log given (by default
tests/data/bpic2012.xes.gz, BPI Challenge 2012; the 4TU file BPI_Challenge_2012.xes.gz is the
same log): bench/out/file-source/{name}-x{N}.csv, written there unless already present. Each run is a fresh child process, the sides taking turns:

- l2c run: `python -m l2c_pipeline.cli run` with L2C_SOURCE=file on the CSV, into a new
  L2C_HOME (the whole nightly: load, event log, mining, reports, publishing, exports, maps,
  report), every setting at its default (the default L2C_MAX_FILE_MB, 4096, takes the x80 CSV:
  2.2 GB; set it in the environment for larger copies);
- pm4py script: pandas.read_csv, pm4py.format_dataframe, discover_dfg,
  discover_performance_dfg, get_variants, get_all_case_durations and the inductive miner: the
  figures a process-mining user would script.

Wall time is from the child's start to its exit (imports included, on both sides); peak memory
is the kernel's ru_maxrss for the child (os.wait4). A run of `l2c run` that exits non-zero, or
whose output says DuckDB ran out of memory, is reported as failed with its last error line.
The children's output goes to bench/out/whole-run/.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out" / "whole-run"
SIDES = ("l2c run", "pm4py script")


def pm4py_script(csv: Path) -> dict:
    """What the pm4py side computes; run in a child (`--child`)."""
    import pandas as pd
    import pm4py
    from pm4py.util import constants

    constants.SHOW_PROGRESS_BAR = False
    log = pm4py.format_dataframe(
        pd.read_csv(csv),
        case_id="case:concept:name",
        activity_key="concept:name",
        timestamp_key="time:timestamp",
    )
    dfg, _, _ = pm4py.discover_dfg(log)
    pm4py.discover_performance_dfg(log)
    variants = pm4py.get_variants(log)
    durations = pm4py.get_all_case_durations(log)
    pm4py.discover_petri_net_inductive(log)
    return {
        "events": len(log),
        "edges": len(dfg),
        "variants": len(variants),
        "cases": len(durations),
    }


def run_side(side: str, csv: Path, turn: int) -> dict:
    OUT.mkdir(parents=True, exist_ok=True)
    log_path = OUT / f"{csv.stem}.{side.replace(' ', '-')}.{turn}.log"
    env = dict(os.environ)
    if side == "l2c run":
        home = OUT / f"home-{csv.stem}"
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir()
        env |= {"L2C_HOME": str(home), "L2C_SOURCE": "file", "L2C_EVENT_LOG_FILE": str(csv)}
        env = {k: v for k, v in env.items() if not k.startswith(("SF_", "DAGSTER_HOME"))}
        command = [sys.executable, "-m", "l2c_pipeline.cli", "run"]
        cwd = home
    else:
        command = [sys.executable, str(Path(__file__).resolve()), "--child", str(csv)]
        cwd = ROOT
    began = time.monotonic()
    with log_path.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - began
    text = log_path.read_text(encoding="utf-8", errors="replace")
    out_of_memory = "Out of Memory" in text
    failed = status != 0 or out_of_memory
    last_error = next(
        (line for line in reversed(text.splitlines()) if "Error" in line or "error" in line), ""
    )
    row = {
        "side": side,
        "file": csv.name,
        "seconds": round(seconds, 1),
        "peak_mb": round(usage.ru_maxrss / 1024),
        "ok": not failed,
        "out_of_memory": out_of_memory,
        "log": str(log_path),
    }
    if failed:
        row["error"] = last_error[:300]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "log",
        nargs="?",
        type=Path,
        default=ROOT / "tests" / "data" / "bpic2012.xes.gz",
        help="the XES log to replicate, .xes or .xes.gz (default: %(default)s)",
    )
    parser.add_argument("--copies", type=int, nargs="+", default=[40])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--sides", nargs="+", choices=SIDES, default=list(SIDES))
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(pm4py_script(args.child)), flush=True)
        return
    args.log = args.log.resolve()
    if not args.log.is_file():
        parser.error(f"{args.log}: no such file")
    results, turn = [], 0
    for copies in args.copies:
        written = subprocess.run(
            [
                sys.executable,
                str(ROOT / "bench" / "file_source.py"),
                str(args.log),
                "--write",
                str(copies),
                "--csv-only",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        csv = Path(json.loads(written.stdout.strip().splitlines()[-1])[0])
        for _ in range(args.repeat):
            turn += 1
            sides = args.sides[turn % len(args.sides) :] + args.sides[: turn % len(args.sides)]
            for side in sides:
                row = run_side(side, csv, turn) | {"copies": copies}
                results.append(row)
                state = "ok" if row["ok"] else f"FAILED: {row.get('error', '')}"
                print(
                    f"x{copies:<3} {side:<13} {row['seconds']:7.1f} s {row['peak_mb']:7,} MB  {state}",
                    flush=True,
                )
    with (OUT / "results.jsonl").open("a", encoding="utf-8") as log:
        for row in results:
            log.write(json.dumps(row | {"at": time.strftime("%Y-%m-%d %H:%M:%S")}) + "\n")
    print("\nbest of each side's runs (failed runs left out):")
    groups: dict[tuple, list[dict]] = {}
    for row in results:
        groups.setdefault((row["copies"], row["side"]), []).append(row)
    for (copies, side), rows in groups.items():
        good = [r for r in rows if r["ok"]]
        if good:
            print(
                f"x{copies:<3} {side:<13} {min(r['seconds'] for r in good):7.1f} s "
                f"{max(r['peak_mb'] for r in good):7,} MB peak (worst run)  "
                f"{len(good)}/{len(rows)} runs finished"
            )
        else:
            print(f"x{copies:<3} {side:<13} 0/{len(rows)} runs finished")


if __name__ == "__main__":
    main()
