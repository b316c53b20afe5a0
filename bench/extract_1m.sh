#!/usr/bin/env bash
# Initial and incremental extraction of the 1M-lead demo org (generate it first, see README).
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/out
shape=${SHAPE:-cpq_billing}   # the org shape: its demo org and mapping
rm -f "$out/org-1m.env" "$out/wh-1m.duckdb" "$out/wh-1m.duckdb.wal" "$out/wh-1m.models.duckdb" "$out/wh-1m.models.duckdb.wal"
.venv/bin/l2c demo-org serve --from "$out/org-1m" --env-file "$out/org-1m.env" --api-budget 1000000 &
server=$!
trap 'kill $server' EXIT
while [ ! -f "$out/org-1m.env" ]; do sleep 1; done
set -a; . "$out/org-1m.env"; set +a
/usr/bin/time -v .venv/bin/python bench/extract.py --shape "$shape" --warehouse "$out/wh-1m.duckdb" 2>&1 | tee "$out/extract-initial.log"
/usr/bin/time -v .venv/bin/python bench/extract.py --shape "$shape" --warehouse "$out/wh-1m.duckdb" --touch 0.01 2>&1 | tee "$out/extract-incremental.log"
# The same initial load by REST only, for comparison.
rm -f "$out/wh-1m-rest.duckdb" "$out/wh-1m-rest.duckdb.wal" "$out/wh-1m-rest.models.duckdb" "$out/wh-1m-rest.models.duckdb.wal"
/usr/bin/time -v .venv/bin/python bench/extract.py --shape "$shape" --warehouse "$out/wh-1m-rest.duckdb" --bulk-threshold 1000000000 2>&1 | tee "$out/extract-initial-rest.log"
