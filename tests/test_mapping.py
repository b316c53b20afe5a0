"""The mapping file: shipped shapes load, an org's own file extends one, every mistake is named
with the file, the key and the value before any query is sent, and what the org lacks is said
in words after extraction."""

from __future__ import annotations

import csv
import importlib
import shutil
import textwrap
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from l2c_pipeline.demo_org.catalogue import OPPORTUNITY_STAGES
from l2c_pipeline.mapping.load import SHAPES, MappingError, load_mapping, shape_file
from l2c_pipeline.mapping.spec import ENTITIES, MEANINGS
from l2c_pipeline.mapping.views import missing_parts, write_mapped
from l2c_pipeline.pipeline import build_pipeline
from l2c_pipeline.warehouse.duckdb_warehouse import connect

from .test_event_log import differences, extract, extract_and_build, mapping_of


def write(tmp_path, text: str, name: str = "mapping.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.mark.parametrize("shape", SHAPES)
def test_every_shipped_shape_loads_and_names_its_objects(shape):
    mapping = load_mapping(shape_file(shape))
    assert {"users", "leads", "opportunities"} <= set(mapping.entities)
    assert mapping.objects[:2] == ("User", "UserRole")
    assert set(mapping.values) == set(MEANINGS)
    assert [b.label for b in mapping.deal_size_bands] == ["<25k", "25k-75k", "75k-150k", "150k+"]
    for entity in mapping.entities.values():
        assert set(entity.columns) <= set(ENTITIES[entity.entity].column_names)


def test_an_org_file_extends_a_shape_and_changes_only_what_differs(tmp_path):
    path = write(
        tmp_path,
        """
        extends: standard
        entities:
          opportunities:
            columns:
              contract_id: null          # this org does not link them so
          quotes:
            columns:
              discount_pct: [Discount__c, Discount]
        attributes:
          region:
            - {from: opportunity, field: Sales_Region__c}
          loss_reason:
            - {from: opportunity, field: Loss_Reason__c}
          account_tier:                  # an attribute of the org's own
            - {from: account, field: Tier__c, map: {"1": Gold, "2": Silver}}
        values:
          stage_won: [Closed Won, Won]
        change_capture:
          Order: null
        """,
    )
    mapping = load_mapping(path)
    standard = load_mapping(shape_file("standard"))
    assert mapping.files[0] == path.resolve() and mapping.files[1] == shape_file("standard")
    assert "contract_id" not in mapping.entities["opportunities"].columns
    assert mapping.entities["quotes"].columns["discount_pct"].fields == ("Discount__c", "Discount")
    assert (
        mapping.entities["quotes"].columns["status"]
        == standard.entities["quotes"].columns["status"]
    )
    assert [s.field for s in mapping.attributes["region"]] == ["Sales_Region__c"]
    assert mapping.attributes["team"] == standard.attributes["team"]
    assert mapping.attributes["account_tier"][0].value_map == {"1": "Gold", "2": "Silver"}
    assert mapping.values["stage_won"] == ("Closed Won", "Won")
    assert mapping.values["quote_accepted"] == ("Accepted",)
    assert set(mapping.change_capture) == {"Quote", "Contract"}


@pytest.mark.parametrize(
    "text, where, problem",
    [
        ("entitys: {}\n", "'entitys'", "is not a mapping setting"),
        (
            "extends: standard\nentities:\n  deals: {object: Opportunity}\n",
            "'entities.deals'",
            "is not an entity",
        ),
        (
            "extends: standard\nentities:\n  quotes:\n    columns: {statuz: Status}\n",
            "'entities.quotes.columns.statuz'",
            "is not a column of quotes",
        ),
        (
            "extends: standard\nentities:\n  quotes: {object: 'Quote; DROP'}\n",
            "'entities.quotes.object'",
            "names 'Quote; DROP', which is not a Salesforce object API name",
        ),
        (
            "extends: standard\nentities:\n  quotes:\n    columns: {status: Sta tus}\n",
            "'entities.quotes.columns.status'",
            "names 'Sta tus', which is not a Salesforce field API name",
        ),
        (
            "extends: standard\nentities:\n  invoices: {columns: {invoice_id: Id}}\n",
            "'entities.invoices'",
            "needs 'object'",
        ),
        (
            "extends: standard\nhistory:\n  - {object: Invoice_History__c, entity: invoices, record: ParentId}\n",
            "'history[1].entity'",
            "names 'invoices', which the mapping's entities lack",
        ),
        (
            "extends: standard\nhistory:\n  - {object: Q__c, entity: quotes, record: Quote__c, field: Status}\n",
            "'history[1]'",
            "needs all of field, old_value and new_value",
        ),
        (
            "extends: standard\nattributes:\n  region: [{from: territory, field: Name}]\n",
            "'attributes.region[1].from'",
            "names 'territory'",
        ),
        (
            "extends: standard\nattributes:\n  region: [{from: owner, field: Division, pattern: '(EMEA'}]\n",
            "'attributes.region[1].pattern'",
            "is not a regular expression",
        ),
        (
            "extends: standard\nattributes:\n  region: [{from: owner, field: Division, pattern: 'EMEA'}]\n",
            "'attributes.region[1].pattern'",
            "must have exactly one (group)",
        ),
        (
            "extends: standard\nattributes:\n  segment: [{from: account, field: NumberOfEmployees, "
            "bands: [{label: Big, below: 2000}, {label: Small, below: 200}, {label: Huge}]}]\n",
            "'attributes.segment[1].bands[2].below'",
            "200 must be above the band before it",
        ),
        (
            "extends: standard\nattributes:\n  invoice_type: [{from: invoice, field: Type__c}]\n",
            "'attributes.invoice_type[1].from'",
            "reads invoices, which the mapping's entities lack",
        ),
        (
            "extends: standard\nattributes:\n  Region: [{from: owner, field: Division}]\n",
            "'attributes.Region'",
            "must be a lower_snake_case attribute name",
        ),
        (
            "extends: standard\nvalues:\n  quote_approved: [Approved]\n",
            "'values.quote_approved'",
            "is not a value meaning",
        ),
        (
            "extends: standard\nvalues:\n  quote_accepted: [Accepted]\n  quote_rejected: [Accepted]\n",
            "'values.quote_rejected'",
            "'Accepted' also means quote_accepted",
        ),
        (
            "extends: standard\nsales_touches:\n  - {object: Task, timestamp: CompletedDateTime}\n",
            "'sales_touches[1]'",
            "needs either 'activity' or 'activity_field'",
        ),
        (
            "extends: standard\nchange_capture:\n  Quote: Status\n",
            "'change_capture.Quote'",
            "must list the fields to track",
        ),
        ("extends: no_such_shape\n", "'extends'", "does not exist"),
        (
            "entities: {leads: {object: Lead, columns: {lead_id: Id}}}\n",
            "'entities'",
            "needs 'users'",
        ),
    ],
)
def test_each_mistake_names_the_file_the_key_and_the_value(tmp_path, text, where, problem):
    path = write(tmp_path, text)
    with pytest.raises(MappingError) as error:
        load_mapping(path)
    message = str(error.value)
    assert str(path.resolve()) in message and where in message and problem in message, message


def test_not_yaml_and_circles_are_named(tmp_path):
    broken = write(tmp_path, "entities: [\n")
    with pytest.raises(MappingError, match="not valid YAML"):
        load_mapping(broken)
    write(tmp_path, "extends: b.yaml\n", "a.yaml")
    write(tmp_path, "extends: a.yaml\n", "b.yaml")
    with pytest.raises(MappingError, match="goes round in a circle"):
        load_mapping(tmp_path / "a.yaml")


def _load_definitions():
    """Import (or import again) the code location, as `dagster dev` loads it."""
    import sys

    module = sys.modules.get("l2c_pipeline.definitions")
    if module is None:
        import l2c_pipeline.definitions as module

        return module
    return importlib.reload(module)


def test_the_code_location_refuses_a_bad_mapping_before_any_query(tmp_path, monkeypatch):
    path = write(tmp_path, "extends: standard\nvalues:\n  won: [Closed Won]\n")
    monkeypatch.setenv("L2C_SOURCE", "salesforce")  # nothing is contacted: loading fails first
    monkeypatch.setenv("L2C_MAPPING_FILE", str(path))
    try:
        with pytest.raises(MappingError, match=r"key 'values.won' is not a value meaning"):
            _load_definitions()
        monkeypatch.setenv("L2C_MAPPING_FILE", "")
        monkeypatch.setenv("L2C_ORG_SHAPE", "enterprise")
        with pytest.raises(
            MappingError, match="L2C_ORG_SHAPE must be one of standard, cpq_billing, custom"
        ):
            _load_definitions()
    finally:
        monkeypatch.delenv("L2C_MAPPING_FILE")
        monkeypatch.delenv("L2C_ORG_SHAPE", raising=False)
        monkeypatch.delenv("L2C_SOURCE")
        _load_definitions()


def test_what_the_org_lacks_is_said_and_the_rest_still_builds(small_org, tmp_path):
    # The demo org (CPQ and Billing) read with a mapping that names fields and objects it lacks.
    path = write(
        tmp_path,
        """
        extends: cpq_billing
        entities:
          opportunities:
            columns:
              opportunity_type: [Deal_Type__c, type]   # API names ignore case
        history:
          - {object: LeadHistory, entity: leads, record: LeadId}
          - {object: OpportunityFieldHistory, entity: opportunities, record: OpportunityId}
          - {object: SBQQ__Quote__History, entity: quotes, record: ParentId}
          - {object: blng__Invoice__History, entity: invoices, record: ParentId}
          - {object: Contract__History, entity: contracts, record: ParentId}
        attributes:
          region:
            - {from: opportunity, field: Sales_Region__c}
            - {from: owner, field: Division}
          account_type:
            - {from: account, field: Type}
        """,
    )
    mapping = load_mapping(path)
    con = connect(tmp_path / "warehouse.duckdb")
    try:
        extract(small_org, con, mapping, tmp_path / "tls")
        built = build_pipeline(con, mapping=mapping)
        missing = missing_parts(con)
        assert any("Opportunity has no field Deal_Type__c" in m for m in missing)
        assert any("Opportunity has no field Sales_Region__c" in m for m in missing)
        assert any("Contract__History" in m for m in missing)
        assert (
            con.execute("SELECT count(opportunity_type) FROM staging.stg_opportunities").fetchone()[
                0
            ]
            > 500
        )
        # The next source in the list takes over; the org's own attribute reaches the breakdowns.
        assert con.execute("SELECT count(DISTINCT region) FROM core.cases").fetchone()[0] == 4
        types = con.execute(
            "SELECT DISTINCT dimension_value FROM mining.case_dimensions WHERE dimension = 'account_type'"
        ).fetchall()
        assert types == [("Customer",)]
        assert built["core.event_log"] > 10_000
        # A required object the warehouse lacks stops the step with the file, key and object.
        gone = write(
            tmp_path, "extends: cpq_billing\nentities:\n  leads: {object: Lead__c}\n", "gone.yaml"
        )
        with pytest.raises(
            MappingError, match=r"gone.yaml: key 'entities.leads.object' names Lead__c"
        ):
            write_mapped(con, load_mapping(gone))
    finally:
        con.close()


def test_l2c_mapping_check_says_what_a_file_reads_or_what_is_wrong(tmp_path):
    from click.testing import CliRunner

    from l2c_pipeline.cli import main

    good = write(
        tmp_path, "extends: cpq_billing\nchange_capture:\n  Order: [Status, Fulfilment__c]\n"
    )
    result = CliRunner().invoke(main, ["mapping", "check", str(good)])
    assert result.exit_code == 0, result.output
    assert (
        f"{good.resolve()} extends {shape_file('cpq_billing')} extends {shape_file('standard')}: valid"
        in result.output
    )
    assert "quotes                SBQQ__Quote__c" in result.output
    assert "Order.Status, Order.Fulfilment__c" in result.output
    bad = write(
        tmp_path,
        "extends: standard\nsales_touches:\n  - {object: Task, activity: Chat, timestamp: CreatedDate}\n",
        "bad.yaml",
    )
    result = CliRunner().invoke(main, ["mapping", "check", str(bad)])
    assert result.exit_code == 1
    assert "key 'sales_touches[1].activity' names 'Chat'" in result.output
    assert "activity_catalogue.sql does not list as a 'touch' activity" in result.output


def _rows(path) -> list[dict]:
    """A snapshot CSV's rows."""
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _rewrite(path, rows) -> None:
    """A snapshot CSV written again, every cell quoted as the demo org writes them."""
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), quoting=csv.QUOTE_ALL)
        writer.writeheader()
        writer.writerows(rows)


