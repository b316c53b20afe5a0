"""The process-mining SQL models give pm4py's figures on the same log: directly-follows
frequencies and waiting times, variants and their counts, case throughput times.

Both sides see the events in the same order: pm4py gets the log sorted by core.event_log's
event_order, and its sorts are stable, so events with equal timestamps keep that order."""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import pandas as pd
import pm4py

from l2c_pipeline.mining import EVENT_LOG_ONLY_MODELS
from l2c_pipeline.pipeline import build_pipeline

from .test_event_log import extract_and_build

BPIC2012 = Path(__file__).resolve().parent / "data" / "bpic2012.xes.gz"


def as_pm4py(events: pd.DataFrame) -> pd.DataFrame:
    """Events (case_id, activity, timestamp) under pm4py's column names, times in UTC."""
    frame = events.rename(
        columns={
            "case_id": "case:concept:name",
            "activity": "concept:name",
            "timestamp": "time:timestamp",
        }
    )
    frame["time:timestamp"] = pd.to_datetime(frame["time:timestamp"]).dt.tz_localize("UTC")
    return frame


def pm4py_frame(con) -> pd.DataFrame:
    return as_pm4py(
        con.execute(
            'SELECT case_id, activity, "timestamp" FROM core.event_log ORDER BY case_id, event_order'
        ).df()
    )


def assert_parity(con, frame: pd.DataFrame) -> None:
    edges = {
        (a, b): (n, mean, median)
        for a, b, n, mean, median in con.execute(
            "SELECT from_activity, to_activity, transitions, mean_hours, median_hours FROM reports.process_map_edges"
        ).fetchall()
    }
    dfg, starts, ends = pm4py.discover_dfg(frame)
    assert {pair: n for pair, (n, _, _) in edges.items()} == dict(dfg)
    performance, _, _ = pm4py.discover_performance_dfg(frame)
    assert set(performance) == set(edges)
    for pair, figures in performance.items():
        _, mean_hours, median_hours = edges[pair]
        assert math.isclose(mean_hours * 3600, figures["mean"], rel_tol=1e-9, abs_tol=1e-6), pair
        assert math.isclose(median_hours * 3600, figures["median"], rel_tol=1e-9, abs_tol=1e-6), (
            pair
        )
    nodes = {
        a: (s, e)
        for a, s, e in con.execute(
            "SELECT activity, start_cases, end_cases FROM reports.process_map_nodes"
        ).fetchall()
    }
    assert {a: s for a, (s, _) in nodes.items() if s} == dict(starts)
    assert {a: e for a, (_, e) in nodes.items() if e} == dict(ends)
    # Cases per edge and per activity (counted from the variants in SQL) against pandas on the
    # events themselves: a case with a loop counts once.
    case, activity = frame["case:concept:name"], frame["concept:name"]
    following = frame.assign(to=activity.groupby(case).shift(-1)).dropna(subset=["to"])
    edge_cases = following.groupby(["concept:name", "to"])["case:concept:name"].nunique()
    assert {
        (a, b): n
        for a, b, n in con.execute(
            "SELECT from_activity, to_activity, cases FROM reports.process_map_edges"
        ).fetchall()
    } == edge_cases.to_dict()
    activity_figures = frame.groupby("concept:name")["case:concept:name"].agg(["size", "nunique"])
    assert {
        a: (events, cases)
        for a, events, cases in con.execute(
            "SELECT activity, events, cases FROM reports.process_map_nodes"
        ).fetchall()
    } == {a: (row["size"], row["nunique"]) for a, row in activity_figures.iterrows()}
    variants = {
        tuple(activities): cases
        for activities, cases in con.execute(
            "SELECT activities, cases FROM reports.variants"
        ).fetchall()
    }
    assert variants == {tuple(v): n for v, n in pm4py.get_variants(frame).items()}
    durations = sorted(
        d for (d,) in con.execute("SELECT throughput_seconds FROM mining.case_variants").fetchall()
    )
    expected = sorted(pm4py.get_all_case_durations(frame))
    assert len(durations) == len(expected)
    assert all(math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6) for a, b in zip(durations, expected))


