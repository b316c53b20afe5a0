"""Headline KPIs equal figures computed independently from the org's CSV files and the
generator's expected event log; kpi_history keeps one snapshot per day."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from l2c_pipeline.mining.kpi_history import recent_kpis, record_kpi_snapshot
from l2c_pipeline.monitoring.drift import KPIS, RECENT_KPIS

from .test_event_log import extract_and_build
from .truth_measures import connect as connect_csvs
from .truth_measures import shape_of


@pytest.fixture(scope="module")
def built(truth_org, tmp_path_factory):
    con, _ = extract_and_build(truth_org, tmp_path_factory.mktemp("kpis") / "warehouse.duckdb")
    yield con
    con.close()


def invoice_amounts(org) -> str:
    """Each invoice's total and balance in the corporate currency, as SQL over the CSV views:
    the generator's expected corporate amounts where the org has several currencies, else the
    invoice's own."""
    if (org / "expected_amounts.csv").exists():
        return """
            SELECT record_id AS Id,
                   max(CAST(corporate_amount AS DOUBLE)) FILTER (WHERE object = 'blng__Invoice__c') AS total,
                   max(CAST(corporate_amount AS DOUBLE)) FILTER (WHERE object = 'blng__Invoice__c.balance')
                       AS balance
            FROM expected_amounts WHERE object LIKE 'blng__Invoice__c%' GROUP BY record_id"""
    return """
        SELECT Id, CAST(blng__TotalAmount__c AS DOUBLE) AS total, CAST(blng__Balance__c AS DOUBLE) AS balance
        FROM blng__Invoice__c"""