def test_stage_changes_come_from_opportunity_history_where_field_history_has_none(
    small_org, tmp_path
):
    # Many orgs do not track StageName's field history, or began to only lately (or the older
    # history was purged); Salesforce keeps OpportunityHistory in every org. Half the deals lose
    # their StageName history rows, the others their first one.
    org = tmp_path / "org"
    shutil.copytree(small_org, org)
    history = org / "OpportunityFieldHistory.csv"
    rows = _rows(history)
    stage_rows = sorted(
        (r["OpportunityId"], r["CreatedDate"], r["Id"]) for r in rows if r["Field"] == "StageName"
    )
    deals = sorted({deal for deal, _, _ in stage_rows})
    untracked = set(deals[::2])
    first_rows = {}
    for deal, _, row_id in stage_rows:
        first_rows.setdefault(deal, row_id)
    lately = {first_rows[deal] for deal in deals[1::2]}
    kept = [
        r
        for r in rows
        if not (r["Field"] == "StageName" and r["OpportunityId"] in untracked)
        and r["Id"] not in lately
    ]
    assert len(rows) - len(kept) > 300 + len(lately) > 600
    _rewrite(history, kept)

    con, _ = extract_and_build(org, tmp_path / "warehouse.duckdb")
    try:
        # The generator's expected log: every stage move, at its time, by whom, closing ones too.
        assert differences(con, org / "expected_event_log.csv") == []
        sources = dict(
            con.execute("""
                SELECT source, count(*) FROM mapped.field_changes
                WHERE entity = 'opportunities' AND column_name = 'stage' GROUP BY source""").fetchall()
        )
        assert sources["snapshot"] > 300 and sources["history"] > 300
        (stage_sources,) = con.execute(
            "SELECT status_history FROM core.data_coverage WHERE family = 'stage'"
        ).fetchone()
        assert "OpportunityHistory" in stage_sources
        # A history object without the values it holds is named, and the snapshots stand in.
        stage_events = (
            "SELECT count(*) FROM activities.opportunity_events "
            "WHERE activity LIKE 'Stage: %' OR activity LIKE 'Opportunity Closed%'"
        )
        (before,) = con.execute(stage_events).fetchone()
        con.execute("ALTER TABLE raw.OpportunityFieldHistory DROP COLUMN NewValue")
        write_mapped(con, mapping_of(org))
        assert missing_parts(con) == [
            "history opportunities: OpportunityFieldHistory has no field NewValue"
        ]
        assert con.execute(stage_events).fetchone() == (before,)
    finally:
        con.close()


