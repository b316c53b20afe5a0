"""What the explorer's views show for a filter, computed in DuckDB from the prepared tables
(source.py) and the published ones, set-based: nothing here loops over events in Python.

A request's cursor first holds its filtered cases as a temporary table (`select_cases`); every
figure of the request then reads that table. With no filter the map is the report tables'
(reports.milestone_map_* and process_map_*), and a filtered map counts the same way, from the
same published definitions, on the filtered cases only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from ..outputs.process_maps import (
    DEFAULT_MIN_SHARE,
    DEFAULT_SLOWEST,
    MAP_TABLES,
    ProcessMap,
    process_map,
)
from .filters import FilterError, Filters, P, case_where, shown

# Rows a list shows at most.
VARIANTS_SHOWN = 50
CASES_PAGE = 100
RESOURCES_SHOWN = 25
CASE_SORTS = {
    "started": "k.started_at, k.case_id",
    "-started": "k.started_at DESC, k.case_id",
    "duration": "k.throughput_seconds, k.case_id",
    "-duration": "k.throughput_seconds DESC, k.case_id",
    "events": "k.events, k.case_id",
    "-events": "k.events DESC, k.case_id",
    "case": "k.case_id",
}
# The rules of reports.compliance_violations.
COMPLIANCE_RULES = (
    "mandatory_activities",
    "max_occurrences",
    "ordering_rules",
    "discount_approval",
    "won_without_quote",
    "contract_before_quote_acceptance",
    "target_process_fitness",
)
# Cycle-time bands of the statistics view's histogram, in days.
DURATION_BANDS = ((0, 1), (1, 7), (7, 30), (30, 90), (90, 180), (180, 365), (365, math.inf))


def rows(cur, sql: str, params: list | None = None) -> list[dict]:
    cursor = cur.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _as_submitted(text: str) -> str:
    """A name as a browser's form sends it: every line break as CR LF."""
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")


# SQL: the same for a column.
_SUBMITTED_SQL = r"regexp_replace({}, '\r\n|\r|\n', chr(13) || chr(10), 'g')"


def _written(cur, given: str, sql: str, params: list, what: str) -> str | None:
    """The name the file holds for `given`: itself, or the one name that differs from it only in
    how its line breaks are written (a form sends them as CR LF whatever the file holds); None
    where there is none. `sql` selects the names whose breaks, as a form sends them, equal the
    parameter it ends with."""
    if "\r" not in given and "\n" not in given:
        return None
    found = [n for (n,) in cur.execute(sql, [*params, _as_submitted(given)]).fetchall()]
    if given in found:
        return given
    if len(found) > 1:
        raise FilterError(
            f"{shown(given)} matches {len(found)} {what} that differ only in their line breaks; "
            "give the name in the address with its breaks as the file writes them"
        )
    return found[0] if found else None


