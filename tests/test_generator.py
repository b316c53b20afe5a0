"""The demo org generator: deterministic, referentially sound, and its planted truths hold."""

from __future__ import annotations

import csv
import filecmp
import json
from datetime import date
from pathlib import Path

import duckdb
import pytest

from l2c_pipeline.demo_org.catalogue import DEFAULT_SHAPE, SHAPES, by_name, objects_for
from l2c_pipeline.demo_org.currencies import rate_on
from l2c_pipeline.demo_org.generator import generate
from l2c_pipeline.demo_org.ids import is_valid_id
from l2c_pipeline.demo_org.truths import not_observable

from .truth_measures import MEASURES, connect, shape_of

TRUTH_IDS = list(MEASURES)


def test_same_seed_gives_byte_identical_files_whatever_the_workers(tmp_path):
    # 11,000 leads is three blocks: one worker and two workers must write the same bytes.
    generate(tmp_path / "a", leads=11_000, seed=3, workers=1)
    generate(tmp_path / "b", leads=11_000, seed=3, workers=2)
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir())
    match, mismatch, errors = filecmp.cmpfiles(tmp_path / "a", tmp_path / "b", names, shallow=False)
    # The objects, truths.json, expected_event_log.csv, expected_amounts.csv (several
    # currencies) and org.json.
    assert mismatch == [] and errors == [] and len(match) == len(objects_for(DEFAULT_SHAPE)) + 4


def _no_amount(name: str, columns: tuple[str, ...], row: tuple) -> tuple:
    """The row without its amounts: the opportunity's Amount, an Amount change's values."""
    values = dict(zip(columns, row))
    if name == "Opportunity":
        values["Amount"] = None
    if name == "OpportunityFieldHistory" and values["Field"] == "Amount":
        values["OldValue"] = values["NewValue"] = None
    return tuple(values.values())


def test_one_process_whatever_the_shape(tmp_path):
    # The shapes record the same sales process differently: for a seed, the leads, deals,
    # quotes, contracts and orders are the same records in every shape.
    for shape in SHAPES:
        generate(tmp_path / shape, leads=1200, seed=8, shape=shape)

    def rows(shape: str, name: str, columns: tuple[str, ...]) -> list[tuple]:
        with (tmp_path / shape / f"{name}.csv").open(encoding="utf-8", newline="") as handle:
            return [tuple(r[c] for c in columns) for r in csv.DictReader(handle)]

    for name, columns in (
        ("Lead", ("Id", "Status", "IsConverted", "ConvertedOpportunityId", "SystemModstamp")),
        ("Opportunity", ("Id", "StageName", "Amount", "IsWon", "IsDeleted")),
        (
            "OpportunityFieldHistory",
            ("OpportunityId", "Field", "OldValue", "NewValue", "CreatedDate"),
        ),
        ("Contract", ("Id", "ActivatedDate", "CustomerSignedDate")),
        ("Order", ("Id", "OpportunityId", "ActivatedDate", "IsReductionOrder")),
        ("Task", ("Id", "Type", "WhoId", "WhatId", "CompletedDateTime")),
    ):
        assert rows("standard", name, columns) == rows("custom", name, columns), name
        # cpq_billing writes its amounts in the customers' currencies (below): the rest is equal.
        assert [_no_amount(name, columns, r) for r in rows("standard", name, columns)] == [
            _no_amount(name, columns, r) for r in rows("cpq_billing", name, columns)
        ], name
    # Each cpq_billing amount is the same amount in the customer's currency, entered at the
    # rate of the day the deal was created: amount / that rate is the standard org's, within
    # half a unit of the currency's last decimal. The corporate amount the pipeline must find
    # is at the rate of the close date (expected_amounts.csv).
    with (tmp_path / "cpq_billing" / "expected_amounts.csv").open(encoding="utf-8") as handle:
        expected = {
            r["record_id"]: r for r in csv.DictReader(handle) if r["object"] == "Opportunity"
        }
    standard = dict(rows("standard", "Opportunity", ("Id", "Amount")))
    created = dict(rows("cpq_billing", "Opportunity", ("Id", "CreatedDate")))
    closes = dict(rows("cpq_billing", "Opportunity", ("Id", "CloseDate")))
    # A close date after the last dated rate takes that rate (it is still in force).
    manifest = json.loads((tmp_path / "cpq_billing" / "org.json").read_text(encoding="utf-8"))
    last_rate = date.fromisoformat(manifest["horizon"][:10]).replace(day=1)
    for record_id, row in expected.items():
        entered = rate_on(row["currency"], date.fromisoformat(created[record_id][:10]))
        local = float(row["amount"])
        assert abs(local / entered - float(standard[record_id])) <= 0.5 / entered + 1e-9, row
        rate = rate_on(row["currency"], min(date.fromisoformat(closes[record_id]), last_rate))
        assert float(row["conversion_rate"]) == rate, row
        assert abs(float(row["corporate_amount"]) - local / rate) < 1e-6, row
    assert len(expected) == len(standard)
    quotes = {
        shape: sum(1 for _ in (tmp_path / shape / f"{q}.csv").open())
        for shape, q in (
            ("standard", "Quote"),
            ("custom", "Quote"),
            ("cpq_billing", "SBQQ__Quote__c"),
        )
    }
    assert len(set(quotes.values())) == 1


