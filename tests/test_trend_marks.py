"""The KPI trend chart marks the nights a drift check warned (reports.kpi_alerts) in red."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb

from l2c_pipeline.outputs import charts
from l2c_pipeline.outputs.html_report import _kpis

DAYS = [date(2026, 3, 1) + timedelta(days=n) for n in range(5)]


def _red_points(svg: str) -> int:
    # Each drawn marker of a line is a <use> of its marker path; the red ones carry its colour.
    return svg.count(f"fill: {charts.WARNING}") + svg.count(f"fill:{charts.WARNING}")


def test_marks_are_red_points_with_a_legend_only_where_given():
    series = [
        ("Win rate", [(day, 0.3 - 0.01 * n) for n, day in enumerate(DAYS)], charts.PERCENT),
        ("Sales cycle", [(day, 30.0 + n) for n, day in enumerate(DAYS)], charts.DAYS),
    ]
    plain = str(charts.trend_chart("trends", "KPI trends", series))
    marked = str(charts.trend_chart("trends", "KPI trends", series, marks={"Win rate": DAYS[3:]}))
    assert "drift warning" not in plain and charts.WARNING not in plain
    assert marked.count("drift warning") == 1  # one legend entry, in the panel that warned
    assert charts.WARNING in marked and _red_points(marked) >= 2


def test_the_report_reads_the_alert_nights_from_kpi_alerts():
    con = duckdb.connect()
    con.execute("CREATE SCHEMA reports")
    con.execute(
        "CREATE TABLE reports.kpi_summary AS SELECT 'win_rate' AS kpi, 0.25::DOUBLE AS value, "
        "'share' AS unit, 'p' AS period, 'd' AS definition, NULL::VARCHAR AS note"
    )
    con.execute(
        "CREATE TABLE reports.kpi_history AS SELECT d::DATE AS snapshot_date, 'win_rate' AS kpi, "
        "0.3::DOUBLE AS value FROM range(DATE '2026-03-01', DATE '2026-03-06', INTERVAL 1 DAY) t(d)"
    )
    without = str(_kpis(con)["kpi_trend_chart"])
    assert "drift warning" not in without  # no kpi_alerts table yet: as before
    con.execute(
        "CREATE TABLE reports.kpi_alerts AS SELECT DATE '2026-03-05' AS snapshot_date, "
        "'win_rate' AS kpi, NULL::VARCHAR AS segment"
    )
    assert "drift warning" in str(_kpis(con)["kpi_trend_chart"])
