"""The HTML report: one self-contained file (inline CSS and SVG, no script, no network) with
the headline KPIs and their trend, the process map, the lead funnel, conversion by lead source,
quote-to-contract and discount-approval waits by rep, customer journeys, bottlenecks, variants,
compliance, reps, discounts and root causes in plain sentences.

Units as people read them: waits over 48 hours in days, shares in %, differences of shares in
percentage points; a missing figure shows "—" and the section says why.

Every figure comes from the report tables; each figure element carries its raw value in a
`data-value` attribute (and what it is in `data-figure`), so a test can read the page in a
browser and compare it with the tables.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb

from ..warehouse.publish import replace_file

KPI_LABELS = {
    "sales_cycle_time": "Sales cycle time",
    "lead_to_opportunity_conversion": "Lead-to-opportunity conversion",
    "win_rate": "Win rate",
    "quote_to_contract_time": "Quote-to-contract time",
    "invoice_to_payment_time": "Invoice-to-payment time",
    "days_sales_outstanding": "Days sales outstanding",
    "order_rework_rate": "Order rework rate",
    "conformance_rate": "Conformance rate",
    "average_discount": "Average discount",
}
# How a root cause reads: "<value> <phrase> <lift>x as often as the rest".
ROOT_CAUSE_PHRASES = {
    "lost_deal": "loses deals",
    "slow_cycle": "has slow deals (the slowest quarter)",
    "non_compliant": "wins deals that break a high-severity rule",
    "unapproved_discount": "wins deals discounted above the approval threshold without the approval",
    "off_target_process": "leaves the reference path",
    "stage_regression": "falls back from Proposal/Price Quote",
    "quote_rejection": "has quotes rejected and re-issued",
    "order_rework": "has orders corrected",
}


# What a table cell without a value shows (each section says why it can be empty).
MISSING = "—"
# A rep's approval wait is named in the report's sentence only over this many decided
# approvals: a median of two or three waits says little.
MIN_APPROVALS = 10


def shown(value: float | None, unit: str) -> str:
    """A KPI value as people read it."""
    if value is None:
        return MISSING
    if unit == "share":
        return f"{value:.1%}"
    if unit == "percent":
        return f"{value:.1f}%"
    return f"{value:.1f} {unit}"


def share(value: float | None) -> str:
    return MISSING if value is None else f"{value:.1%}"


def points(value: float | None) -> str:
    """A difference of two shares, in percentage points."""
    return MISSING if value is None else f"{value * 100:.1f} pp"


def duration(hours: float | None) -> str:
    """A wait in hours as people read it: hours up to 48, days beyond."""
    if hours is None:
        return MISSING
    if abs(hours) <= 48:
        return f"{hours:,.1f} h"
    return f"{hours / 24:,.1f} days"


def days(value: float | None) -> str:
    return MISSING if value is None else f"{value:,.1f} days"


def lead_source_answer(rows: list[dict]) -> str:
    """One sentence: the lead source that converts least to opportunities, against the rest."""
    named = [r for r in rows if r["dimension_value"] != "(none)" and r["entered"]]
    if not rows:
        return (
            "No conversion by lead source: the report table holds no lead with a source "
            "(the org's leads carry none, or the event log has no leads)."
        )
    if len(named) < 2:
        only = named[0]["dimension_value"] if named else "none"
        return (
            f"No comparison between lead sources: the leads name one source only ({only}), "
            "so there is nothing to set its conversion against."
        )
    weakest = min(named, key=lambda r: (r["conversion_rate"], r["dimension_value"]))
    others = [r for r in rows if r is not weakest and r["entered"]]
    rest = sum(r["converted"] for r in others) / sum(r["entered"] for r in others)
    rates = [r["conversion_rate"] for r in others if r["dimension_value"] != "(none)"]
    return (
        f"{weakest['dimension_value']} leads convert least: {weakest['conversion_rate']:.0%} of "
        f"its {weakest['entered']:,} leads become opportunities, against {rest:.0%} for the "
        f"other sources ({min(rates):.0%} to {max(rates):.0%} each), "
        f"{(rest - weakest['conversion_rate']) * 100:.1f} pp less."
    )


def approval_answer(overall: dict | None, reps: list[dict]) -> str:
    """One sentence: how long quotes take to a contract, and the rep whose discount approvals
    wait longest, with the factor against the other reps."""
    if overall is None:
        return (
            "No quote-to-contract figures: no case has a quote (the org records no quotes, "
            "or none was created in the period)."
        )
    contract = (
        f"Quotes take a median {days(overall['median_quote_to_contract_days'])} to a signed "
        "contract"
        if overall["median_quote_to_contract_days"] is not None
        else "No quoted case has reached a signed contract yet"
    )
    decided = [r for r in reps if r["approvals"] and r["approval_hours_vs_rest"] is not None]
    if not decided:
        return (
            f"{contract}. No discount-approval waits: no approval was decided "
            "(the org records no approval processes, or no discount needed one)."
        )
    solid = [r for r in decided if r["approvals"] >= MIN_APPROVALS]
    if not solid:
        return (
            f"{contract}. No rep has {MIN_APPROVALS} or more decided discount approvals, "
            "too few to compare approval waits between reps."
        )
    slowest = max(solid, key=lambda r: (r["approval_hours_vs_rest"], r["dimension_value"]))
    return (
        f"{contract}. Discount approvals wait longest on {slowest['dimension_value']}'s deals: "
        f"a median of {duration(slowest['median_approval_hours'])} over "
        f"{slowest['approvals']:,} approvals, {slowest['approval_hours_vs_rest']:.1f}x the "
        f"other reps' median (of reps with at least {MIN_APPROVALS} approvals)."
    )


def journey_answer(paths: list[dict], steps: list[dict]) -> str:
    """One sentence: the most common milestone path, and the most common detour."""
    if not paths:
        return "No customer journeys: the event log holds no milestone events."
    top = paths[0]
    covered = sum(p["share"] for p in paths)
    sentence = (
        f"The most common path, {share(top['share'])} of cases ({top['cases']:,}), is "
        f"{top['pattern']}; the {len(paths)} most common paths cover {share(covered)} of cases."
    )
    detours = [s for s in steps if s["journey_type"] == "detour"]
    if detours:
        d = detours[0]
        sentence += (
            f" The most common detour, {d['pattern']}, happens in {d['cases']:,} cases "
            f"({share(d['share'])} of those reaching its first step)."
        )
    else:
        sentence += " No case steps back to an earlier step of the reference path."
    return sentence


def _rows(con, sql: str, params: list | None = None) -> list[dict]:
    cursor = con.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


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


def root_cause_sentence(row: dict) -> str:
    phrase = ROOT_CAUSE_PHRASES.get(row["kpi"], f"over-indexes on {row['kpi'].replace('_', ' ')}")
    attribute = row["attribute"].replace("_", " ")
    return (
        f"{row['value']} ({attribute}) {phrase} {row['lift']:.1f}x as often as the rest: "
        f"{row['kpi_value']:.0%} against {row['baseline']:.0%}, over {row['cases']:,} cases."
    )


def report_data(con: duckdb.DuckDBPyConnection, process_map_svg: str = "") -> dict:
    """Everything the page shows, read from the report tables."""
    kpis = _rows(con, "SELECT kpi, value, unit, period, definition, note FROM reports.kpi_summary")
    history: dict[str, list[tuple]] = {}
    if _has_table(con, "reports", "kpi_history"):
        for kpi, day, value in con.execute(
            "SELECT kpi, snapshot_date, value FROM reports.kpi_history ORDER BY snapshot_date"
        ).fetchall():
            history.setdefault(kpi, []).append((day, value))
    for kpi in kpis:
        kpi["label"] = KPI_LABELS.get(kpi["kpi"], kpi["kpi"].replace("_", " "))
        kpi["shown"] = shown(kpi["value"], kpi["unit"])
        points = [v for _, v in history.get(kpi["kpi"], []) if v is not None]
        kpi["snapshots"] = len(points)
        kpi["trend"] = _sparkline(points)
        kpi["previous"] = shown(points[-2], kpi["unit"]) if len(points) >= 2 else None
    causes = _rows(
        con,
        "SELECT kpi, attribute, value, cases, kpi_value, baseline, lift FROM reports.root_causes "
        "WHERE is_root_cause AND rank_in_kpi <= 3 ORDER BY kpi, rank_in_kpi",
    )
    for cause in causes:
        cause["sentence"] = root_cause_sentence(cause)
    return {
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "period": kpis[0]["period"] if kpis else "",
        "kpis": kpis,
        # Inline SVG: graphviz's XML declaration and DOCTYPE have no place inside HTML.
        "process_map_svg": process_map_svg[process_map_svg.find("<svg") :]
        if "<svg" in process_map_svg
        else "",
        "funnel": _rows(
            con,
            "SELECT step_order, step, entered, converted, conversion_rate, median_days "
            "FROM reports.lead_funnel WHERE dimension = 'all' ORDER BY step_order",
        ),
        "bottlenecks": _rows(
            con,
            "SELECT bottleneck_rank, kind, from_activity, to_activity, occurrences, median_hours, "
            "added_wait_hours, concentrated_in, concentrated_value FROM reports.bottlenecks "
            "ORDER BY bottleneck_rank LIMIT 10",
        ),
        "variants": _rows(
            con,
            "SELECT variant_rank, variant, cases, share, median_cycle_days, is_conformant "
            "FROM reports.variants ORDER BY variant_rank LIMIT 10",
        ),
        "compliance": _rows(
            con,
            "SELECT rule, any_value(deviation_type) AS deviation_type, any_value(severity) AS severity, "
            "count(DISTINCT case_id) AS cases FROM reports.compliance_violations GROUP BY rule "
            "ORDER BY min(CASE severity WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END), cases DESC",
        ),
        "violations": _rows(
            con,
            "SELECT case_id, rule, severity, detail, sales_rep FROM reports.compliance_violations "
            "WHERE severity = 'high' ORDER BY rule, case_id LIMIT 20",
        ),
        "reps": _rows(
            con,
            "SELECT sales_rep, team, opportunities, win_rate, median_cycle_days, conformance_rate, "
            "avg_discount_pct, win_rate_gap_to_best FROM reports.rep_performance ORDER BY team, win_rate DESC",
        ),
        "discounts": _rows(
            con,
            "SELECT discount_band, opportunities, win_rate, median_cycle_days, median_days_to_pay, "
            "revenue_given_away FROM reports.discount_analysis ORDER BY band_order",
        ),
        "root_causes": causes,
        # What the org's records hold (only for a Salesforce source: a loaded file has no mapping).
        "coverage": _rows(
            con,
            "SELECT family, status, events, missing, status_history FROM core.data_coverage "
            "WHERE status <> 'complete'",
        )
        if _has_table(con, "core", "data_coverage")
        else [],
        "losses": _rows(
            con,
            "SELECT loss_reason, lost_deals, share FROM reports.loss_reasons WHERE dimension = 'all' "
            "AND loss_reason <> '(none given)' ORDER BY share DESC",
        ),
        "mapped_org": _has_table(con, "core", "data_coverage"),
        "lost_without_reason": con.execute(
            "SELECT coalesce(sum(lost_deals), 0) FROM reports.loss_reasons "
            "WHERE dimension = 'all' AND loss_reason = '(none given)'"
        ).fetchone()[0],
        **_answers(con),
    }


def _answers(con) -> dict:
    """Lead sources, quote-to-contract and approvals by rep, customer journeys: each with the
    sentence that answers its question."""
    sources = _rows(
        con,
        "SELECT dimension_value, entered, converted, conversion_rate, median_days "
        "FROM reports.lead_funnel WHERE dimension = 'lead_source' AND step_order = 1 "
        "ORDER BY conversion_rate, dimension_value",
    )
    quotes = _rows(
        con,
        "SELECT dimension, dimension_value, cases, avg_quote_versions, median_quote_to_contract_days, "
        "rejection_share, approvals, median_approval_hours, p90_approval_hours, "
        "approval_hours_vs_rest, re_approval_cases, rework_share FROM reports.quote_to_contract "
        "WHERE dimension IN ('all', 'sales_rep') "
        "ORDER BY approval_hours_vs_rest DESC NULLS LAST, dimension_value",
    )
    overall = next((q for q in quotes if q["dimension"] == "all"), None)
    quote_reps = [q for q in quotes if q["dimension"] == "sales_rep"]
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
        "lead_sources": sources,
        "lead_source_answer": lead_source_answer(sources),
        "quote_overall": overall,
        "quote_reps": quote_reps,
        "approval_answer": approval_answer(overall, quote_reps),
        "journey_paths": paths,
        "journey_steps": steps,
        "journey_answer": journey_answer(paths, steps),
    }


def _has_table(con, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = ?",
            [schema, table],
        ).fetchone()[0]
    )


def render_report(data: dict) -> str:
    from jinja2 import Environment, PackageLoader, select_autoescape

    environment = Environment(
        loader=PackageLoader("l2c_pipeline.outputs", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["pct"] = share
    environment.filters["pp"] = points
    environment.filters["hours"] = duration
    environment.filters["days"] = days
    environment.filters["num"] = lambda v, d=1: MISSING if v is None else f"{v:,.{d}f}"
    environment.filters["raw"] = lambda v: "" if v is None else repr(v)
    return environment.get_template("report.html.j2").render(**data)


def write_report(con: duckdb.DuckDBPyConnection, path: Path, process_map_svg: str = "") -> Path:
    """Render the report into `path` (written whole, then renamed)."""
    page = render_report(report_data(con, process_map_svg))
    return replace_file(Path(path), lambda partial: partial.write_text(page, encoding="utf-8"))
