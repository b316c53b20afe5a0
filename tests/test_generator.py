"""The demo org generator: deterministic, referentially sound, and its planted truths hold."""

from __future__ import annotations

import csv
import filecmp
import json
from pathlib import Path

import duckdb
import pytest

from l2c_pipeline.demo_org.catalogue import BY_NAME, OBJECTS
from l2c_pipeline.demo_org.generator import generate
from l2c_pipeline.demo_org.ids import is_valid_id

from .truth_measures import MEASURES, connect

TRUTH_IDS = list(MEASURES)


def test_same_seed_gives_byte_identical_files_whatever_the_workers(tmp_path):
    # 11,000 leads is three blocks: one worker and two workers must write the same bytes.
    generate(tmp_path / "a", leads=11_000, seed=3, workers=1)
    generate(tmp_path / "b", leads=11_000, seed=3, workers=2)
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir())
    match, mismatch, errors = filecmp.cmpfiles(tmp_path / "a", tmp_path / "b", names, shallow=False)
    assert mismatch == [] and errors == [] and len(match) == len(OBJECTS) + 3


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
    for sobject in OBJECTS:
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


def test_every_reference_resolves(truth_org):
    con = connect(truth_org)
    ids = {
        o.name: {r[0] for r in con.execute(f'SELECT Id FROM "{o.name}"').fetchall()}
        for o in OBJECTS
    }
    checked = 0
    for sobject in OBJECTS:
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


def test_lead_to_cash_behaviour_is_all_there(truth_org):
    con = connect(truth_org)

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
    assert one("SELECT max(n) FROM (SELECT count(*) n FROM Quote GROUP BY OpportunityId)") >= 3
    assert one("SELECT count(*) FROM ProcessInstance WHERE Status = 'Rejected'") > 0
    assert (
        one("SELECT count(*) FROM opp WHERE IsWon = 'true' AND synced_quote_id IS NULL") > 0
    )  # won, no quote
    assert one("SELECT count(*) FROM \"Order\" WHERE IsReductionOrder = 'true'") > 0
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
    assert one("SELECT count(DISTINCT Division) FROM \"User\" WHERE Division <> ''") == 4
    assert one("SELECT count(DISTINCT LeadSource) FROM Lead") == 6
    weekend = one("SELECT avg((dayofweek(ts(CreatedDate)) IN (0, 6))::INT) FROM Task")
    assert 0 < weekend < 0.05  # mostly business days, a few weekend touches
    assert one("SELECT count(*) FROM Task WHERE IsDeleted = 'true'") > 0
    assert one("SELECT count(*) FROM Lead WHERE IsDeleted = 'true'") > 0


def test_expected_event_log_matches_the_records(truth_org):
    """Spot-check the ground truth against the records it claims to come from."""
    con = connect(truth_org)
    log = str(truth_org / "expected_event_log.csv")
    con.execute(
        f"CREATE VIEW log AS SELECT * FROM read_csv('{log}', header = true, all_varchar = true)"
    )
    checks = {
        "Lead Created": "SELECT count(*) FROM Lead WHERE IsDeleted = 'false'",
        "Opportunity Created": "SELECT count(*) FROM Opportunity",
        "Quote Created": "SELECT count(*) FROM Quote",
        "Contract Activated": "SELECT count(*) FROM Contract WHERE ActivatedDate <> ''",
        "Payment Received": "SELECT count(*) FROM blng__Payment__c",
        "Opportunity Closed Won": "SELECT count(*) FROM Opportunity WHERE IsWon = 'true'",
        "Call": "SELECT count(*) FROM Task WHERE IsDeleted = 'false' AND Type = 'Call'",
    }
    for activity, sql in checks.items():
        logged = con.execute("SELECT count(*) FROM log WHERE activity = ?", [activity]).fetchone()[
            0
        ]
        assert logged == con.execute(sql).fetchone()[0], activity
    # Cases: converted leads' events belong to their opportunity, the others to the lead.
    assert (
        con.execute("""
        SELECT count(*) FROM log JOIN Lead l ON l.Id = log.object_id
        WHERE log.case_id <> CASE WHEN l.IsConverted = 'true' THEN l.ConvertedOpportunityId ELSE l.Id END
    """).fetchone()[0]
        == 0
    )
    as_of = json.loads((truth_org / "org.json").read_text())["as_of"]
    assert con.execute("SELECT max(ts(timestamp)) <= ts(?) FROM log", [as_of]).fetchone()[0]


@pytest.mark.parametrize("truth_id", TRUTH_IDS)
def test_planted_truth_holds_in_the_records(truth_org, truth_id):
    truths = {t["id"]: t for t in json.loads((truth_org / "truths.json").read_text())["truths"]}
    truth = truths[truth_id]
    subject, others = MEASURES[truth_id](connect(truth_org), truth)
    assert abs(subject - truth["figure"]) <= truth["tolerance"], (truth["statement"], subject)
    assert abs(others - truth["baseline"]) <= truth["tolerance"] / 2, (truth["statement"], others)


def test_truths_cover_the_brief(truth_org):
    truths = json.loads((truth_org / "truths.json").read_text())["truths"]
    assert len(truths) >= 8
    assert {q for t in truths for q in t["questions"]} >= {1, 2, 3, 4, 5, 6, 7, 9, 10, 11}
    assert set(TRUTH_IDS) == {t["id"] for t in truths}


def test_refuses_sizes_out_of_range(tmp_path):
    with pytest.raises(ValueError, match="between 1 and 2,000,000"):
        generate(tmp_path, leads=2_000_001, seed=1)


def test_catalogue_has_the_required_objects():
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
        "Quote",
        "ProcessInstance",
        "ProcessInstanceStep",
        "Contract",
        "Order",
        "Task",
        "Event",
        "blng__Invoice__c",
        "blng__Payment__c",
    }
    assert required <= set(BY_NAME)
    assert duckdb  # used through truth_measures
    assert Path(__file__).parent.joinpath("truth_measures.py").exists()
