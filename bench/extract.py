"""Extract a demo org (or any org) into a DuckDB warehouse with the pipeline's own sync code.

    .venv/bin/python bench/extract.py --warehouse bench/out/wh-1m.duckdb [--shape cpq_billing] [--touch 0.01]

Connection settings come from the environment (SF_* as written by `l2c demo-org serve --env-file`).
The objects are those of the shape's mapping (or L2C_MAPPING_FILE), with its change capture.
With --touch F, first asks the demo org to give a share F of every object's records a new
SystemModstamp (a bulk edit), then syncs: the incremental case. Prints per object the method,
records, API calls and seconds, then the totals.
"""

from __future__ import annotations

import argparse
import time

from l2c_pipeline.mapping.load import load_mapping, shape_file
from l2c_pipeline.salesforce.catalogue import load_catalogue
from l2c_pipeline.salesforce.client import SalesforceClient
from l2c_pipeline.salesforce.settings import SalesforceSettings
from l2c_pipeline.salesforce.sync import sync_object
from l2c_pipeline.warehouse.duckdb_warehouse import connect


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--warehouse", required=True)
    parser.add_argument("--touch", type=float, default=None)
    parser.add_argument("--shape", default="cpq_billing", help="the org's shape (its mapping file)")
    parser.add_argument(
        "--bulk-threshold",
        type=int,
        default=50_000,
        help="records from which Bulk API 2.0 is used (a huge value: REST only)",
    )
    args = parser.parse_args()
    client = SalesforceClient(SalesforceSettings.from_env())
    if args.touch:
        answer = client.session.post(
            f"{client.instance_url}/_demo/mutations",
            json={"advance_seconds": 86400, "touch_fraction": args.touch, "seed": 7},
            headers={"Authorization": f"Bearer {client.sf.session_id}"},
            timeout=600,
        )
        answer.raise_for_status()
        print(f"touched {sum(answer.json()['touched'].values()):,} records")
    con = connect(args.warehouse)
    started, calls = time.monotonic(), client.api_calls
    rows = 0
    mapping = load_mapping(shape_file(args.shape))
    for spec in load_catalogue(mapping.objects, tracked=mapping.change_capture):
        began, before = time.monotonic(), client.api_calls
        result = sync_object(client, con, spec, bulk_threshold=args.bulk_threshold)
        rows += result.rows_read
        print(
            f"{spec.name:<28}{result.method:>6}{result.rows_read:>12,}{client.api_calls - before:>6} calls"
            f"{time.monotonic() - began:>8.1f} s",
            flush=True,
        )
    print(
        f"total: {rows:,} records, {client.api_calls - calls} API calls, {time.monotonic() - started:.1f} s"
    )
    con.close()


if __name__ == "__main__":
    main()
