"""Conformance and compliance: pm4py run once per distinct trace gives the same per-case
result as pm4py run on every case; the rules of process.yaml flag the cases the event log
says they should; the allowlist silences; the discovered BPMN model replays its variants."""

from __future__ import annotations

import math
from dataclasses import replace

import duckdb
import pm4py

from l2c_pipeline.mining.conformance import align_traces, reference_net, unrecorded_steps
from l2c_pipeline.mining.discovery import discover_bpmn, top_variants
from l2c_pipeline.mining.target_process import load_target_process
from l2c_pipeline.pipeline import build_pipeline
from l2c_pipeline.warehouse.duckdb_warehouse import connect, connect_read_only

from .test_event_log import copy_warehouse
from .test_mining_parity import pm4py_frame


def test_per_variant_conformance_equals_pm4py_on_every_case(tables):
    process = load_target_process()
    # The steps this org does not record fully are optional in the model both sides align with
    # (what is relaxed, and why, is tested below).
    process = replace(
        process,
        optional_activities=(*process.optional_activities, *unrecorded_steps(tables, process)),
    )
    frame = pm4py_frame(tables)
    frame = frame[frame["concept:name"].isin(process.reference_path)]
    net, initial, final = reference_net(process)
    expected = pm4py.conformance_diagnostics_alignments(
        frame, net, initial, final, return_diagnostics_dataframe=True
    )
    expected = {
        row.case_id: (row.fitness, bool(row.is_fit)) for row in expected.itertuples(index=False)
    }
    actual = {
        case_id: (fitness, is_conformant)
        for case_id, fitness, is_conformant in tables.execute(
            "SELECT case_id, fitness, is_conformant FROM mining.case_conformance"
        ).fetchall()
    }
    # Every case is in the table; pm4py sees only cases with at least one event on the path.
    assert set(expected) <= set(actual)
    assert len(actual) == tables.execute("SELECT count(*) FROM core.cases").fetchone()[0]
    for case_id, (fitness, is_fit) in expected.items():
        assert math.isclose(actual[case_id][0], fitness, rel_tol=1e-9), case_id
        assert actual[case_id][1] == is_fit, case_id
    conformant = sum(
        is_fit for case_id, (_, is_fit) in expected.items() if case_id.startswith("006")
    )
    opportunities = sum(1 for case_id in expected if case_id.startswith("006"))
    rate = tables.execute(
        "SELECT value FROM reports.kpi_summary WHERE kpi = 'conformance_rate'"
    ).fetchone()[0]
    assert math.isclose(rate, conformant / opportunities, rel_tol=1e-12)
    assert 0.3 < rate < 0.95  # the demo org deviates, but not everywhere


def test_variants_carry_their_conformance(tables):
    mixed = tables.execute("""
        SELECT count(*) FROM reports.variants AS r
        JOIN mining.variant_paths AS p USING (activities)
        JOIN mining.case_variants AS v USING (activity_codes)
        JOIN mining.case_conformance AS c USING (case_id)
        WHERE r.is_conformant IS DISTINCT FROM c.is_conformant
    """).fetchone()[0]
    assert mixed == 0
    assert tables.execute(
        "SELECT count(*) FILTER (WHERE is_conformant), count(*) FILTER (WHERE NOT is_conformant) "
        "FROM reports.variants"
    ).fetchone() > (0, 0)


def test_alignments_equal_pm4py_default_search_trace_by_trace(tables):
    # align_traces passes pm4py the costs it would work out itself (once per activity set, not
    # per trace); each trace must still get pm4py's optimal cost and fitness from its default
    # A* search with no parameters at all.
    from pm4py.algo.conformance.alignments.petri_net import algorithm as alignments
    from pm4py.objects.log.obj import Event, Trace

    process = load_target_process()
    traces = [
        t
        for (t,) in tables.execute(
            "SELECT DISTINCT string_split(trace, ' > ') FROM mining.case_conformance "
            "WHERE trace <> ''"
        ).fetchall()
    ]
    assert len(traces) > 20
    net, initial, final = reference_net(process)
    for trace, ours in zip(traces, align_traces(traces, process), strict=True):
        expected = alignments.apply_trace(
            Trace([Event({"concept:name": a}) for a in trace]), net, initial, final
        )
        assert math.isclose(ours.fitness, expected["fitness"], rel_tol=1e-12), trace
        deviations = sum(
            1 for log, model in expected["alignment"] if ">>" in (log, model) and model is not None
        )
        assert len(ours.skipped) + len(ours.unexpected) == deviations, trace


