"""What the explorer's views show for a filter, computed in DuckDB from the prepared tables
(source.py) and the published ones, set-based: nothing here loops over events in Python.

A request's cursor first holds its filtered cases as a temporary table (`select_cases`); every
figure of the request then reads that table. With no filter the map is the report tables'
(reports.milestone_map_* and process_map_*), and a filtered map counts the same way, from the
same published definitions, on the filtered cases only.
"""

from __future__ import annotations

import math

from ..outputs.process_maps import (
    DEFAULT_MIN_SHARE,
    DEFAULT_SLOWEST,
    MAP_TABLES,
    ProcessMap,
    process_map,
)
from .filters import FilterError, Filters, P, case_sql

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


def check_known(cur, filters: Filters) -> None:
    """A filter naming an activity, attribute value, rule or variant the published file does not
    hold is refused with one line, rather than silently matching nothing."""
    activities = [*filters.starts, *filters.ends]
    if filters.follower:
        activities += [filters.follower.a, filters.follower.b]
    if activities:
        known = {
            a
            for (a,) in cur.execute(
                f"SELECT activity FROM {P}.activities WHERE activity IN ({', '.join('?' * len(activities))})",
                activities,
            ).fetchall()
        }
        for activity in activities:
            if activity not in known:
                raise FilterError(f"the log has no activity {_shown(activity)}")
    for dimension, value in filters.attributes:
        found = cur.execute(
            f"SELECT count(*) FILTER (WHERE value = ?), count(*) FROM {P}.dim_values WHERE dimension = ?",
            [value, dimension],
        ).fetchone()
        if not found[1]:
            raise FilterError(f"the cases have no attribute {_shown(dimension)}")
        if not found[0]:
            raise FilterError(f"no case has {_shown(dimension)} = {_shown(value)}")
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
            raise FilterError(f"there is no rule {_shown(rule)}")


def _shown(text: str) -> str:
    text = str(text)
    return repr(text if len(text) <= 60 else text[:59] + "…")


def rules(cur) -> list[str]:
    """The rules a case can break: reports.compliance_violations' (its SQL names them), and any
    the published tables hold besides."""
    found = {r for (r,) in cur.execute(f"SELECT DISTINCT rule FROM {P}.violations").fetchall()}
    return sorted(found | set(COMPLIANCE_RULES))


def select_cases(cur, filters: Filters, name: str = "fc") -> int:
    """Hold the filtered cases in the temporary table `name`; their number."""
    check_known(cur, filters)
    sql, params = case_sql(filters)
    cur.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}", params)
    return cur.execute(f"SELECT count(*) FROM {name}").fetchone()[0]


def map_tables(
    cur, filtered: bool, touches: bool, performance: bool, fc: str = "fc", suffix: str = ""
) -> tuple[str, str]:
    """Temporary tables of the map's edges and nodes (the report tables' columns the drawing
    reads) for the cases in `fc`; with no filter, the report tables' own rows."""
    edges, nodes = f"map_edges{suffix}", f"map_nodes{suffix}"
    if not filtered:
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
    median = "median(wait_seconds) / 3600" if performance else "NULL::DOUBLE"
    ms_median = "median(wait_hours)" if performance else "NULL::DOUBLE"
    if touches:
        # reports.process_map_edges / _nodes on the filtered cases: mining.directly_follows'
        # pairs, each case's events and its first and last (mining.case_variants).
        cur.execute(f"""
            CREATE OR REPLACE TEMP TABLE {edges} AS
            WITH g AS (
                SELECT from_code, to_code, count(*) AS transitions, {median} AS median_hours
                FROM {P}.df WHERE case_idx IN (SELECT case_idx FROM {fc})
                GROUP BY from_code, to_code
            )
            SELECT f.activity AS from_activity, t.activity AS to_activity, g.transitions, g.median_hours
            FROM g JOIN {P}.activities AS f ON f.code = g.from_code
            JOIN {P}.activities AS t ON t.code = g.to_code
        """)
        service = (
            f"(SELECT code, median(service_hours) AS median_service_hours FROM {P}.service "
            f"WHERE case_idx IN (SELECT case_idx FROM {fc}) GROUP BY code)"
            if performance
            else "(SELECT NULL::USMALLINT AS code, NULL::DOUBLE AS median_service_hours)"
        )
        cur.execute(f"""
            CREATE OR REPLACE TEMP TABLE {nodes} AS
            WITH f AS (
                SELECT activity_codes, start_code, end_code FROM {P}.cases
                WHERE case_idx IN (SELECT case_idx FROM {fc})
            ), events AS (
                SELECT code, count(*) AS events FROM (SELECT unnest(activity_codes) AS code FROM f)
                GROUP BY code
            ), starts AS (
                SELECT start_code AS code, count(*) AS n FROM f GROUP BY 1
            ), ends AS (
                SELECT end_code AS code, count(*) AS n FROM f GROUP BY 1
            )
            SELECT a.activity, e.events, coalesce(s.n, 0) AS start_cases,
                   coalesce(x.n, 0) AS end_cases, sv.median_service_hours
            FROM events AS e JOIN {P}.activities AS a USING (code)
            LEFT JOIN starts AS s USING (code) LEFT JOIN ends AS x USING (code)
            LEFT JOIN {service} AS sv USING (code)
        """)
    else:
        # reports.milestone_map_edges / _nodes on the filtered cases (mining.milestone_events).
        cur.execute(f"""
            CREATE OR REPLACE TEMP TABLE {edges} AS
            WITH g AS (
                SELECT code, next_code, count(*) AS transitions, {ms_median} AS median_hours
                FROM {P}.ms WHERE next_code IS NOT NULL AND case_idx IN (SELECT case_idx FROM {fc})
                GROUP BY code, next_code
            )
            SELECT f.activity AS from_activity, t.activity AS to_activity, g.transitions, g.median_hours
            FROM g JOIN {P}.activities AS f ON f.code = g.code
            JOIN {P}.activities AS t ON t.code = g.next_code
        """)
        service = "median(service_hours)" if performance else "NULL::DOUBLE"
        cur.execute(f"""
            CREATE OR REPLACE TEMP TABLE {nodes} AS
            WITH g AS (
                SELECT code, count(*) AS events, count(*) FILTER (WHERE step = 1) AS start_cases,
                       count(*) FILTER (WHERE next_code IS NULL) AS end_cases,
                       {service} AS median_service_hours
                FROM {P}.ms WHERE case_idx IN (SELECT case_idx FROM {fc})
                GROUP BY code
            )
            SELECT a.activity, g.events, g.start_cases, g.end_cases, g.median_service_hours
            FROM g JOIN {P}.activities AS a USING (code)
        """)
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


