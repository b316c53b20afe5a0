"""The event log built by the SQL models from extracted records equals the generator's ground truth."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from l2c_pipeline.demo_org.generator import generate
from l2c_pipeline.demo_org.server import DemoOrgServer
from l2c_pipeline.mapping.load import Mapping, load_mapping, shape_file
from l2c_pipeline.mining.target_process import (
    TargetProcessError,
    catalogue_activities,
    load_target_process,
)
from l2c_pipeline.models.sql_models import ModelError, build_all, default_sql_dir, discover
from l2c_pipeline.pipeline import build_pipeline
from l2c_pipeline.salesforce.catalogue import load_catalogue
from l2c_pipeline.salesforce.client import SalesforceClient
from l2c_pipeline.salesforce.settings import SalesforceSettings
from l2c_pipeline.salesforce.sync import sync_object
from l2c_pipeline.warehouse.duckdb_warehouse import connect, warehouse_files

ROOT = Path(__file__).resolve().parents[1]


def mapping_of(org: Path) -> Mapping:
    """The shipped mapping of the shape the org was generated in."""
    from .truth_measures import shape_of

    return load_mapping(shape_file(shape_of(org)))


def extract(org: Path, con, mapping: Mapping, tls: Path, **options) -> dict:
    """Every object the mapping names, extracted over HTTPS into `con`."""
    options.setdefault("bulk_threshold", 4000)
    with DemoOrgServer(org, work_dir=tls) as server:
        client = SalesforceClient(SalesforceSettings.from_env(server.environment()))
        return {
            spec.name: sync_object(client, con, spec, **options)
            for spec in load_catalogue(mapping.objects, tracked=mapping.change_capture)
        }


def extract_and_build(
    org: Path,
    warehouse: Path,
    sql_dir: Path | None = None,
    tls: Path | None = None,
    mapping: Mapping | None = None,
):
    mapping = mapping or mapping_of(org)
    con = connect(warehouse)
    extract(org, con, mapping, tls or warehouse.parent / "tls")
    built = build_pipeline(con, sql_dir=sql_dir, mapping=mapping)
    return con, built


def copy_warehouse(source: Path, target: Path) -> Path:
    """A copy of a built warehouse, its models file included, to change without touching it."""
    for part, copy in zip(warehouse_files(source), warehouse_files(target), strict=True):
        if part.exists():
            shutil.copy(part, copy)
    return target


def differences(con, expected_csv: Path) -> list[tuple]:
    literal = str(expected_csv).replace("'", "''")
    return con.execute(f"""
        WITH expected AS (
            SELECT case_id, activity, CAST(CAST("timestamp" AS TIMESTAMPTZ) AS TIMESTAMP) AS ts,
                   object_type, object_id, resource_id
            FROM read_csv('{literal}', header = true, all_varchar = true)
        ), actual AS (
            SELECT case_id, activity, "timestamp" AS ts, object_type, object_id, resource_id FROM core.event_log
        )
        SELECT 'missing', * FROM (SELECT * FROM expected EXCEPT ALL SELECT * FROM actual)
        UNION ALL
        SELECT 'unexpected', * FROM (SELECT * FROM actual EXCEPT ALL SELECT * FROM expected)
        LIMIT 20
    """).fetchall()


@pytest.mark.parametrize(
    "shape, seed, leads",
    [
        ("standard", 1, 1500),
        ("standard", 2, 1500),
        ("cpq_billing", 3, 1500),
        ("cpq_billing", 4, 6000),
        ("custom", 5, 1500),
        ("custom", 6, 1500),
    ],
)
def test_event_log_equals_the_expected_event_log(tmp_path, shape, seed, leads):
    org = tmp_path / "org"
    generate(org, leads=leads, seed=seed, shape=shape)
    con, built = extract_and_build(org, tmp_path / "warehouse.duckdb")
    try:
        assert built["core.event_log"] > leads * 5
        assert differences(con, org / "expected_event_log.csv") == []
        # A deterministic sequence: each case's events numbered 1..n with no gaps or ties.
        assert (
            con.execute("""
            SELECT count(*) FROM (SELECT case_id, count(*) n, max(event_order) m, count(DISTINCT event_order) d
                                  FROM core.event_log GROUP BY case_id) WHERE n <> m OR n <> d
        """).fetchone()[0]
            == 0
        )
        # Equal timestamps follow the documented rank: conversion before the opportunity.
        assert (
            con.execute("""
            SELECT count(*) FROM core.event_log a JOIN core.event_log b
              ON a.case_id = b.case_id AND a.timestamp = b.timestamp
            WHERE a.activity = 'Lead Converted' AND b.activity = 'Opportunity Created' AND a.event_order > b.event_order
        """).fetchone()[0]
            == 0
        )
        cases = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE case_type = 'lead') FROM core.cases"
        ).fetchone()
        assert (
            cases[0]
            == con.execute("SELECT count(DISTINCT case_id) FROM core.event_log").fetchone()[0]
        )
        # A lead is its own case unless its opportunity exists (converted without one, or the
        # opportunity was deleted since).
        assert (
            cases[1]
            == con.execute(
                "SELECT count(*) FROM raw.Lead l WHERE NOT l.IsDeleted AND NOT EXISTS ("
                "SELECT 1 FROM raw.Opportunity o WHERE o.Id = l.ConvertedOpportunityId AND NOT o.IsDeleted)"
            ).fetchone()[0]
        )
        # No event outside a known case.
        assert (
            con.execute(
                "SELECT count(*) FROM core.event_log e WHERE NOT EXISTS "
                "(SELECT 1 FROM core.cases c WHERE c.case_id = e.case_id)"
            ).fetchone()[0]
            == 0
        )
    finally:
        con.close()


def test_every_table_and_column_has_a_comment(small_org, tmp_path):
    con, _ = extract_and_build(small_org, tmp_path / "warehouse.duckdb")
    try:
        # Analysts read the comments: every table and column of core, mining and reports has one.
        tables = con.execute(
            "SELECT schema_name || '.' || table_name, comment FROM duckdb_tables() "
            "WHERE schema_name IN ('core', 'mining', 'reports')"
        ).fetchall()
        assert {t for t, _ in tables} >= {
            "core.event_log",
            "core.cases",
            "core.activity_catalogue",
            "mining.case_conformance",
            "reports.compliance_violations",
            "reports.root_causes",
        }
        assert [t for t, comment in tables if not comment] == []
        views = con.execute(
            "SELECT schema_name || '.' || view_name, comment FROM duckdb_views() "
            "WHERE schema_name IN ('core', 'mining', 'reports') AND NOT internal"
        ).fetchall()
        assert {v for v, _ in views} >= {"mining.directly_follows"}
        assert [v for v, comment in views if not comment] == []
        uncommented = con.execute(
            "SELECT table_name, column_name FROM duckdb_columns() "
            "WHERE schema_name IN ('core', 'mining', 'reports') AND coalesce(comment, '') = ''"
        ).fetchall()
        assert uncommented == []
        # A column comment may go on over indented lines; none of it is lost.
        assert (
            con.execute(
                "SELECT comment FROM duckdb_columns() WHERE schema_name = 'reports' "
                "AND table_name = 'variants' AND column_name = 'is_conformant'"
            )
            .fetchone()[0]
            .endswith("e.g. a public log of another process)")
        )
    finally:
        con.close()


def test_a_new_activity_is_one_sql_file(small_org, tmp_path):
    # The org has a custom field the catalogue does not know: legal review of big deals.
    org = tmp_path / "org"
    shutil.copytree(small_org, org)
    lines = (org / "Opportunity.csv").read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    created = header.index('"CreatedDate"')
    deleted = header.index('"IsDeleted"')
    reviewed = 0
    for index in range(1, len(lines)):
        value = '""'
        if index % 7 == 0:  # every seventh deal was reviewed, at its creation time
            value = lines[index].split(",")[created]
            reviewed += (
                lines[index].split(",")[deleted] == '"false"'
            )  # the model skips deleted deals
        lines[index] += "," + value
    lines[0] += ',"Legal_Review_Date__c"'
    (org / "Opportunity.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    sql_dir = tmp_path / "sql"
    shutil.copytree(default_sql_dir(), sql_dir)
    (sql_dir / "activities" / "legal_review_events.sql").write_text(
        "-- Legal review of a deal, from the org's custom field Legal_Review_Date__c.\n"
        "SELECT 'legal_review:' || o.Id AS event_id, o.Id AS case_id, 'Legal Review' AS activity,\n"
        "       o.Legal_Review_Date__c AS timestamp, o.OwnerId AS resource_id, 'Opportunity' AS object_type,\n"
        "       o.Id AS object_id, NULL AS old_value, NULL AS new_value\n"
        "FROM raw.Opportunity AS o\n"
        "WHERE NOT o.IsDeleted AND o.Legal_Review_Date__c IS NOT NULL\n",
        encoding="utf-8",
    )
    assert ("activities", "legal_review_events") in discover(sql_dir)[
        ("core", "event_log")
    ].depends_on
    con, built = extract_and_build(org, tmp_path / "warehouse.duckdb", sql_dir)
    try:
        # An activity model is a view (computed when core.event_log reads it).
        assert built["activities.legal_review_events"] is None
        assert (
            con.execute("SELECT count(*) FROM activities.legal_review_events").fetchone()[0]
            == reviewed
            > 0
        )
        assert (
            con.execute(
                "SELECT count(*) FROM core.event_log WHERE activity = 'Legal Review'"
            ).fetchone()[0]
            == reviewed
        )
        # Everything else is as before: the new events come on top of the expected log.
        assert {row[0] for row in differences(con, org / "expected_event_log.csv")} == {
            "unexpected"
        }
    finally:
        con.close()


def test_broken_models_fail_with_the_file_name_and_leave_the_table_alone(small_org, tmp_path):
    con, _ = extract_and_build(small_org, tmp_path / "warehouse.duckdb")
    try:
        before = con.execute("SELECT count(*) FROM core.event_log").fetchone()[0]
        sql_dir = tmp_path / "sql"
        shutil.copytree(default_sql_dir(), sql_dir)
        broken = sql_dir / "activities" / "lead_events.sql"
        broken.write_text(
            broken.read_text().replace("l.created_at AS timestamp", "l.created_when AS timestamp")
        )
        with pytest.raises(ModelError, match=r"lead_events\.sql: Binder Error: .*created_when"):
            build_all(con, sql_dir)
        assert con.execute("SELECT count(*) FROM core.event_log").fetchone()[0] == before
        broken.write_text("SELEC oops FROM")
        with pytest.raises(ModelError, match=r"lead_events\.sql: not valid SQL"):
            discover(sql_dir)
        broken.write_text("")
        with pytest.raises(ModelError, match=r"lead_events\.sql: the file is empty"):
            discover(sql_dir)
        broken.write_text("SELECT 1 AS event_id")
        with pytest.raises(ModelError, match=r"lead_events\.sql: an activity model must yield"):
            build_all(con, sql_dir)
    finally:
        con.close()


def test_a_model_can_be_a_view_and_change_back_to_a_table(small_org, tmp_path):
    con, _ = extract_and_build(small_org, tmp_path / "warehouse.duckdb")
    kind = (
        "SELECT table_type FROM information_schema.tables "
        "WHERE table_schema = 'mining' AND table_name = 'directly_follows'"
    )
    follows = "SELECT count(*), sum(wait_seconds) FROM mining.directly_follows"
    try:
        assert con.execute(kind).fetchall() == [("VIEW",)]
        as_view = con.execute(follows).fetchone()
        sql_dir = tmp_path / "sql"
        shutil.copytree(default_sql_dir(), sql_dir)
        model = sql_dir / "mining" / "directly_follows.sql"
        shipped = model.read_text()
        assert "-- materialized: view\n" in shipped
        model.write_text(shipped.replace("-- materialized: view\n", ""))
        built = build_all(con, sql_dir, tables={"mining.directly_follows"})
        assert con.execute(kind).fetchall() == [("BASE TABLE",)]
        assert con.execute(follows).fetchone() == as_view
        assert built["mining.directly_follows"] == as_view[0]
        model.write_text(shipped)
        assert build_all(con, sql_dir, tables={"mining.directly_follows"}) == {
            "mining.directly_follows": None
        }
        assert con.execute(kind).fetchall() == [("VIEW",)]
        model.write_text(shipped.replace("materialized: view", "materialized: snapshot"))
        with pytest.raises(ModelError, match=r"directly_follows\.sql: 'materialized: snapshot'"):
            discover(sql_dir)
    finally:
        con.close()


def test_the_shipped_target_process_is_valid():
    process = load_target_process(known_activities=catalogue_activities())
    assert process.discount_threshold_pct == 20 and process.payment_terms_days == 30
    assert ("Quote Accepted", "Contract Activated") in process.ordering_rules


@pytest.mark.parametrize(
    "change, message",
    [
        (
            ("payment_terms_days: 30", "payment_terms_days: thirty"),
            "key 'payment_terms_days' must be a whole number",
        ),
        (
            ("threshold_pct: 20", "threshold_pct: 120"),
            "key 'discount_approval.threshold_pct' must be a number from 0 to 100",
        ),
        (
            ("  - Quote Accepted\n  - Contract Signed", "  - Quote Acepted\n  - Contract Signed"),
            "key 'mandatory_activities[2]' names the unknown activity 'Quote Acepted'",
        ),
        (
            ("  - first: Quote Accepted\n", "  - first: Quote Accepted\n    after: x\n"),
            "key 'ordering_rules[1]' must have exactly 'first' and 'then'",
        ),
        (
            ("Quote Created: 3", "Quote Created: 0"),
            "key 'max_occurrences.Quote Created' must be a whole number of at least 1",
        ),
        (("allowlist: []", "allowlist: [{rule: vibes}]"), "key 'allowlist[1]' needs a rule"),
        (
            ("payment_terms_days: 30", "payment_terms: 30"),
            "key 'payment_terms' is not a target-process setting",
        ),
        (("reference_path:", "reference_path: [\n"), "not valid YAML"),
    ],
)
def test_bad_target_process_files_name_the_key(tmp_path, change, message):
    text = (ROOT / "process.yaml").read_text(encoding="utf-8")
    old, new = change
    assert old in text
    path = tmp_path / "process.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(TargetProcessError) as error:
        load_target_process(path, known_activities=catalogue_activities())
    assert message in str(error.value) and str(path) in str(error.value)
