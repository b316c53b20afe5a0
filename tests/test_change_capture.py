"""The pipeline's own change history for fields the org does not track (the standard Quote's
Status): several nightly syncs over a demo org whose quotes change between them give exactly
the changes (and events) they should, a change made and undone between two syncs leaves no
trace (the documented limit), and a deleted record's history is kept."""

from __future__ import annotations

from datetime import timedelta

import pytest

from l2c_pipeline.demo_org.generator import generate
from l2c_pipeline.demo_org.server import DemoOrgServer
from l2c_pipeline.mapping.load import load_mapping, shape_file
from l2c_pipeline.pipeline import build_pipeline
from l2c_pipeline.salesforce.catalogue import load_catalogue
from l2c_pipeline.salesforce.client import SalesforceClient
from l2c_pipeline.salesforce.settings import SalesforceSettings
from l2c_pipeline.salesforce.sync import sync_object
from l2c_pipeline.warehouse.duckdb_warehouse import connect

from .test_event_log import differences

DAY = 86400
STATUS_ACTIVITY = {
    "Presented": "Quote Presented",
    "Accepted": "Quote Accepted",
    "Denied": "Quote Rejected",
}


@pytest.fixture(scope="module")
def standard_org(tmp_path_factory):
    folder = tmp_path_factory.mktemp("standard-org")
    generate(folder, leads=800, seed=21, shape="standard")
    return folder


def nightly(server, con, mapping, run_id: str) -> None:
    client = SalesforceClient(SalesforceSettings.from_env(server.environment()))
    for spec in load_catalogue(mapping.objects, tracked=mapping.change_capture):
        sync_object(client, con, spec, run_id=run_id, bulk_threshold=10**9)
    build_pipeline(con, mapping=mapping)


def quote_row(server, quote_id: str) -> dict:
    meta = server.store.objects["Quote"]
    with server.store.lock:
        values = server.store.con.execute(
            'SELECT * FROM "Quote" WHERE Id = ?', [quote_id]
        ).fetchone()
    return dict(zip(meta.fields, values))


def captured(con, quote_id: str) -> list[tuple]:
    return con.execute(
        "SELECT field, old_value, new_value, observed_at FROM raw._l2c_field_changes "
        "WHERE record_id = ? ORDER BY observed_at, field",
        [quote_id],
    ).fetchall()


def quote_events(con, quote_id: str) -> list[tuple]:
    return con.execute(
        "SELECT activity, timestamp, resource_id FROM core.event_log WHERE object_id = ? "
        "AND activity IN ('Quote Presented', 'Quote Accepted', 'Quote Rejected') ORDER BY timestamp",
        [quote_id],
    ).fetchall()