def check_known(cur, filters: Filters) -> Filters:
    """A filter naming an activity, attribute value, rule or variant the published file does not
    hold is refused with one line, rather than silently matching nothing. Returns the filters
    with each name as the file writes it (see _written)."""
    activities = [*filters.starts, *filters.ends]
    if filters.follower:
        activities += [filters.follower.a, filters.follower.b]
    renamed: dict[str, str] = {}
    if activities:
        known = {
            a
            for (a,) in cur.execute(
                f"SELECT activity FROM {P}.activities WHERE activity IN ({', '.join('?' * len(activities))})",
                activities,
            ).fetchall()
        }
        for activity in activities:
            if activity in known:
                continue
            written = _written(
                cur,
                activity,
                f"SELECT activity FROM {P}.activities WHERE "
                f"{_SUBMITTED_SQL.format('activity')} = ?",
                [],
                "activities",
            )
            if written is None:
                raise FilterError(f"the log has no activity {shown(activity)}")
            renamed[activity] = written
    attributes = []
    for dimension, value in filters.attributes:
        found = cur.execute(
            f"SELECT count(*) FILTER (WHERE value = ?), count(*) FROM {P}.dim_values WHERE dimension = ?",
            [value, dimension],
        ).fetchone()
        if not found[1]:
            raise FilterError(f"the cases have no attribute {shown(dimension)}")
        if not found[0]:
            written = _written(
                cur,
                value,
                f"SELECT DISTINCT value FROM {P}.dim_values WHERE dimension = ? AND "
                f"{_SUBMITTED_SQL.format('value')} = ?",
                [dimension],
                "values",
            )
            if written is None:
                raise FilterError(f"no case has {shown(dimension)} = {shown(value)}")
            value = written
        attributes.append((dimension, value))
    if filters.variants:
        known = {
            k
            for (k,) in cur.execute(
                f"SELECT key FROM {P}.variants WHERE key IN ({', '.join('?' * len(filters.variants))})",
                list(filters.variants),
            ).fetchall()
        }
        for key in filters.variants:
            if key not in known:
                raise FilterError(f"no variant with the key {key} in the published file")
    if filters.conformance and filters.conformance.startswith("rule:"):
        rule = filters.conformance.removeprefix("rule:")
        if rule not in set(rules(cur)):
            raise FilterError(f"there is no rule {shown(rule)}")
    if not renamed and attributes == list(filters.attributes):
        return filters
    follower = filters.follower
    if follower is not None:
        follower = replace(
            follower, a=renamed.get(follower.a, follower.a), b=renamed.get(follower.b, follower.b)
        )
    return replace(
        filters,
        starts=tuple(renamed.get(a, a) for a in filters.starts),
        ends=tuple(renamed.get(a, a) for a in filters.ends),
        attributes=tuple(attributes),
        follower=follower,
    )


def rules(cur) -> list[str]:
    """The rules a case can break: reports.compliance_violations' (its SQL names them), and any
    the published tables hold besides."""
    found = {r for (r,) in cur.execute(f"SELECT DISTINCT rule FROM {P}.violations").fetchall()}
    return sorted(found | set(COMPLIANCE_RULES))


@dataclass
class Selection:
    """The filtered cases of a request: the condition on {P}.cases AS c (with its parameters),
    read inline by the queries that scan the cases, and held as a temporary table of case
    numbers for those that join other tables (made the first time one asks)."""

    where: str
    params: list
    name: str
    filtered: bool
    made: bool = False

    def table(self, cur) -> str:
        if not self.made:
            cur.execute(
                f"CREATE OR REPLACE TEMP TABLE {self.name} AS "
                f"SELECT c.case_idx FROM {P}.cases AS c WHERE {self.where}",
                self.params,
            )
            self.made = True
        return self.name

    def count(self, cur) -> int:
        return cur.execute(
            f"SELECT count(*) FROM {P}.cases AS c WHERE {self.where}", self.params
        ).fetchone()[0]


def select_cases(cur, filters: Filters, name: str = "fc") -> Selection:
    """The filtered cases, once the filters name only what the file holds."""
    filters = check_known(cur, filters)
    where, params = case_where(filters)
    selection = Selection(where, params, name, not filters.empty)
    if (
        filters.follower is not None
        or filters.attributes
        or (filters.conformance or "").startswith("rule:")
    ):
        # Conditions that join other tables (the follower's events in core.event_log, the
        # attributes, the rules broken) are evaluated once, not by every query of the page.
        selection.table(cur)
        selection.where, selection.params = f"c.case_idx IN (SELECT case_idx FROM {name})", []
    return selection


