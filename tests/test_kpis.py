"""Headline KPIs equal figures computed independently from the org's CSV files and the
generator's expected event log; kpi_history keeps one snapshot per day."""

from __future__ import annotations

import math
from datetime import date

import pytest

from l2c_pipeline.mining.kpi_history import record_kpi_snapshot

from .test_event_log import extract_and_build
from .truth_measures import connect as connect_csvs


@pytest.fixture(scope="module")
def built(truth_org, tmp_path_factory):
    con, _ = extract_and_build(truth_org, tmp_path_factory.mktemp("kpis") / "warehouse.duckdb")
    yield con
    con.close()


def independent_kpis(org) -> dict[str, float]:
    csv = connect_csvs(org)
    log = str(org / "expected_event_log.csv").replace("'", "''")
    csv.execute(f"""CREATE VIEW expected AS SELECT case_id, activity, ts("timestamp") AS happened, object_id
                    FROM read_csv('{log}', header = true, all_varchar = true)""")

    def one(sql: str) -> float:
        return csv.execute(sql).fetchone()[0]

    newest = one("SELECT max(happened) FROM expected")
    figures = {
        "lead_to_opportunity_conversion": one(
            "SELECT avg((IsConverted = 'true')::INT) FROM Lead WHERE IsDeleted = 'false'"
        ),
        "win_rate": one(
            "SELECT avg((IsWon = 'true')::INT) FROM Opportunity WHERE IsClosed = 'true'"
        ),
        "order_rework_rate": one("""
            SELECT avg((Id IN (SELECT OriginalOrderId FROM "Order" WHERE IsReductionOrder = 'true'))::INT)
            FROM "Order" WHERE IsReductionOrder = 'false'"""),
        "average_discount": one("SELECT avg(discount) FROM opp WHERE IsWon = 'true'"),
        "sales_cycle_time": one("""
            SELECT median(epoch(won - created)) / 86400 FROM (
                SELECT min(happened) FILTER (WHERE activity = 'Opportunity Created') AS created,
                       min(happened) FILTER (WHERE activity = 'Opportunity Closed Won') AS won
                FROM expected GROUP BY case_id) WHERE won IS NOT NULL"""),
        "quote_to_contract_time": one("""
            SELECT median(epoch(signed - quoted)) / 86400 FROM (
                SELECT min(happened) FILTER (WHERE activity = 'Quote Created') AS quoted,
                       min(happened) FILTER (WHERE activity = 'Contract Signed') AS signed
                FROM expected GROUP BY case_id) WHERE signed > quoted"""),
        "invoice_to_payment_time": one("""
            SELECT median(epoch(paid - sent)) / 86400 FROM (
                SELECT min(happened) FILTER (WHERE activity = 'Invoice Sent') AS sent,
                       min(happened) FILTER (WHERE activity = 'Invoice Paid') AS paid
                FROM expected WHERE activity IN ('Invoice Sent', 'Invoice Paid') GROUP BY object_id)
            WHERE paid IS NOT NULL AND sent IS NOT NULL"""),
        "days_sales_outstanding": csv.execute(
            """
            SELECT sum(CAST(blng__Balance__c AS DOUBLE)) / sum(CAST(blng__TotalAmount__c AS DOUBLE))
                   FILTER (WHERE CAST(blng__InvoiceDate__c AS DATE) > CAST(? AS DATE) - 90) * 90
            FROM blng__Invoice__c WHERE IsDeleted = 'false' AND blng__InvoiceStatus__c = 'Posted'
        """,
            [newest],
        ).fetchone()[0],
    }
    csv.close()
    return figures


def test_kpis_equal_independent_figures(built, truth_org):
    kpis = {
        kpi: value
        for kpi, value in built.execute("SELECT kpi, value FROM reports.kpi_summary").fetchall()
    }
    expected = independent_kpis(truth_org)
    # conformance_rate is checked against pm4py's alignments in test_conformance.
    assert set(kpis) == set(expected) | {"conformance_rate"}
    for kpi, value in expected.items():
        assert value is not None and math.isclose(kpis[kpi], value, rel_tol=1e-9), (
            kpi,
            kpis[kpi],
            value,
        )


def test_kpi_history_keeps_a_snapshot_per_day_and_a_rerun_replaces(built):
    kpis = built.execute("SELECT count(*) FROM reports.kpi_summary").fetchone()[0]
    assert record_kpi_snapshot(built, date(2026, 11, 26)) == kpis
    assert record_kpi_snapshot(built, date(2026, 11, 27)) == kpis
    # The same day again, after the figures moved: replaced, not duplicated.
    built.execute("UPDATE reports.kpi_summary SET value = value + 1 WHERE kpi = 'win_rate'")
    assert record_kpi_snapshot(built, date(2026, 11, 27)) == kpis
    rows = built.execute(
        "SELECT snapshot_date, count(*) FROM reports.kpi_history GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert rows == [(date(2026, 11, 26), kpis), (date(2026, 11, 27), kpis)]
    first, second = (
        v
        for (v,) in built.execute(
            "SELECT value FROM reports.kpi_history WHERE kpi = 'win_rate' ORDER BY snapshot_date"
        ).fetchall()
    )
    assert math.isclose(second - first, 1.0)
