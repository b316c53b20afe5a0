"""The analytics file: published by rename, never blocking or half-visible to a reader."""

from __future__ import annotations

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
    calls = {"n": 0}
    real_quote = publish.quote

    def quote_then_fail(name: str) -> str:
        calls["n"] += 1
        if calls["n"] == 5:  # half-way through copying the tables
            raise OSError("disk full")
        return real_quote(name)

    monkeypatch.setattr(publish, "quote", quote_then_fail)
    with pytest.raises(OSError, match="disk full"):
        publish_analytics(warehouse, target)
    assert calls["n"] == 5
    assert target.stat().st_ino == before  # the published file was not touched
    with duckdb.connect(str(target), read_only=True) as reader:
        assert reader.execute("SELECT count(*) FROM core.event_log").fetchone()[0] > 0
    assert [p.name for p in tmp_path.iterdir() if "publishing" in p.name] == []