def kpis(cur, fc: str = "fc") -> dict:
    """The headline figures of the cases in `fc`."""
    figures = rows(
        cur,
        f"""
        SELECT count(*) AS cases, coalesce(sum(k.events), 0) AS events,
               count(DISTINCT k.variant_idx) AS variants,
               median(k.throughput_seconds) / 86400 AS median_days,
               avg(k.throughput_seconds) / 86400 AS mean_days,
               min(k.started_at) AS first_start, max(k.ended_at) AS last_end
        FROM {P}.cases AS k WHERE k.case_idx IN (SELECT case_idx FROM {fc})
        """,
    )[0]
    outcomes = dict(
        cur.execute(
            f"SELECT v.value, count(*) FROM {P}.dims AS d JOIN {P}.dim_values AS v USING (value_idx) "
            f"WHERE v.dimension = 'outcome' AND d.case_idx IN (SELECT case_idx FROM {fc}) GROUP BY 1"
        ).fetchall()
    )
    won, lost = outcomes.get("won", 0), outcomes.get("lost", 0)
    figures |= {"won": won, "lost": lost, "win_rate": won / (won + lost) if won + lost else None}
    conformant, judged = cur.execute(
        f"SELECT count(*) FILTER (WHERE is_conformant), count(*) FROM {P}.conformance "
        f"WHERE case_idx IN (SELECT case_idx FROM {fc})"
    ).fetchone()
    figures["conformant_share"] = conformant / judged if judged else None
    return figures


def statistics(cur, fc: str = "fc") -> dict:
    activities = rows(
        cur,
        f"""
        WITH f AS (SELECT activity_codes FROM {P}.cases WHERE case_idx IN (SELECT case_idx FROM {fc})),
        events AS (SELECT code, count(*) AS events FROM (SELECT unnest(activity_codes) AS code FROM f) GROUP BY 1),
        cases AS (SELECT code, count(*) AS cases
                  FROM (SELECT unnest(list_distinct(activity_codes)) AS code FROM f) GROUP BY 1)
        SELECT a.activity, e.events, c.cases, e.events / sum(e.events) OVER () AS share
        FROM events AS e JOIN cases AS c USING (code) JOIN {P}.activities AS a USING (code)
        ORDER BY e.events DESC, a.activity
        """,
    )
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
            f"FROM {P}.cases WHERE case_idx IN (SELECT case_idx FROM {fc}) GROUP BY 1"
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


def variants(cur, fc: str = "fc", limit: int = VARIANTS_SHOWN) -> dict:
    listed = rows(
        cur,
        f"""
        WITH g AS (
            SELECT variant_idx, count(*) AS cases, median(throughput_seconds) / 86400 AS median_days
            FROM {P}.cases WHERE case_idx IN (SELECT case_idx FROM {fc}) GROUP BY variant_idx
        )
        SELECT v.key, v.activities, v.events, g.cases, g.cases / sum(g.cases) OVER () AS share,
               g.median_days, count(*) OVER () AS variants
        FROM g JOIN {P}.variants AS v USING (variant_idx)
        ORDER BY g.cases DESC, v.key LIMIT ?
        """,
        [limit],
    )
    return {"variants": listed, "total": listed[0]["variants"] if listed else 0}


def cases(cur, sort: str, page: int, fc: str = "fc") -> list[dict]:
    order = CASE_SORTS[sort]
    outcome = (
        f"(SELECT v.value FROM {P}.dims AS d JOIN {P}.dim_values AS v USING (value_idx) "
        "WHERE d.case_idx = k.case_idx AND v.dimension = 'outcome')"
    )
    return rows(
        cur,
        f"""
        SELECT k.case_id, k.started_at, k.ended_at, k.events, k.throughput_seconds / 86400 AS days,
               c.case_type, c.sales_rep, c.region, {outcome} AS outcome
        FROM {P}.cases AS k
        LEFT JOIN core.cases AS c USING (case_id)
        WHERE k.case_idx IN (SELECT case_idx FROM {fc})
        ORDER BY {order} LIMIT ? OFFSET ?
        """,
        [CASES_PAGE, CASES_PAGE * page],
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
