"""`l2c explore` in a real headless Chromium on a small demo org: every filter kind's map counted
against SQL of its own on core.event_log, a case's timeline, two segments compared, a shared
address reloaded, malicious values refused, a new analytics file picked up while the app is
open, and the token off the loopback. The filter -> SQL layer is tested as pure functions."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from datetime import date
from pathlib import Path
from urllib.parse import urlencode

import duckdb
import pytest

from l2c_pipeline.demo_org.generator import generate
from l2c_pipeline.explore import filters as flt
from l2c_pipeline.explore.app import Explorer, make_app, parse_state
from l2c_pipeline.explore.source import AnalyticsSource
from l2c_pipeline.warehouse.publish import publish_analytics

from .conftest import MAIN_SHAPE
from .test_event_log import extract_and_build
from .test_outputs import CHROMIUM

LEADS = 400


# ---------------------------------------------------------------- pure: filters -> SQL

NASTY = "x'); DROP TABLE core.event_log; --"


def test_every_filter_value_is_a_bound_parameter_never_sql_text():
    filters = flt.Filters(
        timeframe_mode="contained",
        timeframe_from=date(2025, 1, 1),
        timeframe_to=date(2025, 6, 30),
        coverage=80,
        variants=("0123456789abcdef",),
        cycle_min_days=1.5,
        cycle_max_days=90,
        starts=(NASTY,),
        ends=(NASTY + "2",),
        attributes=(("region", NASTY + "3"), ("region", "EMEA"), (NASTY + "4", "x")),
        follower=flt.Follower(NASTY + "5", NASTY + "6", "eventually", 48, True),
        conformance="rule:" + NASTY + "7",
    )
    sql, params = flt.case_sql(filters)
    assert "'" not in sql and "DROP" not in sql and "EMEA" not in sql
    assert sql.count("?") == len(params)
    assert NASTY in params and NASTY + "7" in params and 48 * 3600 in params
    # Each value of one attribute ORed, attributes ANDed; the follower negated.
    assert sql.count("v.dimension = ?") == 2 and "NOT IN (SELECT k.case_idx" in sql
    # The SQL text depends only on which filters are set, not on their values.
    other = flt.Filters(**{**filters.__dict__, "starts": ("Lead Created",), "extra": {}})
    assert flt.case_sql(other)[0] == sql


@pytest.mark.parametrize(
    "items, message",
    [
        ([("nonsense", "1")], "unknown parameter 'nonsense'"),
        # A long value is bounded by the address's limit (the app's), not here; it is shown cut.
        ([("attr", "x" * 100_000)], f"attr must be dimension:value, got {'x' * 60!r}"),
        ([("attr", "region")], "attr must be dimension:value"),
        ([("tf_from", "2025-13-01")], "tf_from must be a day as YYYY-MM-DD"),
        ([("tf_from", "2025-05-01"), ("tf_to", "2025-01-01")], "is before"),
        ([("tf_mode", "sometimes"), ("tf_from", "2025-01-01")], "tf_mode must be one of"),
        ([("cov", "0")], "cov must be more than 0"),
        ([("cov", "101")], "at most 100"),
        ([("cyc_min", "nan")], "cyc_min must be a number"),
        ([("cyc_min", "5"), ("cyc_max", "1")], "is below"),
        ([("variant", "'; SELECT 1")], "variant must be a variant's 16-character key"),
        ([("fol_a", "A")], "needs both fol_a and fol_b"),
        ([("fol_a", "A"), ("fol_b", "B"), ("fol_mode", "soon")], "fol_mode must be one of"),
        ([("conf", "maybe")], "conf must be conformant, nonconformant or rule:<rule>"),
        ([("cov", "10"), ("cov", "20")], "cov is given 2 times"),
    ],
)
def test_malformed_filters_are_refused_in_one_line(items, message):
    with pytest.raises(flt.FilterError) as error:
        flt.parse(items)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_filters_round_trip_through_the_address_and_chips_remove_one_each():
    items = [
        ("tf_mode", "started"),
        ("tf_from", "2025-01-01"),
        ("cov", "80"),
        ("cyc_max", "30"),
        ("start", "Lead Created"),
        ("attr", "region:EMEA"),
        ("attr", "region:APAC"),
        ("attr", "team:a:b"),  # a value may hold a colon
        ("fol_a", "Quote Created"),
        ("fol_b", "Contract Signed"),
        ("fol_mode", "directly"),
        ("fol_within", "72"),
        ("conf", "nonconformant"),
    ]
    parsed = flt.parse(items)
    assert parsed.attributes == (("region", "EMEA"), ("region", "APAC"), ("team", "a:b"))
    assert flt.parse(flt.to_params(parsed)) == parsed
    assert flt.parse(flt.to_params(parsed, "b_"), "b_") == parsed
    chips = parsed.chips()
    assert len(chips) == 9
    for _, _, (parameter, value) in chips:
        less = flt.without(parsed, parameter, value)
        assert len(less.chips()) == 8
    # Empty form fields are no filter (the page's form sends them without its script).
    empty = flt.parse([("tf_mode", "intersecting"), ("tf_from", ""), ("cov", ""), ("fol_not", "0")])
    assert empty.empty


# ---------------------------------------------------------------- the app on a demo org


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    folder = tmp_path_factory.mktemp("explore")
    generate(folder / "org", leads=LEADS, seed=7, shape=MAIN_SHAPE, workers=1)
    con, _ = extract_and_build(folder / "org", folder / "warehouse.duckdb")
    publish_analytics(con, folder / "analytics.duckdb")
    yield folder / "analytics.duckdb", con
    con.close()


def _serve(explorer):
    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(
            explorer,
            host="127.0.0.1",
            port=0,
            log_level="warning",
            http="h11",
            h11_max_incomplete_event_size=256 * 1024,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the explorer did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, thread, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def app(published):
    explorer = make_app(published[0])
    server, thread, base = _serve(explorer)
    yield base, explorer
    server.should_exit = True
    thread.join(10)
    explorer.source.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, app):
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    page = context.new_page()
    problems, requests = [], []
    page.on("pageerror", lambda e: problems.append(str(e)))
    # (a 400 answer is logged as a failed load: the tests of bad parameters ask for them)
    page.on(
        "console",
        lambda m: (
            problems.append(m.text) if m.type == "error" and "status of 400" not in m.text else None
        ),
    )
    page.on("request", lambda r: requests.append(r.url))
    yield page
    context.close()
    assert problems == []
    assert all(url.startswith(app[0]) for url in requests), "the page reached outside the app"


def sql(published, query: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(published[0]), read_only=True) as con:
        return con.execute(query, params or []).fetchall()


def shown_map(page, which: str = "#map") -> dict:
    data = json.loads(page.locator(f"{which} .map-data").text_content())
    return {
        "edges": {(e["from_activity"], e["to_activity"]): e["transitions"] for e in data["edges"]},
        "nodes": {
            n["activity"]: (n["events"], n["start_cases"], n["end_cases"]) for n in data["nodes"]
        },
    }


def expected_map(published, cases_sql: str, params: list, touches: bool) -> dict:
    """The directly-follows graph of the cases `cases_sql` selects, from core.event_log alone
    (a window, not the pipeline's tables): without the sales touches unless `touches`."""
    keep = "" if touches else "WHERE coalesce(c.family, '') <> 'touch'"
    base = f"""
        WITH chosen AS ({cases_sql}),
        e AS (
            SELECT e.case_id, e.activity, e.event_order FROM core.event_log AS e
            LEFT JOIN core.activity_catalogue AS c USING (activity) {keep}
        ),
        n AS (
            SELECT case_id, activity,
                   lead(activity) OVER (PARTITION BY case_id ORDER BY event_order) AS next_activity,
                   row_number() OVER (PARTITION BY case_id ORDER BY event_order) AS step
            FROM e WHERE case_id IN (SELECT case_id FROM chosen)
        )
    """
    edges = sql(
        published,
        base
        + "SELECT activity, next_activity, count(*) FROM n WHERE next_activity IS NOT NULL GROUP BY ALL",
        params,
    )
    nodes = sql(
        published,
        base + "SELECT activity, count(*), count(*) FILTER (WHERE step = 1), "
        "count(*) FILTER (WHERE next_activity IS NULL) FROM n GROUP BY ALL",
        params,
    )
    return {
        "edges": {(a, b): n for a, b, n in edges},
        "nodes": {a: (n, s, x) for a, n, s, x in nodes},
    }


SPANS = (
    "SELECT case_id, min(timestamp) AS s, max(timestamp) AS e FROM core.event_log GROUP BY case_id"
)
TRACES = (
    "SELECT case_id, substr(md5(array_to_string(list(activity ORDER BY event_order), chr(31))), 1, 16) "
    "AS key FROM core.event_log GROUP BY case_id"
)
# Each filter kind: its address parameters and SQL of its own selecting the same cases.
FILTER_CASES = {
    "timeframe started": (
        [("tf_mode", "started"), ("tf_from", "2025-03-01"), ("tf_to", "2025-08-31")],
        f"SELECT case_id FROM ({SPANS}) WHERE s >= '2025-03-01' AND s < '2025-09-01'",
    ),
    "timeframe ended": (
        [("tf_mode", "ended"), ("tf_from", "2025-03-01"), ("tf_to", "2025-08-31")],
        f"SELECT case_id FROM ({SPANS}) WHERE e >= '2025-03-01' AND e < '2025-09-01'",
    ),
    "timeframe contained": (
        [("tf_mode", "contained"), ("tf_from", "2025-03-01"), ("tf_to", "2025-08-31")],
        f"SELECT case_id FROM ({SPANS}) WHERE s >= '2025-03-01' AND e < '2025-09-01'",
    ),
    "timeframe intersecting": (
        [("tf_mode", "intersecting"), ("tf_from", "2025-03-01"), ("tf_to", "2025-08-31")],
        f"SELECT case_id FROM ({SPANS}) WHERE e >= '2025-03-01' AND s < '2025-09-01'",
    ),
    "variation": (
        [("cov", "40")],
        f"""WITH t AS ({TRACES}), v AS (SELECT key, count(*) AS n FROM t GROUP BY key),
            r AS (SELECT key, coalesce(sum(n) OVER (ORDER BY n DESC, key ROWS BETWEEN UNBOUNDED
                  PRECEDING AND 1 PRECEDING), 0) / sum(n) OVER () AS before FROM v)
            SELECT case_id FROM t JOIN r USING (key) WHERE before < 0.4""",
    ),
    "performance": (
        [("cyc_min", "5"), ("cyc_max", "40")],
        f"SELECT case_id FROM ({SPANS}) WHERE epoch(e - s) BETWEEN 5 * 86400 AND 40 * 86400",
    ),
    "endpoints": (
        [("start", "Lead Created"), ("end", "Lead Disqualified"), ("end", "Payment Received")],
        """SELECT case_id FROM core.event_log GROUP BY case_id
           HAVING arg_min(activity, event_order) = 'Lead Created'
              AND arg_max(activity, event_order) IN ('Lead Disqualified', 'Payment Received')""",
    ),
    "attributes": (
        [("attr", "region:EMEA"), ("attr", "region:APAC"), ("attr", "outcome:won")],
        "SELECT case_id FROM core.cases WHERE region IN ('EMEA', 'APAC') AND is_won",
    ),
    "follower eventually within": (
        [("fol_a", "Quote Created"), ("fol_b", "Contract Signed"), ("fol_within", "720")],
        """SELECT DISTINCT a.case_id FROM core.event_log a JOIN core.event_log b
           ON a.case_id = b.case_id AND b.event_order > a.event_order
           WHERE a.activity = 'Quote Created' AND b.activity = 'Contract Signed'
             AND coalesce(b.started_at, b.timestamp) <= a.timestamp + INTERVAL 720 HOUR""",
    ),
    "follower not directly": (
        [("fol_a", "Lead Created"), ("fol_b", "Call"), ("fol_mode", "directly"), ("fol_not", "1")],
        """SELECT case_id FROM core.event_log EXCEPT SELECT a.case_id FROM core.event_log a
           JOIN core.event_log b ON a.case_id = b.case_id AND b.event_order = a.event_order + 1
           WHERE a.activity = 'Lead Created' AND b.activity = 'Call'""",
    ),
    "conformance": (
        [("conf", "nonconformant")],
        "SELECT case_id FROM mining.case_conformance WHERE NOT is_conformant",
    ),
    "conformance rule": (
        [("conf", "rule:max_occurrences")],
        "SELECT DISTINCT case_id FROM reports.compliance_violations WHERE rule = 'max_occurrences'",
    ),
}


@pytest.mark.parametrize("kind", FILTER_CASES)
def test_each_filter_kinds_map_counts_what_sql_on_the_event_log_counts(page, app, published, kind):
    params, cases_sql = FILTER_CASES[kind]
    touches = kind.startswith(("follower", "endpoints"))
    view = [("view", "map"), ("touches", "1")] if touches else [("view", "map")]
    page.goto(app[0] + "/?" + urlencode(view + params))
    expected_cases = sql(published, f"SELECT count(*) FROM ({cases_sql})")[0][0]
    assert 0 < expected_cases < sql(published, "SELECT count(*) FROM core.cases")[0][0]
    assert int(page.locator("#cases-selected").get_attribute("data-value")) == expected_cases
    assert page.locator("#map svg").count() == 1
    assert shown_map(page) == expected_map(published, cases_sql, [], touches)
    assert page.locator(".chip").count() >= 1


def test_unfiltered_map_is_the_report_tables_and_filtering_by_hand_in_the_form_works(
    page, app, published
):
    page.goto(app[0] + "/")
    shown = shown_map(page)
    assert shown["edges"] == dict(
        ((a, b), n)
        for a, b, n in sql(
            published,
            "SELECT from_activity, to_activity, transitions FROM reports.milestone_map_edges",
        )
    )
    assert page.locator(".chip").count() == 0
    # The form: an attribute and the performance view, chosen as a person would.
    page.click("#filter-panel summary")
    page.select_option('fieldset[data-set="a"] select[data-dimension="region"]', "region:EMEA")
    page.click("#apply")
    page.wait_for_url("**attr=region*")
    page.check('input[name="kind"][value="performance"]')
    page.wait_for_url("**kind=performance*")
    emea = "SELECT case_id FROM core.cases WHERE region = 'EMEA'"
    assert shown_map(page) == expected_map(published, emea, [], False)
    assert page.locator(".chip").all_text_contents() == ["region: EMEA ×"]
    assert "&tf_from=" not in page.url and "cov=" not in page.url  # empty fields left out
    # The chip's × removes the filter.
    page.click(".chip .remove")
    page.wait_for_load_state()
    assert page.locator(".chip").count() == 0
    assert shown_map(page)["edges"] == shown["edges"]


@pytest.mark.parametrize("touches", [False, True])
def test_a_filter_keeping_every_case_draws_the_report_tables_figures(page, app, published, touches):
    """The filtered map's own SQL (each case's paths and waits) counts what the report tables
    count, median waits included."""
    page.goto(app[0] + f"/?view=map&kind=performance&cyc_min=0&touches={int(touches)}")
    assert page.locator(".chip").count() == 1
    data = json.loads(page.locator("#map .map-data").text_content())
    edges, nodes = (
        ("reports.process_map_edges", "reports.process_map_nodes")
        if touches
        else ("reports.milestone_map_edges", "reports.milestone_map_nodes")
    )
    expected = sql(
        published, f"SELECT from_activity, to_activity, transitions, median_hours FROM {edges}"
    )
    shown = {
        (e["from_activity"], e["to_activity"]): (e["transitions"], e["median_hours"])
        for e in data["edges"]
    }
    assert shown.keys() == {(a, b) for a, b, _, _ in expected}
    for a, b, transitions, hours in expected:
        assert shown[(a, b)][0] == transitions
        assert shown[(a, b)][1] == pytest.approx(hours, rel=1e-9)
    assert {
        n["activity"]: (n["events"], n["start_cases"], n["end_cases"]) for n in data["nodes"]
    } == {
        a: (e, s, x)
        for a, e, s, x in sql(
            published, f"SELECT activity, events, start_cases, end_cases FROM {nodes}"
        )
    }


def test_sliders_keep_the_most_frequent_activities_and_paths(page, app, published):
    page.goto(app[0] + "/?view=map&touches=1&acts=8&paths=5")
    shown = shown_map(page)
    top = sql(
        published,
        "SELECT activity FROM core.event_log GROUP BY 1 ORDER BY count(*) DESC, activity LIMIT 8",
    )
    assert set(shown["nodes"]) == {a for (a,) in top}
    assert all(a in shown["nodes"] and b in shown["nodes"] for a, b in shown["edges"])
    info = page.locator(".mapinfo").text_content()
    assert info.startswith("8 of ") and "paths drawn" in info


def test_a_variant_clicked_filters_the_map_to_its_cases(page, app, published):
    page.goto(app[0] + "/?view=variants")
    first = page.locator("#variants tr[data-key]").first
    key, cases = first.get_attribute("data-key"), int(first.get_attribute("data-cases"))
    assert cases == sql(published, "SELECT max(cases) FROM mining.variant_paths")[0][0]
    first.locator("a.pick").click()
    page.wait_for_url(f"**variant={key}*")
    assert int(page.locator("#cases-selected").get_attribute("data-value")) == cases
    chosen = f"SELECT case_id FROM ({TRACES}) WHERE key = '{key}'"
    assert shown_map(page) == expected_map(published, chosen, [], False)


def test_statistics_count_the_filtered_cases(page, app, published):
    page.goto(app[0] + "/?view=stats&attr=outcome:lost")
    lost = "SELECT case_id FROM core.cases WHERE is_closed AND NOT is_won AND case_type = 'opportunity'"
    events = dict(
        sql(
            published,
            f"SELECT activity, count(*) FROM core.event_log WHERE case_id IN ({lost}) GROUP BY 1",
        )
    )
    rows = page.locator("#activities tr[data-activity]")
    shown = {
        rows.nth(i).get_attribute("data-activity"): int(rows.nth(i).get_attribute("data-events"))
        for i in range(rows.count())
    }
    assert shown == events
    assert float(page.locator('[data-kpi="win_rate"]').get_attribute("data-value")) == 0.0
    durations = sum(
        int(c)
        for c in page.locator("#durations [data-cases]").evaluate_all(
            "els => els.map(e => e.dataset.cases)"
        )
    )
    assert durations == sql(published, f"SELECT count(*) FROM ({lost})")[0][0]


def test_a_case_opens_as_its_timeline_with_its_attributes(page, app, published):
    page.goto(app[0] + "/?view=cases&sort=-events&attr=outcome:won")
    link = page.locator("a.case").first
    case_id = link.text_content()
    link.click()
    page.wait_for_url("**view=case*")
    events = sql(
        published,
        "SELECT activity FROM core.event_log WHERE case_id = ? ORDER BY event_order",
        [case_id],
    )
    assert (
        events[0][0]
        and len(events)
        == sql(
            published,
            "SELECT max(events) FROM core.cases WHERE is_won",
        )[0][0]
    )
    shown = page.locator("#timeline li").evaluate_all("els => els.map(e => e.dataset.activity)")
    assert shown == [a for (a,) in events]
    rep = sql(published, "SELECT sales_rep FROM core.cases WHERE case_id = ?", [case_id])[0][0]
    assert rep in page.locator("#attributes").text_content()
    assert page.locator("#case-title").text_content() == f"Case {case_id}"


def test_two_segments_side_by_side(page, app, published):
    page.goto(
        app[0]
        + "/?"
        + urlencode([("view", "compare"), ("attr", "region:EMEA"), ("b_attr", "region:APAC")])
    )
    for which, region in (("kpi", "EMEA"), ("kpi-b", "APAC")):
        cases, won = sql(
            published,
            "SELECT count(*), count(*) FILTER (WHERE is_won) FROM core.cases "
            "WHERE region = ? AND events > 0",
            [region],
        )[0]
        assert int(page.locator(f'[data-{which}="cases"]').get_attribute("data-value")) == cases
        assert int(page.locator(f'[data-{which}="won"]').get_attribute("data-value")) == won
    a, b = shown_map(page, "#map"), shown_map(page, "#map-b")
    assert a == expected_map(
        published, "SELECT case_id FROM core.cases WHERE region = 'EMEA'", [], False
    )
    assert b == expected_map(
        published, "SELECT case_id FROM core.cases WHERE region = 'APAC'", [], False
    )
    rows = page.locator("#differences tr").filter(has=page.locator("[data-a]"))
    assert rows.count() > 5
    first = rows.first.locator("td").all_text_contents()
    assert int(rows.first.locator("[data-a]").get_attribute("data-a")) == a["edges"].get(
        (first[0], first[1]), 0
    )
    assert int(rows.first.locator("[data-b]").get_attribute("data-b")) == b["edges"].get(
        (first[0], first[1]), 0
    )
    assert [c.split(":")[0] for c in page.locator(".chip").all_text_contents()] == [
        "region",
        "region",
    ]


def test_a_shared_address_reloads_the_same_view(browser, page, app):
    page.goto(
        app[0]
        + "/?"
        + urlencode(
            [
                ("view", "map"),
                ("kind", "performance"),
                ("touches", "1"),
                ("paths", "12"),
                ("attr", "team:EMEA Commercial"),
                ("cyc_min", "2"),
                ("conf", "conformant"),
            ]
        )
    )
    shared = page.url
    before = (
        shown_map(page),
        page.locator("#map svg").inner_html(),
        page.locator(".chip").all_text_contents(),
    )
    other = browser.new_page()
    other.goto(shared)
    after = (
        shown_map(other),
        other.locator("#map svg").inner_html(),
        other.locator(".chip").all_text_contents(),
    )
    assert other.locator('input[name="kind"][value="performance"]').is_checked()
    assert other.locator('input[name="touches"]').is_checked()
    other.close()
    assert after == before and len(before[2]) == 3


def test_questions_are_each_one_click_away(page, app):
    page.goto(app[0] + "/?view=questions")
    items = page.locator("#questions li")
    assert items.count() == 11
    assert all(items.nth(i).locator(".answer").count() >= 1 for i in range(11))
    page.locator('[data-question="compliance"] h3 a').click()
    page.wait_for_url("**conf=nonconformant*")
    assert page.locator("#map svg").count() == 1
    page.goto(app[0] + "/?view=questions&attr=region:EMEA")
    assert "filtered cases" in page.locator("main").text_content()


def test_the_filtered_log_exports_as_csv_and_xes(page, app, published):
    page.goto(app[0] + "/?attr=region:EMEA")
    emea = "SELECT case_id FROM core.cases WHERE region = 'EMEA'"
    events = sql(published, f"SELECT count(*) FROM core.event_log WHERE case_id IN ({emea})")[0][0]
    with page.expect_download() as download:
        page.click("#export-csv")
    lines = Path(download.value.path()).read_text(encoding="utf-8").splitlines()
    assert len(lines) == events + 1 and lines[0].startswith("event_id,case_id,activity")
    with page.expect_download() as download:
        page.click("#export-xes")
    root = ET.parse(download.value.path()).getroot()
    assert len(root.findall(".//{http://www.xes-standard.org/}event")) == events


def _get(url: str, headers: dict | None = None) -> tuple[int, str, dict]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), dict(error.headers)