def map_tables(
    cur, selection: Selection, touches: bool, performance: bool, suffix: str = ""
) -> tuple[str, str]:
    """Temporary tables of the map's edges and nodes (the report tables' columns the drawing
    reads) for the selected cases; with no filter, the report tables' own rows."""
    edges, nodes = f"map_edges{suffix}", f"map_nodes{suffix}"
    if not selection.filtered:
        edge_table, node_table = MAP_TABLES[touches]
        cur.execute(
            f"CREATE OR REPLACE TEMP TABLE {edges} AS SELECT from_activity, to_activity, "
            f"transitions, median_hours FROM {edge_table}"
        )
        cur.execute(
            f"CREATE OR REPLACE TEMP TABLE {nodes} AS SELECT activity, events, start_cases, "
            f"end_cases, median_service_hours FROM {node_table}"
        )
        return edges, nodes
    where, params = selection.where, selection.params
    # The filtered cases per path: each path's activities and pairs counted once per case.
    if touches:
        # reports.process_map_*: each case's path (mining.case_variants via variants).
        paths = f"""
            SELECT v.activity_codes AS codes,
                   list_transform(range(1, len(v.activity_codes)),
                       lambda i: v.activity_codes[i]::INTEGER * 65536 + v.activity_codes[i + 1]) AS pairs,
                   g.n
            FROM (SELECT c.variant_idx, count(*) AS n FROM {P}.cases AS c WHERE {where}
                  GROUP BY 1) AS g
            JOIN {P}.variants AS v USING (variant_idx)"""
    else:
        # reports.milestone_map_*: each case's milestone path (mining.milestone_events).
        paths = f"""
            SELECT v.ms_codes AS codes, v.ms_pairs AS pairs, g.n
            FROM (SELECT c.ms_variant_idx, count(*) AS n FROM {P}.cases AS c
                  WHERE {where} AND c.ms_variant_idx IS NOT NULL GROUP BY 1) AS g
            JOIN {P}.ms_variants AS v USING (ms_variant_idx)"""
    # The paths once (a few thousand rows), read by the edges and the nodes.
    cur.execute(f"CREATE OR REPLACE TEMP TABLE map_paths{suffix} AS {paths}", params)
    if performance and touches:
        # mining.directly_follows' waits of the filtered cases.
        pairs = f"""
            SELECT from_code, to_code, count(*) AS transitions,
                   median(wait_seconds) / 3600 AS median_hours
            FROM {P}.df WHERE case_idx IN (SELECT case_idx FROM {selection.table(cur)})
            GROUP BY from_code, to_code"""
        pair_params = []
    elif performance:
        # Each filtered case's milestone pairs and the waits after them, side by side.
        pairs = f"""
            SELECT (pair // 65536)::USMALLINT AS from_code, (pair % 65536)::USMALLINT AS to_code,
                   count(*) AS transitions, median(wait) AS median_hours
            FROM (SELECT unnest(c.ms_pairs) AS pair, unnest(c.ms_waits) AS wait
                  FROM {P}.cases AS c WHERE {where} AND len(c.ms_pairs) > 0)
            GROUP BY pair"""
        pair_params = params
    else:
        pairs = f"""
            SELECT (pair // 65536)::USMALLINT AS from_code, (pair % 65536)::USMALLINT AS to_code,
                   sum(n)::BIGINT AS transitions, NULL::DOUBLE AS median_hours
            FROM (SELECT unnest(pairs) AS pair, n FROM map_paths{suffix}) GROUP BY pair"""
        pair_params = []
    cur.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {edges} AS
        WITH g AS ({pairs})
        SELECT f.activity AS from_activity, t.activity AS to_activity, g.transitions, g.median_hours
        FROM g JOIN {P}.activities AS f ON f.code = g.from_code
        JOIN {P}.activities AS t ON t.code = g.to_code
        """,
        pair_params,
    )
    has_service = cur.execute(f"SELECT EXISTS (SELECT 1 FROM {P}.service)").fetchone()[0]
    # Median service times only where the log records activities' starts (a file's lifecycle
    # transitions): from Salesforce they are all null, as in the report tables.
    service = (
        f"(SELECT code, median(service_hours) AS median_service_hours FROM {P}.service "
        f"WHERE case_idx IN (SELECT case_idx FROM {selection.table(cur)}) GROUP BY code)"
        if performance and has_service
        else "(SELECT NULL::USMALLINT AS code, NULL::DOUBLE AS median_service_hours)"
    )
    cur.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {nodes} AS
        WITH paths AS (SELECT * FROM map_paths{suffix}),
        events AS (
            SELECT code, sum(n)::BIGINT AS events FROM (SELECT unnest(codes) AS code, n FROM paths)
            GROUP BY code
        ), starts AS (
            SELECT codes[1] AS code, sum(n)::BIGINT AS n FROM paths WHERE len(codes) > 0 GROUP BY 1
        ), ends AS (
            SELECT codes[-1] AS code, sum(n)::BIGINT AS n FROM paths WHERE len(codes) > 0 GROUP BY 1
        )
        SELECT a.activity, e.events, coalesce(s.n, 0) AS start_cases,
               coalesce(x.n, 0) AS end_cases, sv.median_service_hours
        FROM events AS e JOIN {P}.activities AS a USING (code)
        LEFT JOIN starts AS s USING (code) LEFT JOIN ends AS x USING (code)
        LEFT JOIN {service} AS sv USING (code)
        """
    )
    return edges, nodes