# Salesforce's standard stages in their order, and an org's own names for some of them: the
# org's stages mixed with standard ones, in an alphabetical order that is not the pipeline's.
STANDARD_STAGES = OPPORTUNITY_STAGES[:-2]  # the demo org's, without the two closing
OWN_STAGES = {
    "Prospecting": "Discovery",
    "Needs Analysis": "Alignment",
    "Proposal/Price Quote": "Budget Offer",
    "Closed Lost": "Closed - No Decision",
}


def test_an_orgs_own_stages_close_deals_and_keep_their_order(small_org, tmp_path):
    # The org names its stages otherwise than the shipped mapping lists: its deals in its lost
    # stage are all closed and none won, which is how Salesforce marks a closing stage; its
    # stages' order is the order deals go through them.
    org = tmp_path / "org"
    shutil.copytree(small_org, org)
    renamed = 0
    for name, columns in {
        "Opportunity.csv": ("StageName",),
        "OpportunityHistory.csv": ("StageName",),
        "OpportunityFieldHistory.csv": ("OldValue", "NewValue"),
        "expected_event_log.csv": ("activity",),
    }.items():
        rows = _rows(org / name)
        for row in rows:
            for column in columns:
                stage = row[column].removeprefix("Stage: ")
                if stage in OWN_STAGES and (column != "activity" or row[column] != stage):
                    row[column] = row[column].replace(stage, OWN_STAGES[stage])
                    renamed += 1
        _rewrite(org / name, rows)
    assert renamed > 1000

    con, _ = extract_and_build(org, tmp_path / "warehouse.duckdb")
    try:
        # Every Opportunity Closed Lost of the generator's expected log, none taken for a stage.
        assert differences(con, org / "expected_event_log.csv") == []
        assert con.execute(
            "SELECT count(*) FROM core.event_log WHERE activity = 'Stage: Closed - No Decision'"
        ).fetchone() == (0,)
        order = con.execute(
            "SELECT stage, stage_order FROM reports.stage_durations WHERE dimension = 'all' "
            "ORDER BY stage_order"
        ).fetchall()
        pipeline = [OWN_STAGES.get(stage, stage) for stage in STANDARD_STAGES]
        assert order == [(stage, place) for place, stage in enumerate(pipeline, 1)]
        # Moves back to an earlier stage, counted from the org's stage history by that order.
        place = {stage: n for n, stage in enumerate(pipeline)}
        moves = [r for r in _rows(org / "OpportunityFieldHistory.csv") if r["Field"] == "StageName"]
        regressions = sum(
            place[r["NewValue"]] < place[r["OldValue"]]
            for r in moves
            if r["NewValue"] in place and r["OldValue"] in place
        )
        assert regressions > 20
        assert con.execute("SELECT sum(stage_regressions) FROM mining.case_facts").fetchone() == (
            regressions,
        )
    finally:
        con.close()


