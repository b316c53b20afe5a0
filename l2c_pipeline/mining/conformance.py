"""Conformance against the target process: pm4py alignments, once per distinct trace.

A case's trace is its events projected onto the reference path's activities (a touch, an
owner change or a pushed close date is not a step of the process). The model is the
reference path as a Petri net: each step once and in order, optional steps skippable,
repeatable steps allowed again in a row, a silent entry at every step a case may start at,
and a silent exit after every step so a case that is still running, or was lost, conforms as
far as it went. Cases share few distinct traces,
so pm4py aligns each trace once and the result is weighted by its case count in SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from .target_process import TargetProcess

if TYPE_CHECKING:  # pm4py takes seconds to import: only the steps that align load it
    from pm4py.objects.petri_net.obj import Marking, PetriNet

# What joins a trace's activities into one text key (activities never contain it).
TRACE_SEPARATOR = " > "


@dataclass(frozen=True)
class TraceConformance:
    trace: str
    fitness: float
    skipped: tuple[str, ...]
    unexpected: tuple[str, ...]

    @property
    def is_conformant(self) -> bool:
        return not self.skipped and not self.unexpected

    @property
    def detail(self) -> str:
        parts = []
        if self.skipped:
            parts.append("skipped " + ", ".join(self.skipped))
        if self.unexpected:
            parts.append("unexpected or out of order " + ", ".join(self.unexpected))
        return "; ".join(parts) or "follows the target process"


def reference_net(process: TargetProcess) -> tuple[PetriNet, Marking, Marking]:
    """The reference path as a workflow net (see the module's docstring)."""
    from pm4py.objects.petri_net.obj import Marking, PetriNet
    from pm4py.objects.petri_net.utils import petri_utils

    net = PetriNet("target process")
    places = [PetriNet.Place(f"p{i}") for i in range(len(process.reference_path) + 1)]
    end = PetriNet.Place("end")
    for place in (*places, end):
        net.places.add(place)

    def transition(name: str, label: str | None, source, target) -> None:
        t = PetriNet.Transition(name, label)
        net.transitions.add(t)
        petri_utils.add_arc_from_to(source, t, net)
        petri_utils.add_arc_from_to(t, target, net)

    starts = set(process.start_activities or process.reference_path[:1])
    for i, activity in enumerate(process.reference_path):
        if i > 0 and activity in starts:
            # A case may begin here (a deal opened on an existing customer has no lead).
            transition(f"start{i}", None, places[0], places[i])
        transition(f"step{i}", activity, places[i], places[i + 1])
        if activity in process.optional_activities:
            transition(f"skip{i}", None, places[i], places[i + 1])
        if activity in process.repeatable_activities:
            transition(f"again{i}", None, places[i + 1], places[i])
        # A case may stop after any step: still running, or lost, and conformant so far.
        transition(f"exit{i}", None, places[i + 1], end)
    return net, Marking({places[0]: 1}), Marking({end: 1})


def align_traces(traces: Sequence[Sequence[str]], process: TargetProcess) -> list[TraceConformance]:
    """Align each distinct trace (a list of activities already projected onto the reference
    path) with the target process; the results come back in the traces' order.

    pm4py's Dijkstra search (the less-memory variant) finds an optimal alignment, as its
    default A* does; on this sequential net A*'s state-equation heuristic costs more than it
    saves. What pm4py would work out again for every trace, and which depends only on the model
    (the empty trace's cheapest path) or on the set of activities in the trace (the prices of
    model moves), is worked out here once and passed in; the fitness is pm4py's formula.
    """
    from pm4py.algo.conformance.alignments.petri_net import algorithm as alignments
    from pm4py.objects.log.obj import Event, Trace
    from pm4py.objects.petri_net.utils.align_utils import STD_MODEL_LOG_MOVE_COST

    traces = [tuple(t) for t in traces]
    if not traces:
        return []
    net, initial, final = reference_net(process)
    # The cheapest way through the model with an empty trace, computed once for all traces.
    best_worst_cost = alignments.variants.state_equation_a_star.get_best_worst_cost(
        net, initial, final
    )
    silent_enables = silent_transition_enables(net)
    model_costs = {}  # per set of activities in a trace: traces share few such sets
    results = []
    for trace in traces:
        if not trace:  # a case with no event on the path (another process's log)
            results.append(TraceConformance("", 1.0, (), ()))
            continue
        trace_costs = [STD_MODEL_LOG_MOVE_COST] * len(trace)
        labels = frozenset(trace)
        if labels not in model_costs:
            model_costs[labels] = model_cost_function(net, labels, silent_enables)
        alignment = alignments.apply_trace(
            Trace([Event({"concept:name": activity}) for activity in trace]),
            net,
            initial,
            final,
            variant=alignments.Variants.VERSION_DIJKSTRA_LESS_MEMORY,
            parameters={
                # pm4py would search the empty trace's best path again for every trace, even
                # when given the cost (pm4py 2.7 evaluates the default eagerly): half the time.
                alignments.Parameters.ENABLE_BEST_WORST_COST: False,
                alignments.Parameters.PARAM_TRACE_COST_FUNCTION: trace_costs,
                alignments.Parameters.PARAM_MODEL_COST_FUNCTION: model_costs[labels],
            },
        )
        moves = alignment["alignment"]
        skipped = tuple(model for log, model in moves if log == ">>" and model not in (None, ">>"))
        unexpected = tuple(log for log, model in moves if model == ">>" and log != ">>")
        results.append(
            TraceConformance(
                TRACE_SEPARATOR.join(trace),
                pm4py_fitness(alignment["cost"], sum(trace_costs), best_worst_cost),
                skipped,
                unexpected,
            )
        )
    return results


def silent_transition_enables(net: PetriNet) -> dict:
    """For each silent transition, the labels of the transitions enabled where it is enabled
    (in the marking of its input places): what pm4py's Dijkstra alignment works out again for
    every trace when it prices the model's moves."""
    from pm4py.objects.petri_net.obj import Marking
    from pm4py.objects.petri_net.semantics import enabled_transitions

    enables = {}
    for t in net.transitions:
        if t.label is None:
            preset = Marking({arc.source: arc.weight for arc in t.in_arcs})
            enables[t] = {e.label for e in enabled_transitions(net, preset) if e.label is not None}
    return enables


def model_cost_function(net: PetriNet, trace_labels: frozenset, silent_enables: dict) -> dict:
    """The model-move costs pm4py's Dijkstra alignment uses for a trace with these activities
    (dijkstra_less_memory, when no cost function is given): a labelled transition costs a full
    move; a silent one is free unless it leads to a transition that could match the trace."""
    from pm4py.objects.petri_net.utils.align_utils import STD_MODEL_LOG_MOVE_COST, STD_TAU_COST

    return {
        t: STD_MODEL_LOG_MOVE_COST
        if t.label is not None
        else (STD_TAU_COST if silent_enables[t] & trace_labels else 0)
        for t in net.transitions
    }


def pm4py_fitness(cost: int, trace_cost: int, best_worst_cost: int) -> float:
    """A trace's fitness as pm4py's alignments.apply_trace computes it: one minus the
    alignment's cost over the cost of moving every event on the log alone plus the model's
    cheapest path, both in units of one log or model move."""
    from pm4py.objects.petri_net.utils.align_utils import STD_MODEL_LOG_MOVE_COST

    worst = (trace_cost + best_worst_cost) // STD_MODEL_LOG_MOVE_COST
    return 1 - (cost // STD_MODEL_LOG_MOVE_COST) / worst if worst > 0 else 0.0


NOT_JUDGED = "not judged: none of the case's events is on the reference path"

CASE_CONFORMANCE_COLUMNS = {
    "case_id": "the case",
    "trace": "the case's events projected onto the reference path, joined by ' > '",
    "fitness": "alignment fitness against the target process (1 = fits; pm4py); null when the "
    "case has no event on the reference path",
    "is_conformant": "the case follows the target process so far (no skipped, extra or "
    "out-of-order step); null (not judged) when it has no event on the reference path",
    "skipped_steps": "steps of the path the case skipped before a later step",
    "unexpected_steps": "events the path does not allow where they happened (repeats, out of order)",
    "detail": "the deviations in words",
}


def unrecorded_steps(con, process: TargetProcess) -> tuple[str, ...]:
    """Steps of the reference path whose absence proves nothing in this org: no event of them
    at all (the org does not record them), or known only from the pipeline's change capture
    (a status passed between two syncs is not seen). Conformance treats them as optional."""
    has_evidence = con.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_schema = 'core' AND table_name = 'activity_evidence'"
    ).fetchone()[0]
    if has_evidence:
        weak = {
            r[0]
            for r in con.execute(
                "SELECT activity FROM core.activity_evidence "
                "WHERE evidence IN ('none', 'change capture')"
            ).fetchall()
        }
    else:
        weak = set()
    present = {r[0] for r in con.execute("SELECT activity FROM mining.activity_codes").fetchall()}
    return tuple(a for a in process.reference_path if a in weak or a not in present)


# The alignments of the last run, kept in the warehouse (not published): a trace aligned once
# with the same model is not aligned again the next night.
ALIGNMENT_CACHE = "meta.trace_alignments"


def model_key(process: TargetProcess) -> str:
    """What an alignment depends on besides its trace: the net (built from these four lists)
    and the aligning library's version."""
    import hashlib
    import json
    from importlib.metadata import version

    model = [
        list(process.reference_path),
        sorted(process.optional_activities),
        sorted(process.repeatable_activities),
        sorted(process.start_activities),
        version("pm4py"),
    ]
    return hashlib.sha256(json.dumps(model).encode()).hexdigest()


def carried_over_alignments(con, key: str) -> dict[tuple[str, ...], TraceConformance]:
    """The last run's alignments made with the same model, by trace."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_schema = 'meta' AND table_name = 'trace_alignments'"
    ).fetchall()[0][0]  # all fetched: a result left open would block registering a frame
    if not exists:
        return {}
    rows = con.execute(
        f"SELECT trace, fitness, skipped, unexpected FROM {ALIGNMENT_CACHE} WHERE model_key = ?",
        [key],
    ).fetchall()
    return {
        tuple(trace): TraceConformance(
            TRACE_SEPARATOR.join(trace), fitness, tuple(skipped), tuple(unexpected)
        )
        for trace, fitness, skipped, unexpected in rows
    }


def align_with_carry_over(
    con, traces: Sequence[Sequence[str]], process: TargetProcess
) -> tuple[list[TraceConformance], int]:
    """align_traces, with the traces the last run aligned with the same model taken from the
    warehouse; the cache then holds exactly tonight's traces. Returns the results in the
    traces' order and how many were aligned now."""
    key = model_key(process)
    known = carried_over_alignments(con, key)
    todo = [tuple(t) for t in traces if tuple(t) not in known]
    known.update(zip(todo, align_traces(todo, process), strict=True))
    results = [known[tuple(t)] for t in traces]
    frame = pd.DataFrame(
        {
            "model_key": key,
            "trace": [list(t) for t in traces],
            "fitness": [r.fitness for r in results],
            "skipped": [list(r.skipped) for r in results],
            "unexpected": [list(r.unexpected) for r in results],
        }
    )
    con.register("_alignments_now", frame)
    try:
        con.execute("CREATE SCHEMA IF NOT EXISTS meta")
        con.execute(
            f"""CREATE OR REPLACE TABLE {ALIGNMENT_CACHE} AS
            SELECT model_key::VARCHAR AS model_key, trace::VARCHAR[] AS trace,
                   fitness::DOUBLE AS fitness, skipped::VARCHAR[] AS skipped,
                   unexpected::VARCHAR[] AS unexpected
            FROM _alignments_now"""
        )
    finally:
        con.unregister("_alignments_now")
    return results, len(todo)


def write_case_conformance(con, process: TargetProcess, log=lambda message: None) -> dict:
    """mining.case_conformance from mining.case_variants: one pm4py alignment per distinct
    projected trace (those aligned last night with the same model are carried over), joined
    back to every case. Returns figures for the run's metadata."""
    from dataclasses import replace

    from ..warehouse.duckdb_warehouse import replace_table, session

    # A cursor of its own: a caller's half-read result on `con` must not block the registration.
    con = session(con.cursor())
    unchecked = unrecorded_steps(con, process)
    if unchecked:
        log(
            f"not counted against a case when missing (the org does not record them fully): {', '.join(unchecked)}"
        )
        process = replace(
            process,
            optional_activities=tuple(dict.fromkeys((*process.optional_activities, *unchecked))),
        )
    try:
        # Each case's projection, computed once on activity codes (cheaper than names): grouped
        # into distinct traces for pm4py, then joined back.
        con.execute(
            """CREATE OR REPLACE TEMP TABLE _case_traces AS
            WITH path_codes AS (
                SELECT coalesce(list(activity_code), []) AS codes
                FROM mining.activity_codes WHERE list_contains(?, activity)
            )
            SELECT v.case_id, list_filter(v.activity_codes, lambda c: list_contains(p.codes, c))
                AS trace_codes
            FROM mining.case_variants AS v, path_codes AS p""",
            [list(process.reference_path)],
        )
        con.execute(
            """CREATE OR REPLACE TEMP TABLE _traces AS
            WITH trace_cases AS (
                SELECT trace_codes, count(*) AS cases FROM _case_traces GROUP BY trace_codes
            ), activity_names AS (
                SELECT list(activity ORDER BY activity_code) AS names FROM mining.activity_codes
            )
            SELECT row_number() OVER (ORDER BY t.cases DESC, t.trace_codes) AS trace_index,
                   t.trace_codes, list_transform(t.trace_codes, lambda c: n.names[c]) AS trace,
                   t.cases
            FROM trace_cases AS t, activity_names AS n"""
        )
        traces = con.execute(
            "SELECT trace_index, trace, cases FROM _traces ORDER BY trace_index"
        ).fetchall()
        results, aligned = align_with_carry_over(con, [trace for _, trace, _ in traces], process)
        log(
            f"{len(traces):,} distinct traces: {aligned:,} aligned with the target process "
            f"(pm4py), {len(traces) - aligned:,} carried over from the last run"
        )
        frame = pd.DataFrame(
            {
                "trace_index": [index for index, _, _ in traces],
                "trace": [r.trace for r in results],
                "fitness": [r.fitness for r in results],
                "is_conformant": [r.is_conformant for r in results],
                "skipped_steps": [list(r.skipped) for r in results],
                "unexpected_steps": [list(r.unexpected) for r in results],
                "detail": [r.detail for r in results],
            }
        )
        con.register("_trace_conformance", frame)
        rows = replace_table(
            con,
            "mining.case_conformance",
            # A case with no event on the reference path is not judged (null), not counted
            # as following it: a log of another process would otherwise conform in full.
            """SELECT c.case_id, r.trace,
                      CASE WHEN judged THEN r.fitness END AS fitness,
                      CASE WHEN judged THEN r.is_conformant END AS is_conformant,
                      CASE WHEN judged THEN r.skipped_steps::VARCHAR[] ELSE []::VARCHAR[] END
                          AS skipped_steps,
                      CASE WHEN judged THEN r.unexpected_steps::VARCHAR[] ELSE []::VARCHAR[] END
                          AS unexpected_steps,
                      CASE WHEN judged THEN r.detail ELSE ? END AS detail
               FROM (SELECT *, len(trace_codes) > 0 AS judged FROM _case_traces) AS c
               JOIN _traces AS t USING (trace_codes)
               JOIN _trace_conformance AS r USING (trace_index)""",
            "Each case's conformance with the target process (process.yaml): pm4py alignments, "
            "run once per distinct trace."
            + (
                f" Steps the org does not record fully, so not counted against a case when "
                f"missing: {', '.join(unchecked)}."
                if unchecked
                else ""
            ),
            CASE_CONFORMANCE_COLUMNS,
            [NOT_JUDGED],
        )
    finally:
        con.execute("DROP TABLE IF EXISTS _case_traces")
        con.execute("DROP TABLE IF EXISTS _traces")
        con.close()  # the cursor, not the caller's connection
    conformant = sum(
        n for (_, trace, n), r in zip(traces, results, strict=True) if trace and r.is_conformant
    )
    return {
        "cases": rows,
        "distinct_traces": len(traces),
        "traces_aligned": aligned,
        "conformant_cases": conformant,
        "unchecked_steps": unchecked,
    }
