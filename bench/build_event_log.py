"""Build the event log on an extracted warehouse: the mapping step (mapped.* views), then the SQL
models of staging, activities and core, timing each; with --expected, compare the event log with
the generator's expected one (EXCEPT ALL both ways).

/usr/bin/time -v .venv/bin/python bench/build_event_log.py bench/out/wh-1m.duckdb --shape cpq_billing \
    --expected bench/out/org-1m/expected_event_log.csv
"""

from __future__ import annotations

import argparse
import time

from l2c_pipeline.mapping.load import load_mapping, shape_file
from l2c_pipeline.mapping.views import write_mapped
from l2c_pipeline.models.sql_models import build_model, build_order, discover
from l2c_pipeline.warehouse.duckdb_warehouse import connect


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("warehouse")
    parser.add_argument("--shape", default="cpq_billing", help="the org's shape (its mapping file)")
    parser.add_argument("--expected", default=None, help="the generator's expected_event_log.csv")
    args = parser.parse_args()
    con = connect(args.warehouse)  # as the pipeline opens it (memory limit included)
    models = discover()
    started = time.monotonic()
    write_mapped(con, load_mapping(shape_file(args.shape)))
    print(f"{'mapped.* (views)':<36}{'':>12}      {time.monotonic() - started:>7.1f} s", flush=True)
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
    if args.expected:
        literal = args.expected.replace("'", "''")
        missing, unexpected = con.execute(f"""
            WITH expected AS (
                SELECT case_id, activity, CAST(CAST("timestamp" AS TIMESTAMPTZ) AS TIMESTAMP) AS ts,
                       object_type, object_id, resource_id
                FROM read_csv('{literal}', header = true, all_varchar = true)
            ), actual AS (
                SELECT case_id, activity, "timestamp" AS ts, object_type, object_id, resource_id
                FROM core.event_log
            )
            SELECT (SELECT count(*) FROM (SELECT * FROM expected EXCEPT ALL SELECT * FROM actual)),
                   (SELECT count(*) FROM (SELECT * FROM actual EXCEPT ALL SELECT * FROM expected))
        """).fetchone()
        print(f"against the expected event log: {missing:,} missing, {unexpected:,} unexpected")


if __name__ == "__main__":
    main()