@pytest.mark.parametrize(
    "params, message",
    [
        ([("attr", "region:EMEA' OR '1'='1")], "no case has 'region' = \"EMEA' OR '1'='1\""),
        ([("attr", "region'; DROP TABLE core.event_log; --:x")], "the cases have no attribute"),
        ([("start", "Lead Created' UNION SELECT 1 --")], "the log has no activity"),
        ([("conf", "rule:x' OR 1=1; DELETE FROM core.cases")], "there is no rule"),
        ([("variant", "0123456789abcdef")], "no variant with the key 0123456789abcdef"),
        ([("view", "case"), ("case", "' OR ''='")], "no case"),
        ([("attr", "region:" + "A" * 100_000)], "characters long; at most"),
        ([("sort", "case_id; DROP TABLE x")], "sort must be one of"),
    ],
)
def test_malicious_values_change_nothing_and_are_answered_in_one_line(
    page, app, published, params, message
):
    before = sql(
        published, "SELECT count(*), sum(hash(case_id, activity, timestamp)) FROM core.event_log"
    )
    response = page.goto(app[0] + "/?" + urlencode(params))
    assert response.status == 400
    text = page.locator("#error").text_content()
    assert message in text and "\n" not in text
    assert "Traceback" not in page.content() and "duckdb" not in page.content().lower()
    if params[0][0] != "view":  # the exports read only the filters
        status, body, _ = _get(app[0] + "/export.csv?" + urlencode(params))
        assert status == 400 and body.count("\n") == 1
    assert (
        sql(
            published,
            "SELECT count(*), sum(hash(case_id, activity, timestamp)) FROM core.event_log",
        )
        == before
    )
    page.goto(app[0] + "/")
    assert page.locator("#map svg").count() == 1