def test_nightly_syncs_record_every_status_change_they_see(standard_org, tmp_path):
    mapping = load_mapping(shape_file("standard"))
    assert mapping.tracked_fields("Quote") == ("Status",)
    con = connect(tmp_path / "warehouse.duckdb")
    with DemoOrgServer(standard_org, work_dir=tmp_path / "tls") as server:
        nightly(server, con, mapping, "night-0")
        # The first sync sees each quote's current status, timed by its last change: exactly
        # the generator's expected log for a standard org.
        assert differences(con, standard_org / "expected_event_log.csv") == []
        open_quotes = [
            r[0]
            for r in server.store.con.execute(
                'SELECT q.Id FROM "Quote" q JOIN Opportunity o ON o.Id = q.OpportunityId '
                "WHERE q.Status = 'Presented' AND NOT q.IsDeleted AND NOT o.IsDeleted ORDER BY q.Id"
            ).fetchall()
        ]
        assert len(open_quotes) >= 4
        accepted, denied, undone, deleted = open_quotes[:4]
        before = {q: captured(con, q) for q in open_quotes[:4]}
        assert all(len(rows) == 1 and rows[0][2] == "Presented" for rows in before.values())

        # Night 1: one quote accepted, one denied, one changed and changed back before the
        # next sync, one deleted.
        server.api.apply(
            {"advance_seconds": DAY, "update": {"Quote": [{"Id": accepted, "Status": "Accepted"}]}}
        )
        server.api.apply(
            {"advance_seconds": 600, "update": {"Quote": [{"Id": denied, "Status": "Denied"}]}}
        )
        server.api.apply(
            {"advance_seconds": 600, "update": {"Quote": [{"Id": undone, "Status": "Accepted"}]}}
        )
        server.api.apply(
            {"advance_seconds": 600, "update": {"Quote": [{"Id": undone, "Status": "Presented"}]}}
        )
        server.api.apply({"advance_seconds": 600, "delete": {"Quote": [deleted]}})
        night_one = {q: quote_row(server, q) for q in (accepted, denied, undone, deleted)}
        nightly(server, con, mapping, "night-1")

        # Night 2: the denied quote is presented again, then accepted the night after.
        server.api.apply(
            {"advance_seconds": DAY, "update": {"Quote": [{"Id": denied, "Status": "Presented"}]}}
        )
        night_two = quote_row(server, denied)
        nightly(server, con, mapping, "night-2")
        server.api.apply(
            {"advance_seconds": DAY, "update": {"Quote": [{"Id": denied, "Status": "Accepted"}]}}
        )
        night_three = quote_row(server, denied)
        nightly(server, con, mapping, "night-3")
        # A night with no change records nothing (the overlap window re-reads, changes nothing).
        changes = con.execute("SELECT count(*) FROM raw._l2c_field_changes").fetchone()[0]
        server.api.apply({"advance_seconds": DAY})
        nightly(server, con, mapping, "night-4")
        assert con.execute("SELECT count(*) FROM raw._l2c_field_changes").fetchone()[0] == changes

    def at(row):
        return row["LastModifiedDate"]

    assert captured(con, accepted) == [
        *before[accepted],
        ("Status", "Presented", "Accepted", at(night_one[accepted])),
    ]
    assert captured(con, denied) == [
        *before[denied],
        ("Status", "Presented", "Denied", at(night_one[denied])),
        ("Status", "Denied", "Presented", at(night_two)),
        ("Status", "Presented", "Accepted", at(night_three)),
    ]
    # Changed and changed back between two syncs: the sync sees the same value, nothing is kept.
    assert captured(con, undone) == before[undone]
    # A deletion is a change of IsDeleted; the quote's history stays in the warehouse.
    assert captured(con, deleted) == [
        *before[deleted],
        ("IsDeleted", "false", "true", at(night_one[deleted])),
    ]

    # The event log reads the captured history as it reads Salesforce's own.
    presented_at = before[accepted][0][3]
    actor = night_one[accepted]["LastModifiedById"]
    assert quote_events(con, accepted)[-1] == ("Quote Accepted", at(night_one[accepted]), actor)
    assert [(a, t) for a, t, _ in quote_events(con, denied)][-3:] == [
        ("Quote Rejected", at(night_one[denied])),
        ("Quote Presented", at(night_two)),
        ("Quote Accepted", at(night_three)),
    ]
    assert quote_events(con, deleted) == []  # a deleted quote has no events
    assert quote_events(con, accepted)[0][1] == presented_at
    assert presented_at < at(night_one[accepted]) - timedelta(hours=1)
    # The coverage says where quote statuses come from, and since when.
    (history,) = con.execute(
        "SELECT status_history FROM core.data_coverage WHERE family = 'quote'"
    ).fetchone()
    assert history.startswith("change capture of Quote.Status since ")
    con.close()


def test_a_field_tracked_later_starts_from_the_stored_values(standard_org, tmp_path):
    """Tracking switched on for a warehouse that already holds the object: its stored values
    become the history's starting point, so the current state is not lost."""
    con = connect(tmp_path / "warehouse.duckdb")
    with DemoOrgServer(standard_org, work_dir=tmp_path / "tls") as server:
        client = SalesforceClient(SalesforceSettings.from_env(server.environment()))
        (order,) = load_catalogue(["Order"])
        sync_object(client, con, order, bulk_threshold=10**9)
        assert con.execute("SELECT count(*) FROM raw._l2c_field_changes").fetchone()[0] == 0
        (tracked,) = load_catalogue(["Order"], tracked={"Order": ["Status"]})
        sync_object(client, con, tracked, bulk_threshold=10**9)
    stored = con.execute('SELECT count(*) FROM raw."Order" WHERE Status IS NOT NULL').fetchone()[0]
    assert stored > 100
    assert con.execute(
        "SELECT count(*), count(*) FILTER (WHERE first_seen AND old_value IS NULL) "
        "FROM raw._l2c_field_changes WHERE object_name = 'Order' AND field = 'Status'"
    ).fetchone() == (stored, stored)
    assert (
        con.execute(
            "SELECT count(*) FROM meta.change_capture WHERE object_name = 'Order' AND field = 'Status'"
        ).fetchone()[0]
        == 1
    )
    con.close()
