"""The file source against pandas and pm4py on BPI Challenge 2012 replicated N times.

    .venv/bin/python bench/file_source.py [LOG.xes.gz] --copies 1 10 [--repeat 3]
    .venv/bin/python bench/file_source.py --copies 1 10 --before /tmp/l2c-before

The XES log given (by default tests/data/bpic2012.xes.gz, BPI Challenge 2012: 13,087 cases,
262,200 events; the 4TU file BPI_Challenge_2012.xes.gz is the same log) is written N times over,
each copy with fresh case ids (c0-173688, c1-173688, ...), as a CSV (the columns pm4py gives the
log, as pandas writes them) and as a plain XES file, into bench/out/file-source/ as
{name}-x{N}.csv and .xes, {name} the log's file name up to its first dot (kept for the next
run; "bpic2012" for the default log).

Then each file is loaded by each side in a fresh child process, the sides interleaved (their
order turns from one file to the next), and the child's peak RSS is taken from the kernel
(os.wait4's ru_maxrss: the whole process, Python included):

- file source: read_event_file and load_into_warehouse into a new warehouse opened as the
  pipeline opens it (L2C_DUCKDB_MEMORY_LIMIT applies, default 3GB);
- file source (before): the same, importing l2c_pipeline from the --before folder (a copy of
  the code before the streaming file source, e.g. `git archive 527ab1c | tar -x -C DIR`);
- pandas + pm4py: pandas.read_csv and pm4py.format_dataframe (CSV);
- pm4py: pm4py.read_xes, returning its DataFrame (XES).

Time is the child's own, from before the read to after it (imports left out): wall time and
CPU time (all threads; steadier than wall time on a shared machine). The parent
imports nothing heavy and writes the files in a child of its own: a child's ru_maxrss starts
from its parent's size at the fork. L2C_MAX_FILE_MB is set high in the children (the size
limit is not what is measured) and pm4py's progress bar is off (it makes pm4py read an XES
file twice). The children's own output goes to bench/out/file-source/children.log.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ORIGINAL = ROOT / "tests" / "data" / "bpic2012.xes.gz"
OUT = ROOT / "bench" / "out" / "file-source"
SIDES = {
    "csv": ("file source", "file source (before)", "pandas + pm4py"),
    "xes": ("file source", "file source (before)", "pm4py"),
}
# The trace's own concept:name: the first one before the trace's first event.
_TRACE_NAME = re.compile(r'(<trace>(?:(?!<event).)*?key="concept:name" value=")([^"]*)"', re.S)


def replicated_name(original: Path) -> str:
    """What the replicated files of `original` are called before -x{copies}."""
    return original.name.split(".")[0]


def write_copies(
    copies: int, csv_only: bool = False, original: Path = ORIGINAL
) -> tuple[Path, Path]:
    """{name}-x{copies}.csv and .xes (unless csv_only) in OUT, written unless already there."""
    OUT.mkdir(parents=True, exist_ok=True)
    name = replicated_name(original)
    csv, xes = OUT / f"{name}-x{copies}.csv", OUT / f"{name}-x{copies}.xes"
    if not xes.exists() and not csv_only:
        data = original.read_bytes()
        text = (gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data).decode("utf-8")
        first, last = text.index("<trace>"), text.rindex("</trace>") + len("</trace>")
        partial = xes.with_suffix(".partial")
        with partial.open("w", encoding="utf-8") as out:
            out.write(text[:first])
            for copy in range(copies):
                out.write(_TRACE_NAME.sub(rf'\g<1>c{copy}-\g<2>"', text[first:last]))
                out.write("\n")
            out.write(text[last:])
        partial.rename(xes)
    if not csv.exists():
        import pm4py
        from pm4py.util import constants

        constants.SHOW_PROGRESS_BAR = False
        frame = pm4py.read_xes(str(original))
        ids = frame["case:concept:name"].astype(str)
        partial = csv.with_suffix(".partial")
        for copy in range(copies):
            frame["case:concept:name"] = f"c{copy}-" + ids
            frame.to_csv(partial, mode="a" if copy else "w", header=copy == 0, index=False)
        partial.rename(csv)
    return csv, xes


def child(side: str, path: Path) -> dict:
    """Load `path` the way `side` does; what it read and how long that took."""
    if side.startswith("file source"):
        from l2c_pipeline.file_source.load import load_into_warehouse, read_event_file
        from l2c_pipeline.warehouse.duckdb_warehouse import connect

        with tempfile.TemporaryDirectory(dir=OUT) as folder:
            began, cpu = time.monotonic(), time.process_time()
            loaded = read_event_file(path)
            con = connect(Path(folder) / "warehouse.duckdb")
            try:
                rows = load_into_warehouse(con, loaded)
            finally:
                con.close()
            seconds, cpu = time.monotonic() - began, time.process_time() - cpu
            close = getattr(loaded, "close", None)  # the code before had nothing to close
            if close is not None:
                close()
        return {
            "seconds": seconds,
            "cpu_seconds": cpu,
            "rows": rows["core.event_log"],
            "cases": rows["core.cases"],
        }
    import pandas as pd
    import pm4py
    from pm4py.util import constants

    constants.SHOW_PROGRESS_BAR = False
    began, cpu = time.monotonic(), time.process_time()
    if side == "pm4py":
        frame = pm4py.read_xes(str(path))
    else:
        frame = pm4py.format_dataframe(
            pd.read_csv(path),
            case_id="case:concept:name",
            activity_key="concept:name",
            timestamp_key="time:timestamp",
        )
    seconds, cpu = time.monotonic() - began, time.process_time() - cpu
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "rows": len(frame),
        "cases": frame["case:concept:name"].nunique(),
    }


def run_child(arguments: list[str], code: Path) -> tuple[dict, float]:
    """This script with `arguments` in a child process importing l2c_pipeline from `code`: what
    it printed last (JSON) and its peak RSS in MB."""
    env = dict(os.environ, L2C_MAX_FILE_MB="1000000", PYTHONPATH=str(code))
    with (OUT / "children.log").open("a", encoding="utf-8") as log:
        process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), *arguments],
            cwd=code,
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        output = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)
        process.stdout.close()
    if status != 0:
        raise SystemExit(f"{' '.join(arguments)} failed (status {status}; see {log.name})")
    return json.loads(output.strip().splitlines()[-1]), usage.ru_maxrss / 1024


def measure(side: str, path: Path, before: Path | None) -> dict:
    """Run `side` on `path` in a child process: its figures and its peak RSS."""
    code = before if side == "file source (before)" else ROOT
    figures, peak_mb = run_child(["--child", side, str(path)], code)
    return figures | {"peak_mb": peak_mb}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "log",
        nargs="?",
        type=Path,
        default=ORIGINAL,
        help="the XES log to replicate, .xes or .xes.gz (default: %(default)s)",
    )
    parser.add_argument("--copies", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--before", type=Path, help="a copy of the code before the change")
    parser.add_argument("--kinds", nargs="+", default=["csv", "xes"], choices=["csv", "xes"])
    parser.add_argument("--sides", nargs="+", help="only these sides (default: all)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each side on each file")
    parser.add_argument("--child", nargs=2, metavar=("SIDE", "FILE"), help=argparse.SUPPRESS)
    parser.add_argument("--write", type=int, metavar="COPIES", help=argparse.SUPPRESS)
    parser.add_argument("--csv-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.log = args.log.resolve()  # the children run in the code's folder
    if not args.log.is_file():
        parser.error(f"{args.log}: no such file")
    if args.child:
        print(json.dumps(child(args.child[0], Path(args.child[1]))), flush=True)
        return
    if args.write:
        written = write_copies(args.write, args.csv_only, args.log)
        print(json.dumps([str(p) for p in written]), flush=True)
        return
    OUT.mkdir(parents=True, exist_ok=True)
    results = []
    turn = 0
    for copies in args.copies:
        written, _ = run_child([str(args.log), "--write", str(copies)], ROOT)
        files = dict(zip(("csv", "xes"), map(Path, written)))
        for kind in args.kinds:
            path = files[kind]
            sides = [s for s in SIDES[kind] if args.before or "before" not in s]
            sides = [s for s in sides if not args.sides or s in args.sides]
            for _ in range(args.repeat):
                turn += 1
                for side in sides[turn % len(sides) :] + sides[: turn % len(sides)]:
                    figures = measure(side, path, args.before)
                    row = {"copies": copies, "kind": kind, "side": side, "file": path.name}
                    row |= figures | {"file_mb": path.stat().st_size / 1024 / 1024}
                    results.append(row)
                    print(
                        f"x{copies:<3} {kind} {side:<21} {figures['seconds']:7.1f} s "
                        f"({figures['cpu_seconds']:6.1f} s CPU) {figures['peak_mb']:8.0f} MB "
                        f"{figures['rows']:>11,} rows "
                        f"{figures['cases']:>9,} cases ({row['file_mb']:,.0f} MB file)",
                        flush=True,
                    )
    with (OUT / "results.jsonl").open("a", encoding="utf-8") as log:
        for row in results:
            log.write(json.dumps(row | {"at": time.strftime("%Y-%m-%d %H:%M:%S")}) + "\n")
    if args.repeat > 1:
        summary(results)


def summary(results: list[dict]) -> None:
    """Per file and side, the best of the runs (the least disturbed by the rest of the
    machine): wall time, CPU time and peak RSS."""
    print("\nbest of each side's runs:")
    groups: dict[tuple, list[dict]] = {}
    for row in results:
        groups.setdefault((row["copies"], row["kind"], row["side"]), []).append(row)
    for (copies, kind, side), rows in groups.items():
        print(
            f"x{copies:<3} {kind} {side:<21} {min(r['seconds'] for r in rows):7.1f} s "
            f"({min(r['cpu_seconds'] for r in rows):6.1f} s CPU) "
            f"{min(r['peak_mb'] for r in rows):8.0f} MB  ({len(rows)} runs)"
        )


if __name__ == "__main__":
    main()