def test_a_foreign_host_header_is_refused_on_the_loopback(app):
    status, body, _ = _get(app[0] + "/", {"Host": "attacker.example"})
    assert status == 400 and "loopback" in body
    assert _get(app[0] + "/", {"Host": "localhost:1234"})[0] == 200


def test_off_the_loopback_the_token_is_required(published):
    with pytest.raises(ValueError, match="needs a token"):
        make_app(published[0], host="192.0.2.10")
    # Bound here to 127.0.0.1 (tests reach nothing else), with the checks of an app bound off it.
    explorer = Explorer(AnalyticsSource(published[0]), token="s3cret-token", loopback=False)
    server, thread, base = _serve(explorer)
    try:
        status, body, _ = _get(base + "/?view=stats")
        assert status == 401 and "needs its token" in body and body.count("\n") == 1
        assert _get(base + "/?view=stats&token=wrong")[0] == 401
        assert _get(base + "/", {"Authorization": "Bearer s3cret-token"})[0] == 200
        assert _get(base + "/export.csv", {"Authorization": "Bearer nope"})[0] == 401

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        opener = urllib.request.build_opener(NoRedirect)
        try:
            opener.open(base + "/?view=stats&token=s3cret-token", timeout=30)
            raise AssertionError("no redirect")
        except urllib.error.HTTPError as redirect:
            assert redirect.code == 303 and redirect.headers["location"] == "/?view=stats"
            cookie = redirect.headers["set-cookie"]
        assert "HttpOnly" in cookie and "samesite=strict" in cookie.lower()
        status, _, _ = _get(base + "/?view=stats", {"Cookie": cookie.split(";")[0]})
        assert status == 200
    finally:
        server.should_exit = True
        thread.join(10)
        explorer.source.close()