def keep_activities(cur, edges: str, nodes: str, activities: int | None) -> int:
    """The activities slider: only the `activities` most frequent activities (and the edges
    between them) stay. Returns how many activities there were."""
    total = cur.execute(f"SELECT count(*) FROM {nodes}").fetchone()[0]
    if activities is not None and activities < total:
        cur.execute(
            f"DELETE FROM {nodes} WHERE activity NOT IN (SELECT activity FROM {nodes} "
            "ORDER BY events DESC, activity LIMIT ?)",
            [activities],
        )
        cur.execute(
            f"DELETE FROM {edges} WHERE from_activity NOT IN (SELECT activity FROM {nodes}) "
            f"OR to_activity NOT IN (SELECT activity FROM {nodes})"
        )
    return total


def draw(
    cur,
    tables: tuple[str, str],
    performance: bool,
    paths: int,
    min_share: float = DEFAULT_MIN_SHARE,
) -> ProcessMap:
    """The project's process-map drawing of these tables."""
    return process_map(
        cur,
        "performance" if performance else "frequency",
        max_edges=paths,
        min_share=min_share,
        slowest=DEFAULT_SLOWEST,
        tables=tables,
    )


def svg_of(dot: str) -> str:
    """The drawing as inline SVG (graphviz's dot, without its XML prolog)."""
    import graphviz

    svg = graphviz.Source(dot).pipe(format="svg").decode("utf-8")
    return svg[svg.find("<svg") :]


def map_counts(cur, tables: tuple[str, str]) -> dict:
    """The drawn map's figures, as the page's data attributes give them (the tests read them)."""
    edges, nodes = tables
    return {
        "edges": rows(
            cur,
            f"SELECT from_activity, to_activity, transitions, median_hours FROM {edges} "
            "ORDER BY transitions DESC, from_activity, to_activity",
        ),
        "nodes": rows(
            cur,
            f"SELECT activity, events, start_cases, end_cases FROM {nodes} ORDER BY events DESC, activity",
        ),
    }


def kpis(cur, selection: Selection) -> dict:
    """The headline figures of the selected cases."""
    figures = rows(
        cur,
        f"""
        SELECT count(*) AS cases, coalesce(sum(events), 0) AS events,
               count(DISTINCT variant_idx) AS variants,
               median(throughput_seconds) / 86400 AS median_days,
               avg(throughput_seconds) / 86400 AS mean_days,
               min(started_at) AS first_start, max(ended_at) AS last_end,
               count(*) FILTER (WHERE outcome = 'won') AS won,
               count(*) FILTER (WHERE outcome = 'lost') AS lost,
               count(*) FILTER (WHERE is_conformant) AS conformant,
               count(is_conformant) AS judged
        FROM {P}.cases AS c WHERE {selection.where}
        """,
        selection.params,
    )[0]
    won, lost = figures["won"], figures["lost"]
    figures["win_rate"] = won / (won + lost) if won + lost else None
    judged = figures.pop("judged")
    figures["conformant_share"] = figures.pop("conformant") / judged if judged else None
    return figures