def test_parity_with_pm4py_on_the_demo_log(truth_org, tmp_path):
    con, built = extract_and_build(truth_org, tmp_path / "warehouse.duckdb")
    try:
        assert built["mining.variant_paths"] > 100
        assert_parity(con, pm4py_frame(con))
    finally:
        con.close()


def test_parity_with_pm4py_on_bpi_challenge_2012(tmp_path):
    log = pm4py.read_xes(str(BPIC2012), return_legacy_log_object=False)
    assert (len(log), log["case:concept:name"].nunique()) == (262_200, 13_087)
    events = pd.DataFrame(
        {
            "case_id": log["case:concept:name"].astype(str),
            "activity": log["concept:name"].astype(str),
            "timestamp": log["time:timestamp"].dt.tz_convert("UTC").dt.tz_localize(None),
            "file_position": range(len(log)),
        }
    )
    con = duckdb.connect(str(tmp_path / "bpic.duckdb"))
    try:
        con.register("events", events)
        con.execute("CREATE SCHEMA core")
        # The event log as the pipeline would hold it: ties in timestamp keep the file's order.
        con.execute("""
            CREATE TABLE core.event_log AS
            SELECT case_id, activity, "timestamp",
                   row_number() OVER (PARTITION BY case_id ORDER BY "timestamp", file_position) AS event_order,
                   NULL::TIMESTAMP AS started_at
            FROM events
        """)
        build_pipeline(
            con, tables=EVENT_LOG_ONLY_MODELS
        )  # the models that need only core.event_log
        assert (
            con.execute("SELECT sum(transitions) FROM reports.process_map_edges").fetchone()[0]
            == 262_200 - 13_087
        )
        assert_parity(con, pm4py_frame(con))
    finally:
        con.close()


def test_opportunity_variants_are_pm4pys_variants_of_the_opportunities_milestones(tables):
    """reports.opportunity_variants against pm4py on the opportunity cases' events with the
    sales touches removed and the lead's part cut off (from Opportunity Created on)."""
    events = tables.execute(
        """
        SELECT e.case_id, e.activity, e."timestamp", f.is_conformant, f.fitness
        FROM core.event_log AS e
        JOIN mining.case_facts AS f USING (case_id)
        LEFT JOIN core.activity_catalogue AS c USING (activity)
        WHERE f.case_type = 'opportunity' AND coalesce(c.family, '') <> 'touch'
        ORDER BY e.case_id, e.event_order
        """
    ).df()
    created = events["activity"] == "Opportunity Created"
    events = events[created.groupby(events["case_id"]).cummax()]
    frame = as_pm4py(events)
    expected = {tuple(v): n for v, n in pm4py.get_variants(frame).items()}
    rows = tables.execute(
        "SELECT variant, cases, share, conformant_share, mean_fitness, example_case_id "
        "FROM reports.opportunity_variants"
    ).fetchall()
    assert {tuple(variant.split(" > ")): cases for variant, cases, *_ in rows} == expected
    assert len(expected) > 100 and all(path[0] == "Opportunity Created" for path in expected)
    assert math.isclose(sum(share for _, _, share, *_ in rows), 1.0)
    # Conformance per variant, from the cases themselves.
    per_case = events.groupby("case_id").agg(
        path=("activity", " > ".join),
        conformant=("is_conformant", "first"),
        fitness=("fitness", "first"),
    )
    figures = per_case.groupby("path").agg(
        conformant=("conformant", "mean"), fitness=("fitness", "mean")
    )
    assert any(conformant < 1 for _, _, _, conformant, *_ in rows)
    for variant, _, _, conformant, fitness, example in rows:
        assert math.isclose(conformant, figures.loc[variant, "conformant"]), variant
        assert math.isclose(fitness, figures.loc[variant, "fitness"]), variant
        assert per_case.loc[example, "path"] == variant
