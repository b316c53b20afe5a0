#!/usr/bin/env bash
# `l2c run` on one file at two commits, taking turns: the code before a change against the code
# after it, in one sitting (this machine's speed varies from day to day by more than most changes).
#
#   bench/ab_whole_run.sh OLD_COMMIT [CSV] [TURNS]
#
# OLD_COMMIT is checked out in a worktree (/tmp/l2c-ab-old); the new side is this checkout. Each
# run is a fresh L2C_HOME under /tmp; every setting at its default. Prints wall time, the steps'
# total and the three slowest steps per run (from the run's Dagster event log).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OLD=${1:?give the commit to compare against}
CSV=${2:-$ROOT/bench/out/file-source/bpic2012-x40.csv}
TURNS=${3:-2}
WORKTREE=/tmp/l2c-ab-old
git worktree remove --force "$WORKTREE" 2>/dev/null || true
git worktree add -q "$WORKTREE" "$OLD"
trap 'git worktree remove --force "$WORKTREE"' EXIT

steps() {
  .venv/bin/python - "$1" <<'PY'
import sys
from pathlib import Path
sys.path.insert(0, "bench")
from nightly import step_times
times = step_times(Path(sys.argv[1]))
slowest = sorted(times.items(), key=lambda kv: -kv[1])[:3]
print(f"steps {sum(times.values()):.1f} s;", ", ".join(f"{k} {v:.1f} s" for k, v in slowest))
PY
}

for turn in $(seq "$TURNS"); do
  for side in old new; do
    home=/tmp/l2c-ab-$side
    rm -rf "$home" && mkdir "$home"
    code=$ROOT
    [ "$side" = old ] && code=$WORKTREE
    began=$(date +%s.%N)
    (cd "$home" && env -u DAGSTER_HOME PYTHONPATH="$code" L2C_SQL_DIR="$code/sql" \
      L2C_HOME="$home" L2C_SOURCE=file L2C_EVENT_LOG_FILE="$CSV" \
      "$ROOT/.venv/bin/python" -m l2c_pipeline.cli run >"$home/out.log" 2>&1) || echo "$side failed: $home/out.log"
    ended=$(date +%s.%N)
    printf '%s %s wall %.1f s; %s\n' "$turn" "$side" "$(echo "$ended - $began" | bc)" "$(steps "$home")"
  done
done
