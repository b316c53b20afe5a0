"""The HTML report: one self-contained file (inline CSS and SVG, no script, no network) that
answers the eleven Lead-to-Cash questions in order, each in a sentence, a chart and its table,
after the headline KPIs with their trends and the root causes.

Every figure comes from the tables of the analytics file; each figure element carries its raw
value in a `data-value` attribute (and what it is in `data-figure`), each chart sits in a
`figure[data-chart]` whose caption names its unit, so a test can read the page in a browser and
compare it with the tables.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from ..warehouse.publish import replace_file
from . import answers, charts
from .answers import MIN_APPROVALS, MIN_GROUP, MISSING, UNNAMED
from .charts import CASES, DAYS, PERCENT, Bar

KPI_LABELS = {
    "sales_cycle_time": "Sales cycle time",
    "lead_to_opportunity_conversion": "Lead-to-opportunity conversion",
    "win_rate": "Win rate",
    "quote_to_contract_time": "Quote-to-contract time",
    "discount_approval_time": "Discount approval time",
    "invoice_to_payment_time": "Invoice-to-payment time",
    "days_sales_outstanding": "Days sales outstanding",
    "order_rework_rate": "Order rework rate",
    "conformance_rate": "Conformance rate",
    "average_discount": "Average discount",
}
KPI_UNITS = {"share": PERCENT, "days": DAYS, "percent": charts.Unit("%", lambda v: f"{v:.1f}%")}
# The questions in the order the report answers them: (section id, heading).
QUESTIONS = (
    ("sales-cycle", "1. Long sales cycles: where do opportunities stall?"),
    ("lead-conversion", "2. Lead conversion: where do leads drop out?"),
    ("quote-to-contract", "3. Quote to contract: approvals and rework loops"),
    ("payments", "4. Slow payment collection: who pays late?"),
    ("variation", "5. Handling across teams and regions: variants and deviations"),
    ("order-errors", "6. Order errors: which orders are corrected?"),
    ("discounts", "7. Discounting: what discounts cost and what they win"),
    ("end-to-end", "8. End to end: the whole flow and its bottlenecks"),
    ("reps", "9. Sales-rep performance against the best"),
    ("compliance", "10. Compliance: cases flagged against the rules"),
    ("journeys", "11. Customer journeys: common paths, detours and redundant steps"),
)


def _rows(con, sql: str, params: list | None = None) -> list[dict]:
    """The rows as dicts, a NaN (a ratio of nothing) as None: shown as missing, never "nan%"."""
    cursor = con.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [
        {
            name: None if isinstance(value, float) and math.isnan(value) else value
            for name, value in zip(names, row, strict=True)
        }
        for row in cursor.fetchall()
    ]


def _has_table(con, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = ?",
            [schema, table],
        ).fetchone()[0]
    )


def _sparkline(points: list[float]) -> str:
    """A small inline SVG line of the KPI's snapshots (empty with fewer than two)."""
    if len(points) < 2:
        return ""
    low, high = min(points), max(points)
    span = (high - low) or 1.0
    width, height = 120, 28
    coords = " ".join(
        f"{i * width / (len(points) - 1):.1f},{height - 2 - (p - low) / span * (height - 4):.1f}"
        for i, p in enumerate(points)
    )
    return (
        f'<svg class="trend" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="trend over {len(points)} snapshots">'
        f'<polyline fill="none" stroke="#4a6fa5" stroke-width="2" points="{coords}"/></svg>'
    )


