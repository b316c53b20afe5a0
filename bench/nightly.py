"""The nightly run against the first run on a Salesforce-shaped org: how much of the nightly cost
scales with the org rather than with what changed.

    .venv/bin/python bench/nightly.py --leads 200000 [--shape cpq_billing] [--touch 0.01]
    .venv/bin/python bench/nightly.py --leads 200000 --living

With --living the night is a real day of the org instead of a bulk edit: the org is generated
as of two moments a day apart (the second continuing the first: new leads, deals that moved on,
quotes, orders and payments), the first run reads the first snapshot and the nightly the second.

Generates the demo org once (kept in bench/out/nightly/), serves it over HTTPS from this process,
and runs `python -m l2c_pipeline.cli run` against it with L2C_SOURCE=salesforce in a fresh
L2C_HOME: the first run (everything extracted and built), then, after the org gave a share
--touch of every object's records a new SystemModstamp one day later (a bulk edit), the nightly
run. For each run: wall time, the API calls, the time of the extraction steps and of every step
after them (from the run's own Dagster event log, step start to step end), and the child's peak
memory. The slowest steps of each run are listed, to see where the time goes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out" / "nightly"


def step_times(home: Path) -> dict[str, float]:
    """Seconds from each step's start to its end, for the newest run in the L2C_HOME."""
    from dagster import DagsterEventType, DagsterInstance
    from dagster._core.instance.ref import InstanceRef

    # The runs start in the L2C_HOME (no dagster.yaml there): their instance is L2C_HOME/dagster.
    instance = DagsterInstance.from_ref(
        InstanceRef.from_dir(str(home / "dagster"), config_dir=str(home / "dagster"))
    )
    run = instance.get_runs(limit=1)[0]
    started, ended = {}, {}
    for entry in instance.all_logs(run.run_id):
        event = entry.dagster_event
        if event is None or not event.step_key:
            continue
        if event.event_type == DagsterEventType.STEP_START:
            started[event.step_key] = entry.timestamp
        elif event.event_type in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
            ended[event.step_key] = entry.timestamp
    instance.dispose()
    return {key: ended[key] - started[key] for key in ended if key in started}


def run_once(home: Path, env: dict[str, str]) -> dict:
    began = time.monotonic()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    process = subprocess.run(
        [sys.executable, "-m", "l2c_pipeline.cli", "run"],
        env=env,
        cwd=home,
        capture_output=True,
        text=True,
    )
    wall = time.monotonic() - began
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if process.returncode != 0:
        sys.exit(f"l2c run failed ({process.returncode}):\n{process.stderr[-3000:]}")
    calls = re.search(r"; (\d+) API calls", process.stdout)
    steps = step_times(home)
    extraction = sum(s for key, s in steps.items() if key.startswith("raw__"))
    return {
        "wall": wall,
        "calls": int(calls[1]) if calls else None,
        "extraction": extraction,
        "after": sum(steps.values()) - extraction,
        "steps": steps,
        # ru_maxrss of the children only grows: a later, smaller child does not show.
        "peak_mb": peak / 1024 if peak > before else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=200_000)
    parser.add_argument("--shape", default="cpq_billing")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--touch", type=float, default=0.01)
    parser.add_argument("--nights", type=int, default=1, help="nightly runs after the first")
    parser.add_argument("--top", type=int, default=12, help="slowest steps listed per run")
    parser.add_argument(
        "--living", action="store_true", help="the night is the org's next day, not a bulk edit"
    )
    args = parser.parse_args()

    from l2c_pipeline.demo_org.generator import DEFAULT_AS_OF, generate
    from l2c_pipeline.demo_org.server import DemoOrgServer

    def org_as_of(as_of: str | None, horizon: str | None) -> Path:
        tag = f"-as-of-{as_of[:10]}" if as_of else ""
        org = OUT / f"org-{args.shape}-{args.leads}-{args.seed}{tag}"
        if not (org / "org.json").exists():
            shutil.rmtree(org, ignore_errors=True)
            began = time.monotonic()
            moments = {"as_of": as_of, "horizon": horizon} if as_of else {}
            generate(
                org, leads=args.leads, seed=args.seed, shape=args.shape, progress=print, **moments
            )
            print(f"generated {org} in {time.monotonic() - began:.0f} s")
        return org

    home = OUT / "home"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SF_", "L2C_", "DAGSTER_"))
    }
    env.update(L2C_HOME=str(home), L2C_SOURCE="salesforce", L2C_ORG_SHAPE=args.shape)
    if args.living:
        living_nights(args, home, env, org_as_of, DemoOrgServer, DEFAULT_AS_OF)
        return
    org = org_as_of(None, None)
    with DemoOrgServer(org, work_dir=home / "tls") as server:
        env.update(server.environment())
        runs = [("first run", run_once(home, env))]
        for night in range(1, args.nights + 1):
            answer = requests.post(
                f"{server.instance_url}/_demo/mutations",
                json={"advance_seconds": 86400, "touch_fraction": args.touch, "seed": night},
                headers={"Authorization": f"Bearer {server.access_token}"},
                verify=str(server.ca_bundle),
                timeout=600,
            )
            answer.raise_for_status()
            touched = sum(answer.json()["touched"].values())
            print(f"night {night}: {touched:,} records touched ({args.touch:.1%} of each object)")
            runs.append((f"nightly {night}", run_once(home, env)))
    report(runs, args.top)


def living_nights(args, home: Path, env: dict, org_as_of, server_class, last: str) -> None:
    """The first run on the org as of `--nights` days before `last`, then a nightly run on
    each next day's snapshot of the same org (generated up to `last`)."""
    from datetime import datetime, timedelta

    end = datetime.fromisoformat(last.replace("Z", "+00:00"))
    days = [
        (end - timedelta(days=args.nights - n)).strftime("%Y-%m-%dT%H:%M:%SZ")
        for n in range(args.nights + 1)
    ]
    orgs = [org_as_of(day, last) for day in days]
    runs = []
    for n, org in enumerate(orgs):
        with server_class(org, work_dir=home / "tls") as server:
            env.update(server.environment())
            name = "first run" if n == 0 else f"nightly {n}"
            runs.append((name, run_once(home, env)))
            print(f"{name}: the org as of {days[n]}")
    report(runs, args.top)


def report(runs: list, top: int) -> None:
    # Every step's seconds, for a closer look than the slowest few.
    (OUT / "steps.json").write_text(
        json.dumps({name: run["steps"] for name, run in runs}, indent=1)
    )
    print(f"\n{'run':<12}{'wall':>8}{'API calls':>11}{'extraction':>12}{'after':>8}{'peak MB':>9}")
    for name, run in runs:
        peak = f"{run['peak_mb']:,.0f}" if run["peak_mb"] else "-"
        print(
            f"{name:<12}{run['wall']:>7.1f}s{run['calls'] or '-':>11}{run['extraction']:>11.1f}s"
            f"{run['after']:>7.1f}s{peak:>9}"
        )
    first_after = runs[0][1]["after"]
    for name, run in runs[1:]:
        print(f"{name}: after extraction {run['after'] / first_after:.2f}x the first run's")
    for name, run in runs:
        slowest = sorted(run["steps"].items(), key=lambda item: -item[1])[:top]
        print(f"\n{name}, slowest steps: " + ", ".join(f"{k} {s:.1f}s" for k, s in slowest))


if __name__ == "__main__":
    main()
