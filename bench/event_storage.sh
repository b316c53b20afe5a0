#!/usr/bin/env bash
# Dagster's own SQLite event log against l2c_pipeline's (connections kept open): the same code,
# `l2c run` on the built-in demo org (2,000 leads) in a fresh L2C_HOME, the two taking turns.
# Dagster's storage is chosen by a dagster.yaml in the run's folder (`storage: sqlite:`); without
# one, `l2c run` uses the kept-open event log. Prints each run's wall time and stored events.
#
#     bench/event_storage.sh [rounds]      # default 2; run folders under bench/out/event-storage
set -u
cd "$(dirname "$0")/.."
root=$PWD
rounds=${1:-2}
for round in $(seq 1 "$rounds"); do
  for side in dagster kept-open; do
    home=$root/bench/out/event-storage/$side-$round
    rm -rf "$home"; mkdir -p "$home"
    if [ "$side" = dagster ]; then
      printf 'storage:\n  sqlite:\n    base_dir: %s/dagster/storage\n' "$home" > "$home/dagster.yaml"
    fi
    start=$(date +%s.%N)
    (cd "$home" && L2C_HOME=$home L2C_SOURCE=demo "$root/.venv/bin/python" -m l2c_pipeline.cli run > run.log 2>&1)
    rc=$?
    end=$(date +%s.%N)
    events=$(cd "$home" && "$root/.venv/bin/python" - <<'PY'
import os
from dagster import DagsterInstance
from dagster._core.instance.ref import InstanceRef
home = os.getcwd()
config = home if os.path.exists("dagster.yaml") else None
with DagsterInstance.from_ref(InstanceRef.from_dir(home + "/dagster", config_dir=config)) as instance:
    print(len(instance.all_logs(instance.get_runs(limit=1)[0].run_id)))
PY
)
    printf 'round %s %-10s exit %s  %6.1f s  %s events\n' "$round" "$side" "$rc" "$(echo "$end - $start" | bc)" "$events"
  done
done