def test_alignment_details_name_the_deviation():
    process = load_target_process()
    path = list(process.reference_path)
    skipped = [a for a in path[:12] if a != "Quote Accepted"]
    repeated = path[:8] + ["Quote Created"] + path[8:10]
    results = align_traces([path, path[:5], skipped, repeated], process)
    assert [r.is_conformant for r in results] == [True, True, False, False]
    assert results[2].skipped == ("Quote Accepted",) and results[2].unexpected == ()
    assert results[3].unexpected == ("Quote Created",)
    assert "skipped Quote Accepted" in results[2].detail
    # Optional and repeatable steps are allowed, and a case may start where process.yaml says
    # (a deal opened on an existing customer has no lead); not anywhere.
    without_qualification = [a for a in path if a != "Stage: Qualification"]
    paid_twice = path[:-1] + ["Payment Received", "Invoice Paid"]
    no_lead = path[path.index("Opportunity Created") :]
    assert "Opportunity Created" in process.start_activities
    assert all(
        r.is_conformant for r in align_traces([without_qualification, paid_twice, no_lead], process)
    )
    from_negotiation = path[path.index("Stage: Negotiation/Review") :]
    late_start = align_traces([from_negotiation], process)[0]
    assert not late_start.is_conformant and "Opportunity Created" in late_start.skipped


def test_steps_the_org_does_not_record_fully_are_not_held_against_a_case(truth_warehouses):
    """A step with no event at all (the org does not record it), or known only from the
    pipeline's change capture (statuses passed between two syncs are not seen), is optional."""
    process = load_target_process()
    expected = {
        # CPQ + Billing: invoices have no 'sent' stamp.
        "cpq_billing": ("Invoice Sent",),
        # Customised org: everything has history.
        "custom": (),
        # Sales Cloud only: the standard Quote's statuses are captured, no invoices at all.
        "standard": (
            "Quote Presented",
            "Quote Accepted",
            "Invoice Posted",
            "Invoice Sent",
            "Payment Received",
            "Invoice Paid",
        ),
    }
    for shape, steps in expected.items():
        with connect_read_only(truth_warehouses(shape)) as con:
            assert unrecorded_steps(con, process) == steps, shape
            comment = con.execute(
                "SELECT comment FROM duckdb_tables() WHERE schema_name = 'mining' "
                "AND table_name = 'case_conformance'"
            ).fetchone()[0]
            assert all(step in comment for step in steps), (shape, comment)


def _counts_from_expected_log(org, sql: str) -> set:
    """Run `sql` over the generator's expected event log (not the warehouse) as table `log`."""
    literal = str(org / "expected_event_log.csv").replace("'", "''")
    with duckdb.connect() as con:
        con.execute(
            f"CREATE VIEW log AS SELECT case_id, activity, \"timestamp\"::TIMESTAMP AS ts FROM read_csv('{literal}', "
            "header = true, all_varchar = true)"
        )
        return set(con.execute(sql).fetchall())


def test_rule_violations_match_the_expected_event_log(tables, truth_org):
    process = load_target_process()
    flagged = set(
        tables.execute(
            "SELECT case_id, activity FROM reports.compliance_violations WHERE rule = 'max_occurrences'"
        ).fetchall()
    )
    limits = " OR ".join(
        f"(activity = '{a}' AND n > {n})" for a, n in process.max_occurrences.items()
    )
    expected = _counts_from_expected_log(
        truth_org,
        f"SELECT case_id, activity FROM (SELECT case_id, activity, count(*) AS n FROM log GROUP BY ALL) WHERE {limits}",
    )
    assert flagged == expected and expected
    flagged = set(
        tables.execute(
            "SELECT case_id, activity FROM reports.compliance_violations WHERE rule = 'ordering_rules'"
        ).fetchall()
    )
    expected = set()
    for first, then in process.ordering_rules:
        expected |= _counts_from_expected_log(
            truth_org,
            f"""SELECT case_id, '{then}' FROM log GROUP BY case_id
                HAVING min(ts) FILTER (WHERE activity = '{then}') < min(ts) FILTER (WHERE activity = '{first}')""",
        )
    assert flagged == expected
    flagged = {
        c
        for (c,) in tables.execute(
            "SELECT case_id FROM reports.compliance_violations WHERE rule = 'won_without_quote'"
        ).fetchall()
    }
    expected = {
        c
        for (c,) in _counts_from_expected_log(
            truth_org,
            "SELECT case_id FROM log GROUP BY case_id HAVING bool_or(activity = 'Opportunity Closed Won') "
            "AND NOT bool_or(activity = 'Quote Created')",
        )
    }
    assert flagged == expected and expected


