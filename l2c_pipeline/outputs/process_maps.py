"""Process maps: the directly-follows graph drawn with graphviz, in a frequency view (how often),
a performance view (how long, in calendar time) and a business view (how long in business hours:
the working hours between the two events, holidays left out; mining.business_hours). Two maps: the milestone map (the default), from
reports.milestone_map_edges / milestone_map_nodes, the log without sales touches (calls, emails,
meetings: the biggest nodes and thickest edges, which hide the transitions between milestones);
and the map with touches, from reports.process_map_edges / process_map_nodes, the whole log.

A busy map is unreadable, so edges are filtered: the most frequent ones, up to `max_edges`
and none below `min_share` of the busiest edge, plus each activity's strongest way in and out
so the map stays connected; start and end edges only from `min_share` of the cases. In the
performance and business views the `slowest` kept transitions by median wait (in the view's
clock) are drawn red and thick: they are where to look.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from ..warehouse.publish import replace_file

VIEWS = ("frequency", "performance", "business")
# The edge tables' median wait each timed view reads.
WAIT_COLUMNS = {"performance": "median_hours", "business": "median_business_hours"}
# What a business-time map says of itself, above the drawing.
BUSINESS_TITLE = "Median waits in business hours (working hours only, holidays left out)"
# The report tables each map is drawn from: (edges, nodes), by whether touches are in.
MAP_TABLES = {
    False: ("reports.milestone_map_edges", "reports.milestone_map_nodes"),
    True: ("reports.process_map_edges", "reports.process_map_nodes"),
}
DEFAULT_MAX_EDGES = 40
DEFAULT_MIN_SHARE = 0.01
DEFAULT_SLOWEST = 5
# Graphviz refuses a quoted string over 16,384 bytes, and draws control characters into SVG that
# no XML parser reads (nor the report's browser): drawings show names without control
# characters, cut to LABEL_CHARACTERS. The tables and the exports keep the names whole.
LABEL_CHARACTERS = 80
_UNDRAWN = {
    code: " " if chr(code) in "\t\n\r" else None for code in (*range(0x20), *range(0x7F, 0xA0))
}


@dataclass(frozen=True)
class ProcessMap:
    view: str
    dot: str
    edges_shown: int
    edges_total: int
    slowest: tuple[tuple[str, str, float], ...]  # (from, to, median hours), slowest first


def duration_label(hours: float | None) -> str:
    """Hours as people read them: minutes under an hour, days over 48 hours."""
    if hours is None:
        return "n/a"
    if hours < 1:
        return f"{hours * 60:.0f} min"
    if hours < 48:
        return f"{hours:.1f} h"
    return f"{hours / 24:.1f} d"


def business_duration_label(hours: float | None) -> str:
    """Business hours as hours however many: a business day is as long as the org's hours
    make it, so 24 of them are no day."""
    if hours is None:
        return "n/a"
    if hours < 1:
        return f"{hours * 60:.0f} min"
    return f"{hours:,.1f} h"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def drawing_label(name) -> str:
    """A name as a drawing shows it: no control characters, at most LABEL_CHARACTERS long."""
    text = str(name).translate(_UNDRAWN)
    return text if len(text) <= LABEL_CHARACTERS else text[: LABEL_CHARACTERS - 1] + "…"


def pm4py_label(name) -> str:
    """A name as pm4py's drawings hand it to graphviz: drawn as the text it is, never read as
    HTML-like markup (a name such as `<b>Approve</b>` made dot fail) nor as dot's escapes."""
    import graphviz

    return graphviz.escape(drawing_label(name))


def _node_ids(activities) -> dict[str, str]:
    """Each activity's node in the dot source: its name, unless the name is not drawable as it
    is (then a number, as two long names may share their first characters)."""
    return {
        activity: activity
        if activity == drawing_label(activity) and not activity.startswith("__")
        else f"__activity_{index}"
        for index, activity in enumerate(sorted(activities))
    }


