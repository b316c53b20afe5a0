"""The analytics file opens in the DuckDB clients analysts' tools run (1.1 and newer), not only
in the DuckDB that wrote it, and every report reads the same there."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from l2c_pipeline.warehouse.publish import publish_analytics

from .test_event_log import extract_and_build

ROOT = Path(__file__).resolve().parents[1]
CLIENTS = ("1.1.3", "1.5.6")  # setup.sh --dev installs each in .venv-duckdb-<version>

READ_EVERY_TABLE = """
import hashlib, json, sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
tables = con.execute(
    "SELECT schema_name, table_name FROM duckdb_tables() ORDER BY 1, 2"
).fetchall()
out = {"version": duckdb.__version__, "tables": {}}
for schema, table in tables:
    rows = con.execute(f'SELECT * FROM {schema}."{table}"').fetchall()
    # Each row as Python values in text, sorted: the same data gives the same digest whatever
    # the client's own hashing and row order.
    lines = sorted(json.dumps(row, default=str) for row in rows)
    digest = hashlib.sha256("\\n".join(lines).encode()).hexdigest()
    out["tables"][f"{schema}.{table}"] = [len(rows), digest]
out["view_rows"] = con.execute("SELECT count(*) FROM mining.directly_follows").fetchone()[0]
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def analytics(small_org, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("compat")
    con, _ = extract_and_build(small_org, folder / "warehouse.duckdb")
    target = folder / "analytics.duckdb"
    publish_analytics(con, target)
    con.close()
    return target


def read_with(python: Path, analytics: Path) -> dict:
    done = subprocess.run(
        [str(python), "-c", READ_EVERY_TABLE, str(analytics)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


@pytest.mark.parametrize("client", CLIENTS)
def test_the_analytics_file_opens_in_older_duckdb_clients_and_reads_the_same(analytics, client):
    python = ROOT / f".venv-duckdb-{client}" / "bin" / "python"
    assert python.exists(), f"{python} is missing: ./setup.sh --dev installs DuckDB {client} there"
    theirs = read_with(python, analytics)
    assert theirs["version"] == client
    ours = read_with(Path(sys.executable), analytics)
    assert ours["version"] == duckdb.__version__
    assert len(ours["tables"]) > 30 and "reports.kpi_summary" in ours["tables"]
    # Every table: the same rows, and the same values (a hash over each row's text).
    assert theirs["tables"] == ours["tables"]
    assert theirs["view_rows"] == ours["view_rows"] > 0
