#!/usr/bin/env bash
# Installs everything l2c_pipeline needs on a fresh Debian machine with Python 3.11:
# system packages (graphviz for process maps, the venv module), a virtual environment in .venv,
# and the project. `./setup.sh --dev` adds the test and lint tools and Debian's Chromium (the
# HTML report is tested in it).
set -euo pipefail
cd "$(dirname "$0")"

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "setup: system packages are needed ($*): run this as root, or install sudo" >&2
    exit 1
  fi
}

need_apt=()
command -v dot >/dev/null 2>&1 || need_apt+=(graphviz)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need_apt+=(python3-venv)
# The tests open the HTML report in a real browser: Debian's Chromium.
if [ "${1:-}" = "--dev" ]; then
  [ -x /usr/bin/chromium ] || need_apt+=(chromium)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing system packages: ${need_apt[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

python3 - <<'PY'
import sys
if sys.version_info < (3, 11):
    sys.exit(f"setup: Python 3.11 or newer is needed, this is {sys.version.split()[0]}")
PY

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
if [ "${1:-}" = "--dev" ]; then
  .venv/bin/python -m pip install --quiet -e '.[dev]'
  # Older DuckDB clients, each in its own environment: the tests open the analytics file with
  # them, as analysts' tools on DuckDB 1.x do.
  for client in 1.1.3 1.5.6; do
    [ -x ".venv-duckdb-$client/bin/python" ] || python3 -m venv ".venv-duckdb-$client"
    ".venv-duckdb-$client/bin/python" -m pip install --quiet "duckdb==$client"
  done
else
  .venv/bin/python -m pip install --quiet -e .
fi
echo "setup: ready (.venv)"
