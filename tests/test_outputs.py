"""What people look at and carry away: exports that other tools read back with the same counts,
formula-safe CSV, process maps, and the HTML report opened in a real headless Chromium."""

from __future__ import annotations

import hashlib
import json
import math
import xml.etree.ElementTree as ET
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pm4py
import pytest

from l2c_pipeline.mining.kpi_history import record_kpi_snapshot
from l2c_pipeline.outputs.exports import (
    build_event_objects,
    export_csv,
    export_event_log,
    parse_formats,
)
from l2c_pipeline.outputs.html_report import write_report
from l2c_pipeline.outputs.process_maps import (
    BUSINESS_TITLE,
    business_duration_label,
    process_map,
    render,
)
from l2c_pipeline.warehouse.duckdb_warehouse import connect, connect_read_only

from .test_event_log import copy_warehouse

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def exported(tables, tmp_path_factory):
    return export_event_log(tables, tmp_path_factory.mktemp("exports"))


def test_xes_export_reads_back_with_the_same_counts(tables, exported):
    log = pm4py.read_xes(str(exported["xes"]), return_legacy_log_object=False)
    events, cases = tables.execute(
        "SELECT count(*), count(DISTINCT case_id) FROM core.event_log"
    ).fetchone()
    assert (len(log), log["case:concept:name"].nunique()) == (events, cases)
    variants = {tuple(v): n for v, n in pm4py.get_variants(log).items()}
    expected = {
        tuple(activities): cases
        for activities, cases in tables.execute(
            "SELECT activities, cases FROM reports.variants"
        ).fetchall()
    }
    assert variants == expected


def test_ocel_export_reads_back_with_the_same_objects_and_events(tables, exported):
    ocel = pm4py.read_ocel2_json(str(exported["ocel"]))
    events = tables.execute("SELECT count(*) FROM core.event_log").fetchone()[0]
    assert len(ocel.events) == events
    expected = dict(
        tables.execute("""
        SELECT type, count(DISTINCT id) FROM (
            SELECT CASE object_type WHEN 'Lead' THEN 'lead' WHEN 'Opportunity' THEN 'opportunity'
                   WHEN 'Quote' THEN 'quote' WHEN 'SBQQ__Quote__c' THEN 'quote' WHEN 'Contract' THEN 'contract'
                   WHEN 'Order' THEN 'order'
                   WHEN 'blng__Invoice__c' THEN 'invoice' WHEN 'blng__Payment__c' THEN 'payment' END AS type,
                   object_id AS id
            FROM core.event_log
            UNION ALL SELECT case_type, case_id FROM core.cases WHERE events > 0
        ) WHERE type IS NOT NULL GROUP BY type""").fetchall()
    )
    assert ocel.objects["ocel:type"].value_counts().to_dict() == expected
    assert set(expected) == {
        "lead",
        "opportunity",
        "quote",
        "contract",
        "order",
        "invoice",
        "payment",
    }
    # Every event is related to its case's object.
    related = ocel.relations.groupby("ocel:eid")["ocel:oid"].apply(set)
    case_of = dict(tables.execute("SELECT event_id, case_id FROM core.event_log").fetchall())
    assert all(case_of[eid] in oids for eid, oids in related.items())
    assert len(related) == events


def test_event_objects_relate_each_event_once_to_its_case_and_once_to_its_record(tables):
    """core.event_objects, compared with the event log and the approvals row by row: one
    relation per event and qualifier, none twice."""
    rows, distinct = tables.execute(
        "SELECT count(*), count(DISTINCT (event_id, qualifier)) FROM core.event_objects"
    ).fetchone()
    assert rows == distinct > 0
    for qualifier, expected in (
        ("case", "SELECT event_id, case_id FROM core.event_log"),
        (
            "source record",
            # The records of the Lead-to-Cash objects (the OCEL test's list); an approval's: its quote.
            """SELECT e.event_id, coalesce(a.quote_id, e.object_id) FROM core.event_log AS e
               LEFT JOIN staging.stg_approvals AS a ON a.approval_id = e.object_id
               WHERE a.approval_id IS NOT NULL OR e.object_type IN ('Lead', 'Opportunity', 'Quote',
                   'SBQQ__Quote__c', 'Contract', 'Order', 'blng__Invoice__c', 'blng__Payment__c')""",
        ),
    ):
        differ = tables.execute(f"""
            SELECT count(*) FROM (
                (SELECT event_id, object_id FROM core.event_objects WHERE qualifier = '{qualifier}'
                 EXCEPT ALL {expected})
                UNION ALL
                ({expected} EXCEPT ALL
                 SELECT event_id, object_id FROM core.event_objects WHERE qualifier = '{qualifier}')
            )""").fetchone()[0]
        assert differ == 0, qualifier
    approvals = tables.execute(
        "SELECT count(*) FROM core.event_objects AS r JOIN staging.stg_approvals AS a "
        "ON r.object_id = a.quote_id WHERE r.qualifier = 'source record' AND r.object_type = 'quote'"
    ).fetchone()[0]
    assert approvals > 0  # the approvals' events are related to their quotes