def test_a_quote_discounted_on_its_lines_only_has_their_weighted_discount(small_org, tmp_path):
    # CPQ quotes often leave the header's customer discount empty and discount each line; the
    # demo org's lines carry the same discount as their header, so the header's is the truth.
    org = tmp_path / "org"
    shutil.copytree(small_org, org)
    quotes = _rows(org / "SBQQ__Quote__c.csv")
    lines = _rows(org / "SBQQ__QuoteLine__c.csv")
    truth = {r["Id"]: float(r["SBQQ__CustomerDiscount__c"]) for r in quotes}
    assert sum(d > 0 for d in truth.values()) > 100
    for row in quotes:
        row["SBQQ__CustomerDiscount__c"] = ""
    # One quote's first line without a discount: it weighs in at 0.
    by_quote = {}
    for line in lines:
        by_quote.setdefault(line["SBQQ__Quote__c"], []).append(line)
    mixed, its_lines = next(
        (q, ls) for q, ls in sorted(by_quote.items()) if len(ls) > 1 and truth[q] > 0
    )
    its_lines[0]["SBQQ__Discount__c"] = ""
    amounts = [float(x["SBQQ__ListPrice__c"]) * float(x["SBQQ__Quantity__c"]) for x in its_lines]
    truth[mixed] = sum(a * truth[mixed] for a in amounts[1:]) / sum(amounts)
    _rewrite(org / "SBQQ__Quote__c.csv", quotes)
    _rewrite(org / "SBQQ__QuoteLine__c.csv", lines)

    con, _ = extract_and_build(org, tmp_path / "warehouse.duckdb")
    try:
        read = dict(con.execute("SELECT quote_id, discount_pct FROM staging.stg_quotes").fetchall())
        assert read.keys() <= truth.keys() and mixed in read and len(read) > 100
        assert all(read[q] == pytest.approx(truth[q], abs=1e-9) for q in read)
        # The deal takes its synced quote's, and so do its case and the average-discount KPI.
        deals = con.execute(
            "SELECT o.synced_quote_id, o.discount_pct, c.discount_pct FROM staging.stg_opportunities AS o "
            "JOIN core.cases AS c ON c.case_id = o.opportunity_id WHERE o.synced_quote_id IS NOT NULL"
        ).fetchall()
        assert len(deals) > 100
        assert all(d == pytest.approx(truth[q], abs=1e-9) == c for q, d, c in deals)
    finally:
        con.close()