def statistics(cur, selection: Selection) -> dict:
    activities = rows(
        cur,
        f"""
        WITH g AS (
            SELECT v.activity_codes, count(*) AS n
            FROM {P}.cases AS c JOIN {P}.variants AS v USING (variant_idx)
            WHERE {selection.where} GROUP BY v.activity_codes
        ),
        events AS (SELECT code, sum(n) AS events FROM (SELECT unnest(activity_codes) AS code, n FROM g) GROUP BY 1),
        cases AS (SELECT code, sum(n) AS cases
                  FROM (SELECT unnest(list_distinct(activity_codes)) AS code, n FROM g) GROUP BY 1)
        SELECT a.activity, e.events::BIGINT AS events, c.cases::BIGINT AS cases,
               e.events / sum(e.events) OVER () AS share
        FROM events AS e JOIN cases AS c USING (code) JOIN {P}.activities AS a USING (code)
        ORDER BY e.events DESC, a.activity
        """,
        selection.params,
    )
    fc = selection.table(cur)
    resources = rows(
        cur,
        f"""
        SELECT coalesce(e.resource_name, e.resource_id, '(none)') AS resource, count(*) AS events,
               count(DISTINCT e.case_id) AS cases
        FROM core.event_log AS e
        WHERE e.case_id IN (SELECT k.case_id FROM {P}.cases AS k JOIN {fc} USING (case_idx))
        GROUP BY 1 ORDER BY events DESC, resource LIMIT ?
        """,
        [RESOURCES_SHOWN],
    )
    bands = " ".join(
        f"WHEN throughput_seconds < {high * 86400} THEN {i}"
        for i, (_, high) in enumerate(DURATION_BANDS)
        if high != math.inf
    )
    counts = dict(
        cur.execute(
            f"SELECT CASE {bands} ELSE {len(DURATION_BANDS) - 1} END AS band, count(*) "
            f"FROM {P}.cases AS c WHERE {selection.where} GROUP BY 1",
            selection.params,
        ).fetchall()
    )
    durations = [
        {
            "band": f"{low:g}-{high:g} days" if high != math.inf else f"over {low:g} days",
            "cases": counts.get(i, 0),
        }
        for i, (low, high) in enumerate(DURATION_BANDS)
    ]
    return {"activities": activities, "resources": resources, "durations": durations}


def variants(cur, selection: Selection, limit: int = VARIANTS_SHOWN) -> dict:
    listed = rows(
        cur,
        f"""
        WITH g AS (
            SELECT c.variant_idx, count(*) AS cases, median(c.throughput_seconds) / 86400 AS median_days
            FROM {P}.cases AS c WHERE {selection.where} GROUP BY c.variant_idx
        )
        SELECT v.key, v.activities, v.events, g.cases, g.cases / sum(g.cases) OVER () AS share,
               g.median_days, count(*) OVER () AS variants
        FROM g JOIN {P}.variants AS v USING (variant_idx)
        ORDER BY g.cases DESC, v.key LIMIT ?
        """,
        [*selection.params, limit],
    )
    return {"variants": listed, "total": listed[0]["variants"] if listed else 0}


