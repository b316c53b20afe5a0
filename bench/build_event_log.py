"""Build the event-log SQL models (staging, activities, core) on an extracted warehouse and time each one.

/usr/bin/time -v .venv/bin/python bench/build_event_log.py bench/out/wh-1m.duckdb
"""

from __future__ import annotations

import sys
import time

from l2c_pipeline.models.sql_models import build_model, build_order, discover
from l2c_pipeline.warehouse.duckdb_warehouse import connect


def main() -> None:
    con = connect(sys.argv[1])  # as the pipeline opens it (memory limit included)
    models = discover()
    started = time.monotonic()
    for key in build_order(models):
        if key[0] not in ("staging", "activities", "core"):
            continue  # the mining stage has a bench of its own (mining_vs_pm4py.py)
        model = models[key]
        began = time.monotonic()
        rows = build_model(con, model, models)
        print(f"{model.table:<36}{rows:>12,} rows {time.monotonic() - began:>7.1f} s", flush=True)
    events, cases = con.execute(
        "SELECT count(*), count(DISTINCT case_id) FROM core.event_log"
    ).fetchone()
    print(
        f"event log: {events:,} events in {cases:,} cases; all models built in {time.monotonic() - started:.1f} s"
    )


if __name__ == "__main__":
    main()