def test_another_seed_gives_another_org_and_other_truth_carriers(tmp_path):
    generate(tmp_path / "a", leads=300, seed=1)
    generate(tmp_path / "b", leads=300, seed=2)
    assert not filecmp.cmp(tmp_path / "a" / "Lead.csv", tmp_path / "b" / "Lead.csv", shallow=False)
    subjects = [
        [
            t["subject"]["value"]
            for t in json.loads((tmp_path / f / "truths.json").read_text())["truths"]
        ]
        for f in ("a", "b")
    ]
    assert subjects[0] != subjects[1]


def test_files_are_data_loader_style(small_org):
    for sobject in objects_for(shape_of(small_org)):
        with open(small_org / f"{sobject.name}.csv", newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
        assert tuple(rows[0]) == sobject.field_names, sobject.name
        for row in rows[1:]:
            assert len(row) == len(sobject.field_names)
            record = dict(zip(rows[0], row))
            assert is_valid_id(record["Id"]) and len(record["Id"]) == 18
            assert record["Id"].startswith(sobject.key_prefix)
            for f in sobject.fields:
                value = record[f.name]
                if f.type == "datetime" and value:
                    assert len(value) == 24 and value[10] == "T" and value.endswith(".000Z"), (
                        f.name,
                        value,
                    )


def test_exactly_the_requested_number_of_leads(small_org):
    con = connect(small_org)
    assert con.execute("SELECT count(*) FROM Lead WHERE IsDeleted = 'false'").fetchone()[0] == 2000


@pytest.mark.parametrize("shape", SHAPES)
def test_every_reference_resolves(truth_orgs, shape):
    con = connect(truth_orgs(shape))
    objects = objects_for(shape)
    ids = {
        o.name: {r[0] for r in con.execute(f'SELECT Id FROM "{o.name}"').fetchall()}
        for o in objects
    }
    checked = 0
    for sobject in objects:
        for field in sobject.fields:
            if field.type != "reference" or field.reference_to == ("ProcessDefinition",):
                continue
            values = con.execute(
                f'SELECT DISTINCT "{field.name}" FROM "{sobject.name}" WHERE "{field.name}" <> \'\''
            ).fetchall()
            targets = set().union(*(ids[t] for t in field.reference_to))
            dangling = [v for (v,) in values if v not in targets]
            assert not dangling, f"{sobject.name}.{field.name} -> {dangling[:3]}"
            checked += len(values)
    assert checked > 10_000


@pytest.mark.parametrize("shape", SHAPES)
def test_lead_to_cash_behaviour_is_all_there(truth_orgs, shape):
    con = connect(truth_orgs(shape))

    def one(sql: str):
        return con.execute(sql).fetchone()[0]

    stages_lost = {
        r[0]
        for r in con.execute(
            "SELECT OldValue FROM OpportunityFieldHistory WHERE Field = 'StageName' AND NewValue = 'Closed Lost'"
        ).fetchall()
    }
    assert {
        "Prospecting",
        "Qualification",
        "Needs Analysis",
        "Proposal/Price Quote",
        "Negotiation/Review",
    } <= stages_lost
    assert (
        one(
            "SELECT count(*) FROM OpportunityFieldHistory WHERE Field = 'StageName' "
            "AND OldValue = 'Proposal/Price Quote' AND NewValue = 'Needs Analysis'"
        )
        > 0
    )  # regressions
    assert (
        one(
            "SELECT count(*) FROM OpportunityFieldHistory WHERE Field = 'StageName' "
            "AND OldValue = 'Needs Analysis' AND NewValue = 'Proposal/Price Quote'"
        )
        > 0
    )  # skips
    assert one("SELECT count(*) FROM OpportunityFieldHistory WHERE Field = 'CloseDate'") > 0
    assert (
        one(
            "SELECT count(*) FROM OpportunityFieldHistory WHERE Field = 'Owner' AND DataType = 'EntityId'"
        )
        > 0
    )
    assert (
        one(
            "SELECT count(*) FROM OpportunityFieldHistory WHERE Field = 'Amount' "
            "AND CAST(NewValue AS DOUBLE) < CAST(OldValue AS DOUBLE)"
        )
        > 0
    )
    assert one("SELECT max(n) FROM (SELECT count(*) n FROM quotes GROUP BY opportunity_id)") >= 3
    assert one("SELECT count(*) FROM ProcessInstance WHERE Status = 'Rejected'") > 0
    assert (
        one("SELECT count(*) FROM opp WHERE IsWon = 'true' AND synced_quote_id IS NULL") > 0
    )  # won, no quote
    assert one("SELECT count(*) FROM \"Order\" WHERE IsReductionOrder = 'true'") > 0
    assert one("SELECT count(DISTINCT region) FROM opp") == 4
    assert one("SELECT count(DISTINCT LeadSource) FROM Lead") == 6
    weekend = one("SELECT avg((dayofweek(ts(CreatedDate)) IN (0, 6))::INT) FROM Task")
    assert 0 < weekend < 0.05  # mostly business days, a few weekend touches
    assert one("SELECT count(*) FROM Task WHERE IsDeleted = 'true'") > 0
    assert one("SELECT count(*) FROM Lead WHERE IsDeleted = 'true'") > 0
    # What every org meets: deals deleted after the fact (their lead kept), leads converted
    # without an opportunity, deals opened on existing accounts without a lead.
    assert one("SELECT count(*) FROM Opportunity WHERE IsDeleted = 'true'") > 0
    assert (
        one(
            "SELECT count(*) FROM Lead l JOIN Opportunity o ON o.Id = l.ConvertedOpportunityId "
            "WHERE o.IsDeleted = 'true' AND l.IsDeleted = 'false'"
        )
        > 0
    )
    assert (
        one(
            "SELECT count(*) FROM Lead WHERE IsConverted = 'true' AND ConvertedOpportunityId IS NULL "
            "AND ConvertedAccountId IS NOT NULL"
        )
        > 0
    )
    assert one(
        "SELECT count(*) FROM Opportunity o WHERE NOT EXISTS "
        "(SELECT 1 FROM Lead l WHERE l.ConvertedOpportunityId = o.Id)"
    ) > 0.05 * one("SELECT count(*) FROM Opportunity")
    if shape == "standard":
        # Sales Cloud only: no invoices, the standard Quote keeps no status history, contracts
        # are signed on a date and the opportunity points at its contract.
        assert not (truth_orgs(shape) / "blng__Invoice__c.csv").exists()
        assert one("SELECT count(*) FROM Quote WHERE Status = 'Accepted'") > 0
        assert one("SELECT count(*) FROM ContractHistory") == 0
        assert one("SELECT count(*) FROM Opportunity WHERE ContractId <> ''") > 0
        assert one("SELECT count(DISTINCT Division) FROM \"User\" WHERE Division <> ''") == 0
        return
    statuses = {
        r[0]
        for r in con.execute(
            "SELECT DISTINCT blng__PaymentStatus__c FROM blng__Invoice__c"
        ).fetchall()
    }
    assert statuses == {"Paid", "Partially Paid", "Unpaid"}
    assert (
        one(
            "SELECT count(*) FROM blng__Invoice__c i JOIN blng__Invoice__History h ON h.ParentId = i.Id "
            "WHERE h.NewValue = 'Paid' AND ts(h.CreatedDate) > CAST(i.blng__DueDate__c AS DATE) + 1"
        )
        > 0
    )
    # Payments entered days after the money came: the payment date says when.
    assert (
        one(
            "SELECT count(*) FROM blng__Payment__c "
            "WHERE CAST(blng__PaymentDate__c AS DATE) < ts(CreatedDate)::DATE"
        )
        > 0
    )
    assert one("SELECT count(*) FROM Opportunity WHERE Loss_Reason__c <> ''") > 0
    if shape == "cpq_billing":
        # Billing allocations: one payment over several invoices, partial payments, reversals.
        assert (
            one(
                "SELECT max(n) FROM (SELECT count(DISTINCT blng__Invoice__c) n "
                "FROM blng__PaymentAllocationInvoice__c GROUP BY blng__Payment__c)"
            )
            >= 2
        )
        assert (
            one(
                "SELECT max(n) FROM (SELECT count(DISTINCT blng__Payment__c) n "
                "FROM blng__PaymentAllocationInvoice__c WHERE blng__Type__c = 'Allocation' "
                "GROUP BY blng__Invoice__c)"
            )
            >= 2
        )
        assert (
            one(
                "SELECT count(*) FROM blng__PaymentAllocationInvoice__c WHERE blng__Type__c = 'Unallocation'"
            )
            > 0
        )
        assert one("SELECT count(*) FROM SBQQ__Quote__History WHERE NewValue = 'Rejected'") > 0
        assert one("SELECT count(*) FROM \"Order\" WHERE Status = 'Completed'") > 0


@pytest.mark.parametrize("shape", SHAPES)
def test_expected_event_log_matches_the_records(truth_orgs, shape):
    """Spot-check the ground truth against the records it claims to come from."""
    org = truth_orgs(shape)
    con = connect(org)
    log = str(org / "expected_event_log.csv")
    con.execute(
        f"CREATE VIEW log AS SELECT * FROM read_csv('{log}', header = true, all_varchar = true)"
    )
    con.execute("CREATE VIEW live_opp AS SELECT Id FROM Opportunity WHERE IsDeleted = 'false'")
    quote = "SBQQ__Quote__c" if shape == "cpq_billing" else "Quote"
    # How each shape's org ties a contract to its deal.
    contract_deal = {
        "custom": "SELECT Id AS contract_id, Opportunity__c AS opportunity_id FROM Contract",
        "cpq_billing": "SELECT Id AS contract_id, SBQQ__Opportunity__c AS opportunity_id FROM Contract",
        "standard": "SELECT ContractId AS contract_id, Id AS opportunity_id FROM Opportunity",
    }[shape]
    checks = {
        "Lead Created": "SELECT count(*) FROM Lead WHERE IsDeleted = 'false'",
        "Opportunity Created": "SELECT count(*) FROM live_opp",
        "Quote Created": f"SELECT count(*) FROM {quote} WHERE IsDeleted = 'false'",
        "Contract Activated": "SELECT count(*) FROM Contract c WHERE c.ActivatedDate IS NOT NULL AND EXISTS "
        f"(SELECT 1 FROM ({contract_deal}) d JOIN live_opp ON live_opp.Id = d.opportunity_id "
        "WHERE d.contract_id = c.Id)",
        "Opportunity Closed Won": "SELECT count(*) FROM Opportunity WHERE IsWon = 'true' AND IsDeleted = 'false'",
        "Call": "SELECT count(*) FROM Task t WHERE IsDeleted = 'false' AND Type = 'Call' AND "
        "(t.WhatId IN (SELECT Id FROM live_opp) OR (t.WhatId IS NULL AND t.WhoId IN "
        "(SELECT Id FROM Lead WHERE IsDeleted = 'false')))",
    }
    for activity, sql in checks.items():
        logged = con.execute("SELECT count(*) FROM log WHERE activity = ?", [activity]).fetchone()[
            0
        ]
        assert logged == con.execute(sql).fetchone()[0], activity
    # Cases: converted leads' events belong to their opportunity while it exists; the others
    # (never converted, converted without one, or its opportunity deleted) to the lead.
    assert (
        con.execute("""
        SELECT count(*) FROM log JOIN Lead l ON l.Id = log.object_id
        LEFT JOIN live_opp o ON o.Id = l.ConvertedOpportunityId
        WHERE log.case_id <> CASE WHEN l.IsConverted = 'true' AND o.Id IS NOT NULL THEN o.Id ELSE l.Id END
    """).fetchone()[0]
        == 0
    )
    assert (
        con.execute(
            "SELECT count(*) FROM log WHERE case_id IN (SELECT Id FROM Opportunity WHERE IsDeleted = 'true')"
        ).fetchone()[0]
        == 0
    )
    as_of = json.loads((org / "org.json").read_text())["as_of"]
    assert con.execute("SELECT max(ts(timestamp)) <= ts(?) FROM log", [as_of]).fetchone()[0]


TRUTH_CASES = [(shape, truth_id) for shape in SHAPES for truth_id in TRUTH_IDS]


@pytest.mark.parametrize("shape, truth_id", TRUTH_CASES)
def test_planted_truth_holds_in_the_records(truth_orgs, shape, truth_id):
    org = truth_orgs(shape)
    truths = {t["id"]: t for t in json.loads((org / "truths.json").read_text())["truths"]}
    if truth_id not in truths:
        # Only what the shape's records cannot show is left out, and it says why.
        assert truth_id in not_observable(shape) or (
            truth_id == "loss_reason_family" and shape == "standard"
        ), (shape, truth_id)
        return
    truth = truths[truth_id]
    subject, others = MEASURES[truth_id](connect(org), truth)
    assert abs(subject - truth["figure"]) <= truth["tolerance"], (truth["statement"], subject)
    assert abs(others - truth["baseline"]) <= truth["tolerance"] / 2, (truth["statement"], others)


@pytest.mark.parametrize("shape", SHAPES)
def test_truths_cover_every_question(truth_orgs, shape):
    truths = json.loads((truth_orgs(shape) / "truths.json").read_text())["truths"]
    covered = {q for t in truths for q in t["questions"]}
    if shape == "standard":  # no invoices: nothing to say about slow payment (question 4)
        assert len(truths) == 8 and covered >= {1, 2, 3, 5, 6, 7, 9, 10, 11}
    else:
        assert len(truths) == 11 and covered >= {1, 2, 3, 4, 5, 6, 7, 9, 10, 11}
    assert {t["id"] for t in truths} <= set(TRUTH_IDS)


def test_refuses_sizes_out_of_range(tmp_path):
    with pytest.raises(ValueError, match="between 1 and 2,000,000"):
        generate(tmp_path, leads=2_000_001, seed=1)


@pytest.mark.parametrize("shape", SHAPES)
def test_catalogue_has_the_required_objects(shape):
    required = {
        "User",
        "UserRole",
        "Account",
        "Lead",
        "LeadHistory",
        "Opportunity",
        "OpportunityFieldHistory",
        "OpportunityHistory",
        "OpportunityLineItem",
        "Product2",
        "ProcessInstance",
        "ProcessInstanceStep",
        "Contract",
        "Order",
        "Task",
        "Event",
    }
    required |= {
        "standard": {"Quote"},
        "custom": {"Quote", "Quote_Status_History__c", "blng__Invoice__c", "blng__Payment__c"},
        "cpq_billing": {
            "SBQQ__Quote__c",
            "SBQQ__QuoteLine__c",
            "SBQQ__Quote__History",
            "blng__Invoice__c",
            "blng__Payment__c",
            "blng__PaymentAllocationInvoice__c",
        },
    }[shape]
    assert required <= set(by_name(shape))
    assert duckdb  # used through truth_measures
    assert Path(__file__).parent.joinpath("truth_measures.py").exists()