def test_event_objects_is_a_view_of_published_tables_that_replaces_an_older_table():
    """A view over the event log, the cases and core.approval_quotes: it answers from a file
    without staging (the published one), and it takes the place of the table earlier releases
    left in a warehouse."""
    con = duckdb.connect()
    con.execute("CREATE SCHEMA core; CREATE SCHEMA staging")
    con.execute("""CREATE TABLE core.event_log AS SELECT * FROM (VALUES
        ('e1', 'c1', 'Lead', 'L1'), ('e2', 'c1', 'ProcessInstance', 'P1'), ('e3', 'c1', 'Task', 'T1')
    ) AS t(event_id, case_id, object_type, object_id)""")
    con.execute("CREATE TABLE core.cases AS SELECT 'c1' AS case_id, 'lead' AS case_type")
    con.execute(
        "CREATE TABLE staging.stg_approvals AS SELECT 'P1' AS approval_id, 'Q1' AS quote_id"
    )
    con.execute("CREATE TABLE core.event_objects AS SELECT 1 AS relation")  # an earlier release's
    build_event_objects(con)
    kind = con.execute(
        "SELECT table_type FROM information_schema.tables WHERE table_name = 'event_objects'"
    ).fetchall()
    assert kind == [("VIEW",)]
    con.execute("DROP SCHEMA staging CASCADE")  # as in the analytics file
    assert sorted(con.execute("SELECT * FROM core.event_objects").fetchall()) == [
        ("e1", "L1", "lead", "source record"),
        ("e1", "c1", "lead", "case"),
        ("e2", "Q1", "quote", "source record"),  # an approval: its quote
        ("e2", "c1", "lead", "case"),
        ("e3", "c1", "lead", "case"),  # a touch has no object of its own
    ]


def test_csv_and_parquet_exports_hold_the_event_log_row_for_row(tables, exported):
    for fmt, reader in (("csv", "read_csv"), ("parquet", "read_parquet")):
        path = str(exported[fmt]).replace("'", "''")
        options = ", all_varchar = true" if fmt == "csv" else ""
        missing = tables.execute(f"""
            SELECT count(*) FROM (
                SELECT event_id, case_id, activity, "timestamp"::VARCHAR FROM core.event_log
                EXCEPT ALL
                SELECT event_id, case_id, activity, "timestamp"::TIMESTAMP::VARCHAR FROM {reader}('{path}'{options})
            )""").fetchone()[0]
        assert missing == 0, fmt


def test_every_export_carries_the_activities_start_times_in_utc(tmp_path):
    """An interval log's starts leave in every format, under pm4py's name (start_timestamp), and
    read back with pm4py and with the file source; Parquet's times say they are UTC. An event
    without a start has no start attribute (not the text 'NaT')."""
    import json

    import pandas as pd

    from l2c_pipeline.file_source.load import load_into_warehouse, read_event_file
    from l2c_pipeline.pipeline import build_pipeline

    log = tmp_path / "log.csv"
    log.write_text(
        "case_id,activity,timestamp,start_timestamp\n"
        "C1,Review,2026-01-05 10:00:00+01:00,2026-01-05 08:30:00+01:00\n"
        "C1,Approve,2026-01-06 12:00:00+01:00,\n"
        "C2,Review,2026-01-07 09:15:00+01:00,2026-01-07 09:00:00+01:00\n",
        encoding="utf-8",
    )
    expected = {
        ("C1", "Review"): ("2026-01-05 09:00:00", "2026-01-05 07:30:00"),
        ("C1", "Approve"): ("2026-01-06 11:00:00", None),
        ("C2", "Review"): ("2026-01-07 08:15:00", "2026-01-07 08:00:00"),
    }
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    try:
        load_into_warehouse(con, read_event_file(log))
        build_pipeline(con, schemas=("mining", "reports"))
        build_event_objects(con)
        files = export_event_log(con, tmp_path / "out")
        for fmt in ("csv", "parquet"):
            rows = con.execute(
                f"SELECT case_id, activity, strftime(timezone('UTC', \"timestamp\"::TIMESTAMPTZ), "
                f"'%Y-%m-%d %H:%M:%S'), strftime(timezone('UTC', start_timestamp::TIMESTAMPTZ), "
                f"'%Y-%m-%d %H:%M:%S') FROM '{files[fmt]}'"
            ).fetchall()
            assert {(c, a): (t, s) for c, a, t, s in rows} == expected, fmt
        zones = con.execute(
            f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM '{files['parquet']}') "
            "WHERE column_name LIKE '%timestamp'"
        ).fetchall()
        assert zones == [
            ("timestamp", "TIMESTAMP WITH TIME ZONE"),
            ("start_timestamp", "TIMESTAMP WITH TIME ZONE"),
        ]
    finally:
        con.close()
    xes = pm4py.read_xes(str(files["xes"]), return_legacy_log_object=False)
    assert "NaT" not in files["xes"].read_text(encoding="utf-8")
    assert {
        (c, a): (None if pd.isna(s) else s.tz_convert("UTC").strftime("%Y-%m-%d %H:%M:%S"))
        for c, a, s in xes[["case:concept:name", "concept:name", "start_timestamp"]].itertuples(
            index=False
        )
    } == {key: start for key, (_, start) in expected.items()}
    ocel = json.loads(files["ocel"].read_text(encoding="utf-8"))
    starts = sorted(
        a["value"]
        for e in ocel["events"]
        for a in e.get("attributes", [])
        if a["name"] == "start_timestamp"
    )
    assert starts == ["2026-01-05T07:30:00+00:00", "2026-01-07T08:00:00+00:00"]
    # The CSV export reads back into the file source as the same interval log.
    again = duckdb.connect()
    try:
        load_into_warehouse(again, read_event_file(files["csv"]))
        rows = again.execute(
            "SELECT case_id, activity, strftime(\"timestamp\", '%Y-%m-%d %H:%M:%S'), "
            "strftime(started_at, '%Y-%m-%d %H:%M:%S') FROM core.event_log"
        ).fetchall()
    finally:
        again.close()
    assert {(c, a): (t, s) for c, a, t, s in rows} == expected


