"""Several currencies: every opportunity, order and invoice of a multi-currency demo org
(cpq_billing) is reported in the corporate currency at the rate on its record's date, equal to
the generator's expected amounts, with its own amount and currency beside it; a single-currency
org (custom: no currency field, no CurrencyType) is reported exactly as by a mapping that knows
nothing of currencies."""

from __future__ import annotations

import pytest

from l2c_pipeline.demo_org.generator import generate
from l2c_pipeline.mapping.load import load_mapping
from l2c_pipeline.mapping.views import missing_parts

from .test_event_log import extract_and_build

LEADS = 300


@pytest.fixture(scope="module")
def multi_currency(tmp_path_factory):
    org = tmp_path_factory.mktemp("currency-org")
    generate(org, leads=LEADS, seed=21, shape="cpq_billing", workers=1)
    con, _ = extract_and_build(org, tmp_path_factory.mktemp("currency-wh") / "warehouse.duckdb")
    literal = str(org / "expected_amounts.csv").replace("'", "''")
    con.execute(
        f"CREATE TEMP VIEW expected AS SELECT object, record_id, currency, "
        f"CAST(amount AS DOUBLE) AS amount, CAST(conversion_rate AS DOUBLE) AS rate, "
        f"CAST(corporate_amount AS DOUBLE) AS corporate "
        f"FROM read_csv('{literal}', header = true, all_varchar = true)"
    )
    yield org, con
    con.close()


@pytest.mark.parametrize(
    "obj, table, key, amount, original",
    [
        ("Opportunity", "stg_opportunities", "opportunity_id", "amount", "original_amount"),
        ("Order", "stg_orders", "order_id", "total_amount", "original_total_amount"),
        ("SBQQ__Quote__c", "stg_quotes", "quote_id", "grand_total", "original_grand_total"),
        ("blng__Invoice__c", "stg_invoices", "invoice_id", "total_amount", "original_total_amount"),
        ("blng__Invoice__c.balance", "stg_invoices", "invoice_id", "balance", "original_balance"),
    ],
)
def test_corporate_amounts_equal_the_generators(multi_currency, obj, table, key, amount, original):
    _, con = multi_currency
    rows = con.execute(f"""
        SELECT e.record_id, e.currency, s.currency_code, e.amount, s.{original}, e.corporate, s.{amount}
        FROM expected AS e JOIN staging.{table} AS s ON s.{key} = e.record_id
        WHERE e.object = '{obj}'""").fetchall()
    # Every record the warehouse keeps (deleted deals' records are not in staging).
    kept = con.execute(f"SELECT count(*) FROM staging.{table}").fetchone()[0]
    assert len(rows) == kept > 20
    wrong = [
        r
        for r in rows
        if r[1] != r[2] or r[3] != r[4] or abs(r[5] - r[6]) > 1e-9 * max(1.0, abs(r[5]))
    ]
    assert not wrong, wrong[:5]
    # Several currencies, JPY or CLP (no decimals) among them, and rates that move.
    currencies = {r[1] for r in rows}
    assert len(currencies) >= 5 and currencies & {"JPY", "CLP"}
    assert con.execute(
        f"SELECT count(DISTINCT rate) > count(DISTINCT currency) FROM expected WHERE object = '{obj}'"
    ).fetchone()[0]


def test_reports_are_in_the_corporate_currency(multi_currency):
    _, con = multi_currency
    # Revenue of won deals: the corporate amounts of the won opportunities.
    won_expected = con.execute("""
        SELECT sum(e.corporate) FROM expected AS e
        JOIN raw.Opportunity AS o ON o.Id = e.record_id
        WHERE e.object = 'Opportunity' AND o.IsWon AND NOT o.IsDeleted""").fetchone()[0]
    won_reported = con.execute("SELECT sum(won_amount) FROM reports.discount_analysis").fetchone()[
        0
    ]
    assert won_reported == pytest.approx(won_expected, rel=1e-9)
    # Deal sizes: the bands of the corporate amounts.
    wrong_band = con.execute("""
        SELECT count(*) FROM core.cases AS c
        JOIN expected AS e ON e.record_id = c.opportunity_id AND e.object = 'Opportunity'
        JOIN mapped.deal_size_bands AS b ON c.deal_size = b.band
        WHERE NOT (e.corporate >= coalesce(b.lower_bound, '-infinity'::DOUBLE)
                   AND e.corporate < coalesce(b.upper_bound, 'infinity'::DOUBLE))""").fetchone()[0]
    assert wrong_band == 0
    # The invoices' amounts in the payment figures: corporate totals.
    invoiced = con.execute(
        "SELECT invoiced_amount FROM reports.payment_behavior WHERE dimension = 'all'"
    ).fetchone()[0]
    invoiced_expected = con.execute("""
        SELECT sum(e.corporate) FROM expected AS e
        JOIN staging.stg_invoices AS i ON i.invoice_id = e.record_id
        WHERE e.object = 'blng__Invoice__c' AND i.opportunity_id IS NOT NULL""").fetchone()[0]
    assert invoiced == pytest.approx(invoiced_expected, rel=1e-9)