def test_an_invoice_whose_payment_was_taken_off_again_is_not_paid(small_org, tmp_path):
    org = tmp_path / "org"
    shutil.copytree(small_org, org)
    invoices = _rows(org / "blng__Invoice__c.csv")
    allocations = _rows(org / "blng__PaymentAllocationInvoice__c.csv")
    history = _rows(org / "blng__Invoice__History.csv")
    # A paid invoice settled by one allocation: the payment is taken off it ten days later.
    allocated = {}
    for a in allocations:
        allocated.setdefault(a["blng__Invoice__c"], []).append(a)
    invoice = next(
        i
        for i in invoices
        if i["blng__PaymentStatus__c"] == "Paid" and len(allocated.get(i["Id"], [])) == 1
    )
    (allocation,) = allocated[invoice["Id"]]
    reversed_at = (
        datetime.fromisoformat(allocation["CreatedDate"].replace("Z", "+00:00"))
        + timedelta(days=10)
    ).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    allocation["blng__Unallocated__c"] = "true"
    allocations.append(
        allocation
        | {
            "Id": "a0T5g00000REVERSAL",
            "CreatedDate": reversed_at,
            "SystemModstamp": reversed_at,
            "blng__Type__c": "Unallocation",
        }
    )
    invoice |= {
        "blng__PaymentStatus__c": "Unpaid",
        "blng__Balance__c": invoice["blng__TotalAmount__c"],
        "blng__Payments__c": "0.00",
        "SystemModstamp": reversed_at,
    }
    history.append(
        history[0]
        | {
            "Id": "0175g00000REVERSAL",
            "ParentId": invoice["Id"],
            "CreatedDate": reversed_at,
            "Field": "blng__PaymentStatus__c",
            "DataType": "Picklist",
            "OldValue": "Paid",
            "NewValue": "Unpaid",
        }
    )
    # Another paid invoice whose payment status has no history: the org's balance says paid.
    unmarked = next(
        i
        for i in invoices
        if i["blng__PaymentStatus__c"] == "Paid"
        and i["Id"] != invoice["Id"]
        and len(allocated.get(i["Id"], [])) == 1
    )
    history = [
        h
        for h in history
        if not (h["ParentId"] == unmarked["Id"] and h["Field"] == "blng__PaymentStatus__c")
    ]
    _rewrite(org / "blng__Invoice__c.csv", invoices)
    _rewrite(org / "blng__PaymentAllocationInvoice__c.csv", allocations)
    _rewrite(org / "blng__Invoice__History.csv", history)

    con, _ = extract_and_build(org, tmp_path / "warehouse.duckdb")
    try:
        paid = dict(
            con.execute("SELECT invoice_id, paid_at FROM mining.invoice_payments").fetchall()
        )
        assert paid[invoice["Id"]] is None
        # Paid when its one payment was received, as the payment records say.
        (received,) = con.execute(
            "SELECT received_at FROM staging.stg_payments WHERE invoice_id = ? AND kind = 'allocation'",
            [unmarked["Id"]],
        ).fetchone()
        assert paid[unmarked["Id"]] == received
        assert sum(at is not None for at in paid.values()) > 100  # the others stay paid
    finally:
        con.close()