def test_the_cli_lists_the_token_setting_and_its_options():
    from click.testing import CliRunner

    from l2c_pipeline.cli import main

    result = CliRunner().invoke(main, ["explore", "--help"])
    assert result.exit_code == 0
    assert "L2C_EXPLORE_TOKEN" in result.output and "--host" in result.output


def test_state_parsing_refuses_what_is_no_view():
    with pytest.raises(ValueError, match="case view needs case"):
        parse_state([("view", "case")])
    with pytest.raises(ValueError, match="acts must be from 1"):
        parse_state([("acts", "0")])
    state, a, b = parse_state([("view", "compare"), ("b_attr", "region:EMEA")])
    assert a.empty and b.attributes == (("region", "EMEA"),)


# Last: it publishes another analytics file under the app.
def test_a_newly_published_file_is_picked_up_without_a_restart(page, app, published):
    base, explorer = app
    path, con = published
    page.goto(base + "/")
    assert page.locator("#source").get_attribute("data-generation") == "1"
    held_before = explorer.source.current.identity
    # The next refresh: 60 cases fewer; the warehouse's mining and reports built again and
    # published while the explorer holds the old file open.
    con.execute(
        "CREATE TEMP TABLE gone AS SELECT case_id FROM core.cases WHERE events > 0 ORDER BY case_id LIMIT 60"
    )
    con.execute("DELETE FROM core.event_log WHERE case_id IN (SELECT case_id FROM gone)")
    con.execute("DELETE FROM core.cases WHERE case_id IN (SELECT case_id FROM gone)")
    from l2c_pipeline.pipeline import build_pipeline

    build_pipeline(con, schemas=("mining", "reports"))
    started = time.monotonic()
    publish_analytics(con, path)
    assert time.monotonic() - started < 30  # the open explorer did not hold it up
    events = sql(published, "SELECT count(*) FROM core.event_log")[0][0]
    deadline = time.monotonic() + 30
    while True:
        page.goto(base + "/")
        if page.locator("#source").get_attribute("data-generation") == "2":
            break
        assert time.monotonic() < deadline, "the new analytics file was not picked up"
        time.sleep(0.5)
    assert int(page.locator("#source").get_attribute("data-events")) == events
    assert explorer.source.current.identity != held_before
    assert shown_map(page)["edges"] == dict(
        ((a, b), n)
        for a, b, n in sql(
            published,
            "SELECT from_activity, to_activity, transitions FROM reports.milestone_map_edges",
        )
    )