def process_map(
    con: duckdb.DuckDBPyConnection,
    view: str = "frequency",
    max_edges: int = DEFAULT_MAX_EDGES,
    min_share: float = DEFAULT_MIN_SHARE,
    slowest: int = DEFAULT_SLOWEST,
    touches: bool = False,
    tables: tuple[str, str] | None = None,
) -> ProcessMap:
    """The map in graphviz's dot language, from the report tables: the milestone map, or with
    `touches` the map of the whole log, sales touches included. `tables` names other (edges,
    nodes) tables of the report tables' columns to draw instead (the explorer's filtered map)."""
    if view not in VIEWS:
        raise ValueError(f"view must be one of {', '.join(VIEWS)}, got {view!r}")
    edge_table, node_table = tables or MAP_TABLES[bool(touches)]
    wait = WAIT_COLUMNS.get(view, "median_hours")
    label_of = business_duration_label if view == "business" else duration_label
    edges_total = con.execute(f"SELECT count(*) FROM {edge_table}").fetchone()[0]
    # The busiest edges, plus each activity's strongest way in and out so the map stays
    # connected (as a filtered map in a process-mining tool does).
    edges = con.execute(
        f"""
        WITH ranked AS (
            SELECT from_activity, to_activity, transitions, {wait} AS median_hours,
                   row_number() OVER (ORDER BY transitions DESC, from_activity, to_activity) AS overall,
                   row_number() OVER (PARTITION BY from_activity ORDER BY transitions DESC, to_activity) AS out_rank,
                   row_number() OVER (PARTITION BY to_activity ORDER BY transitions DESC, from_activity) AS in_rank
            FROM {edge_table}
        )
        SELECT from_activity, to_activity, transitions, median_hours FROM ranked
        WHERE (overall <= ? AND transitions >= ? * (SELECT max(transitions) FROM ranked))
           OR out_rank = 1 OR in_rank = 1
        ORDER BY transitions DESC, from_activity, to_activity
        """,
        [max_edges, min_share],
    ).fetchall()
    shown = {a for a, *_ in edges} | {b for _, b, *_ in edges}
    nodes = [
        row
        for row in con.execute(
            "SELECT activity, events, start_cases, end_cases, median_service_hours "
            f"FROM {node_table} ORDER BY events DESC, activity"
        ).fetchall()
        if row[0] in shown
    ]
    node = {activity: _quote(name) for activity, name in _node_ids(shown).items()}
    slow = tuple(
        sorted(
            ((a, b, h) for a, b, _, h in edges if h is not None),
            key=lambda e: (-e[2], e[0], e[1]),
        )[:slowest]
    )
    slow_pairs = {(a, b) for a, b, _ in slow}
    cases_total = con.execute(f"SELECT sum(start_cases) FROM {node_table}").fetchone()[0] or 0
    busiest = max((n for _, _, n, _ in edges), default=1)
    most_events = max((n for _, n, *_ in nodes), default=1)
    lines = [
        "digraph process_map {",
        '  graph [rankdir=TB, fontname="Helvetica", bgcolor="white", nodesep=0.3, ranksep=0.35'
        + (
            f", label={_quote(BUSINESS_TITLE)}, labelloc=t, fontsize=11"
            if view == "business"
            else ""
        )
        + "];",
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
        '  edge [fontname="Helvetica", fontsize=9, color="#4a6fa5"];',
        '  "__start" [label="start", shape=circle, fillcolor="#c8e6c9", width=0.5, fixedsize=true];',
        '  "__end" [label="end", shape=doublecircle, fillcolor="#ffcdd2", width=0.45, fixedsize=true];',
    ]
    for activity, events, start_cases, end_cases, service_hours in nodes:
        shade = (95 - int(45 * events / most_events)) * 255 // 100  # busier activities are darker
        text = f"{drawing_label(activity)}\n{events:,}"
        # The median time the activity takes (calendar time: the tables hold no business one).
        if view == "performance" and service_hours is not None:
            text += f"\nservice {duration_label(service_hours)}"
        label = _quote(text)
        lines.append(f'  {node[activity]} [label={label}, fillcolor="#{shade:02x}{shade:02x}ff"];')
        # Start and end edges only where many cases start or end: the rest is noise.
        if start_cases >= min_share * cases_total:
            lines.append(
                f'  "__start" -> {node[activity]} [style=dashed, label="{start_cases:,}"];'
            )
        if end_cases >= min_share * cases_total:
            lines.append(f'  {node[activity]} -> "__end" [style=dashed, label="{end_cases:,}"];')
    for a, b, transitions, hours in edges:
        width = 0.6 + 4.4 * transitions / busiest
        if view == "frequency":
            label, colour = f"{transitions:,}", "#4a6fa5"
        else:
            label = label_of(hours)
            colour = "#c62828" if (a, b) in slow_pairs else "#9e9e9e"
            if (a, b) in slow_pairs:
                width = max(width, 3.0)
        lines.append(
            f"  {node[a]} -> {node[b]} [label={_quote(label)}, penwidth={width:.2f}, "
            f'color="{colour}", fontcolor="{colour}"];'
        )
    lines.append("}")
    return ProcessMap(view, "\n".join(lines), len(edges), edges_total, slow)


def render(dot: str, path: Path, formats: tuple[str, ...] = ("svg", "png")) -> dict[str, Path]:
    """Render with graphviz's dot into path.<format>, each written whole and renamed."""
    import graphviz

    source = graphviz.Source(dot)
    return {
        fmt: replace_file(
            Path(path).with_suffix(f".{fmt}"),
            lambda partial, fmt=fmt: partial.write_bytes(source.pipe(format=fmt)),
        )
        for fmt in formats
    }


def thumbnail(dot: str, dpi: int = 48) -> bytes:
    """A small PNG of the map for the Dagster UI (half the default resolution: a quarter of the
    bytes, since every run's metadata is kept)."""
    import graphviz

    return graphviz.Source(dot.replace("graph [", f"graph [dpi={dpi}, ", 1)).pipe(format="png")


def render_bpmn(bpmn_file: Path, path: Path) -> dict[str, Path]:
    """The discovered BPMN model as SVG and PNG (pm4py's layout, drawn by graphviz)."""
    import pm4py
    from pm4py.visualization.bpmn import visualizer

    model = pm4py.read_bpmn(str(bpmn_file))
    for bpmn_node in model.get_nodes():
        bpmn_node.set_name(pm4py_label(bpmn_node.get_name()))
    # Piped, not pm4py's save: that renders into the system's temporary folder and leaves the
    # file there.
    return {
        fmt: replace_file(
            Path(path).with_suffix(f".{fmt}"),
            lambda partial, fmt=fmt: partial.write_bytes(
                visualizer.apply(model, parameters={"format": fmt}).pipe(format=fmt)
            ),
        )
        for fmt in ("svg", "png")
    }