def test_a_stage_few_deals_visit_falls_between_the_stages_they_put_around_it():
    # 100 deals go P1 .. P5; five newer ones go P1, Discovery, P2: Discovery comes after P1 and
    # before P2 in every deal that has it, though it never meets P3 .. P5.
    paths = [("old", 100, ["P1", "P2", "P3", "P4", "P5"]), ("new", 5, ["P1", "Discovery", "P2"])]
    con = duckdb.connect()
    con.execute("SET lambda_syntax = 'ENABLE_SINGLE_ARROW'")
    for schema in ("core", "mining"):
        con.execute(f"CREATE SCHEMA {schema}")
    con.execute(
        "CREATE TABLE core.event_log (case_id VARCHAR, activity VARCHAR, timestamp TIMESTAMP, "
        "started_at TIMESTAMP, event_order INTEGER, activity_rank INTEGER)"
    )
    for name, deals, stages in paths:
        for deal in range(deals):
            for step, stage in enumerate(stages, 1):
                con.execute(
                    "INSERT INTO core.event_log VALUES (?, ?, TIMESTAMP '2026-01-01' + to_days(?), "
                    "NULL, ?, 16)",
                    [f"{name}{deal}", f"Stage: {stage}", step, step],
                )
    con.execute("CREATE TABLE core.cases AS SELECT 'x' AS case_id, NULL::VARCHAR AS opening_stage")
    con.execute("CREATE TABLE core.activity_catalogue (activity VARCHAR, activity_rank INTEGER)")
    con.execute("CREATE TABLE mining.case_calendars (case_id VARCHAR, calendar_id VARCHAR)")
    con.execute(
        "CREATE TABLE mining.business_clock_days (calendar_id VARCHAR, utc_date DATE, "
        "clock DOUBLE, pieces STRUCT(s DOUBLE, e DOUBLE)[])"
    )
    sql = (Path(__file__).parents[1] / "sql" / "mining" / "stage_visits.sql").read_text()
    order = con.execute(
        f"SELECT DISTINCT stage, stage_order FROM ({sql}) ORDER BY stage_order"
    ).fetchall()
    assert order == [("P1", 1), ("Discovery", 2), ("P2", 3), ("P3", 4), ("P4", 5), ("P5", 6)]


def test_a_stage_read_from_a_list_of_fields_is_not_taken_twice(small_org, tmp_path):
    # The org lacks the first field named: its StageName history is the stage's, and the stage
    # snapshots add nothing to it.
    path = write(
        tmp_path,
        """
        extends: cpq_billing
        entities:
          opportunities:
            columns:
              stage: [Stage__c, StageName]
        """,
    )
    con, _ = extract_and_build(small_org, tmp_path / "warehouse.duckdb", mapping=load_mapping(path))
    try:
        assert differences(con, small_org / "expected_event_log.csv") == []
    finally:
        con.close()


