"""The same warehouse gives the same report tables, to the last bit, however DuckDB's threads
split the work: sums and means of DOUBLE values go through exact_sum / exact_avg
(sql/macros.sql), standard deviations take their values in order. Otherwise a ranking could
swap two equal rows from one night to the next, and a quiet night would redraw every output
whose table "changed" in its last bits.

BPI Challenge 2012 (262,200 events) through the file source: large enough that DuckDB reads
its tables with more than one thread (reports.bottlenecks' plain sums differed in 4 builds of
4 before)."""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import pytest

from l2c_pipeline.file_source.load import load_into_warehouse, read_event_file
from l2c_pipeline.models.sql_models import define_macros, discover
from l2c_pipeline.outputs.fingerprints import tables_fingerprint
from l2c_pipeline.pipeline import build_pipeline

BPIC2012 = Path(__file__).resolve().parent / "data" / "bpic2012.xes.gz"
BUILDS = 4


@pytest.fixture(scope="module")
def bpic_warehouse(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("determinism") / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        load_into_warehouse(con, read_event_file(BPIC2012))
        build_pipeline(con, schemas=("mining", "reports"))
    return path


def test_every_report_table_rebuilt_from_the_same_warehouse_is_equal_to_the_bit(bpic_warehouse):
    con = duckdb.connect(str(bpic_warehouse), read_only=True)
    try:
        define_macros(con)
        reports = {key: model for key, model in discover().items() if key[0] == "reports"}
        assert len(reports) >= 15
        differing = []
        for key, model in reports.items():
            builds = {
                repr(con.execute(f"SELECT * FROM ({model.sql}) ORDER BY ALL").fetchall())
                for _ in range(BUILDS)
            }
            if len(builds) > 1:
                differing.append(f"{'.'.join(key)}: {len(builds)} different results")
        assert not differing, differing
        # What decides whether the outputs are drawn again: the published tables' fingerprint.
        assert tables_fingerprint(con, ["reports.bottlenecks"]) == tables_fingerprint(
            con, ["reports.bottlenecks"]
        )
    finally:
        con.close()


def test_exact_sums_are_the_sums_whatever_the_order():
    con = duckdb.connect()
    define_macros(con)
    # Values whose floating-point sum depends on the order they are added in.
    con.execute(
        "CREATE TABLE t AS SELECT (range % 7) AS g, (hash(range) % 1000003) / 7.0 + 1e9 * (range % 2) AS x "
        "FROM range(300000)"
    )
    results = [
        con.execute(
            f"SELECT g, exact_sum(x), exact_avg(x) FROM (SELECT * FROM t ORDER BY {order}) "
            "GROUP BY g ORDER BY g"
        ).fetchall()
        for order in ["x", "x DESC", "hash(x)", "hash(x + 1)"]
    ]
    assert all(result == results[0] for result in results)
    plain = con.execute("SELECT g, sum(x), avg(x) FROM t GROUP BY g ORDER BY g").fetchall()
    for (g, total, mean), (_, plain_total, plain_mean) in zip(results[0], plain, strict=True):
        assert math.isclose(total, plain_total, rel_tol=1e-12), g
        assert math.isclose(mean, plain_mean, rel_tol=1e-12), g
    con.close()
