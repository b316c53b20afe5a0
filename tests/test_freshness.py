"""Freshness checks (monitoring/freshness.py): a raw object's last successful sync against
L2C_FRESHNESS_HOURS, the event log's newest event against the org's clock (the newest sync
watermark), and the file source, which has no org clock."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from l2c_pipeline.monitoring.freshness import (
    event_log_freshness,
    event_log_lag_hours,
    freshness_hours,
    sync_freshness,
)
from l2c_pipeline.warehouse.duckdb_warehouse import connect

NOW = datetime(2026, 5, 4, 12, 0, 0)


@pytest.fixture
def con(tmp_path):
    con = connect(tmp_path / "warehouse.duckdb")
    yield con
    con.close()


def _synced(con, name, finished_at, status="synced", watermark=None):
    con.execute(
        "INSERT INTO meta.sync_log (run_id, object_name, started_at, finished_at, status) "
        "VALUES ('r', ?, ?, ?, ?)",
        [name, finished_at - timedelta(minutes=1), finished_at, status],
    )
    if status == "synced":
        con.execute(
            "INSERT OR REPLACE INTO meta.sync_state (object_name, cursor_field, watermark, "
            "last_synced_at) VALUES (?, 'SystemModstamp', ?, ?)",
            [name, watermark, finished_at],
        )


def test_an_object_synced_too_long_ago_warns_and_a_fresh_one_passes(con):
    _synced(con, "Lead", NOW - timedelta(hours=3))
    _synced(con, "Opportunity", NOW - timedelta(hours=40))
    # A failed sync since does not count as fresh.
    _synced(con, "Opportunity", NOW - timedelta(hours=2), status="stopped")
    _synced(con, "Quote", NOW - timedelta(hours=1), status="skipped")
    found = {
        r.subject: r
        for r in sync_freshness(con, ["Lead", "Opportunity", "Quote", "Order"], 36, NOW)
    }
    assert found["Lead"].passed and found["Lead"].metadata["age_hours"] == 3.0
    opportunity = found["Opportunity"]
    assert not opportunity.passed
    assert opportunity.metadata["age_hours"] == 40.0 and opportunity.metadata["baseline"] == 36
    assert opportunity.metadata["last_synced_at"] == "2026-05-02T20:00:00Z"
    assert "40.0 hours ago" in opportunity.description
    assert "more than L2C_FRESHNESS_HOURS=36" in opportunity.description
    assert found["Quote"].passed and "no such object" in found["Quote"].description
    assert not found["Order"].passed and "never been synced" in found["Order"].description
    # A longer limit: fresh again.
    assert all(r.passed for r in sync_freshness(con, ["Lead", "Opportunity"], 48, NOW))


def test_the_event_log_warns_when_it_trails_the_orgs_clock(con):
    con.execute(
        "CREATE TABLE core.event_log (case_id VARCHAR, activity VARCHAR, timestamp TIMESTAMP)"
    )
    con.execute(
        "INSERT INTO core.event_log VALUES ('c', 'Lead Created', ?)", [NOW - timedelta(days=5)]
    )
    _synced(con, "Lead", NOW, watermark=NOW - timedelta(hours=1))
    found = event_log_freshness(con, 72, file_source=False)
    assert not found.passed and found.metadata["lag_hours"] == 119.0
    assert found.metadata["org_clock"] == "2026-05-04T11:00:00Z"
    con.execute(
        "INSERT INTO core.event_log VALUES ('c', 'Lead Converted', ?)", [NOW - timedelta(hours=30)]
    )
    found = event_log_freshness(con, 72, file_source=False)
    assert found.passed and found.metadata["lag_hours"] == 29.0
    # The file source has no org clock: passes and says so.
    found = event_log_freshness(con, 1, file_source=True)
    assert found.passed and found.metadata["org_clock"] == "none: file source"
    assert "no org clock" in found.description


def test_freshness_settings_have_defaults_and_reject_nonsense():
    assert freshness_hours({}) == 36 and event_log_lag_hours({}) == 72
    assert freshness_hours({"L2C_FRESHNESS_HOURS": "12"}) == 12
    with pytest.raises(ValueError, match="L2C_FRESHNESS_HOURS must be a number of hours"):
        freshness_hours({"L2C_FRESHNESS_HOURS": "a day"})
    with pytest.raises(ValueError, match="L2C_EVENT_LOG_LAG_HOURS must be a number of hours"):
        event_log_lag_hours({"L2C_EVENT_LOG_LAG_HOURS": "-3"})