def test_a_conversion_without_lead_history_is_when_its_deal_was_made_in_any_time_zone(
    small_org, tmp_path
):
    # An org that keeps no lead history has only ConvertedDate: a day in the converting user's
    # time zone (the demo org's is New York), which is not the UTC day of the deal made at the
    # conversion when that was in the evening there.
    from zoneinfo import ZoneInfo

    org = tmp_path / "org"
    shutil.copytree(small_org, org)
    (zone,) = {r["TimeZoneSidKey"] for r in _rows(org / "Organization.csv")}
    history = org / "LeadHistory.csv"
    _rewrite(history, [r for r in _rows(history) if r["Field"] != "leadConverted"])

    def instant(text: str) -> datetime:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None)

    made = {r["Id"]: instant(r["CreatedDate"]) for r in _rows(org / "Opportunity.csv")}
    leads = _rows(org / "Lead.csv")
    expected, evening = {}, 0
    for lead in leads:
        if lead["IsConverted"] != "true" or lead["IsDeleted"] == "true":
            continue
        deal = made.get(lead["ConvertedOpportunityId"])  # deleted since or not
        if deal is not None:
            day = deal.replace(tzinfo=ZoneInfo("UTC")).astimezone(ZoneInfo(zone)).date()
            lead["ConvertedDate"] = day.isoformat()
            evening += day != deal.date()
            expected[lead["Id"]] = deal
        elif lead["ConvertedDate"]:
            # Converted without a deal: the start of the day where the org is.
            midnight = datetime.fromisoformat(lead["ConvertedDate"]).replace(tzinfo=ZoneInfo(zone))
            start = midnight.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)
            expected[lead["Id"]] = max(start, instant(lead["CreatedDate"]))
    _rewrite(org / "Lead.csv", leads)
    assert evening > 20 and len(expected) > 300

    con, _ = extract_and_build(org, tmp_path / "warehouse.duckdb")
    try:
        found = dict(
            con.execute(
                "SELECT object_id, timestamp FROM activities.lead_events "
                "WHERE activity = 'Lead Converted'"
            ).fetchall()
        )
    finally:
        con.close()
    assert {lead: found.get(lead) for lead in expected} == expected


def test_an_org_that_does_not_quote_has_its_deals_line_discounts_and_no_quote_rules(
    small_org, tmp_path
):
    # An org that does not quote (or a deal whose quote is not synced) discounts the deal's own
    # product lines: the deal's discount is theirs, weighted by list amount, not 0. And no won
    # deal breaks a rule asking for a quote step the org never records.
    org = tmp_path / "org"
    shutil.copytree(small_org, org)
    for name in ("SBQQ__Quote__c.csv", "SBQQ__QuoteLine__c.csv", "SBQQ__Quote__History.csv"):
        header = (org / name).read_text(encoding="utf-8").splitlines()[0]
        (org / name).write_text(header + "\n", encoding="utf-8")
    amounts: dict[str, list[tuple[float, float]]] = {}
    for line in _rows(org / "OpportunityLineItem.csv"):
        price = float(line["ListPrice"] or 0)
        if line["IsDeleted"] == "true" or price <= 0:
            continue
        amount = price * float(line["Quantity"] or 1)
        amounts.setdefault(line["OpportunityId"], []).append((amount, float(line["Discount"] or 0)))
    truth = {
        deal: sum(a * d for a, d in pairs) / sum(a for a, _ in pairs)
        for deal, pairs in amounts.items()
    }
    assert sum(d > 0 for d in truth.values()) > 100

    con, _ = extract_and_build(org, tmp_path / "warehouse.duckdb")
    try:
        read = dict(
            con.execute(
                "SELECT opportunity_id, discount_pct FROM staging.stg_opportunities"
            ).fetchall()
        )
        assert sum(d > 0 for d in read.values()) > 100
        assert all(read[d] == pytest.approx(truth.get(d, 0), abs=1e-9) for d in read)
        won = [
            d
            for (d,) in con.execute(
                "SELECT opportunity_id FROM staging.stg_opportunities WHERE is_won"
            ).fetchall()
        ]
        (kpi,) = con.execute(
            "SELECT value FROM reports.kpi_summary WHERE kpi = 'average_discount'"
        ).fetchone()
        assert kpi == pytest.approx(sum(truth.get(d, 0) for d in won) / len(won), abs=1e-9)
        broken = dict(
            con.execute(
                "SELECT rule || ': ' || activity, count(*) FROM reports.compliance_violations "
                "GROUP BY ALL"
            ).fetchall()
        )
        assert not [rule for rule in broken if "Quote" in rule], broken
        # The parts the org records are still judged: contracts, orders, invoices.
        assert any(rule.startswith("mandatory_activities: Contract") for rule in broken), broken
    finally:
        con.close()