def _serve_file_log(tmp_path: Path, csv_text: str):
    """The explorer on a log loaded from a CSV file: (explorer, server, thread, base URL)."""
    from l2c_pipeline.file_source.load import load_into_warehouse, read_event_file
    from l2c_pipeline.pipeline import build_pipeline

    log = tmp_path / "log.csv"
    log.write_text(csv_text, encoding="utf-8")
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    try:
        load_into_warehouse(con, read_event_file(log))
        build_pipeline(con, schemas=("mining", "reports"))
        publish_analytics(con, tmp_path / "analytics.duckdb")
    finally:
        con.close()
    explorer = make_app(tmp_path / "analytics.duckdb")
    return (explorer, *_serve(explorer))


def test_activities_are_filtered_as_written_however_long_or_spaced(browser, tmp_path):
    """'B' and 'B ' are two activities (the file source keeps names as written): the form
    submits the one chosen, not its text with the white space collapsed; a long name (over 300
    characters) filters too, and so does a name with a line break (which the browser sends as
    CR LF)."""
    long_name = "Review " + "x" * 412
    two_lines = "Approve\nby manager"
    starts = {
        "S1": "B",
        "S2": "B",
        "S3": "B",
        "S4": "B ",
        "L1": long_name,
        "L2": long_name,
        "M1": two_lines,
        "M2": two_lines,
        "M3": two_lines,
        "M4": two_lines,
    }
    explorer, server, thread, base = _serve_file_log(
        tmp_path,
        "case_id,activity,timestamp\n"
        + "".join(
            f'{case},"{first}",2026-01-{day:02d} 10:00\n{case},End,2026-01-{day:02d} 11:00\n'
            for day, (case, first) in enumerate(starts.items(), start=1)
        ),
    )
    context = browser.new_context()
    try:
        page = context.new_page()
        for chosen, cases in (("B ", 1), ("B", 3), (long_name, 2), (two_lines, 4)):
            page.goto(base + "/")
            page.click("#filter-panel summary")
            # Chosen as a click on the option would (Playwright's select_option trims the value).
            page.eval_on_selector(
                'fieldset[data-set="a"] select[name="start"]',
                "(s, chosen) => { for (const o of s.options) o.selected = o.value === chosen; }",
                chosen,
            )
            page.click("#apply")
            page.wait_for_url("**start=*")
            assert int(page.locator("#cases-selected").get_attribute("data-value")) == cases, chosen
            assert page.locator(".chip").count() == 1
    finally:
        context.close()
        server.should_exit = True
        thread.join(10)
        explorer.source.close()