def cases(cur, sort: str, page: int, selection: Selection) -> list[dict]:
    order = CASE_SORTS[sort]
    return rows(
        cur,
        f"""
        WITH k AS (
            SELECT c.case_id, c.started_at, c.ended_at, c.events, c.throughput_seconds, c.outcome
            FROM {P}.cases AS c WHERE {selection.where}
        )
        SELECT k.case_id, k.started_at, k.ended_at, k.events, k.throughput_seconds / 86400 AS days,
               s.case_type, s.sales_rep, s.region, k.outcome
        FROM (SELECT * FROM k ORDER BY {order} LIMIT ? OFFSET ?) AS k
        LEFT JOIN core.cases AS s USING (case_id)
        ORDER BY {order}
        """,
        [*selection.params, CASES_PAGE, CASES_PAGE * page],
    )


def case_detail(cur, case_id: str) -> dict | None:
    """One case: its events in order, its attributes, and the rules it breaks."""
    known = cur.execute(f"SELECT case_idx FROM {P}.cases WHERE case_id = ?", [case_id]).fetchone()
    if known is None:
        return None
    # Each event's place on the timeline: its share of the case's span, and days since start.
    events = rows(
        cur,
        """
        SELECT event_order, activity, "timestamp", resource_name, object_type, object_id,
               old_value, new_value,
               epoch("timestamp" - min("timestamp") OVER ()) / 86400 AS since_start_days,
               epoch("timestamp" - min("timestamp") OVER ())
                   / greatest(epoch(max("timestamp") OVER () - min("timestamp") OVER ()), 1) AS at
        FROM core.event_log WHERE case_id = ? ORDER BY event_order
        """,
        [case_id],
    )
    attributes = rows(cur, "SELECT * FROM core.cases WHERE case_id = ?", [case_id])
    violations = []
    has_violations = cur.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = 'analytics' "
        "AND schema_name = 'reports' AND table_name = 'compliance_violations'"
    ).fetchone()[0]
    if has_violations:
        violations = rows(
            cur,
            "SELECT rule, deviation_type, severity, activity, detail FROM "
            "reports.compliance_violations WHERE case_id = ? ORDER BY rule, activity",
            [case_id],
        )
    return {
        "case_id": case_id,
        "events": events,
        "attributes": {
            k: v for k, v in (attributes[0] if attributes else {}).items() if v is not None
        },
        "violations": violations,
    }


def compare_edges(
    cur, a: tuple[str, str], b: tuple[str, str], cases_a: int, cases_b: int
) -> list[dict]:
    """The two maps' differences: each transition per 100 cases in A and in B, and the
    median waits, the largest differences first."""
    return rows(
        cur,
        f"""
        SELECT coalesce(x.from_activity, y.from_activity) AS from_activity,
               coalesce(x.to_activity, y.to_activity) AS to_activity,
               coalesce(x.transitions, 0) AS transitions_a, coalesce(y.transitions, 0) AS transitions_b,
               100.0 * coalesce(x.transitions, 0) / nullif(?, 0) AS per_100_a,
               100.0 * coalesce(y.transitions, 0) / nullif(?, 0) AS per_100_b,
               x.median_hours AS median_hours_a, y.median_hours AS median_hours_b
        FROM {a[0]} AS x FULL OUTER JOIN {b[0]} AS y
          ON x.from_activity = y.from_activity AND x.to_activity = y.to_activity
        ORDER BY abs(coalesce(per_100_a, 0) - coalesce(per_100_b, 0)) DESC, from_activity, to_activity
        LIMIT 30
        """,
        [cases_a, cases_b],
    )


def attribute_values(cur) -> dict[str, list[tuple[str, int]]]:
    """Each attribute's values (most cases first), for the filter form."""
    values: dict[str, list[tuple[str, int]]] = {}
    for dimension, value, n in cur.execute(
        f"SELECT dimension, value, cases FROM {P}.dim_values ORDER BY dimension, cases DESC, value"
    ).fetchall():
        values.setdefault(dimension, []).append((value, n))
    return values


def activity_names(cur) -> list[str]:
    return [
        a
        for (a,) in cur.execute(f"SELECT activity FROM {P}.activities ORDER BY activity").fetchall()
    ]
