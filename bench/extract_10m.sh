#!/usr/bin/env bash
# The 1.1M-lead org (about 10M events) for the mining bench: generate, extract by the pipeline's
# sync code over HTTPS, build the event log. Figures in bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/out
mkdir -p "$out"
shape=${SHAPE:-cpq_billing}   # the org shape: its demo org and mapping
[ -f "$out/org-10m/truths.json" ] || /usr/bin/time -v .venv/bin/l2c demo-org generate --shape "$shape" --leads 1100000 --seed 1 --out "$out/org-10m" 2>&1 | tee "$out/gen-10m.log"
rm -f "$out/org-10m.env" "$out/wh-10m.duckdb" "$out/wh-10m.duckdb.wal" "$out/wh-10m.models.duckdb" "$out/wh-10m.models.duckdb.wal"
.venv/bin/l2c demo-org serve --from "$out/org-10m" --env-file "$out/org-10m.env" --api-budget 1000000 &
server=$!
trap 'kill $server' EXIT
while [ ! -f "$out/org-10m.env" ]; do sleep 1; done
set -a; . "$out/org-10m.env"; set +a
/usr/bin/time -v .venv/bin/python bench/extract.py --shape "$shape" --warehouse "$out/wh-10m.duckdb" 2>&1 | tee "$out/extract-10m.log"
kill $server; trap - EXIT
/usr/bin/time -v .venv/bin/python bench/build_event_log.py "$out/wh-10m.duckdb" --shape "$shape" --expected "$out/org-10m/expected_event_log.csv" 2>&1 | tee "$out/event-log-10m.log"