@pytest.fixture(scope="module")
def single_currency(tmp_path_factory):
    """A custom-shape org (no currency anywhere), built with the shipped mapping and with one that
    names no currency field or object at all."""
    org = tmp_path_factory.mktemp("one-currency-org")
    generate(org, leads=LEADS, seed=22, shape="custom", workers=1)
    folder = tmp_path_factory.mktemp("one-currency")
    no_currency = folder / "no_currency.yaml"
    no_currency.write_text(
        "extends: custom\n"
        "entities:\n"
        "  currencies: null\n"
        "  dated_rates: null\n"
        "  opportunities: {columns: {currency_code: null}}\n"
        "  quotes: {columns: {currency_code: null}}\n"
        "  orders: {columns: {currency_code: null}}\n"
        "  invoices: {columns: {currency_code: null}}\n"
        "  payment_allocations: {columns: {currency_code: null}}\n",
        encoding="utf-8",
    )
    with_currencies, _ = extract_and_build(org, folder / "shipped" / "warehouse.duckdb")
    without, _ = extract_and_build(
        org, folder / "plain" / "warehouse.duckdb", mapping=load_mapping(no_currency)
    )
    yield org, with_currencies, without
    with_currencies.close()
    without.close()


def test_a_single_currency_org_lacks_nothing(single_currency):
    _, con, _ = single_currency
    assert con.execute("SELECT count(*) FROM staging.stg_currencies").fetchone()[0] == 0
    # Amounts as the org stores them, no currency named.
    assert (
        con.execute("""
        SELECT count(*) FILTER (WHERE s.amount IS DISTINCT FROM o.Amount OR s.currency_code IS NOT NULL),
               count(*)
        FROM staging.stg_opportunities AS s JOIN raw.Opportunity AS o ON o.Id = s.opportunity_id
    """).fetchone()[0]
        == 0
    )
    assert (
        con.execute("""
        SELECT count(*) FROM staging.stg_invoices AS s JOIN raw.blng__Invoice__c AS i ON i.Id = s.invoice_id
        WHERE s.total_amount IS DISTINCT FROM i.blng__TotalAmount__c
           OR s.balance IS DISTINCT FROM i.blng__Balance__c""").fetchone()[0]
        == 0
    )
    # Nothing is missing: no warning, no gap in the coverage, the currency parts 'not mapped'.
    assert not [line for line in missing_parts(con) if "urrenc" in line or "Conversion" in line]
    assert (
        con.execute(
            "SELECT count(*) FROM core.data_coverage WHERE missing ILIKE '%currenc%' "
            "OR missing ILIKE '%Conversion%'"
        ).fetchone()[0]
        == 0
    )
    statuses = con.execute("""
        SELECT DISTINCT status FROM mapped.sources
        WHERE column_name = 'currency_code' OR name IN ('currencies', 'dated_rates')""").fetchall()
    assert statuses == [("not mapped",)]


def _rounded(row: tuple) -> str:
    """A row as text, floats to 10 significant digits: a sum in parallel adds in any order."""
    return repr(tuple(f"{v:.10g}" if isinstance(v, float) else v for v in row))


def test_a_single_currency_org_reports_as_before(single_currency):
    _, con, plain = single_currency
    tables = [
        (schema, name)
        for schema, name in con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema IN ('core', 'mining', 'reports') ORDER BY ALL"
        ).fetchall()
    ]
    assert len(tables) > 30
    different = []
    for schema, name in tables:
        # The same rows, value for value, from both warehouses.
        ours = [_rounded(row) for row in con.execute(f"SELECT * FROM {schema}.{name}").fetchall()]
        theirs = [
            _rounded(row) for row in plain.execute(f"SELECT * FROM {schema}.{name}").fetchall()
        ]
        if sorted(ours) != sorted(theirs):
            different.append(f"{schema}.{name}")
    assert not different
