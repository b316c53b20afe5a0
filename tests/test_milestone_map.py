"""The milestone map: the directly-follows graph of the log without sales touches equals
pm4py's on that filtered log, and is the process map drawn by default; the map with touches is
the second one the process_maps asset writes."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pandas as pd
import pm4py
import pytest
from dagster import materialize

from l2c_pipeline.outputs.assets import process_maps
from l2c_pipeline.outputs.process_maps import process_map
from l2c_pipeline.resources import WarehouseResource
from l2c_pipeline.warehouse.duckdb_warehouse import models_path

from .test_mining_parity import as_pm4py

TOUCHES = {"Call", "Email", "Meeting"}
QUALIFICATION_TO_NEEDS_ANALYSIS = '"Stage: Qualification" -> "Stage: Needs Analysis"'


@pytest.fixture(scope="module")
def milestone_frame(tables) -> pd.DataFrame:
    """core.event_log in event_order, touch activities (by the catalogue's family) left out, as
    pm4py reads a log."""
    frame = tables.execute(
        """
        SELECT e.case_id, e.activity, e."timestamp"
        FROM core.event_log AS e
        LEFT JOIN core.activity_catalogue AS c USING (activity)
        WHERE c.family IS DISTINCT FROM 'touch'
        ORDER BY e.case_id, e.event_order
        """
    ).df()
    return as_pm4py(frame)


def test_the_touches_are_the_catalogues_touch_family(tables):
    touches = {
        a
        for (a,) in tables.execute(
            "SELECT activity FROM core.activity_catalogue WHERE family = 'touch'"
        ).fetchall()
    }
    assert touches == TOUCHES
    # The whole log has them, a lot of them; the milestone tables have none.
    full = dict(tables.execute("SELECT activity, events FROM reports.process_map_nodes").fetchall())
    milestones = dict(
        tables.execute("SELECT activity, events FROM reports.milestone_map_nodes").fetchall()
    )
    assert all(full[t] > 1000 for t in TOUCHES), {t: full.get(t) for t in TOUCHES}
    assert not TOUCHES & set(milestones)
    assert {a: n for a, n in full.items() if a not in TOUCHES} == milestones
    edges = tables.execute(
        "SELECT from_activity, to_activity FROM reports.milestone_map_edges"
    ).fetchall()
    assert not {a for pair in edges for a in pair} & TOUCHES


def test_milestone_map_equals_pm4pys_dfg_without_touches(tables, milestone_frame):
    frame = milestone_frame
    assert (
        len(frame) == tables.execute("SELECT count(*) FROM mining.milestone_events").fetchone()[0]
    )
    edges = {
        (a, b): (n, cases, mean, median)
        for a, b, n, cases, mean, median in tables.execute(
            "SELECT from_activity, to_activity, transitions, cases, mean_hours, median_hours "
            "FROM reports.milestone_map_edges"
        ).fetchall()
    }
    dfg, starts, ends = pm4py.discover_dfg(frame)
    assert len(dfg) > 30
    assert {pair: n for pair, (n, *_) in edges.items()} == dict(dfg)
    assert (
        edges[("Stage: Qualification", "Stage: Needs Analysis")][0]
        == dfg[("Stage: Qualification", "Stage: Needs Analysis")]
        > 100
    )
    # Waits: the truth org records no starts, so pm4py's performance DFG on the timestamps is
    # the same wait.
    assert (
        tables.execute(
            "SELECT count(*) FROM core.event_log WHERE started_at IS NOT NULL"
        ).fetchone()[0]
        == 0
    )
    performance, _, _ = pm4py.discover_performance_dfg(frame)
    assert set(performance) == set(edges)
    for pair, figures in performance.items():
        _, _, mean_hours, median_hours = edges[pair]
        assert math.isclose(mean_hours * 3600, figures["mean"], rel_tol=1e-9, abs_tol=1e-6), pair
        assert math.isclose(median_hours * 3600, figures["median"], rel_tol=1e-9, abs_tol=1e-6), (
            pair
        )
    # Cases per edge: a case with a loop counts once.
    case, activity = frame["case:concept:name"], frame["concept:name"]
    following = frame.assign(to=activity.groupby(case).shift(-1)).dropna(subset=["to"])
    edge_cases = following.groupby(["concept:name", "to"])["case:concept:name"].nunique()
    assert {pair: cases for pair, (_, cases, *_) in edges.items()} == edge_cases.to_dict()
    # Nodes: events and cases of the filtered log, and pm4py's start and end activities.
    nodes = {
        a: (events, cases, s, e)
        for a, events, cases, s, e in tables.execute(
            "SELECT activity, events, cases, start_cases, end_cases FROM reports.milestone_map_nodes"
        ).fetchall()
    }
    figures = frame.groupby("concept:name")["case:concept:name"].agg(["size", "nunique"])
    assert {a: (events, cases) for a, (events, cases, *_) in nodes.items()} == {
        a: (row["size"], row["nunique"]) for a, row in figures.iterrows()
    }
    assert {a: s for a, (*_, s, _) in nodes.items() if s} == dict(starts)
    assert {a: e for a, (*_, e) in nodes.items() if e} == dict(ends)
    assert sum(s for *_, s, _ in nodes.values()) == frame["case:concept:name"].nunique()


def test_the_milestone_map_has_the_same_columns_as_the_full_map(tables):
    def columns(table):
        return tables.execute(
            "SELECT column_name, data_type, comment FROM duckdb_columns() "
            "WHERE schema_name = 'reports' AND table_name = ? ORDER BY column_index",
            [table],
        ).fetchall()

    for kind in ("edges", "nodes"):
        assert columns(f"milestone_map_{kind}") == columns(f"process_map_{kind}")
        comment = tables.execute(
            "SELECT comment FROM duckdb_tables() WHERE schema_name = 'reports' AND table_name = ?",
            [f"milestone_map_{kind}"],
        ).fetchone()[0]
        assert comment.startswith(f"The milestone map's {kind}")


def test_the_milestone_map_is_the_default_and_the_touches_map_the_second(tables):
    for view in ("frequency", "performance"):
        milestones = process_map(tables, view)
        touches = process_map(tables, view, touches=True)
        assert milestones.dot == process_map(tables, view, touches=False).dot
        assert QUALIFICATION_TO_NEEDS_ANALYSIS in milestones.dot
        for touch in TOUCHES:
            assert f'"{touch}"' not in milestones.dot
        assert '"Call" [label="Call\n' in touches.dot
        assert QUALIFICATION_TO_NEEDS_ANALYSIS not in touches.dot  # what users missed
        assert (
            milestones.edges_total
            == tables.execute("SELECT count(*) FROM reports.milestone_map_edges").fetchone()[0]
        )
        assert (
            touches.edges_total
            == tables.execute("SELECT count(*) FROM reports.process_map_edges").fetchone()[0]
        )
    transitions = tables.execute(
        "SELECT transitions FROM reports.milestone_map_edges "
        "WHERE from_activity = 'Stage: Qualification' AND to_activity = 'Stage: Needs Analysis'"
    ).fetchone()[0]
    frequency = process_map(tables, "frequency")
    assert f'{QUALIFICATION_TO_NEEDS_ANALYSIS} [label="{transitions:,}"' in frequency.dot
    # The slowest kept milestone transitions, slowest first, from the milestone table.
    performance = process_map(tables, "performance")
    medians = {
        (a, b): h
        for a, b, h in tables.execute(
            "SELECT from_activity, to_activity, median_hours FROM reports.milestone_map_edges"
        ).fetchall()
    }
    assert len(performance.slowest) == 5
    assert [h for *_, h in performance.slowest] == sorted(
        (h for *_, h in performance.slowest), reverse=True
    )
    assert all(medians[(a, b)] == h for a, b, h in performance.slowest)


def test_the_process_maps_asset_writes_both_maps(truth_warehouse, tmp_path, monkeypatch):
    outputs = tmp_path / "outputs"
    analytics = tmp_path / "analytics.duckdb"  # what publishing makes of the truth warehouse
    shutil.copy(models_path(truth_warehouse), analytics)
    monkeypatch.setenv("L2C_ANALYTICS", str(analytics))
    monkeypatch.setenv("L2C_OUTPUT_DIR", str(outputs))
    result = materialize(
        [process_maps],
        resources={"warehouse": WarehouseResource(path=str(tmp_path / "warehouse.duckdb"))},
    )
    assert result.success
    written = {p.name for p in outputs.iterdir() if not p.name.startswith(".")}
    assert written == {
        f"process_map{kind}_{view}.{fmt}"
        for kind in ("", "_with_touches")
        for view in ("frequency", "performance", "business")
        for fmt in ("svg", "png")
    }
    milestone_svg = (outputs / "process_map_performance.svg").read_text(encoding="utf-8")
    touches_svg = (outputs / "process_map_with_touches_performance.svg").read_text(encoding="utf-8")
    assert "Stage: Needs Analysis" in milestone_svg and ">Call" not in milestone_svg
    assert ">Call" in touches_svg
    metadata = result.asset_materializations_for_node("process_maps")[0].metadata
    assert {
        f"{prefix}{key}"
        for prefix in ("", "with_touches_")
        for key in (
            "frequency_map",
            "frequency_svg",
            "performance_map",
            "performance_svg",
            "edges_shown",
            "slowest_transitions",
            "business_map",
            "business_svg",
            "slowest_transitions_business_hours",
        )
    } <= set(metadata)
    assert Path(metadata["with_touches_performance_svg"].value).name == (
        "process_map_with_touches_performance.svg"
    )
    slowest = metadata["slowest_transitions"].value.splitlines()
    assert len(slowest) == 5 and all(line.startswith("- ") for line in slowest)
    # Waits over 48 hours read in days; business hours stay hours.
    assert any(line.endswith(" d") for line in slowest), slowest
    business = metadata["slowest_transitions_business_hours"].value.splitlines()
    assert len(business) == 5 and all(line.endswith(" h of business time") for line in business)
    assert "Median waits in business hours" in (outputs / "process_map_business.svg").read_text(
        encoding="utf-8"
    )
    assert not any(
        line.endswith(" h") and float(line.split("median ")[1][:-2]) >= 48 for line in slowest
    )


def test_a_log_without_touches_has_a_milestone_map_equal_to_the_full_map(tmp_path):
    import duckdb

    from l2c_pipeline.file_source.load import load_into_warehouse, read_event_file
    from l2c_pipeline.pipeline import build_pipeline

    rows = [
        f"C{c},{activity},2026-01-0{c + 1} {hour}:00"
        for c in range(3)
        for activity, hour in (("Register", 9), ("Check", 10 + c), ("Decide", 14), ("Pay", 16))
        if not (c == 2 and activity == "Check")
    ]
    log = tmp_path / "log.csv"
    log.write_text("case_id,activity,timestamp\n" + "\n".join(rows) + "\n", encoding="utf-8")
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    try:
        load_into_warehouse(con, read_event_file(log))
        build_pipeline(con, schemas=("mining", "reports"))
        for kind, order in (("edges", "from_activity, to_activity"), ("nodes", "activity")):
            milestones = con.execute(
                f"SELECT * FROM reports.milestone_map_{kind} ORDER BY {order}"
            ).fetchall()
            assert (
                milestones
                == con.execute(
                    f"SELECT * FROM reports.process_map_{kind} ORDER BY {order}"
                ).fetchall()
            )
        assert con.execute(
            "SELECT from_activity, to_activity, transitions, cases, median_hours "
            "FROM reports.milestone_map_edges ORDER BY 1, 2"
        ).fetchall() == [
            ("Check", "Decide", 2, 2, 3.5),
            ("Decide", "Pay", 3, 3, 2.0),
            ("Register", "Check", 2, 2, 1.5),
            ("Register", "Decide", 1, 1, 5.0),
        ]
        assert process_map(con, "frequency").dot == process_map(con, "frequency", touches=True).dot
    finally:
        con.close()