def test_followed_within_hours_counts_to_the_start_of_b_as_the_maps_waits(tmp_path):
    """In an interval log, 'A followed by B within 2 h' holds when B starts within 2 h of A's end
    (the wait the map shows), whether or not B has ended by then; eventually and directly
    agree."""
    import re

    explorer, server, thread, base = _serve_file_log(
        tmp_path,
        "case_id,activity,timestamp,start_timestamp\n"
        "X,A,2026-01-05 10:00,\n"
        "X,B,2026-01-05 15:00,2026-01-05 11:00\n"  # starts 1 h after A, ends 5 h after
        "Y,A,2026-01-06 10:00,\n"
        "Y,B,2026-01-06 14:30,2026-01-06 14:00\n",  # starts 4 h after A
    )
    try:
        for mode in ("eventually", "directly"):
            status, body, _ = _get(f"{base}/?fol_a=A&fol_b=B&fol_mode={mode}&fol_within=2")
            assert status == 200
            selected = re.search(r'id="cases-selected" data-value="(\d+)"', body)
            assert selected and int(selected.group(1)) == 1, mode
    finally:
        server.should_exit = True
        thread.join(10)
        explorer.source.close()


def test_a_name_whose_line_breaks_differ_only_as_a_form_sends_them(tmp_path):
    """The address names 'A<CR LF>B' for the file's 'A<LF>B' (what a form sends): the one name is
    taken; where the file holds both forms, the address must say which."""
    from urllib.parse import quote

    explorer, server, thread, base = _serve_file_log(
        tmp_path,
        'case_id,activity,timestamp\nX,"A\nB",2026-01-05 10:00\nX,End,2026-01-05 11:00\n'
        'Y,"C\nD",2026-01-06 10:00\nY,End,2026-01-06 11:00\n'
        'Z,"C\r\nD",2026-01-07 10:00\nZ,End,2026-01-07 11:00\n',
    )
    try:
        status, body, _ = _get(f"{base}/?start={quote('A' + chr(13) + chr(10) + 'B')}")
        assert status == 200
        assert 'id="cases-selected" data-value="1"' in body
        status, body, _ = _get(f"{base}/?start={quote('C' + chr(13) + chr(10) + 'D')}")
        assert status == 200 and 'id="cases-selected" data-value="1"' in body  # written so
        status, body, _ = _get(f"{base}/?start={quote('C' + chr(13) + 'D')}")
        assert status == 400
        assert "differ only in their line breaks" in body
    finally:
        server.should_exit = True
        thread.join(10)
        explorer.source.close()