def test_an_approval_of_several_steps_is_decided_by_its_last_and_must_precede_acceptance(
    small_org, tmp_path
):
    # The demo org's approvals have one approver. Real ones have several: the decision is the
    # last approver's, a later rejection overturns an earlier approval, a process still waiting
    # for its next approver is pending, and an approval given after the customer accepted the
    # quote did not approve it in time.
    org = tmp_path / "org"
    shutil.copytree(small_org, org)
    quotes = {q["Id"]: q for q in _rows(org / "SBQQ__Quote__c.csv")}
    won = {o["Id"] for o in _rows(org / "Opportunity.csv") if o["IsWon"] == "true"}
    processes = _rows(org / "ProcessInstance.csv")
    steps = _rows(org / "ProcessInstanceStep.csv")
    # Approved approvals of the primary quote of a won deal: the ones the rule looks at.
    approved = [
        p
        for p in processes
        if p["Status"] == "Approved"
        and quotes[p["TargetObjectId"]]["SBQQ__Primary__c"] == "true"
        and quotes[p["TargetObjectId"]]["SBQQ__Opportunity2__c"] in won
    ]
    overturned, twice, pending = approved[0], approved[1], approved[2]

    def later(text: str, hours: int) -> str:
        when = datetime.fromisoformat(text.replace("Z", "+00:00")) + timedelta(hours=hours)
        return when.strftime("%Y-%m-%dT%H:%M:%S.000Z")

    def decision_of(process: dict) -> dict:
        return next(
            s
            for s in steps
            if s["ProcessInstanceId"] == process["Id"] and s["StepStatus"] == "Approved"
        )

    expected = {}
    for process, status, hours in ((overturned, "Rejected", 30), (twice, "Approved", 20)):
        first = decision_of(process)
        second = dict(
            first,
            Id=first["Id"][:-3] + "ZZZ",
            StepStatus=status,
            CreatedDate=later(first["CreatedDate"], hours),
        )
        second["SystemModstamp"] = second["CreatedDate"]
        steps.append(second)
        process.update(Status=status, CompletedDate=second["CreatedDate"])
        expected[process["Id"]] = (second["CreatedDate"], status.lower())
    # Approved only once the customer had accepted the quote (as the quote's history says).
    late = approved[3]
    accepted = min(
        h["CreatedDate"]
        for h in _rows(org / "SBQQ__Quote__History.csv")
        if h["ParentId"] == late["TargetObjectId"] and h["NewValue"] == "Accepted"
    )
    decision_of(late).update(CreatedDate=later(accepted, 5), SystemModstamp=later(accepted, 5))
    late.update(CompletedDate=later(accepted, 5))
    expected[late["Id"]] = (later(accepted, 5), "approved")
    pending.update(Status="Pending", CompletedDate="")
    steps.append(
        dict(decision_of(pending), Id=decision_of(pending)["Id"][:-3] + "YYY", StepStatus="Started")
    )
    expected[pending["Id"]] = (None, None)
    _rewrite(org / "ProcessInstance.csv", processes)
    _rewrite(org / "ProcessInstanceStep.csv", steps)

    con, _ = extract_and_build(org, tmp_path / "warehouse.duckdb")
    try:
        found = {
            approval: (decided and decided.strftime("%Y-%m-%dT%H:%M:%S.000Z"), decision)
            for approval, decided, decision in con.execute(
                "SELECT approval_id, decided_at, decision FROM mining.approval_waits "
                "WHERE list_contains(?, approval_id)",
                [list(expected)],
            ).fetchall()
        }
        assert found == expected
        # The rule: the overturned and the pending approvals no longer count as approvals of the
        # accepted quote; the deal approved twice is still fine.
        flagged = {
            case
            for (case,) in con.execute(
                "SELECT case_id FROM reports.compliance_violations WHERE rule = 'discount_approval'"
            ).fetchall()
        }
        deal = {p["Id"]: quotes[p["TargetObjectId"]]["SBQQ__Opportunity2__c"] for p in approved[:4]}
        discounts = dict(
            con.execute(
                "SELECT opportunity_id, discount_pct FROM staging.stg_opportunities "
                "WHERE list_contains(?, opportunity_id)",
                [list(deal.values())],
            ).fetchall()
        )
        for process in (overturned, pending, late):
            assert (deal[process["Id"]] in flagged) == (discounts[deal[process["Id"]]] > 20)
        assert deal[twice["Id"]] not in flagged
        assert all(discounts[deal[p["Id"]]] > 20 for p in (overturned, pending, late))
    finally:
        con.close()
