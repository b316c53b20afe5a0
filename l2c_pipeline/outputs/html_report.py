"""The HTML report: one self-contained file (inline CSS and SVG, no script, no network) with
the headline KPIs and their trend, the process map, the lead funnel, bottlenecks, variants,
compliance, reps, discounts and root causes in plain sentences.

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
    "off_target_process": "leaves the reference path",
    "stage_regression": "falls back from Proposal/Price Quote",
    "quote_rejection": "has quotes rejected and re-issued",
    "order_rework": "has orders corrected",
}


def shown(value: float | None, unit: str) -> str:
    """A KPI value as people read it."""
    if value is None:
        return "n/a"
    if unit == "share":
        return f"{value:.1%}"
    if unit == "percent":
        return f"{value:.1f}%"
    return f"{value:.1f} {unit}"


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
    environment.filters["pct"] = lambda v: "n/a" if v is None else f"{v:.1%}"
    environment.filters["num"] = lambda v, d=1: "n/a" if v is None else f"{v:,.{d}f}"
    environment.filters["raw"] = lambda v: "" if v is None else repr(v)
    return environment.get_template("report.html.j2").render(**data)


def write_report(con: duckdb.DuckDBPyConnection, path: Path, process_map_svg: str = "") -> Path:
    """Render the report into `path` (written whole, then renamed)."""
    page = render_report(report_data(con, process_map_svg))
    return replace_file(Path(path), lambda partial: partial.write_text(page, encoding="utf-8"))
