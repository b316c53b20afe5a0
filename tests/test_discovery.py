"""Discovery that scales with variants: where few variants cover the cases the model is the one
mined from all of them, as before L2C_DISCOVERY_MAX_VARIANTS; a log with thousands of variants
is mined from the most frequent L2C_DISCOVERY_MAX_VARIANTS, the model and the asset's metadata
say so, and the model still replays the variants the coverage asked for."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import duckdb
import networkx as nx
import pandas as pd
import pm4py
import pytest
from dagster import materialize

from l2c_pipeline.file_source.load import load_into_warehouse, read_event_file
from l2c_pipeline.mining.assets import process_model
from l2c_pipeline.mining.discovery import DEFAULT_MAX_VARIANTS, discover_bpmn, top_variants
from l2c_pipeline.pipeline import build_pipeline
from l2c_pipeline.resources import WarehouseResource

PUBLIC_LOGS = Path(__file__).resolve().parent / "data"
# What discovery reads: the variants, and the catalogue that names the sales touches.
VARIANT_TABLES = {"mining.activity_codes", "mining.case_variants", "mining.variant_paths"}


def warehouse_of(log: Path, path: Path) -> Path:
    """A public log through the file source, built as far as discovery needs."""
    with duckdb.connect(str(path)) as con:
        load_into_warehouse(con, read_event_file(log))
        build_pipeline(con, tables=VARIANT_TABLES)
    return path


@pytest.fixture(scope="module")
def bpic2012(tmp_path_factory) -> Path:
    """BPI Challenge 2012: 4,229 variants, 1,612 of them needed to cover 80% of the cases."""
    folder = tmp_path_factory.mktemp("bpic2012")
    return warehouse_of(PUBLIC_LOGS / "bpic2012.xes.gz", folder / "warehouse.duckdb")


def model_before_the_limit(con, coverage: float = 0.8):
    """The model as discovery made it before L2C_DISCOVERY_MAX_VARIANTS: pm4py's inductive miner
    on one trace per variant of every variant covering `coverage` of the cases."""
    variants, _, _ = top_variants(con, coverage)
    frame = pd.DataFrame(
        [
            (f"{i:09d}", a, pd.Timestamp("2000-01-01") + pd.Timedelta(seconds=j))
            for i, (activities, _) in enumerate(variants)
            for j, a in enumerate(activities)
        ],
        columns=["case:concept:name", "concept:name", "time:timestamp"],
    )
    return pm4py.discover_bpmn_inductive(frame)


def label(node) -> tuple:
    direction = getattr(node, "get_gateway_direction", lambda: None)()
    return type(node).__name__, node.get_name(), str(direction)


def structure(bpmn) -> tuple[Counter, Counter, nx.DiGraph]:
    """Nodes and flows by kind and name (ids are random), and the graph they make."""
    nodes = Counter(label(n) for n in bpmn.get_nodes())
    flows = Counter((label(f.get_source()), label(f.get_target())) for f in bpmn.get_flows())
    graph = nx.DiGraph()
    graph.add_nodes_from((n.get_id(), {"label": label(n)}) for n in bpmn.get_nodes())
    graph.add_edges_from(
        (f.get_source().get_id(), f.get_target().get_id()) for f in bpmn.get_flows()
    )
    return nodes, flows, graph


def assert_same_model(written: Path, before, tmp_path: Path) -> None:
    # Both sides read back from a file, so both have the node classes pm4py's reader makes.
    pm4py.write_bpmn(before, str(tmp_path / "before.bpmn"), auto_layout=False)
    ours = structure(pm4py.read_bpmn(str(written)))
    theirs = structure(pm4py.read_bpmn(str(tmp_path / "before.bpmn")))
    assert ours[0] == theirs[0]  # the same tasks, gateways and events
    assert ours[1] == theirs[1]  # the same flows between them
    assert nx.is_isomorphic(ours[2], theirs[2], node_match=lambda a, b: a["label"] == b["label"])


@pytest.mark.parametrize("log", ["demo", "running-example.xes", "receipt.csv"])
def test_where_few_variants_cover_the_cases_the_model_is_the_one_mined_from_all_of_them(
    log, request, tmp_path
):
    if log == "demo":
        con = request.getfixturevalue("tables")  # the truth warehouse: the demo org's shape
    else:
        con = duckdb.connect(str(warehouse_of(PUBLIC_LOGS / log, tmp_path / "warehouse.duckdb")))
        request.addfinalizer(con.close)
    model = discover_bpmn(con, tmp_path / "out" / "process_model.bpmn")
    assert model.variants_used == model.variants_covering <= DEFAULT_MAX_VARIANTS
    assert not model.capped and model.coverage >= 0.8
    assert model.method.startswith(f"inductive miner on the {model.variants_used} most frequent")
    assert_same_model(model.path, model_before_the_limit(con), tmp_path)


def test_a_log_with_thousands_of_variants_is_mined_from_the_most_frequent(bpic2012, tmp_path):
    import pm4py.util.constants as pm4py_constants
    from pm4py.algo.conformance.tokenreplay import algorithm as token_replay
    from pm4py.objects.log.obj import Event, EventLog, Trace

    with duckdb.connect(str(bpic2012), read_only=True) as con:
        model = discover_bpmn(con, tmp_path / "process_model.bpmn", coverage=0.8)
        covering, cases_total, _ = top_variants(con, 0.8)
    assert model.variants_total > 4000 and len(covering) == model.variants_covering > 1500
    assert model.capped and model.variants_used == DEFAULT_MAX_VARIANTS == model.max_variants
    used = covering[:DEFAULT_MAX_VARIANTS]
    assert model.cases_covered == sum(n for _, n in used) and model.cases_total == cases_total
    assert 0.70 < model.coverage < 0.8  # the 500 most frequent variants: 70.8% of the cases
    assert model.method == (
        "inductive miner on the 500 most frequent variants, 70.8% of the cases: the 1,612 "
        "variants covering the 80% asked for are more than L2C_DISCOVERY_MAX_VARIANTS (500)"
    )

    # Replay every variant the coverage asked for, also the 1,112 the miner did not see.
    net, initial, final = pm4py.convert_to_petri_net(pm4py.read_bpmn(str(model.path)))
    log = EventLog(
        [Trace([Event({"concept:name": a}) for a in activities]) for activities, _ in covering]
    )
    shown = pm4py_constants.SHOW_PROGRESS_BAR
    pm4py_constants.SHOW_PROGRESS_BAR = False
    try:
        replayed = token_replay.apply(log, net, initial, final)
    finally:
        pm4py_constants.SHOW_PROGRESS_BAR = shown
    fit = [r["trace_is_fit"] for r in replayed]
    # The inductive miner's model replays every trace it was mined from.
    assert all(fit[:DEFAULT_MAX_VARIANTS])
    covered_cases = sum(n for _, n in covering)
    fit_cases = sum(n for (_, n), ok in zip(covering, fit) if ok) / covered_cases
    fit_variants = sum(fit) / len(fit)
    fitness = sum(r["trace_fitness"] * n for r, (_, n) in zip(replayed, covering)) / covered_cases
    # Measured: 98.7% of the covered cases (91.3% of the 1,612 variants) fit, fitness 0.9997.
    assert fit_cases > 0.98 and fit_variants > 0.9 and fitness > 0.99


def materialize_model(warehouse: Path, tmp_path: Path, monkeypatch, **env: str) -> dict:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # The asset reads the warehouse it writes; a copy keeps the module's fixture unchanged.
    tmp_path.mkdir()
    copy = tmp_path / "warehouse.duckdb"
    copy.write_bytes(warehouse.read_bytes())
    result = materialize(
        [process_model], resources={"warehouse": WarehouseResource(path=str(copy))}
    )
    assert result.success
    (event,) = result.get_asset_materialization_events()
    return {k: v.value for k, v in event.materialization.metadata.items()}


def test_the_asset_metadata_states_the_method_the_variants_and_the_share_of_cases(
    bpic2012, tmp_path, monkeypatch
):
    monkeypatch.delenv("L2C_DISCOVERY_COVERAGE", raising=False)
    monkeypatch.delenv("L2C_DISCOVERY_MAX_VARIANTS", raising=False)
    metadata = materialize_model(bpic2012, tmp_path / "default", monkeypatch)
    assert metadata["capped"] is True
    assert metadata["variants_used"] == metadata["max_variants"] == 500
    assert metadata["variants_covering"] == 1612 and metadata["variants_total"] == 4229
    assert metadata["cases_covered"] == 0.7078 and metadata["coverage_asked"] == 0.8
    assert "500 most frequent variants, 70.8% of the cases" in metadata["method"]
    # A limit above the variants the coverage needs: all of them, as before the limit.
    metadata = materialize_model(
        bpic2012, tmp_path / "high", monkeypatch, L2C_DISCOVERY_MAX_VARIANTS="2000"
    )
    assert metadata["capped"] is False and metadata["variants_used"] == 1612
    assert metadata["cases_covered"] >= 0.8
    assert metadata["method"] == (
        "inductive miner on the 1,612 most frequent variants, 80.0% of the cases "
        "(L2C_DISCOVERY_COVERAGE: 80%)"
    )


@pytest.mark.parametrize("value", ["0", "-3", "many", "2.5"])
def test_a_bad_max_variants_setting_fails_with_its_name(value, monkeypatch, tmp_path):
    from l2c_pipeline.mining.assets import discovery_max_variants
    from l2c_pipeline.preflight import setting_problems

    monkeypatch.setenv("L2C_DISCOVERY_MAX_VARIANTS", value)
    message = f"L2C_DISCOVERY_MAX_VARIANTS must be .*got '{value}'"
    with pytest.raises(ValueError, match=message):
        discovery_max_variants()
    # ...and the run's pre-flight says so before the first step.
    problems = setting_problems(tmp_path / "warehouse.duckdb")
    assert len(problems) == 1 and re.match(message, problems[0])