def test_csv_cells_that_would_run_as_formulas_are_escaped(tmp_path):
    with duckdb.connect() as con:
        _check_formula_escaping(con, tmp_path)


def _check_formula_escaping(con, tmp_path):
    con.execute("CREATE SCHEMA core")
    con.execute("""
        CREATE TABLE core.event_log AS SELECT * FROM (VALUES
            ('e1', 'c1', '=HYPERLINK("http://x","y")', TIMESTAMP '2026-01-01 10:00', NULL::TIMESTAMP, 'u1',
             '+1 555', 'Lead', 'o1', '-2', '@SUM(A1)', 1),
            ('e2', 'c1', 'Quote Created', TIMESTAMP '2026-01-02 10:00', NULL, 'u1', 'Ana Lima', 'Quote', 'o2',
             NULL, 'plain', 2)
        ) AS t(event_id, case_id, activity, "timestamp", started_at, resource_id, resource_name, object_type,
               object_id, old_value, new_value, event_order)""")
    path = export_csv(con, tmp_path / "event_log.csv")
    rows = con.execute(
        f"SELECT activity, resource_name, old_value, new_value FROM read_csv('{path}', all_varchar = true) "
        "ORDER BY event_order"
    ).fetchall()
    assert rows == [
        ('\'=HYPERLINK("http://x","y")', "'+1 555", "'-2", "'@SUM(A1)"),
        ("Quote Created", "Ana Lima", None, "plain"),
    ]
    assert [p.name for p in tmp_path.iterdir()] == ["event_log.csv"]  # no partial file left


def test_unknown_export_format_is_named():
    assert parse_formats(" CSV, xes,csv ") == ("csv", "xes")
    with pytest.raises(ValueError, match="unknown export format 'xlsx'"):
        parse_formats("csv,xlsx")


