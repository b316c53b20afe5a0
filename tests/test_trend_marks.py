"""The KPI trend chart marks the nights a drift check warned (reports.kpi_alerts) in red."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb

from l2c_pipeline.monitoring.drift import ALERTS_DDL
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
    for statement in ALERTS_DDL:
        con.execute(statement)
    con.execute(
        "INSERT INTO reports.kpi_alerts VALUES (DATE '2026-03-05', 'win_rate', NULL, 0.25, 0.3, "
        "-0.05, 4.2, 900, 'WARN', 'r', now())"
    )
    assert "drift warning" in str(_kpis(con)["kpi_trend_chart"])


def test_the_report_lists_the_recent_warnings_of_the_org_and_of_each_segment():
    con = duckdb.connect()
    con.execute("CREATE SCHEMA reports")
    con.execute(
        "CREATE TABLE reports.kpi_summary AS SELECT 'win_rate' AS kpi, 0.25::DOUBLE AS value, "
        "'share' AS unit, 'p' AS period, 'd' AS definition, NULL::VARCHAR AS note"
    )
    for statement in ALERTS_DDL:
        con.execute(statement)
    rows = [
        ("2026-03-05", None, 0.25, 0.30, 4.4),  # the whole org
        ("2026-03-05", "region=EMEA", 0.15, 0.30, 6.1),
        ("2026-01-02", "team=Old news", 0.10, 0.30, 9.0),  # more than 28 nights before
    ]
    for day, segment, value, baseline, z in rows:
        con.execute(
            "INSERT INTO reports.kpi_alerts VALUES (?, 'win_rate', ?, ?, ?, ?, ?, 750, 'WARN', "
            "'r', now())",
            [day, segment, value, baseline, value - baseline, z],
        )
    listed = _kpis(con)["drift_warnings"]
    assert [(w["where"], w["shown"], w["baseline_shown"]) for w in listed] == [
        ("region: EMEA", "15.0%", "30.0%"),  # worst first
        ("whole org", "25.0%", "30.0%"),
    ]
