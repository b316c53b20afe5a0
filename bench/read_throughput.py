"""Read one object of a demo org through simple-salesforce over HTTPS: REST paging vs Bulk API 2.0.

    .venv/bin/python bench/read_throughput.py bench/out/org-1m --object Lead

Prints server load time, then for each API: records, seconds, records per second, API calls,
and the client process's peak memory (ru_maxrss, which includes the in-process server).
"""

from __future__ import annotations

import argparse
import csv
import io
import resource
import time
from pathlib import Path

from simple_salesforce import Salesforce

from l2c_pipeline.demo_org.server import DemoOrgServer
from l2c_pipeline.salesforce.http import PinnedCASession


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("snapshot", type=Path)
    parser.add_argument("--object", default="Lead")
    parser.add_argument(
        "--fields",
        default="Id, IsDeleted, CreatedDate, LastModifiedDate, SystemModstamp, OwnerId, Status, LeadSource",
    )
    args = parser.parse_args()

    started = time.monotonic()
    with DemoOrgServer(args.snapshot) as server:
        counts = server.store.row_counts(include_deleted=True)
        print(
            f"server load: {sum(counts.values()):,} records in {len(counts)} objects, "
            f"{time.monotonic() - started:.1f} s"
        )
        sf = Salesforce(
            instance_url=server.instance_url,
            session_id=server.access_token,
            session=PinnedCASession(server.ca_bundle),
        )
        soql = f"SELECT {args.fields} FROM {args.object}"

        calls = server.api.api_calls
        started = time.monotonic()
        rest = sum(1 for _ in sf.query_all_iter(soql, include_deleted=True))
        seconds = time.monotonic() - started
        print(
            f"REST query/queryAll paging: {rest:,} records in {seconds:.1f} s = {rest / seconds:,.0f} records/s, "
            f"{server.api.api_calls - calls} API calls"
        )

        calls = server.api.api_calls
        started = time.monotonic()
        bulk = sum(
            len(list(csv.reader(io.StringIO(page)))) - 1
            for page in sf.bulk2.__getattr__(args.object).query_all(
                soql, max_records=50000, wait=0.5
            )
        )
        seconds = time.monotonic() - started
        print(
            f"Bulk API 2.0 queryAll: {bulk:,} records in {seconds:.1f} s = {bulk / seconds:,.0f} records/s, "
            f"{server.api.api_calls - calls} API calls"
        )
        print(
            f"peak memory (client + in-process server): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB"
        )
        assert rest == bulk == counts[args.object], (rest, bulk, counts[args.object])


if __name__ == "__main__":
    main()