_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _clock_time(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _week_text(week: list[tuple[int, int, int]]) -> str:
    """Runs of consecutive weekdays with the same hours: "Mon-Fri 09:00-17:00"."""
    runs: list[list] = []
    for day, start, end in week:
        if runs and runs[-1][1] == day - 1 and runs[-1][2:] == [start, end]:
            runs[-1][1] = day
        else:
            runs.append([day, day, start, end])
    return ", ".join(
        f"{_WEEKDAYS[a - 1]}{'' if a == b else '-' + _WEEKDAYS[b - 1]} "
        f"{_clock_time(start)}-{_clock_time(end)}"
        for a, b, start, end in runs
    )


def _business_clock(con) -> dict | None:
    """The business calendars the business columns are counted in, in words (mining.business_hours,
    the cases of each in mining.case_calendars, and the holiday days within the log), or None for
    a file without them. The default calendar first."""
    if not _has_table(con, "mining", "business_hours"):
        return None
    rows = con.execute(
        "SELECT calendar_id, calendar_name, is_default, iso_weekday, start_minute, end_minute, "
        "time_zone, source FROM mining.business_hours ORDER BY NOT is_default, calendar_id, "
        "iso_weekday"
    ).fetchall()
    if not rows:
        return None
    cases, rule = {}, None
    if _has_table(con, "mining", "case_calendars"):
        cases = dict(
            con.execute(
                "SELECT calendar_id, count(*) FROM mining.case_calendars GROUP BY calendar_id"
            ).fetchall()
        )
        rule = con.execute("SELECT any_value(rule) FROM mining.case_calendars").fetchone()[0]
    calendars: dict[str, dict] = {}
    for calendar_id, name, _, day, start, end, zone, source in rows:
        calendar = calendars.setdefault(
            calendar_id,
            {"name": name, "time_zone": zone, "source": source, "week": [], "cases": 0},
        )
        calendar["week"].append((day, start, end))
        calendar["cases"] = cases.get(calendar_id, 0)
    listed = []
    for calendar in calendars.values():
        calendar["hours"] = _week_text(calendar.pop("week"))
        listed.append(calendar)
    holidays = 0
    if _has_table(con, "mining", "business_holiday_dates") and _has_table(con, "core", "event_log"):
        # The holidays within the log's own days (the calendar covers whole years around it).
        holidays = con.execute(
            "SELECT count(DISTINCT holiday_date) FROM mining.business_holiday_dates WHERE "
            "holiday_date BETWEEN (SELECT min(timestamp)::DATE FROM core.event_log) "
            "AND (SELECT max(timestamp)::DATE FROM core.event_log)"
        ).fetchone()[0]
    default = listed[0]
    return {
        "hours": default["hours"],
        "time_zone": default["time_zone"],
        "source": default["source"],
        "holidays": holidays,
        # With several: each calendar with its cases, and the rule that chose them.
        "calendars": listed if len(listed) > 1 else [],
        "rule": rule or "",
    }


def _inline(svg: str) -> str:
    """A drawing's SVG without the XML declaration and DOCTYPE, which have no place in HTML."""
    return svg[svg.find("<svg") :] if "<svg" in svg else ""


def _kpis(con) -> dict:
    kpis = _rows(con, "SELECT kpi, value, unit, period, definition, note FROM reports.kpi_summary")
    history: dict[str, list[tuple]] = {}
    if _has_table(con, "reports", "kpi_history"):
        for kpi, day, value in con.execute(
            "SELECT kpi, snapshot_date, value FROM reports.kpi_history "
            "WHERE value IS NOT NULL ORDER BY snapshot_date"
        ).fetchall():
            history.setdefault(kpi, []).append((day, value))
    for kpi in kpis:
        kpi["label"] = KPI_LABELS.get(kpi["kpi"], kpi["kpi"].replace("_", " "))
        # Every KPI in days is a calendar-time figure; say so where its definition does not.
        kpi["clock"] = (
            "calendar time"
            if kpi["unit"] == "days" and "calendar" not in (kpi["definition"] or "")
            else None
        )
        kpi["shown"] = answers.shown(kpi["value"], kpi["unit"])
        points = [v for _, v in history.get(kpi["kpi"], [])]
        kpi["snapshots"] = len(points)
        kpi["trend"] = _sparkline(points)
        kpi["previous"] = answers.shown(points[-2], kpi["unit"]) if len(points) >= 2 else None
    warned: dict[str, list] = {}  # the nights a drift check warned, by the KPI's label
    if _has_table(con, "reports", "kpi_alerts"):
        for kpi, day in con.execute(
            "SELECT DISTINCT kpi, snapshot_date FROM reports.kpi_alerts WHERE segment IS NULL"
        ).fetchall():
            warned.setdefault(KPI_LABELS.get(kpi, kpi.replace("_", " ")), []).append(day)
    trend = charts.trend_chart(
        "kpi_trends",
        "KPI trends, one value per nightly snapshot",
        [(k["label"], history.get(k["kpi"], []), KPI_UNITS.get(k["unit"], DAYS)) for k in kpis],
        marks=warned,
    )
    units = {k["kpi"]: k["unit"] for k in kpis}
    drift = []
    if _has_table(con, "reports", "kpi_alerts"):
        # The latest night's warnings and those of the 27 nights before it, worst first.
        drift = _rows(
            con,
            "SELECT snapshot_date, kpi, segment, value, baseline, z, cases FROM reports.kpi_alerts "
            "WHERE snapshot_date > (SELECT max(snapshot_date) FROM reports.kpi_alerts) - 28 "
            "ORDER BY snapshot_date DESC, z DESC NULLS LAST LIMIT 30",
        )
    for row in drift:
        unit = units.get(row["kpi"], "days")
        row["label"] = KPI_LABELS.get(row["kpi"], row["kpi"].replace("_", " "))
        row["where"] = (row["segment"] or "whole org").replace("=", ": ", 1)
        row["shown"] = answers.shown(row["value"], unit)
        row["baseline_shown"] = answers.shown(row["baseline"], unit)
    return {
        "kpis": kpis,
        "kpi_trend_chart": trend,
        "drift_warnings": drift,
        "period": kpis[0]["period"] if kpis else "",
    }


def _root_causes(con) -> list[dict]:
    causes = _rows(
        con,
        "SELECT kpi, attribute, value, cases, hits, kpi_value, baseline, excess_cases, q_value "
        "FROM reports.root_causes WHERE is_root_cause AND rank_in_kpi <= 3 "
        "ORDER BY kpi, rank_in_kpi",
    )
    for cause in causes:
        cause["sentence"] = answers.root_cause_sentence(cause)
    return causes


def _sales_cycle(con, kpis: list[dict]) -> dict:
    stages = _rows(
        con,
        "SELECT stage, stage_order, cases, visits, open_visits, median_days, p90_days, "
        "median_business_hours FROM reports.stage_durations WHERE dimension = 'all' "
        "ORDER BY stage_order",
    )
    groups = _rows(
        con,
        "SELECT stage, dimension, dimension_value, visits, median_days FROM reports.stage_durations "
        "WHERE dimension IN ('team', 'region') ORDER BY stage_order, dimension, dimension_value",
    )
    cycle = next((k["value"] for k in kpis if k["kpi"] == "sales_cycle_time"), None)
    answer = answers.sales_cycle_answer(cycle, stages, groups)
    longest = max(
        (s for s in stages if s["median_days"] is not None),
        key=lambda s: (s["median_days"], s["stage"]),
        default=None,
    )
    chart_list = [
        charts.bar_chart(
            "stage_days",
            "Median days in each opportunity stage",
            [Bar(s["stage"], s["median_days"], s is longest) for s in stages],
            DAYS,
        )
    ]
    if longest is not None:
        # The longest stage by team: the comparison the sentence makes, drawn.
        overall = longest["median_days"]
        teams = [
            g
            for g in groups
            if g["stage"] == longest["stage"]
            and g["dimension"] == "team"
            and g["visits"] >= MIN_GROUP
            and g["dimension_value"] not in UNNAMED
        ]
        slowest = max(teams, key=lambda g: g["median_days"] or 0, default=None)
        chart_list.append(
            charts.bar_chart(
                "stage_days_by_team",
                f"Median days in {longest['stage']} by team (teams with {MIN_GROUP}+ visits)",
                [
                    Bar(g["dimension_value"], g["median_days"], g is slowest)
                    for g in sorted(teams, key=lambda g: -(g["median_days"] or 0))
                ],
                DAYS,
                reference=overall,
                reference_label="all",
            )
        )
    return {"answer": answer, "charts": chart_list, "stages": stages}


def _lead_conversion(con) -> dict:
    funnel = _rows(
        con,
        "SELECT step_order, step, entered, converted, conversion_rate, median_days "
        "FROM reports.lead_funnel WHERE dimension = 'all' ORDER BY step_order",
    )
    sources = _rows(
        con,
        "SELECT dimension_value, entered, converted, conversion_rate, median_days "
        "FROM reports.lead_funnel WHERE dimension = 'lead_source' AND step_order = 1 "
        "ORDER BY conversion_rate, dimension_value",
    )
    source_answer = answers.lead_source_answer(sources)
    weakest = next((s["dimension_value"] for s in sources if s["entered"] >= MIN_GROUP), None)
    overall = funnel[0]["conversion_rate"] if funnel else None
    return {
        "answer": answers.funnel_answer(funnel),
        "source_answer": source_answer,
        "charts": [
            charts.bar_chart(
                "lead_funnel",
                "Leads reaching each step of the funnel",
                [Bar(f["step"], f["entered"]) for f in funnel],
                CASES,
            ),
            charts.bar_chart(
                "conversion_by_lead_source",
                "Leads becoming opportunities, by lead source",
                [
                    Bar(s["dimension_value"], s["conversion_rate"], s["dimension_value"] == weakest)
                    for s in sources
                ],
                PERCENT,
                reference=overall,
                reference_label="all leads",
            ),
        ],
        "funnel": funnel,
        "sources": sources,
    }


def _quote_to_contract(con) -> dict:
    quotes = _rows(
        con,
        "SELECT dimension, dimension_value, cases, avg_quote_versions, median_quote_to_contract_days, "
        "rejection_share, approvals, median_approval_hours, p90_approval_hours, "
        "median_approval_business_hours, approval_hours_vs_rest, re_approval_cases, rework_share FROM reports.quote_to_contract "
        "WHERE dimension IN ('all', 'sales_rep', 'product_family') "
        "ORDER BY approval_hours_vs_rest DESC NULLS LAST, dimension_value",
    )
    overall = next((q for q in quotes if q["dimension"] == "all"), None)
    reps = [q for q in quotes if q["dimension"] == "sales_rep"]
    families = [q for q in quotes if q["dimension"] == "product_family"]
    timed = [r for r in reps if r["approvals"] >= MIN_APPROVALS and r["median_approval_hours"]]
    slowest = max(timed, key=lambda r: r["approval_hours_vs_rest"] or 0, default=None)
    unit, factor = charts.wait_unit([r["median_approval_hours"] for r in timed])
    return {
        "answer": answers.approval_answer(overall, reps),
        "rework_answer": answers.quote_rework_answer(overall, families),
        "charts": [
            charts.bar_chart(
                "approval_wait_by_rep",
                f"Median discount-approval wait by rep (reps with {MIN_APPROVALS}+ approvals)",
                [
                    Bar(r["dimension_value"], r["median_approval_hours"], r is slowest)
                    for r in timed
                ],
                unit,
                scale=factor,
                reference=overall["median_approval_hours"] if overall else None,
                reference_label="all",
            ),
            charts.bar_chart(
                "quote_rework_by_family",
                "Quoted cases needing more than one quote, by product family",
                [
                    Bar(f["dimension_value"], f["rework_share"])
                    for f in sorted(families, key=lambda f: -(f["rework_share"] or 0))
                ],
                PERCENT,
                reference=overall["rework_share"] if overall else None,
                reference_label="all",
            ),
        ],
        "overall": overall,
        "reps": reps,
        "families": families,
    }


def _payments(con) -> dict:
    rows = _rows(
        con,
        "SELECT dimension, dimension_value, invoices, paid_invoices, invoiced_amount, "
        "median_days_to_pay, avg_days_past_due, late_share, open_amount, dso_days "
        "FROM reports.payment_behavior WHERE dimension <> 'customer' "
        "ORDER BY CASE dimension WHEN 'all' THEN 0 WHEN 'segment' THEN 1 WHEN 'invoice_type' "
        "THEN 2 ELSE 3 END, median_days_to_pay DESC NULLS LAST",
    )
    customers = _rows(
        con,
        "SELECT dimension_value, invoices, paid_invoices, median_days_to_pay, late_share, "
        "open_amount FROM reports.payment_behavior WHERE dimension = 'customer' "
        "AND paid_invoices >= 3 ORDER BY median_days_to_pay DESC NULLS LAST, dimension_value "
        "LIMIT 10",
    )
    overall = next((r for r in rows if r["dimension"] == "all"), None)
    groups = [
        r
        for r in rows
        if r["dimension"] != "all"
        and (r["paid_invoices"] or 0) >= MIN_GROUP
        and r["dimension_value"] not in UNNAMED
    ]
    slowest = max(groups, key=lambda r: r["median_days_to_pay"] or 0, default=None)
    return {
        "answer": answers.payment_answer(rows),
        "charts": [
            charts.bar_chart(
                "days_to_pay",
                f"Median days from invoice sent to paid, by segment, invoice type and discount "
                f"band ({MIN_GROUP}+ paid invoices)",
                [
                    Bar(
                        f"{r['dimension'].replace('_', ' ')}: {r['dimension_value']}",
                        r["median_days_to_pay"],
                        r is slowest,
                    )
                    for r in groups
                ],
                DAYS,
                reference=overall["median_days_to_pay"] if overall else None,
                reference_label="all",
            )
        ],
        "rows": rows,
        "customers": customers,
    }


def _variation(con) -> dict:
    variants = _rows(
        con,
        "SELECT variant_rank, variant, cases, share, median_cycle_days, conformant_share, "
        "mean_fitness FROM reports.opportunity_variants ORDER BY variant_rank",
    )
    has_opportunities = bool(
        con.execute(
            "SELECT count(*) FROM mining.activity_codes WHERE activity = 'Opportunity Created'"
        ).fetchone()[0]
    )
    groups = _rows(
        con,
        "SELECT d.dimension, d.dimension_value, count(*) AS opportunities, "
        "avg(f.is_conformant::INT) AS conformance_rate "
        "FROM mining.case_facts AS f JOIN mining.case_dimensions AS d USING (case_id) "
        "WHERE f.case_type = 'opportunity' AND f.is_conformant IS NOT NULL "
        "AND d.dimension IN ('team', 'region') GROUP BY ALL "
        "ORDER BY d.dimension DESC, conformance_rate, d.dimension_value",
    )
    solid = [
        g for g in groups if g["opportunities"] >= MIN_GROUP and g["dimension_value"] not in UNNAMED
    ]
    least = min(solid, key=lambda g: g["conformance_rate"], default=None)
    noun = "opportunity cases" if has_opportunities else "cases"
    top = variants[:10]
    return {
        "answer": answers.variation_answer(variants, groups, noun),
        "charts": [
            charts.bar_chart(
                "variant_shares",
                f"Share of {noun} on each of the most common variants "
                "(red: most of its cases leave the target process)",
                [
                    Bar(f"#{v['variant_rank']}", v["share"], (v["conformant_share"] or 1) < 0.5)
                    for v in top
                ],
                PERCENT,
            ),
            charts.bar_chart(
                "conformance_by_team_and_region",
                f"Opportunities following the target process, by region and team ({MIN_GROUP}+)",
                [
                    Bar(
                        f"{g['dimension']}: {g['dimension_value']}",
                        g["conformance_rate"],
                        g is least,
                    )
                    for g in solid
                ],
                PERCENT,
            ),
        ],
        "variants": top,
        "groups": solid,
        "noun": noun,
    }


def _order_errors(con) -> dict:
    rows = _rows(
        con,
        "SELECT product_family, orders, amended, rework_rate, amendments, amended_amount, "
        "median_days_to_amendment, typical_loop FROM reports.order_rework "
        "ORDER BY product_family <> 'all', rework_rate DESC NULLS LAST, product_family",
    )
    overall = next((r for r in rows if r["product_family"] == "all"), None)
    families = [
        r
        for r in rows
        if r["product_family"] != "all"
        and r["orders"] >= MIN_GROUP
        and r["product_family"] not in UNNAMED
    ]
    worst = max(families, key=lambda r: r["rework_rate"] or 0, default=None)
    return {
        "answer": answers.order_answer(rows),
        "charts": [
            charts.bar_chart(
                "order_rework_by_family",
                f"Orders corrected, by product family ({MIN_GROUP}+ orders)",
                [Bar(r["product_family"], r["rework_rate"], r is worst) for r in families],
                PERCENT,
                reference=overall["rework_rate"] if overall else None,
                reference_label="all",
            )
        ],
        "rows": rows,
    }


def _discounts(con) -> dict:
    bands = _rows(
        con,
        "SELECT discount_band, band_order, opportunities, closed, win_rate, median_cycle_days, "
        "paid_invoices, median_days_to_pay, days_to_pay_vs_rest, won_amount, revenue_given_away, "
        "given_away_share FROM reports.discount_analysis ORDER BY band_order",
    )
    deepest = max(
        (b for b in bands if b["band_order"] >= 2 and (b["closed"] or 0) >= MIN_GROUP),
        key=lambda b: b["band_order"],
        default=None,
    )
    return {
        "answer": answers.discount_answer(bands),
        "charts": [
            charts.paired_bar_chart(
                "discount_bands",
                "Win rate and days to pay by discount band",
                [b["discount_band"] for b in bands],
                [
                    ("Win rate", [b["win_rate"] for b in bands], PERCENT),
                    ("Median days to pay", [b["median_days_to_pay"] for b in bands], DAYS),
                ],
                highlight=deepest["discount_band"] if deepest else None,
            )
        ],
        "bands": bands,
    }


def _end_to_end(con, maps: dict[str, str]) -> dict:
    from .process_maps import process_map

    bottlenecks = _rows(
        con,
        "SELECT bottleneck_rank, kind, from_activity, to_activity, occurrences, median_hours, "
        "added_wait_hours, median_business_hours, added_business_hours, concentrated_in, "
        "concentrated_value FROM reports.bottlenecks ORDER BY bottleneck_rank LIMIT 10",
    )
    slowest = process_map(con, "performance").slowest
    slowest_business = process_map(con, "business").slowest
    unit, factor = charts.wait_unit([b["added_wait_hours"] for b in bottlenecks])
    return {
        "answer": answers.bottleneck_answer(bottlenecks),
        "slowest": [f"{a} → {b} ({answers.duration(hours)})" for a, b, hours in slowest],
        "slowest_business": [
            f"{a} → {b} ({answers.business_hours(hours)})" for a, b, hours in slowest_business
        ],
        "maps": {name: _inline(svg) for name, svg in maps.items() if _inline(svg)},
        "charts": [
            charts.bar_chart(
                "added_wait",
                "Waiting added beyond the typical wait, the ten largest bottlenecks",
                [
                    Bar(
                        b["from_activity"] + (f" → {b['to_activity']}" if b["to_activity"] else ""),
                        b["added_wait_hours"],
                        b["bottleneck_rank"] == 1,
                    )
                    for b in bottlenecks
                ],
                unit,
                scale=factor,
            )
        ],
        "bottlenecks": bottlenecks,
    }


def _reps(con) -> dict:
    reps = _rows(
        con,
        "SELECT sales_rep, team, opportunities, closed, won, win_rate, team_best_win_rate, "
        "win_rate_gap_to_best, median_cycle_days, conformance_rate, avg_discount_pct "
        "FROM reports.rep_performance ORDER BY team, win_rate DESC NULLS LAST, sales_rep",
    )
    solid = [r for r in reps if (r["closed"] or 0) >= MIN_GROUP and r["win_rate"] is not None]
    behind = max(solid, key=lambda r: r["win_rate_gap_to_best"] or 0, default=None)
    teams: dict[str, list] = {}
    for r in reps:
        teams.setdefault(r["team"], [0, 0])
        teams[r["team"]][0] += r["closed"] or 0
        teams[r["team"]][1] += r["won"] or 0
    return {
        "answer": answers.rep_answer(reps),
        "charts": [
            charts.bar_chart(
                "win_rate_by_rep",
                f"Win rate by rep, grouped by team (reps with {MIN_GROUP}+ closed deals)",
                [
                    Bar(
                        f"{r['sales_rep']} · {r['team'] or '(no team)'}", r["win_rate"], r is behind
                    )
                    for r in solid
                ],
                PERCENT,
            ),
            charts.bar_chart(
                "win_rate_by_team",
                "Win rate by team",
                [
                    Bar(team or "(no team)", won / closed)
                    for team, (closed, won) in sorted(teams.items(), key=lambda t: str(t[0]))
                    if closed
                ],
                PERCENT,
            ),
        ],
        "reps": reps,
    }


def _compliance(con) -> dict:
    rules = _rows(
        con,
        "SELECT rule, any_value(deviation_type) AS deviation_type, any_value(severity) AS severity, "
        "count(DISTINCT case_id) AS cases FROM reports.compliance_violations GROUP BY rule "
        "ORDER BY min(CASE severity WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END), cases DESC",
    )
    rep_cases = _rows(
        con,
        "SELECT r.sales_rep, r.opportunities, count(DISTINCT v.case_id) AS cases "
        "FROM reports.rep_performance AS r LEFT JOIN reports.compliance_violations AS v "
        "ON v.sales_rep = r.sales_rep AND v.severity = 'high' GROUP BY r.sales_rep, r.opportunities "
        "ORDER BY count(DISTINCT v.case_id) / r.opportunities DESC, r.sales_rep",
    )
    solid = [r for r in rep_cases if r["opportunities"] >= MIN_GROUP]
    return {
        "answer": answers.compliance_answer(rules, rep_cases),
        "charts": [
            charts.bar_chart(
                "cases_by_rule",
                "Cases breaking each rule (red: high severity)",
                [
                    Bar(r["rule"].replace("_", " "), r["cases"], r["severity"] == "high")
                    for r in rules
                ],
                CASES,
            ),
            charts.bar_chart(
                "high_severity_by_rep",
                f"Opportunities breaking a high-severity rule, by rep ({MIN_GROUP}+ opportunities)",
                [
                    Bar(r["sales_rep"], r["cases"] / r["opportunities"], i == 0)
                    for i, r in enumerate(solid[:12])
                ],
                PERCENT,
            ),
        ],
        "rules": rules,
        "violations": _rows(
            con,
            "SELECT case_id, rule, severity, detail, sales_rep FROM reports.compliance_violations "
            "WHERE severity = 'high' ORDER BY rule, case_id LIMIT 20",
        ),
    }


def _journeys(con) -> dict:
    paths = _rows(
        con,
        "SELECT journey_rank, pattern, cases, share, median_cycle_days FROM reports.customer_journeys "
        "WHERE journey_type = 'path' ORDER BY journey_rank LIMIT 10",
    )
    steps = _rows(
        con,
        "SELECT journey_type, journey_rank, pattern, cases, share, median_cycle_days "
        "FROM reports.customer_journeys WHERE journey_type <> 'path' AND journey_rank <= 5 "
        "ORDER BY CASE journey_type WHEN 'detour' THEN 1 WHEN 'loop' THEN 2 ELSE 3 END, journey_rank",
    )
    return {
        "answer": answers.journey_answer(paths, steps),
        "charts": [
            charts.bar_chart(
                "journey_shares",
                "Share of cases on each of the most common milestone paths",
                [Bar(f"#{p['journey_rank']}", p["share"], p["journey_rank"] == 1) for p in paths],
                PERCENT,
            )
        ],
        "paths": paths,
        "steps": steps,
    }


def _losses(con) -> dict:
    losses = _rows(
        con,
        "SELECT loss_reason, lost_deals, share FROM reports.loss_reasons WHERE dimension = 'all' "
        "AND loss_reason <> '(none given)' ORDER BY share DESC",
    )
    groups = _rows(
        con,
        "SELECT dimension, dimension_value, loss_reason, lost_deals, group_lost_deals, share, "
        "rest_share FROM reports.loss_reasons WHERE dimension <> 'all' "
        "ORDER BY group_lost_deals * (share - rest_share) DESC NULLS LAST LIMIT 200",
    )
    return {
        "losses": losses,
        "loss_answer": answers.loss_answer(losses, groups),
        "loss_chart": charts.bar_chart(
            "loss_reasons",
            "Share of lost deals giving each reason",
            [Bar(r["loss_reason"], r["share"]) for r in losses],
            PERCENT,
        ),
    }


def report_data(con: duckdb.DuckDBPyConnection, maps: dict[str, str] | None = None) -> dict:
    """Everything the page shows, read from the analytics file's tables. `maps` holds the
    process maps' SVG: 'milestones' (drawn first), 'milestones_business' (its waits in
    business hours) and 'with_touches'."""
    headline = _kpis(con)
    mapped_org = _has_table(con, "core", "data_coverage")
    return {
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        **headline,
        "questions": QUESTIONS,
        "business_clock": _business_clock(con),
        "root_causes": _root_causes(con),
        # What the org's records hold (only for a Salesforce source: a loaded file has no mapping).
        "coverage": _rows(
            con,
            "SELECT family, status, events, missing, status_history FROM core.data_coverage "
            "WHERE status <> 'complete'",
        )
        if mapped_org
        else [],
        "mapped_org": mapped_org,
        **_losses(con),
        "lost_without_reason": con.execute(
            "SELECT coalesce(sum(lost_deals), 0) FROM reports.loss_reasons "
            "WHERE dimension = 'all' AND loss_reason = '(none given)'"
        ).fetchone()[0],
        "sales_cycle": _sales_cycle(con, headline["kpis"]),
        "lead_conversion": _lead_conversion(con),
        "quote_to_contract": _quote_to_contract(con),
        "payments": _payments(con),
        "variation": _variation(con),
        "order_errors": _order_errors(con),
        "discounts": _discounts(con),
        "end_to_end": _end_to_end(con, maps or {}),
        "reps": _reps(con),
        "compliance": _compliance(con),
        "journeys": _journeys(con),
    }


def render_report(data: dict) -> str:
    from jinja2 import Environment, PackageLoader, select_autoescape

    environment = Environment(
        loader=PackageLoader("l2c_pipeline.outputs", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
        # A cell without a value (a rep without a team) shows as missing, not as "None".
        finalize=lambda value: MISSING if value is None else value,
    )
    environment.filters["pct"] = answers.share
    environment.filters["pp"] = answers.points
    environment.filters["hours"] = answers.duration
    environment.filters["bhours"] = answers.business_hours
    environment.filters["days"] = answers.days
    environment.filters["num"] = lambda v, d=1: MISSING if v is None else f"{v:,.{d}f}"
    environment.filters["count"] = lambda v: MISSING if v is None else f"{v:,}"
    environment.filters["raw"] = lambda v: "" if v is None else repr(v)
    return environment.get_template("report.html.j2").render(**data)


def write_report(
    con: duckdb.DuckDBPyConnection, path: Path, maps: dict[str, str] | None = None
) -> Path:
    """Render the report into `path` (written whole, then renamed)."""
    page = render_report(report_data(con, maps))
    return replace_file(Path(path), lambda partial: partial.write_text(page, encoding="utf-8"))