@pytest.mark.parametrize(
    "touches, edge_table", [(False, "milestone_map_edges"), (True, "process_map_edges")]
)
def test_process_maps_filter_the_edges_and_mark_the_slowest(tables, tmp_path, touches, edge_table):
    frequency = process_map(tables, "frequency", max_edges=25, touches=touches)
    performance = process_map(tables, "performance", max_edges=25, touches=touches)
    assert frequency.edges_shown < frequency.edges_total
    kept = [
        (a, b, h)
        for a, b, h in tables.execute(
            f"SELECT from_activity, to_activity, median_hours FROM reports.{edge_table}"
        ).fetchall()
        if f'"{a}" -> "{b}"' in performance.dot
    ]
    assert len(kept) == performance.edges_shown
    slowest = sorted(kept, key=lambda e: (-e[2], e[0], e[1]))[:5]
    assert [(a, b) for a, b, _ in performance.slowest] == [(a, b) for a, b, _ in slowest]
    # The map stays connected: every activity shown has a way in and a way out.
    for activity in {a for a, _, _ in kept} | {b for _, b, _ in kept}:
        assert (
            any(b == activity for _, b, _ in kept)
            or f'"__start" -> "{activity}"' in performance.dot
        )
        assert (
            any(a == activity for a, _, _ in kept) or f'"{activity}" -> "__end"' in performance.dot
        )
    files = render(performance.dot, tmp_path / "map")
    assert files["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = ET.parse(files["svg"]).getroot()
    red_labels = [
        t.text for t in svg.iter("{http://www.w3.org/2000/svg}text") if t.get("fill") == "#c62828"
    ]
    assert len(red_labels) == len(performance.slowest) == 5
    # The business view: the same edges, the slowest in business hours red, labelled with the
    # table's business medians (hours, never days), under a title naming the clock.
    business = process_map(tables, "business", max_edges=25, touches=touches)
    waits = dict(
        ((a, b), h)
        for a, b, h in tables.execute(
            f"SELECT from_activity, to_activity, median_business_hours FROM reports.{edge_table}"
        ).fetchall()
    )
    kept_pairs = [(a, b) for a, b, _ in kept]
    assert business.edges_shown == performance.edges_shown
    assert all(f'"{a}" -> "{b}"' in business.dot for a, b in kept_pairs)
    slowest_business = sorted(
        (pair for pair in kept_pairs if waits[pair] is not None),
        key=lambda pair: (-waits[pair], *pair),
    )[:5]
    assert [(a, b) for a, b, _ in business.slowest] == slowest_business
    # The other clock: a wait over nights and weekends counts a fraction of its hours.
    assert any(waits[(a, b)] is not None and waits[(a, b)] < 0.75 * h for a, b, h in kept)
    svg = ET.parse(render(business.dot, tmp_path / "business")["svg"]).getroot()
    texts = [(t.text, t.get("fill")) for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    assert BUSINESS_TITLE in [text for text, _ in texts]
    assert sorted(text for text, fill in texts if fill == "#c62828") == sorted(
        business_duration_label(waits[pair]) for pair in slowest_business
    )
    assert not any(text.endswith(" d") for text, _ in texts if text)


def test_html_report_in_headless_chromium_shows_the_tables_figures(truth_warehouse, tmp_path):
    from playwright.sync_api import sync_playwright

    warehouse = tmp_path / "warehouse.duckdb"
    copy_warehouse(truth_warehouse, warehouse)
    con = connect(warehouse)
    try:
        # Two snapshots, so the KPI trend is drawn.
        record_kpi_snapshot(con, date(2026, 11, 26))
        con.execute("UPDATE reports.kpi_summary SET value = value * 1.0")
        record_kpi_snapshot(con, date(2026, 11, 27))
        svg = render(process_map(con, "performance").dot, tmp_path / "map")["svg"]
        business = render(process_map(con, "business").dot, tmp_path / "business")["svg"]
        report = write_report(
            con,
            tmp_path / "report.html",
            {"milestones": svg.read_text(), "milestones_business": business.read_text()},
        )
        expected = {
            f"kpi:{kpi}": value
            for kpi, value in con.execute("SELECT kpi, value FROM reports.kpi_summary").fetchall()
        }
        expected |= {
            f"rep:{rep}:win_rate": value
            for rep, value in con.execute(
                "SELECT sales_rep, win_rate FROM reports.rep_performance"
            ).fetchall()
        }
        expected |= {
            f"funnel:{step}:entered": value
            for step, value in con.execute(
                "SELECT step_order, entered FROM reports.lead_funnel WHERE dimension = 'all'"
            ).fetchall()
        }
        # Business time beside calendar time: the stages, the approvals, the bottlenecks.
        business = {
            f"stage:{stage}:median_business_hours": value
            for stage, value in con.execute(
                "SELECT stage, median_business_hours FROM reports.stage_durations "
                "WHERE dimension = 'all'"
            ).fetchall()
        }
        business |= {
            f"approval:{rep}:median_approval_business_hours": value
            for rep, value in con.execute(
                "SELECT dimension_value, median_approval_business_hours "
                "FROM reports.quote_to_contract WHERE dimension IN ('sales_rep', 'all')"
            ).fetchall()
        }
        for column in ("median_business_hours", "added_business_hours"):
            business |= {
                f"bottleneck:{rank}:{column}": value
                for rank, value in con.execute(
                    f"SELECT bottleneck_rank, {column} FROM reports.bottlenecks "
                    "WHERE bottleneck_rank <= 10"
                ).fetchall()
            }
        bottleneck_medians = dict(
            con.execute(
                "SELECT bottleneck_rank, median_hours FROM reports.bottlenecks "
                "WHERE bottleneck_rank <= 10"
            ).fetchall()
        )
        zone, calendars = con.execute(
            "SELECT any_value(time_zone) FILTER (WHERE is_default), count(DISTINCT calendar_id) "
            "FROM mining.business_hours"
        ).fetchone()
        calendar_cases = dict(
            con.execute(
                "SELECT calendar_name, count(*) FROM mining.case_calendars GROUP BY ALL"
            ).fetchall()
        )
        expected |= {
            f"compliance:{rule}:cases": value
            for rule, value in con.execute(
                "SELECT rule, count(DISTINCT case_id) FROM reports.compliance_violations GROUP BY rule"
            ).fetchall()
        }
    finally:
        con.close()
    problems, requests = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        page.on(
            "console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None
        )
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(report.resolve().as_uri())
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        figures = page.eval_on_selector_all(
            "[data-figure]",
            "els => els.map(e => [e.dataset.figure, e.dataset.value, e.textContent])",
        )
        trends = page.locator("svg.trend").count()
        business_map = page.eval_on_selector_all(
            ".map[data-map='milestones_business'] svg text", "els => els.map(e => e.textContent)"
        )
        title = page.title()
        browser.close()
    assert problems == []
    assert requests == [report.resolve().as_uri()]  # nothing but the file itself: no network
    assert (tmp_path / "report.png").stat().st_size > 50_000
    assert title == "Lead-to-Cash process report"
    assert trends == len([k for k in expected if k.startswith("kpi:")])
    shown = {figure: (value, text.strip()) for figure, value, text in figures}
    assert set(expected) <= set(shown)
    for figure, value in expected.items():
        assert math.isclose(float(shown[figure][0]), value, rel_tol=1e-12), figure
    assert shown["kpi:win_rate"][1] == f"{expected['kpi:win_rate']:.1%}"
    assert shown["kpi:sales_cycle_time"][1] == f"{expected['kpi:sales_cycle_time']:.1f} days"
    # Each business figure is the table's value, shown in hours (never days).
    assert len([v for v in business.values() if v is not None]) >= 20
    assert set(business) <= set(shown)
    for figure, value in business.items():
        raw, text = shown[figure]
        if value is None:
            assert (raw, text) == ("", "—"), figure
            continue
        assert math.isclose(float(raw), value, rel_tol=1e-12), figure
        assert text == f"{value:,.1f} h", figure
    # The business rankings differ from the calendar ones somewhere: the clocks are not alike.
    assert any(
        business[f"bottleneck:{rank}:median_business_hours"] < expected_median * 0.75
        for rank, expected_median in bottleneck_medians.items()
    )
    # One calendar per region, each case in its owner's: the line names them and their cases.
    assert calendars == 4 and shown["business_clock"][0] == zone == "America/New_York"
    line = shown["business_clock"][1]
    assert (
        "4 business calendars, by the case owner's time zone: Default (North America) "
        "Mon-Fri 09:00-17:00 in America/New_York ("
    ) in line
    for name, hours, zone in (
        ("EMEA", "Mon-Fri 09:00-17:30", "Europe/Paris"),
        ("APAC", "Mon-Fri 09:00-18:00", "Asia/Singapore"),
        ("LATAM", "Mon-Fri 08:00-17:00", "America/Sao_Paulo"),
    ):
        assert f"{name} {hours} in {zone} ({calendar_cases[name]:,} cases)" in line
    assert BUSINESS_TITLE in business_map


def test_names_graphviz_cannot_draw_are_drawn_clean_and_short_and_kept_whole(tmp_path):
    from l2c_pipeline.file_source.load import load_into_warehouse, read_event_file
    from l2c_pipeline.mining.discovery import discover_bpmn
    from l2c_pipeline.outputs.process_maps import LABEL_CHARACTERS, render_bpmn
    from l2c_pipeline.pipeline import build_pipeline

    long = "Review " + "x" * 100_000
    rows = [
        f"C{c},{activity},2026-01-0{c + 1} {hour}:00"
        for c in range(3)
        for activity, hour in (
            ("Lead Created", 10),
            ("Ring\x07 bell", 11),
            (long, 12),
            ("\x1b[31mRed", 13),
            ("<b>Approve</b>", 14),  # dot would read it as HTML-like markup
            ("Path C:\\Notes\\N", 15),  # and \N as the node's name
        )
    ]
    log = tmp_path / "log.csv"
    log.write_text("case_id,activity,timestamp\n" + "\n".join(rows) + "\n", encoding="utf-8")
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    try:
        load_into_warehouse(con, read_event_file(log))
        build_pipeline(con, schemas=("mining", "reports"))
        assert long in {
            a for (a,) in con.execute("SELECT DISTINCT activity FROM core.event_log").fetchall()
        }
        model = discover_bpmn(con, tmp_path / "process_model.bpmn")
        drawings = [
            render(process_map(con, view).dot, tmp_path / f"map_{view}")["svg"]
            for view in ("frequency", "performance")
        ]
        drawings.append(render_bpmn(model.path, tmp_path / "model")["svg"])
    finally:
        con.close()
    for svg in drawings:
        texts = [
            t.text or "" for t in ET.parse(svg).getroot().iter("{http://www.w3.org/2000/svg}text")
        ]
        assert "Ring bell" in texts and "[31mRed" in texts
        assert "<b>Approve</b>" in texts and "Path C:\\Notes\\N" in texts
        assert max(len(t) for t in texts) <= LABEL_CHARACTERS
        assert any(t.startswith("Review xxx") and t.endswith("…") for t in texts)
    # The model file keeps the name whole (less what XML cannot hold at all).
    names = {t.get("name") for t in ET.parse(model.path).getroot().iter() if t.tag.endswith("task")}
    assert long in names and "Ring bell" in names


def test_discovering_and_drawing_the_model_leave_no_files_in_the_temporary_folder(
    tmp_path, monkeypatch
):
    """pm4py lays out and draws a BPMN model through files in the system's temporary folder and
    leaves them there: a nightly schedule would pile them up in /tmp."""
    import tempfile

    from l2c_pipeline.file_source.load import load_into_warehouse, read_event_file
    from l2c_pipeline.mining.discovery import discover_bpmn
    from l2c_pipeline.outputs.process_maps import render_bpmn
    from l2c_pipeline.pipeline import build_pipeline

    system_temp = tmp_path / "system-temp"
    system_temp.mkdir()
    log = tmp_path / "log.csv"
    log.write_text(
        "case_id,activity,timestamp\n"
        + "\n".join(
            f"C{c},{activity},2026-01-0{c + 1} {hour}:00"
            for c in range(4)
            for activity, hour in (("Lead Created", 10), ("Review", 11), ("Quote Sent", 12))
            if not (c % 2 and activity == "Review")
        )
        + "\n",
        encoding="utf-8",
    )
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    try:
        load_into_warehouse(con, read_event_file(log))
        build_pipeline(con, schemas=("mining", "reports"))
        monkeypatch.setattr(tempfile, "tempdir", str(system_temp))
        model = discover_bpmn(con, tmp_path / "process_model.bpmn")
        drawings = render_bpmn(model.path, tmp_path / "model")
    finally:
        con.close()
    assert tempfile.tempdir == str(system_temp)
    assert sorted(p.name for p in system_temp.iterdir()) == []
    assert drawings["svg"].read_bytes().startswith(b"<?xml")
    assert drawings["png"].read_bytes().startswith(b"\x89PNG")
    assert model.variants_used == 2 and "Quote Sent" in model.path.read_text(encoding="utf-8")


def test_a_map_is_drawn_again_only_when_its_drawing_changed(tmp_path):
    """A map whose dot source is the one its files were drawn from keeps its files; a changed
    one is drawn again."""
    from l2c_pipeline.outputs.assets import _draw_if_changed
    from l2c_pipeline.outputs.fingerprints import remember

    dot = 'digraph { graph [rankdir=LR]; "Lead Created" -> "Quote Sent" }'
    files, drawing, thumbnail = _draw_if_changed(dot, tmp_path / "map")
    assert drawing and thumbnail.startswith(b"\x89PNG")
    remember(tmp_path, files.values(), drawing)
    written = {path: path.stat().st_mtime_ns for path in files.values()}
    assert _draw_if_changed(dot, tmp_path / "map")[1] is None
    assert {path: path.stat().st_mtime_ns for path in files.values()} == written
    changed = dot.replace("Quote Sent", "Order Placed")
    assert (
        _draw_if_changed(changed, tmp_path / "map")[1]
        == hashlib.sha256(changed.encode()).hexdigest()
    )
    assert "Order Placed" in files["svg"].read_text()


@pytest.fixture(scope="module")
def truths(truth_org) -> dict[str, dict]:
    """The planted truths of the truth org the warehouse was built from, by id."""
    document = json.loads((truth_org / "truths.json").read_text(encoding="utf-8"))
    return {truth["id"]: truth for truth in document["truths"]}


def test_html_report_answers_in_sentences_with_readable_units_at_every_width(
    truth_warehouse, truths, tmp_path
):
    from playwright.sync_api import sync_playwright

    con = connect_read_only(truth_warehouse)
    try:
        maps = {
            name: render(process_map(con, "performance", touches=touches).dot, tmp_path / name)[
                "svg"
            ].read_text()
            for name, touches in (("milestones", False), ("with_touches", True))
        }
        maps["milestones_business"] = render(
            process_map(con, "business").dot, tmp_path / "milestones_business"
        )["svg"].read_text()
        report = write_report(con, tmp_path / "report.html", maps)
    finally:
        con.close()
    widths = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        for width in (390, 1024, 1600):
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.goto(report.resolve().as_uri())
            widths[width] = page.evaluate(
                "[document.documentElement.scrollWidth, window.innerWidth,"
                " Math.max(...[...document.querySelectorAll('.map svg, figure.chart svg')]"
                ".map(e => e.getBoundingClientRect().right))]"
            )
            if width == 1024:
                figures = page.eval_on_selector_all(
                    "[data-figure]",
                    "els => els.map(e => [e.dataset.figure, e.dataset.value, e.textContent])",
                )
                drawn = page.eval_on_selector_all(
                    "figure.chart",
                    "els => els.map(e => [e.dataset.chart, e.dataset.unit,"
                    " e.querySelector('figcaption').textContent,"
                    " e.querySelector('svg > title').textContent,"
                    " [...e.querySelectorAll('svg text')].map(t => t.textContent).join(' ')])",
                )
                sections = page.eval_on_selector_all(
                    "main > section[id]", "els => els.map(e => e.id)"
                )
                page_text = page.inner_text("body")
                map_texts = page.eval_on_selector_all(
                    ".map[data-map]",
                    "els => Object.fromEntries(els.map(e => [e.dataset.map,"
                    " [...e.querySelectorAll('svg text')].map(t => t.textContent)]))",
                )
            page.close()
        browser.close()
    for width, (scroll_width, inner_width, drawing_right) in widths.items():
        assert scroll_width <= inner_width, width  # the page never scrolls sideways
        assert drawing_right <= inner_width, width  # the map and every chart fit the page
    # The eleven questions in order, each answered in a sentence and drawn.
    from l2c_pipeline.outputs.html_report import QUESTIONS

    questions = [section for section in sections if section in dict(QUESTIONS)]
    assert questions == [section for section, _ in QUESTIONS]
    # Every chart has a title, and its unit in the caption and on an axis.
    assert len(drawn) >= 15
    for chart, unit, caption, title, svg_text in drawn:
        assert caption == f"{title} ({unit})" and len(title) > 10, chart
        if chart != "kpi_trends":  # each panel of the trends names its own unit
            assert all(part.split(": ")[-1] in svg_text for part in unit.split(" · ")), chart
    shown = {figure: (value, text.strip()) for figure, value, text in figures}
    # The milestone map first, the map with the sales touches folded below it.
    assert "Stage: Needs Analysis" in map_texts["milestones"]
    assert "Call" not in map_texts["milestones"] and "Call" in map_texts["with_touches"]
    assert shown["answer:slowest_transitions"][1].startswith("In red, the slowest transitions")
    # Every planted truth's subject is named where the report answers in words.
    sentences = " ".join(
        text for figure, (_, text) in shown.items() if figure.startswith(("answer:", "root_cause:"))
    )
    for truth in truths.values():
        assert truth["subject"]["value"] in sentences, truth["id"]
    source = truths["low_converting_lead_source"]["subject"]["value"]
    rep = truths["slow_discount_approvals"]["subject"]["value"]
    assert shown["answer:lead_source"][1].startswith(f"{source} leads convert least: ")
    assert f"Discount approvals wait longest on {rep}'s deals" in shown["answer:approval_wait"][1]
    assert shown["answer:journeys"][1].startswith("The most common path, ")
    # Waits over two days read in days, shorter ones in hours; no "n/a" anywhere.
    waits = [
        (float(value), text)
        for figure, (value, text) in shown.items()
        if figure.endswith("_hours") and "business" not in figure and value
    ]
    assert any(hours > 48 for hours, _ in waits) and any(hours <= 48 for hours, _ in waits)
    for hours, text in waits:
        expected = f"{hours / 24:,.1f} days" if hours > 48 else f"{hours:,.1f} h"
        assert text == expected, (hours, text)
    # Business hours stay hours however many (a business day is the org's own length).
    business = [
        (float(value), text)
        for figure, (value, text) in shown.items()
        if figure.endswith("_business_hours") and value
    ]
    assert any(hours > 48 for hours, _ in business)
    for hours, text in business:
        assert text == f"{hours:,.1f} h", (hours, text)
    assert "n/a" not in page_text
    assert "Revenue given away (org currency)" in page_text


def test_report_sentences_say_why_when_the_tables_hold_nothing_to_answer_from():
    from l2c_pipeline.outputs.answers import (
        approval_answer,
        duration,
        journey_answer,
        lead_source_answer,
        points,
        share,
    )

    assert lead_source_answer([]).startswith("No conversion by lead source: ")
    one_source = [{"dimension_value": "Web", "entered": 10, "converted": 2, "conversion_rate": 0.2}]
    assert "one source only (Web)" in lead_source_answer(one_source)
    # No group is named on fewer than 20 cases, not even the least converting of small ones.
    small = [
        {
            "dimension_value": name,
            "entered": 12,
            "converted": converted,
            "conversion_rate": converted / 12,
        }
        for name, converted in (("Web", 2), ("Partner", 6))
    ]
    assert lead_source_answer(small).startswith("No lead source singled out: none has 20 or more")
    assert approval_answer(None, []).startswith("No quote-to-contract figures: no case has a quote")
    overall = {"median_quote_to_contract_days": None}
    assert approval_answer(overall, []) == (
        "No quoted case has reached a signed contract yet. No discount-approval waits: no approval "
        "was decided (the org records no approval processes, or no discount needed one)."
    )
    few = [{"dimension_value": "Ana", "approvals": 3, "approval_hours_vs_rest": 2.0}]
    assert "too few to compare" in approval_answer(overall, few)
    assert (
        journey_answer([], []) == "No customer journeys: the event log holds no milestone events."
    )
    assert (duration(None), share(None), points(None)) == ("—", "—", "—")
    assert (duration(0.5), duration(48), duration(505.5)) == ("0.5 h", "48.0 h", "21.1 days")
    assert points(-0.123) == "-12.3 pp"


class _Sentences(HTMLParser):
    """The text of the report's elements whose data-figure starts with one of `prefixes`."""

    def __init__(self, prefixes: tuple[str, ...]) -> None:
        super().__init__()
        self.prefixes, self.texts, self._open = prefixes, {}, []

    def handle_starttag(self, tag, attrs):
        figure = dict(attrs).get("data-figure") or ""
        self._open.append(figure if figure.startswith(self.prefixes) else None)
        if self._open[-1]:
            self.texts[figure] = ""

    def handle_endtag(self, tag):
        if self._open:
            self._open.pop()

    def handle_data(self, data):
        for figure in filter(None, self._open):
            self.texts[figure] += data


@pytest.mark.parametrize("shape", ["standard", "custom"])
def test_every_shapes_report_names_its_planted_truths_in_sentences(
    truth_orgs, truth_warehouses, shape, tmp_path
):
    """The report's sentences and root causes name the subject of every truth planted in the
    shape's org (the Chromium test above does the same for the main shape); where the shape's
    records cannot answer a question, its sentence says so instead of showing a figure."""
    con = connect_read_only(truth_warehouses(shape))
    try:
        page = write_report(con, tmp_path / "report.html").read_text(encoding="utf-8")
        has_invoices = con.execute("SELECT count(*) FROM reports.payment_behavior").fetchone()[0]
    finally:
        con.close()
    parser = _Sentences(("answer:", "root_cause:"))
    parser.feed(page)
    sentences = " ".join(parser.texts.values())
    truths = json.loads((truth_orgs(shape) / "truths.json").read_text(encoding="utf-8"))["truths"]
    assert truths
    for truth in truths:
        assert truth["subject"]["value"] in sentences, (shape, truth["id"])
    assert "n/a" not in page and "None" not in sentences
    if not has_invoices:
        assert parser.texts["answer:payments"].startswith("No payment figures: ")


def test_exports_are_written_again_only_when_the_event_log_changed(truth_warehouse, tmp_path):
    from l2c_pipeline.outputs.exports import export_changed

    warehouse = tmp_path / "warehouse.duckdb"
    copy_warehouse(truth_warehouse, warehouse)
    folder = tmp_path / "outputs"
    con = connect(warehouse)
    try:
        files, kept = export_changed(con, folder, ("csv", "parquet"))
        assert kept == []
        written = {fmt: path.stat().st_mtime_ns for fmt, path in files.items()}
        # The same tables in another order: nothing to write.
        con.execute("CREATE TABLE core.shuffled AS SELECT * FROM core.event_log ORDER BY random()")
        con.execute("DROP TABLE core.event_log")
        con.execute("ALTER TABLE core.shuffled RENAME TO event_log")
        files, kept = export_changed(con, folder, ("csv", "parquet"))
        assert kept == ["csv", "parquet"]
        assert {fmt: path.stat().st_mtime_ns for fmt, path in files.items()} == written
        # A file changed by hand is written again; so is every file after one event changes.
        (folder / "event_log.csv").write_text("case_id\n", encoding="utf-8")
        assert export_changed(con, folder, ("csv", "parquet"))[1] == ["parquet"]
        con.execute(
            "UPDATE core.event_log SET activity = 'Renamed' "
            "WHERE event_id = (SELECT min(event_id) FROM core.event_log)"
        )
        files, kept = export_changed(con, folder, ("csv", "parquet"))
        assert kept == []
        renamed = con.execute(
            "SELECT count(*) FROM read_parquet(?) WHERE activity = 'Renamed'",
            [str(files["parquet"])],
        ).fetchone()[0]
        assert renamed == 1
        # Pairs of identical rows cancel out of an XOR of row hashes, not out of the fingerprint.
        from l2c_pipeline.outputs.fingerprints import tables_fingerprint

        con.execute("CREATE TABLE pairs AS SELECT * FROM (VALUES ('a'), ('b'), ('b')) AS t(x)")
        before = tables_fingerprint(con, ["pairs"])
        xor = con.execute("SELECT bit_xor(hash(t)) FROM pairs AS t").fetchone()[0]
        con.execute("UPDATE pairs SET x = 'c' WHERE x = 'b'")
        assert con.execute("SELECT bit_xor(hash(t)) FROM pairs AS t").fetchone()[0] == xor
        assert tables_fingerprint(con, ["pairs"]) != before
    finally:
        con.close()


@pytest.mark.parametrize(
    "log", ["running-example.xes", "receipt.csv", "reviewing.xes", "interval_event_log.csv"]
)
def test_the_report_answers_from_public_logs_without_salesforce_objects(log, tmp_path):
    """A public log has none of the Lead-to-Cash objects: each question's sentence says what
    the log lacks (or answers from what it has), with no figure left as None."""
    from l2c_pipeline.file_source.load import load_into_warehouse, read_event_file
    from l2c_pipeline.pipeline import build_pipeline

    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    try:
        load_into_warehouse(con, read_event_file(Path(__file__).parent / "data" / log))
        build_pipeline(con, schemas=("mining", "reports"))
        page = write_report(con, tmp_path / "report.html").read_text(encoding="utf-8")
        cases = con.execute("SELECT count(*) FROM mining.case_variants").fetchone()[0]
    finally:
        con.close()
    parser = _Sentences(("answer:",))
    parser.feed(page)
    assert {f"answer:{name}" for name in ("sales_cycle", "funnel", "payments", "variation")} <= set(
        parser.texts
    )
    assert "None" not in " ".join(parser.texts.values()) and "n/a" not in page
    # Nor in a table: no rep's team, no orders to divide by.
    assert ">None<" not in page and "nan%" not in page and 'data-value="nan"' not in page
    assert parser.texts["answer:variation"].startswith(f"{cases:,} cases run through")
    # None of these logs' activities is on the target process's path: nothing to judge.
    assert "conformance is not judged" in parser.texts["answer:variation"]
    assert parser.texts["answer:payments"].startswith("No payment figures: ")


@pytest.mark.parametrize("bars", [1, 2, 12])
@pytest.mark.parametrize("label", ["Software", "a product family whose name wraps over lines " * 2])
def test_a_bar_chart_of_any_length_lays_out_without_a_warning(bars, label):
    import warnings

    from l2c_pipeline.outputs.charts import PERCENT, Bar, bar_chart

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns when the labels do not fit
        drawn = bar_chart(
            "rework",
            "Rework",
            [Bar(f"{label} {i}", 0.3) for i in range(bars)],
            PERCENT,
            reference=0.2,
            reference_label="all",
        )
    assert drawn.count("<svg") == 1


@pytest.mark.parametrize("nights", [2, 3, 5, 30, 400])
def test_a_trend_of_any_length_draws_its_dates_without_a_warning(nights):
    import warnings
    from datetime import date, timedelta

    from l2c_pipeline.outputs.charts import PERCENT, trend_chart

    points = [(date(2026, 1, 1) + timedelta(days=n), 0.1 + n / 1000) for n in range(nights)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns when it cannot place the date ticks
        drawn = trend_chart("kpis", "KPIs", [("win rate", points, PERCENT)])
    assert drawn.count("<svg") == 1


def test_a_percent_axis_tells_its_ticks_apart_and_bars_show_a_tenth_of_a_percent():
    """Thirty variants of 3.3% each drew an axis reading 0% 0% 1% 1% 2%... and bars of '3%'."""
    import re

    from l2c_pipeline.outputs.charts import PERCENT, Bar, bar_chart

    drawn = bar_chart(
        "variants", "Variants", [Bar(f"#{i}", 1 / 30, False) for i in range(30)], PERCENT
    )
    texts = re.findall(r">([^<>]*%)<", drawn)
    ticks = [t for t in texts if not t.startswith(" ") and t != "share, %"]
    assert len(ticks) >= 3 and len(set(ticks)) == len(ticks), ticks
    assert ticks[:2] == ["0.0%", "0.5%"]
    assert [t.strip() for t in texts if t.startswith(" ")] == ["3.3%"] * 30


def test_a_rep_without_a_team_reads_as_such_not_as_none():
    from l2c_pipeline.outputs.answers import rep_answer

    reps = [
        {"sales_rep": "Alice", "team": None, "closed": 30, "win_rate": 0.5},
        {"sales_rep": "Bo", "team": "EMEA", "closed": 25, "win_rate": 0.4},
    ]
    reps = [{**r, "win_rate_gap_to_best": None} for r in reps]
    sentence = rep_answer(reps)
    assert sentence.startswith("Alice (no team) wins most: 50.0% of 30 closed deals.")
    assert "None" not in sentence
