"""The analytics file: published by rename, never blocking or half-visible to a reader."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from l2c_pipeline.warehouse.publish import publish_analytics

from .test_event_log import extract_and_build


@pytest.fixture()
def warehouse(small_org, tmp_path):
    con, _ = extract_and_build(small_org, tmp_path / "warehouse.duckdb")
    yield con
    con.close()


def test_publishes_core_mining_and_reports_but_not_raw(warehouse, tmp_path):
    target = tmp_path / "analytics.duckdb"
    published = publish_analytics(warehouse, target)
    assert {"core.event_log", "core.cases", "reports.variants", "mining.directly_follows"} <= set(
        published
    )
    with duckdb.connect(str(target), read_only=True) as reader:
        schemas = {
            r[0]
            for r in reader.execute("SELECT DISTINCT schema_name FROM duckdb_tables()").fetchall()
        }
        assert schemas == {"core", "mining", "reports"}
        events = reader.execute("SELECT count(*) FROM core.event_log").fetchone()[0]
        assert events == warehouse.execute("SELECT count(*) FROM core.event_log").fetchone()[0]
        # A view is published as a view over the published tables, with its comments.
        assert published["mining.directly_follows"] is None
        view_comment = reader.execute(
            "SELECT comment FROM duckdb_views() WHERE schema_name = 'mining' "
            "AND view_name = 'directly_follows'"
        ).fetchone()[0]
        assert "Directly-follows" in view_comment
        follows = "SELECT count(*), sum(wait_seconds) FROM mining.directly_follows"
        assert reader.execute(follows).fetchone() == warehouse.execute(follows).fetchone()
        variants = "SELECT count(*), sum(cases), max(variant_rank) FROM reports.variants"
        assert reader.execute(variants).fetchone() == warehouse.execute(variants).fetchone()
        cases = reader.execute("SELECT count(DISTINCT case_id) FROM core.event_log").fetchone()[0]
        assert reader.execute(follows).fetchone()[0] == events - cases
        comment = reader.execute(
            "SELECT comment FROM duckdb_columns() WHERE schema_name = 'core' "
            "AND table_name = 'event_log' AND column_name = 'case_id'"
        ).fetchone()[0]
        assert comment and "opportunity" in comment
    assert sorted(p.name for p in tmp_path.iterdir() if "analytics" in p.name) == [
        "analytics.duckdb"
    ]


def test_a_reader_keeps_the_old_data_through_a_refresh_then_sees_the_new(warehouse, tmp_path):
    target = tmp_path / "analytics.duckdb"
    publish_analytics(warehouse, target)
    reader = duckdb.connect(str(target), read_only=True)
    try:
        before = reader.execute("SELECT count(*) FROM core.event_log").fetchone()[0]
        # The next refresh: the warehouse changes and is published again while the reader is open.
        warehouse.execute("DELETE FROM core.event_log WHERE activity = 'Call'")
        publish_analytics(warehouse, target)
        assert reader.execute("SELECT count(*) FROM core.event_log").fetchone()[0] == before
    finally:
        reader.close()
    with duckdb.connect(str(target), read_only=True) as fresh:
        after = fresh.execute("SELECT count(*) FROM core.event_log").fetchone()[0]
        assert 0 < after < before
        assert (
            fresh.execute("SELECT count(*) FROM core.event_log WHERE activity = 'Call'").fetchone()[
                0
            ]
            == 0
        )


def test_a_failed_publish_leaves_the_old_file(warehouse, tmp_path, monkeypatch):
    from l2c_pipeline.warehouse import publish

    target = tmp_path / "analytics.duckdb"
    publish_analytics(warehouse, target)
    before = target.stat().st_ino
    real_copy = publish.shutil.copyfile

    def copy_half_then_fail(source, destination):
        real_copy(source, destination)
        with open(destination, "r+b") as half:
            half.truncate(Path(source).stat().st_size // 2)
        raise OSError("disk full")

    monkeypatch.setattr(publish.shutil, "copyfile", copy_half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        publish_analytics(warehouse, target)
    assert target.stat().st_ino == before  # the published file was not touched
    with duckdb.connect(str(target), read_only=True) as reader:
        assert reader.execute("SELECT count(*) FROM core.event_log").fetchone()[0] > 0
    assert [p.name for p in tmp_path.iterdir() if "publishing" in p.name] == []
    # The warehouse connection goes on as before: the models file is attached again.
    assert warehouse.execute("SELECT count(*) FROM core.event_log").fetchone()[0] > 0
    warehouse.execute("CREATE OR REPLACE TABLE reports.after_the_failure AS SELECT 1 AS one")
    assert "reports.after_the_failure" in tables_of(warehouse, "l2c_models")


def tables_of(con, catalog: str) -> set[str]:
    """The tables and views of an attached catalog."""
    return {
        f"{schema}.{name}"
        for schema, name in con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = ? "
            "UNION ALL SELECT schema_name, view_name FROM duckdb_views() "
            "WHERE database_name = ? AND NOT internal",
            [catalog, catalog],
        ).fetchall()
    }


def test_the_models_live_in_their_own_file_and_the_analytics_file_is_its_copy(warehouse, tmp_path):
    target = tmp_path / "analytics.duckdb"
    published = publish_analytics(warehouse, target)
    warehouse_path, models = tmp_path / "warehouse.duckdb", tmp_path / "warehouse.models.duckdb"
    in_the_warehouse = {
        r[0]
        for r in warehouse.execute(
            "SELECT DISTINCT schema_name FROM duckdb_tables() WHERE database_name = 'warehouse' "
            "UNION SELECT DISTINCT schema_name FROM duckdb_views() "
            "WHERE database_name = 'warehouse' AND NOT internal"
        ).fetchall()
    }
    assert {"raw", "staging", "meta", "activities"} & in_the_warehouse == {
        "raw",
        "staging",
        "meta",
        "activities",
    }
    assert not in_the_warehouse & {"core", "mining", "reports"}
    assert models.exists()
    # Every row, in every published table, the same in both files.
    warehouse.execute(f"ATTACH '{target}' AS published (READ_ONLY)")
    try:
        assert tables_of(warehouse, "published") == set(published)
        assert tables_of(warehouse, "l2c_models") == set(published)
        for table, rows in published.items():
            if rows is None:
                continue
            differing = warehouse.execute(
                f"SELECT count(*) FROM (SELECT * FROM published.{table} EXCEPT ALL "
                f"SELECT * FROM l2c_models.{table})"
            ).fetchone()[0]
            assert differing == 0, table
            assert (
                warehouse.execute(f"SELECT count(*) FROM published.{table}").fetchone()[0] == rows
            )
    finally:
        warehouse.execute("DETACH published")
    assert warehouse_path.exists()


def test_a_warehouse_that_still_holds_the_models_has_them_moved_once(tmp_path):
    from l2c_pipeline.warehouse.duckdb_warehouse import connect

    old = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(old)) as con:  # the layout before the models file
        con.execute("CREATE SCHEMA core; CREATE SCHEMA reports; CREATE SCHEMA raw")
        con.execute("CREATE TABLE raw.lead AS SELECT 'L1' AS id")
        con.execute("CREATE TABLE core.event_log AS SELECT range AS n FROM range(1000)")
        con.execute("COMMENT ON TABLE core.event_log IS 'the events'")
        con.execute("COMMENT ON COLUMN core.event_log.n IS 'a number'")
        con.execute("CREATE VIEW reports.big AS SELECT n FROM core.event_log WHERE n >= 990")
        con.execute("CREATE TABLE reports.kpi_history (snapshot_date DATE NOT NULL)")
        con.execute(
            "INSERT INTO reports.kpi_history "
            "SELECT DATE '2026-11-01' + range::INTEGER FROM range(30)"
        )
    con = connect(old)
    try:
        assert con.execute("SELECT count(*), sum(n) FROM core.event_log").fetchone() == (
            1000,
            499500,
        )
        assert con.execute("SELECT count(*) FROM reports.big").fetchone()[0] == 10
        assert con.execute("SELECT count(*) FROM reports.kpi_history").fetchone()[0] == 30
        with pytest.raises(duckdb.ConstraintException):  # the history keeps its NOT NULL
            con.execute("INSERT INTO reports.kpi_history VALUES (NULL)")
        assert con.execute("SELECT id FROM raw.lead").fetchall() == [("L1",)]
        where = con.execute(
            "SELECT database_name, comment FROM duckdb_tables() WHERE table_name = 'event_log'"
        ).fetchall()
        assert where == [("l2c_models", "the events")]
        assert con.execute(
            "SELECT comment FROM duckdb_columns() WHERE table_name = 'event_log'"
        ).fetchall() == [("a number",)]
    finally:
        con.close()
    with duckdb.connect(str(old), read_only=True) as warehouse_itself:
        assert (
            warehouse_itself.execute(
                "SELECT DISTINCT schema_name FROM duckdb_schemas() WHERE schema_name IN "
                "('core', 'mining', 'reports')"
            ).fetchall()
            == []
        )
    con = connect(old)  # a second time: nothing left to move, the models stay
    try:
        assert con.execute("SELECT count(*) FROM reports.kpi_history").fetchone()[0] == 30
    finally:
        con.close()


def test_a_models_file_mostly_free_space_is_compacted_when_published(tmp_path):
    from l2c_pipeline.warehouse.duckdb_warehouse import connect

    con = connect(tmp_path / "warehouse.duckdb")
    models, target = tmp_path / "warehouse.models.duckdb", tmp_path / "analytics.duckdb"
    try:
        # A large table written before the one that stays, then dropped (as a run replaces
        # its tables): the blocks it held stay in the file, free.
        con.execute(
            "CREATE TABLE core.scratch AS "
            "SELECT range AS n, md5(range::VARCHAR) AS text FROM range(1200000)"
        )
        con.execute(
            "CREATE TABLE core.event_log AS "
            "SELECT range AS n, md5(range::VARCHAR) AS text FROM range(300000)"
        )
        # A view with a lambda, as mining.directly_follows has, read back from DuckDB 1.1's
        # format (the first publish closes and opens the file again).
        con.execute(
            "CREATE VIEW core.tens AS SELECT list_transform([n], lambda x: x * 10)[1] AS ten "
            "FROM core.event_log"
        )
        publish_analytics(con, target)
        con.execute("DROP TABLE core.scratch")
        con.execute("CHECKPOINT l2c_models")
        bloated = models.stat().st_size
        published = publish_analytics(con, target)
        assert published == {"core.event_log": 300000, "core.tens": None}
        assert models.stat().st_size < bloated / 2
        assert target.stat().st_size == models.stat().st_size
        assert (
            con.execute("SELECT count(DISTINCT text) FROM core.event_log").fetchone()[0] == 300000
        )
        con.execute("CREATE TABLE core.after AS SELECT 1 AS one")  # attached again, writable
    finally:
        con.close()
    with duckdb.connect(str(target), read_only=True) as reader:
        assert reader.execute("SELECT sum(n) FROM core.event_log").fetchone()[0] == sum(
            range(300000)
        )
        assert reader.execute("SELECT sum(ten) FROM core.tens").fetchone()[0] == 10 * sum(
            range(300000)
        )
    assert [p.name for p in tmp_path.iterdir() if "compacting" in p.name] == []