def test_every_violation_has_a_known_rule_and_severity(tables):
    rows = tables.execute(
        "SELECT DISTINCT rule, severity FROM reports.compliance_violations ORDER BY ALL"
    ).fetchall()
    rules = {r for r, _ in rows}
    assert rules >= {
        "mandatory_activities",
        "max_occurrences",
        "discount_approval",
        "won_without_quote",
        "target_process_fitness",
    }
    assert {s for _, s in rows} <= {"high", "medium", "low"}
    assert (
        tables.execute(
            "SELECT count(*) FROM reports.compliance_violations WHERE detail IS NULL OR detail = ''"
        ).fetchone()[0]
        == 0
    )


def test_the_allowlist_silences_accepted_deviations(truth_warehouse, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    copy_warehouse(truth_warehouse, warehouse)
    con = connect(warehouse)
    try:
        before = dict(
            con.execute(
                "SELECT rule, count(*) FROM reports.compliance_violations GROUP BY rule"
            ).fetchall()
        )
        one_case, its_rows = con.execute(
            "SELECT case_id, count(*) FROM reports.compliance_violations WHERE rule = 'max_occurrences' "
            "GROUP BY case_id ORDER BY case_id LIMIT 1"
        ).fetchone()
        process_file = tmp_path / "process.yaml"
        shipped = (load_target_process.__globals__["default_process_file"]()).read_text()
        process_file.write_text(
            shipped.replace(
                "allowlist: []",
                "allowlist:\n"
                "  - rule: won_without_quote\n"
                "    reason: inside sales closes small deals on the phone\n"
                f"  - rule: max_occurrences\n    case_id: {one_case}\n",
            )
        )
        process = load_target_process(process_file)
        build_pipeline(
            con,
            process,
            tables={
                "mining.reference_path",
                "mining.process_rules",
                "mining.compliance_allowlist",
                "reports.compliance_violations",
            },
        )
        after = dict(
            con.execute(
                "SELECT rule, count(*) FROM reports.compliance_violations GROUP BY rule"
            ).fetchall()
        )
        assert "won_without_quote" not in after and before["won_without_quote"] > 0
        assert after["max_occurrences"] == before["max_occurrences"] - its_rows
        assert {r: n for r, n in after.items() if r != "max_occurrences"} == {
            r: n for r, n in before.items() if r not in ("max_occurrences", "won_without_quote")
        }
    finally:
        con.close()


def test_discovered_bpmn_model_replays_the_variants_it_was_mined_from(truth_warehouse, tmp_path):
    con = connect_read_only(truth_warehouse)
    try:
        model = discover_bpmn(con, tmp_path / "out" / "process_model.bpmn", coverage=0.8)
        variants, cases, _ = top_variants(con, 0.8)
        all_cases = con.execute("SELECT count(*) FROM core.cases").fetchone()[0]
    finally:
        con.close()
    assert model.coverage >= 0.8 and model.cases_total == cases == all_cases > 8000
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["process_model.bpmn"]
    bpmn = pm4py.read_bpmn(str(model.path))
    net, initial, final = pm4py.convert_to_petri_net(bpmn)
    import pandas as pd

    frame = pd.DataFrame(
        [
            (str(i), a, pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(minutes=j))
            for i, (activities, _) in enumerate(variants)
            for j, a in enumerate(activities)
        ],
        columns=["case:concept:name", "concept:name", "time:timestamp"],
    )
    fitness = pm4py.fitness_token_based_replay(frame, net, initial, final)
    assert fitness["perc_fit_traces"] == 100.0
    assert model.activities >= len({a for activities, _ in variants for a in activities})


def test_alignments_carried_over_from_the_last_run_equal_a_full_alignment(
    truth_warehouse, tmp_path
):
    """A trace aligned last night with the same model is not aligned again; the table is the
    same as aligning every trace afresh, after cases changed and after the model changed."""
    from l2c_pipeline.mining.conformance import write_case_conformance

    copy = tmp_path / "warehouse.duckdb"
    copy_warehouse(truth_warehouse, copy)
    con = connect(copy)
    process = load_target_process()
    table = "SELECT * FROM mining.case_conformance ORDER BY case_id"

    def afresh(process) -> list:
        con.execute("DROP TABLE IF EXISTS meta.trace_alignments")
        figures = write_case_conformance(con, process)
        assert figures["traces_aligned"] == figures["distinct_traces"]
        return con.execute(table).fetchall()

    full = afresh(process)
    again = write_case_conformance(con, process)
    assert again["traces_aligned"] == 0
    assert con.execute(table).fetchall() == full
    cached = con.execute("SELECT count(*) FROM meta.trace_alignments").fetchone()[0]
    assert cached == again["distinct_traces"] > 10

    # Some cases change overnight: their events come in reverse order (new traces).
    changed = [
        row[0]
        for row in con.execute(
            "SELECT case_id FROM mining.case_variants WHERE len(activity_codes) > 4 "
            "ORDER BY case_id LIMIT 6"
        ).fetchall()
    ]
    con.execute(
        "UPDATE mining.case_variants SET activity_codes = list_reverse(activity_codes) "
        "WHERE list_contains(?, case_id)",
        [changed],
    )
    night = write_case_conformance(con, process)
    assert 0 < night["traces_aligned"] <= len(changed)
    after_change = con.execute(table).fetchall()
    assert after_change != full
    assert after_change == afresh(process)

    # Another model: nothing is carried over, and the result is the new model's own.
    required = next(a for a in process.reference_path if a not in process.optional_activities)
    relaxed = replace(process, optional_activities=(*process.optional_activities, required))
    other = write_case_conformance(con, relaxed)
    assert other["traces_aligned"] == other["distinct_traces"]
    assert con.execute(table).fetchall() == afresh(relaxed)
    con.close()


def test_cases_with_no_event_on_the_reference_path_are_not_judged(tmp_path):
    """A case of another process (a public log's) neither follows nor breaks the target process:
    counting it as following made every unrelated log 100% conformant."""
    from l2c_pipeline.file_source.load import load_into_warehouse, read_event_file
    from l2c_pipeline.mining.conformance import NOT_JUDGED
    from l2c_pipeline.outputs.answers import variation_answer

    log = tmp_path / "log.csv"
    rows = ["C1,Lead Created,2026-01-01 10:00", "C1,Lead Converted,2026-01-02 10:00"] + [
        f"C{c},{activity},2026-01-0{c} {hour}:00"
        for c in (2, 3)
        for activity, hour in (("Register", 10), ("Approve", 11))
    ]
    log.write_text("case_id,activity,timestamp\n" + "\n".join(rows) + "\n", encoding="utf-8")
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    try:
        load_into_warehouse(con, read_event_file(log))
        build_pipeline(con, schemas=("mining", "reports"))
        judged = con.execute(
            "SELECT case_id, is_conformant, fitness, skipped_steps, detail "
            "FROM mining.case_conformance ORDER BY case_id"
        ).fetchall()
        variants = con.execute(
            "SELECT variant, cases, is_conformant FROM reports.variants ORDER BY variant"
        ).fetchall()
        unrelated_variants = con.execute(
            "SELECT variant, cases, conformant_share, mean_fitness "
            "FROM reports.opportunity_variants WHERE variant = 'Register > Approve'"
        ).fetchall()
        facts = con.execute(
            "SELECT case_id, is_conformant FROM mining.case_facts ORDER BY case_id"
        ).fetchall()
    finally:
        con.close()
    assert judged[0][0] == "C1" and judged[0][1] is True and judged[0][2] == 1.0
    assert judged[1:] == [(c, None, None, [], NOT_JUDGED) for c in ("C2", "C3")]
    assert facts == [("C1", True), ("C2", None), ("C3", None)]
    assert variants == [("Lead Created > Lead Converted", 1, True), ("Register > Approve", 2, None)]
    assert unrelated_variants == [("Register > Approve", 2, None, None)]
    unrelated = [{"cases": 2, "conformant_share": None, "mean_fitness": None}]
    assert "follow the target process" not in variation_answer(unrelated, [], "cases")
    assert "conformance is not judged" in variation_answer(unrelated, [], "cases")