def independent_kpis(org) -> dict[str, float]:
    csv = connect_csvs(org)
    log = str(org / "expected_event_log.csv").replace("'", "''")
    csv.execute(f"""CREATE VIEW expected AS SELECT case_id, activity, ts("timestamp") AS happened, object_id
                    FROM read_csv('{log}', header = true, all_varchar = true)""")

    def one(sql: str) -> float:
        return csv.execute(sql).fetchone()[0]

    newest = one("SELECT max(happened) FROM expected")
    # Which payment settles which invoice: the payment itself (custom) or Billing's allocations.
    applied = (
        "SELECT blng__Invoice__c AS invoice_id, Id AS payment_id, ts(CreatedDate) AS recorded "
        "FROM blng__Payment__c"
        if shape_of(org) == "custom"
        else "SELECT blng__Invoice__c AS invoice_id, blng__Payment__c AS payment_id, "
        "ts(CreatedDate) AS recorded FROM blng__PaymentAllocationInvoice__c "
        "WHERE blng__Type__c = 'Allocation'"
    )
    figures = {
        # A lead converted into an opportunity that (still) exists, of all leads.
        "lead_to_opportunity_conversion": one("""
            SELECT avg((o.Id IS NOT NULL)::INT) FROM Lead l
            LEFT JOIN Opportunity o ON o.Id = l.ConvertedOpportunityId AND o.IsDeleted = 'false'
            WHERE l.IsDeleted = 'false'"""),
        "win_rate": one(
            "SELECT avg((IsWon = 'true')::INT) FROM Opportunity WHERE IsClosed = 'true' "
            "AND IsDeleted = 'false'"
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
        # Per approval process: its request to its decision, approvals the log keeps.
        "discount_approval_time": one("""
            SELECT avg(epoch(decided - requested)) / 86400 FROM (
                SELECT min(happened) FILTER (WHERE activity = 'Discount Approval Requested') AS requested,
                       min(happened) FILTER (WHERE activity IN ('Discount Approved', 'Discount Rejected'))
                           AS decided
                FROM expected GROUP BY object_id) WHERE decided IS NOT NULL"""),
        "quote_to_contract_time": one("""
            SELECT median(epoch(signed - quoted)) / 86400 FROM (
                SELECT min(happened) FILTER (WHERE activity = 'Quote Created') AS quoted,
                       min(happened) FILTER (WHERE activity = 'Contract Signed') AS signed
                FROM expected GROUP BY case_id) WHERE signed > quoted"""),
        # From sending (or posting, where the org records no sending) to the day the customer
        # paid the payment that settled the invoice, over invoices of deals that exist and are
        # paid today: a payment taken off an invoice leaves it unpaid until it is marked paid again.
        "invoice_to_payment_time": one(f"""
            WITH sent AS (
                SELECT object_id AS invoice_id,
                       coalesce(min(happened) FILTER (WHERE activity = 'Invoice Sent'),
                                min(happened) FILTER (WHERE activity = 'Invoice Posted')) AS at,
                       max(happened) FILTER (WHERE activity = 'Invoice Paid') AS marked_paid
                FROM expected WHERE activity IN ('Invoice Sent', 'Invoice Posted', 'Invoice Paid')
                  AND object_id IN (SELECT Id FROM blng__Invoice__c WHERE blng__PaymentStatus__c = 'Paid')
                GROUP BY object_id
            ), received AS (
                SELECT Id AS payment_id,
                       CASE WHEN CAST(blng__PaymentDate__c AS DATE) = ts(CreatedDate)::DATE THEN ts(CreatedDate)
                            ELSE CAST(blng__PaymentDate__c AS DATE)::TIMESTAMP END AS at
                FROM blng__Payment__c
            ), settled AS (
                SELECT s.invoice_id, max(r.at) AS paid
                FROM sent AS s JOIN ({applied}) AS a USING (invoice_id) JOIN received AS r USING (payment_id)
                WHERE a.recorded <= s.marked_paid
                GROUP BY s.invoice_id
            )
            SELECT median(epoch(paid - s.at)) / 86400 FROM settled JOIN sent AS s USING (invoice_id)"""),
        # In the corporate currency: an org in several currencies has the generator's corporate
        # amount of each invoice beside it.
        "days_sales_outstanding": csv.execute(
            f"""
            WITH amounts AS ({invoice_amounts(org)})
            SELECT sum(a.balance) / sum(a.total)
                   FILTER (WHERE CAST(i.blng__InvoiceDate__c AS DATE) > CAST(? AS DATE) - 90) * 90
            FROM blng__Invoice__c AS i JOIN amounts AS a USING (Id)
            WHERE i.IsDeleted = 'false' AND i.blng__InvoiceStatus__c = 'Posted'
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


def test_every_kpi_of_the_summary_has_its_drift_check(built):
    # A KPI added to kpi_summary.sql without a direction would go unwatched: the drift checks
    # (one per monitored KPI) must cover exactly the KPIs the model yields.
    summary = {row[0] for row in built.execute("SELECT kpi FROM reports.kpi_summary").fetchall()}
    assert summary == set(KPIS) and len(KPIS) == len(summary) == 10


def test_kpi_history_keeps_a_snapshot_per_day_and_a_rerun_replaces(built):
    kpis = built.execute("SELECT count(*) FROM reports.kpi_summary").fetchone()[0]
    assert record_kpi_snapshot(built, date(2026, 11, 26)) == kpis
    assert record_kpi_snapshot(built, date(2026, 11, 27)) == kpis
    # The same day again, after the figures moved: replaced, not duplicated.
    built.execute("UPDATE reports.kpi_summary SET value = value + 1 WHERE kpi = 'win_rate'")
    try:
        assert record_kpi_snapshot(built, date(2026, 11, 27)) == kpis
    finally:  # the module's other tests read the figures
        built.execute("UPDATE reports.kpi_summary SET value = value - 1 WHERE kpi = 'win_rate'")
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


def test_comparisons_with_the_rest_equal_medians_over_the_other_values(tables):
    # quote_to_contract finds the median of "every other value of the dimension" by rank
    # arithmetic in one pass; here it is the plain definition, in pandas, group by group.
    quoted = tables.execute("SELECT case_id FROM mining.case_facts WHERE quote_versions > 0").df()
    groups = tables.execute(
        "SELECT case_id, dimension, dimension_value FROM mining.case_dimensions "
        "WHERE dimension IN ('sales_rep', 'team', 'region', 'product_family')"
    ).df()
    groups = groups[groups.case_id.isin(quoted.case_id)]
    approvals = tables.execute(
        "SELECT case_id, wait_hours AS value FROM mining.approval_waits"
    ).df()
    quotes = tables.execute(
        'SELECT case_id, object_id, activity, "timestamp" FROM core.event_log '
        "WHERE activity IN ('Quote Created', 'Quote Presented', 'Quote Accepted', 'Quote Rejected')"
    ).df()
    presented = (
        quotes[quotes.activity == "Quote Presented"]
        .groupby(["case_id", "object_id"])
        .timestamp.min()
    )
    answered = (
        quotes[quotes.activity.isin(["Quote Accepted", "Quote Rejected"])]
        .groupby(["case_id", "object_id"])
        .timestamp.min()
    )
    decisions = ((answered - presented).dt.total_seconds() / 86400).rename("value").reset_index()
    expected = {}
    for measure, samples in (("approval", approvals), ("decision", decisions)):
        samples = groups.merge(samples.dropna(subset=["value"]), on="case_id")
        for (dimension, value), own in samples.groupby(["dimension", "dimension_value"]):
            rest = samples[(samples.dimension == dimension) & (samples.dimension_value != value)]
            if len(rest):
                expected[measure, dimension, value] = own.value.median() / rest.value.median()
    actual = tables.execute(
        "SELECT dimension, dimension_value, approval_hours_vs_rest, decision_days_vs_rest "
        "FROM reports.quote_to_contract WHERE dimension <> 'all'"
    ).fetchall()
    assert len(actual) > 20
    checked = 0
    for dimension, value, approval, decision in actual:
        for measure, figure in (("approval", approval), ("decision", decision)):
            if (measure, dimension, value) in expected:
                assert math.isclose(figure, expected[measure, dimension, value], rel_tol=1e-9)
                checked += 1
            else:
                assert figure is None
    assert checked > 40


def test_bottleneck_figures_equal_pandas_on_the_same_occurrences(tables):
    transitions = tables.execute(
        "SELECT 'transition' AS kind, activity AS from_activity, next_activity AS to_activity, "
        "case_id, wait_hours AS hours FROM mining.milestone_events WHERE next_activity IS NOT NULL"
    ).df()
    stages = tables.execute(
        "SELECT 'stage' AS kind, 'Stage: ' || stage AS from_activity, '' AS to_activity, case_id, "
        "days * 24 AS hours FROM mining.stage_visits WHERE days IS NOT NULL"
    ).df()
    occurrences = pd.concat([transitions, stages])
    keys = ["kind", "from_activity", "to_activity"]
    occurrences["median"] = occurrences.groupby(keys).hours.transform("median")
    occurrences["excess"] = (occurrences.hours - occurrences["median"]).clip(lower=0)
    expected = occurrences.groupby(keys).agg(
        occurrences=("hours", "size"),
        cases=("case_id", "nunique"),
        median_hours=("hours", "median"),
        added_wait_hours=("excess", "sum"),
    )
    actual = tables.execute(
        "SELECT kind, from_activity, coalesce(to_activity, '') AS to_activity, occurrences, cases, "
        "median_hours, added_wait_hours, bottleneck_rank FROM reports.bottlenecks"
    ).df()
    assert len(actual) == len(expected) > 20
    merged = actual.merge(expected.reset_index(), on=keys, suffixes=("", "_pandas"))
    assert len(merged) == len(actual)
    for column in ("occurrences", "cases"):
        assert (merged[column] == merged[f"{column}_pandas"]).all(), column
    for column in ("median_hours", "added_wait_hours"):
        assert np.allclose(merged[column], merged[f"{column}_pandas"], rtol=1e-9), column
    # Ranked by the wait they add.
    ranked = merged.sort_values("bottleneck_rank").added_wait_hours.tolist()
    assert ranked == sorted(ranked, reverse=True)


def _median_se(x: np.ndarray) -> float:
    """Half the spread of numpy's quantiles at 0.5 -/+ 0.5/sqrt(n) (linear interpolation)."""
    n = len(x)
    low, high = np.quantile(x, [0.5 - 0.5 / math.sqrt(n), 0.5 + 0.5 / math.sqrt(n)])
    return (high - low) / 2


def test_the_median_standard_error_estimates_the_spread_of_medians():
    # For a normal sample the estimate is 1.2533 sigma / sqrt(n), and it matches how much the
    # medians of repeated samples actually spread.
    rng = np.random.default_rng(3)
    n, sigma = 2500, 10.0
    estimates = [_median_se(rng.normal(40, sigma, n)) for _ in range(200)]
    medians = [np.median(rng.normal(40, sigma, n)) for _ in range(2000)]
    assert np.mean(estimates) == pytest.approx(1.2533 * sigma / math.sqrt(n), rel=0.05)
    assert np.std(medians, ddof=1) == pytest.approx(np.mean(estimates), rel=0.1)


def test_kpi_standard_errors_equal_numpy_on_the_same_cases(built):
    rows = {
        kpi: (value, cases, se)
        for kpi, value, cases, se in built.execute(
            "SELECT kpi, value, cases, standard_error FROM reports.kpi_summary"
        ).fetchall()
    }
    assert set(rows) == {
        "sales_cycle_time", "lead_to_opportunity_conversion", "win_rate",
        "quote_to_contract_time", "invoice_to_payment_time", "days_sales_outstanding",
        "order_rework_rate", "conformance_rate", "average_discount", "discount_approval_time",
    }  # fmt: skip
    waits = (
        built.execute(
            "SELECT wait_hours / 24 AS d FROM mining.approval_waits WHERE decided_at IS NOT NULL"
        )
        .df()["d"]
        .to_numpy(dtype=float)
    )
    value, cases, se = rows["discount_approval_time"]
    assert cases == len(waits) > 30 and value == pytest.approx(waits.mean())
    assert se == pytest.approx(np.std(waits, ddof=1) / math.sqrt(len(waits)))
    days = (
        built.execute(
            "SELECT days_to_pay FROM mining.invoice_payments WHERE days_to_pay IS NOT NULL"
        )
        .df()["days_to_pay"]
        .to_numpy(dtype=float)
    )
    value, cases, se = rows["invoice_to_payment_time"]
    assert cases == len(days) > 100 and value == pytest.approx(np.median(days))
    assert se == pytest.approx(_median_se(days), rel=1e-9) and se > 0
    cycle = (
        built.execute("""
        SELECT epoch(min(timestamp) FILTER (WHERE activity = 'Opportunity Closed Won')
                     - min(timestamp) FILTER (WHERE activity = 'Opportunity Created')) / 86400 AS d
        FROM core.event_log GROUP BY case_id HAVING d IS NOT NULL""")
        .df()["d"]
        .to_numpy()
    )
    value, cases, se = rows["sales_cycle_time"]
    assert cases == len(cycle) and se == pytest.approx(_median_se(cycle), rel=1e-9)
    closed = (
        built.execute("SELECT is_won::INT AS won FROM staging.stg_opportunities WHERE is_closed")
        .df()["won"]
        .to_numpy()
    )
    value, cases, se = rows["win_rate"]
    p = closed.mean()
    assert cases == len(closed) and se == pytest.approx(math.sqrt(p * (1 - p) / len(closed)))
    discounts = (
        built.execute(
            "SELECT discount_pct FROM staging.stg_opportunities WHERE is_won AND discount_pct IS NOT NULL"
        )
        .df()["discount_pct"]
        .to_numpy(dtype=float)
    )
    value, cases, se = rows["average_discount"]
    assert cases == len(discounts)
    assert se == pytest.approx(np.std(discounts, ddof=1) / math.sqrt(len(discounts)))
    # DSO = 90 sum(a) / sum(b): the delta-method error of a ratio of sums.
    terms = built.execute("""
        SELECT coalesce(balance, 0) AS a,
               CASE WHEN invoice_date > (SELECT max(timestamp) FROM core.event_log)::DATE - 90
                    THEN coalesce(total_amount, 0) ELSE 0 END AS b
        FROM staging.stg_invoices WHERE invoice_status = 'Posted'""").df()
    a, b = terms["a"].to_numpy(float), terms["b"].to_numpy(float)
    ratio = a.sum() / b.sum()
    value, cases, se = rows["days_sales_outstanding"]
    assert value == pytest.approx(90 * ratio) and cases == len(a)
    assert se == pytest.approx(90 * math.sqrt(((a - ratio * b) ** 2).sum()) / b.sum())
    for kpi in ("lead_to_opportunity_conversion", "order_rework_rate", "conformance_rate"):
        value, cases, se = rows[kpi]
        assert cases > 0 and se == pytest.approx(math.sqrt(value * (1 - value) / cases)), kpi


def independent_segment_kpis(org) -> dict[tuple[str, str, str], float]:
    """(dimension, segment, kpi) -> value, per region (the owner's Division, or the role above
    the team's in a standard org) and team (the owner's role), from the org's CSV files and the
    expected event log."""
    csv = connect_csvs(org)
    log = str(org / "expected_event_log.csv").replace("'", "''")
    region = "parent.Name" if shape_of(org) == "standard" else "u.Division"
    rows = csv.execute(f"""
        WITH expected AS (
            SELECT case_id, activity, ts("timestamp") AS happened
            FROM read_csv('{log}', header = true, all_varchar = true)
        ), cycle AS (
            SELECT case_id,
                   min(happened) FILTER (WHERE activity = 'Opportunity Created') AS created,
                   min(happened) FILTER (WHERE activity = 'Opportunity Closed Won') AS won
            FROM expected GROUP BY case_id
        ), lead_owner AS (
            SELECT l.Id, l.ConvertedOpportunityId, {region} AS region, r.Name AS team
            FROM Lead l JOIN "User" u ON u.Id = l.OwnerId
            JOIN UserRole r ON r.Id = u.UserRoleId
            LEFT JOIN UserRole parent ON parent.Id = r.ParentRoleId
            WHERE l.IsDeleted = 'false'
        ), deals AS (
            SELECT o.region, o.team, o.IsClosed = 'true' AS closed, o.IsWon = 'true' AS won,
                   o.discount, epoch(c.won - c.created) / 86400 AS cycle_days
            FROM opp o LEFT JOIN cycle c ON c.case_id = o.Id
        ), leads AS (
            SELECT lo.region, lo.team, (o.Id IS NOT NULL) AS converted
            FROM lead_owner lo
            LEFT JOIN Opportunity o ON o.Id = lo.ConvertedOpportunityId AND o.IsDeleted = 'false'
        )
        SELECT 'region', region, 'win_rate', avg(won::INT) FILTER (WHERE closed) FROM deals GROUP BY region
        UNION ALL SELECT 'team', team, 'win_rate', avg(won::INT) FILTER (WHERE closed) FROM deals GROUP BY team
        UNION ALL SELECT 'region', region, 'average_discount', avg(discount) FILTER (WHERE won) FROM deals GROUP BY region
        UNION ALL SELECT 'region', region, 'sales_cycle_time', median(cycle_days) FILTER (WHERE won) FROM deals GROUP BY region
        UNION ALL SELECT 'team', team, 'sales_cycle_time', median(cycle_days) FILTER (WHERE won) FROM deals GROUP BY team
        UNION ALL SELECT 'region', region, 'lead_to_opportunity_conversion', avg(converted::INT) FROM leads GROUP BY region
        UNION ALL SELECT 'team', team, 'lead_to_opportunity_conversion', avg(converted::INT) FROM leads GROUP BY team
    """).fetchall()  # fmt: skip
    csv.close()
    return {(d, s, k): v for d, s, k, v in rows if v is not None}


def test_kpis_per_region_and_team_equal_independent_figures(built, truth_org):
    segments = {
        (d, s, k): (v, n, se)
        for d, s, k, v, n, se in built.execute(
            "SELECT dimension, segment, kpi, value, cases, standard_error FROM reports.kpi_segments"
        ).fetchall()
    }
    expected = independent_segment_kpis(truth_org)
    assert len(expected) >= 40  # 4 KPIs in 4 regions, 3 in 8 teams
    for key, value in expected.items():
        assert key in segments, key
        assert math.isclose(segments[key][0], value, rel_tol=1e-9), (key, segments[key], value)
    # Every region's cases add up to the whole org's (each case has one region), the regions'
    # shares pool to the org's independent figure, and the share KPIs' errors are binomial on
    # their own counts.
    whole = independent_kpis(truth_org)
    org = {
        kpi: (whole[kpi], cases)
        for kpi, cases in built.execute("SELECT kpi, cases FROM reports.kpi_summary").fetchall()
        if kpi in whole
    }
    for kpi in ("win_rate", "lead_to_opportunity_conversion", "sales_cycle_time"):
        regions = [
            (v, n) for (d, _, k), (v, n, _) in segments.items() if d == "region" and k == kpi
        ]
        assert sum(n for _, n in regions) == org[kpi][1], kpi
        if kpi != "sales_cycle_time":
            pooled = sum(v * n for v, n in regions) / sum(n for _, n in regions)
            assert math.isclose(pooled, org[kpi][0], rel_tol=1e-9), kpi
    for (_, _, kpi), (value, cases, error) in segments.items():
        if kpi == "win_rate" and cases >= 2:
            assert math.isclose(error, math.sqrt(value * (1 - value) / cases), rel_tol=1e-9)


def test_trailing_window_kpis_equal_numpy_on_the_cases_that_ended_in_it(built, truth_org):
    # The drift checks' trailing windows (monitoring/recent_kpis.sql) against the generator's
    # expected event log, cut by hand at the same window.
    log = pd.read_csv(truth_org / "expected_event_log.csv", dtype=str)
    log["t"] = pd.to_datetime(log["timestamp"]).dt.tz_localize(None)
    end = log["t"].max()
    for days in (7, 28):
        start = end - pd.Timedelta(days=days)
        rows = {r[0]: r for r in recent_kpis(built, days)}
        assert set(rows) == set(RECENT_KPIS)
        assert all(r[4] == start and r[5] == end for r in rows.values())

        def first(activities, by="case_id"):
            return log[log["activity"].isin(activities)].groupby(by)["t"].min()

        created, won = first(["Opportunity Created"]), first(["Opportunity Closed Won"])
        cycle = pd.concat([created.rename("a"), won.rename("b")], axis=1).dropna()
        cycle = cycle[(cycle["b"] > start) & (cycle["b"] <= end)]
        cycle_days = ((cycle["b"] - cycle["a"]).dt.total_seconds() / 86400).to_numpy()
        lost = first(["Opportunity Closed Lost"])
        closed = pd.concat([won.rename("won"), lost.rename("lost")], axis=1)
        ended = closed["won"].fillna(closed["lost"])
        closed = closed[(ended > start) & (ended <= end)]
        wins = closed["won"].notna().to_numpy(dtype=float)
        requested = first(["Discount Approval Requested"], "object_id")
        decided = first(["Discount Approved", "Discount Rejected"], "object_id")
        waits = pd.concat([requested.rename("a"), decided.rename("b")], axis=1).dropna()
        waits = waits[(waits["b"] > start) & (waits["b"] <= end)]
        wait_days = ((waits["b"] - waits["a"]).dt.total_seconds() / 86400).to_numpy()
        _, value, cases, se, *_ = rows["sales_cycle_time"]
        assert cases == len(cycle_days) > 2 and value == pytest.approx(np.median(cycle_days))
        assert se == pytest.approx(_median_se(cycle_days), rel=1e-9)
        _, value, cases, se, *_ = rows["win_rate"]
        p = wins.mean()
        assert cases == len(wins) > 2 and value == pytest.approx(p)
        assert se == pytest.approx(math.sqrt(p * (1 - p) / len(wins)))
        _, value, cases, se, *_ = rows["discount_approval_time"]
        assert cases == len(wait_days) > 2 and value == pytest.approx(wait_days.mean())
        assert se == pytest.approx(np.std(wait_days, ddof=1) / math.sqrt(len(wait_days)))


def test_kpi_history_writes_the_trailing_window_beside_the_whole_period(built):
    day = date(2026, 11, 25)
    record_kpi_snapshot(built, day, 7)
    try:
        written = {
            r[0]: r[1:]
            for r in built.execute(
                "SELECT kpi, recent_days, recent_value, recent_cases, recent_standard_error "
                "FROM reports.kpi_history WHERE snapshot_date = ?",
                [day],
            ).fetchall()
        }
        expected = {r[0]: (7, r[1], r[2], r[3]) for r in recent_kpis(built, 7)}
        for kpi, row in written.items():
            # Floats to the last bit aside: a sum in parallel adds in any order.
            want = expected.get(kpi, (None, None, None, None))
            assert [v if v is None else pytest.approx(v, rel=1e-12) for v in want] == list(row), kpi
        assert set(expected) < set(written)
    finally:  # the module's other tests count the days
        built.execute("DELETE FROM reports.kpi_history WHERE snapshot_date = ?", [day])
