"""The file source: the template, filled with a demo event log, loads into the same
core.event_log as the Salesforce path; the real public logs load with pm4py's counts; every
kind of bad input gets its message (sheet, row, column) and leaves the warehouse unchanged."""

from __future__ import annotations

import gzip
import math
import zipfile
from pathlib import Path

import duckdb
import pandas as pd
import pm4py
import pytest
from openpyxl import load_workbook

from l2c_pipeline.file_source.load import (
    EventFileError,
    catalogue_activities,
    load_into_warehouse,
    read_event_file,
)
from l2c_pipeline.file_source.template import EVENT_COLUMNS, write_template
from l2c_pipeline.mining import EVENT_LOG_ONLY_MODELS
from l2c_pipeline.pipeline import build_pipeline
from l2c_pipeline.warehouse.duckdb_warehouse import connect, connect_read_only

PUBLIC_LOGS = Path(__file__).resolve().parent / "data"


def catalogue_rows() -> list[tuple[str, str, str]]:
    from l2c_pipeline.models.sql_models import catalogue_rows as rows

    return [(activity, family, description) for activity, family, _, description in rows()]


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    return write_template(tmp_path_factory.mktemp("template") / "template.xlsx", catalogue_rows())


def test_template_has_typed_sheets_and_an_activity_drop_down(template):
    workbook = load_workbook(template)
    assert workbook.sheetnames == ["Events", "Instructions", "Cases"]
    events = workbook["Events"]
    assert [c.value for c in events[1]] == [c.header for c in EVENT_COLUMNS]
    assert events.column_dimensions["C"].number_format == "yyyy-mm-dd hh:mm:ss"
    lists = [
        v
        for v in events.data_validations.dataValidation
        if v.type == "list" and "Instructions" in v.formula1
    ]
    assert len(lists) == 1 and "B2" in str(lists[0].sqref)
    # The drop-down's range on the Instructions sheet holds exactly the catalogue's activities.
    target = lists[0].formula1.split("!")[1].replace("$", "")
    start, end = target.split(":")
    listed = [row[0].value for row in workbook["Instructions"][start:end]]
    assert listed == [a for a, _, _ in catalogue_rows()]


def fill(
    template: Path, target: Path, events: list[tuple], cases: list[tuple] | None = None
) -> Path:
    workbook = load_workbook(template)
    sheet = workbook["Events"]
    for row in events:
        sheet.append(list(row))
    if cases:
        for row in cases:
            workbook["Cases"].append(list(row))
    workbook.save(target)
    return target


def test_a_filled_template_loads_the_same_event_log_as_the_salesforce_path(
    truth_warehouses, template, tmp_path
):
    # The template has no object column: one Billing payment settling two invoices of a deal at
    # once would be two identical rows there. The customised org pays invoice by invoice.
    with connect_read_only(truth_warehouses("custom")) as source:
        rows = source.execute("""
            SELECT e.case_id, e.activity, e."timestamp", e.resource_name, o.stage, o.amount, o.is_won, o.discount_pct
            FROM core.event_log AS e LEFT JOIN core.cases AS o USING (case_id)
            ORDER BY e.case_id, e.event_order""").fetchall()
        expected = source.execute(
            'SELECT case_id, activity, "timestamp", event_order FROM core.event_log'
        ).fetchall()
    filled = fill(template, tmp_path / "filled.xlsx", rows)
    loaded = read_event_file(filled, catalogue_activities())
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    try:
        counts = load_into_warehouse(con, loaded)
        assert counts["core.event_log"] == len(expected)
        actual = con.execute(
            'SELECT case_id, activity, "timestamp", event_order FROM core.event_log'
        ).fetchall()
        assert sorted(actual) == sorted(expected)
        # The rest of the graph runs unchanged on it.
        built = build_pipeline(con, schemas=("mining", "reports"))
        assert built["mining.variant_paths"] > 100
    finally:
        con.close()


def pm4py_instances(path: Path) -> pd.DataFrame:
    """The XES log as pm4py sees it with start and complete events paired (its interval
    form): one event per activity instance, with start_timestamp."""
    from pm4py.objects.log.util import interval_lifecycle

    log = pm4py.read_xes(str(path), return_legacy_log_object=True)
    return pm4py.convert_to_dataframe(interval_lifecycle.to_interval(log))


def pm4py_counts(frame: pd.DataFrame) -> tuple[int, int, int]:
    return len(frame), frame["case:concept:name"].nunique(), len(pm4py.get_variants(frame))


@pytest.mark.parametrize("name", ["running-example.xes", "bpic2012.xes.gz", "receipt.csv"])
def test_the_public_logs_load_with_pm4pys_counts(name, tmp_path):
    path = PUBLIC_LOGS / name
    if name.endswith(".csv"):
        frame = pm4py.format_dataframe(
            pd.read_csv(path),
            case_id="case:concept:name",
            activity_key="concept:name",
            timestamp_key="time:timestamp",
        )
    else:
        # One event per activity instance, as pm4py pairs start and complete events (BPI
        # Challenge 2012 records schedule, start and complete).
        frame = pm4py_instances(path)
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    try:
        load_into_warehouse(con, read_event_file(path))
        build_pipeline(con, schemas=("mining", "reports"))
        events, cases = con.execute(
            "SELECT count(*), count(DISTINCT case_id) FROM core.event_log"
        ).fetchone()
        variants = con.execute("SELECT count(*) FROM reports.variants").fetchone()[0]
    finally:
        con.close()
    assert (events, cases, variants) == pm4py_counts(frame)


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "events, expected",
    [
        (
            [
                ("006A", "Opportunity Created", "2026-01-05 10:00:00"),
                ("006A", "Quote Acepted", "2026-01-06 10:00:00"),
            ],
            "sheet Events, row 3, column 'Activity': 'Quote Acepted' is not a known activity",
        ),
        (
            [("006A", "Opportunity Created", "next tuesday")],
            "sheet Events, row 2, column 'Event timestamp': 'next tuesday' is not a date and time",
        ),
        (
            [
                ("006A", "Opportunity Created", "2026-01-05 10:00:00"),
                ("006A", "Opportunity Created", "2026-01-05 10:00:00"),
            ],
            "sheet Events, rows 2, 3: the same event more than once (006A, Opportunity Created",
        ),
        (
            [(None, "Opportunity Created", "2026-01-05 10:00:00")],
            "sheet Events, row 2, column 'Opportunity ID': empty",
        ),
        (
            [("006A", "Opportunity Created", "2026-01-05 10:00:00", None, None, "lots")],
            "sheet Events, row 2, column 'Amount': 'lots' is not a number",
        ),
        (
            [("006A", "Opportunity Created", "2026-01-05 10:00:00", None, None, None, None, 130)],
            "sheet Events, row 2, column 'Discount %': '130' is not a number from 0 to 100",
        ),
        ([], "sheet Events has a header but no events"),
    ],
)
def test_bad_rows_are_named_and_nothing_is_loaded(template, tmp_path, events, expected):
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    try:
        con.execute("CREATE SCHEMA core")
        con.execute("CREATE TABLE core.event_log AS SELECT 'before' AS event_id")
        with pytest.raises(EventFileError) as error:
            read_event_file(fill(template, tmp_path / "bad.xlsx", events), catalogue_activities())
        assert expected in str(error.value)
        assert "nothing loaded" in str(error.value).splitlines()[0]
        assert con.execute("SELECT event_id FROM core.event_log").fetchall() == [("before",)]
    finally:
        con.close()


def test_every_problem_is_listed_once_with_its_place(template, tmp_path):
    events = [
        ("006A", "Opportunity Created", "yesterday"),
        ("006A", "Not An Activity", "2026-01-05 10:00:00"),
        ("006B", "Quote Created", "2026-01-05 10:00:00", None, None, None, "maybe"),
    ]
    with pytest.raises(EventFileError) as error:
        read_event_file(fill(template, tmp_path / "bad.xlsx", events), catalogue_activities())
    assert error.value.problems == [
        "sheet Events, row 2, column 'Event timestamp': 'yesterday' is not a date and time (e.g. 2026-03-01 14:05:00)",
        "sheet Events, row 3, column 'Activity': 'Not An Activity' is not a known activity (see the Instructions sheet)",
        "sheet Events, row 4, column 'Is won': 'maybe' is not TRUE or FALSE",
    ]


def test_wrong_sheets_columns_and_files_are_named(template, tmp_path, monkeypatch):
    workbook = load_workbook(template)
    workbook["Events"].title = "Sheet1"
    workbook.save(tmp_path / "renamed.xlsx")
    with pytest.raises(
        EventFileError, match=r"no sheet 'Events' \(found: Sheet1, Instructions, Cases\)"
    ):
        read_event_file(tmp_path / "renamed.xlsx", catalogue_activities())

    workbook = load_workbook(template)
    workbook["Events"]["B1"] = "What happened"
    workbook.save(tmp_path / "column.xlsx")
    with pytest.raises(EventFileError, match=r"sheet Events, row 1: missing column 'Activity'"):
        read_event_file(tmp_path / "column.xlsx", catalogue_activities())

    workbook = load_workbook(template)
    workbook["Events"]["K1"] = "Activity"  # written twice: told apart by the sheet's letters
    workbook.save(tmp_path / "twice.xlsx")
    with pytest.raises(
        EventFileError,
        match=r"row 1: the columns 'Activity' and 'Activity' \(columns B and K\) both name the activity",
    ):
        read_event_file(tmp_path / "twice.xlsx", catalogue_activities())

    (tmp_path / "broken.xlsx").write_bytes(b"PK\x03\x04 this is not really a workbook")
    with pytest.raises(EventFileError, match="not an xlsx file"):
        read_event_file(tmp_path / "broken.xlsx")

    # A zip bomb: a tiny file that unpacks to far more than it weighs.
    with zipfile.ZipFile(tmp_path / "bomb.xlsx", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"<" * 50_000_000)
    with pytest.raises(EventFileError, match="refused as too large or malformed"):
        read_event_file(tmp_path / "bomb.xlsx")

    monkeypatch.setenv("L2C_MAX_FILE_MB", "1")
    big = write_csv(
        tmp_path / "big.csv", "case_id,activity,timestamp\n" + "x,y,2026-01-01\n" * 100_000
    )
    with pytest.raises(EventFileError, match=r"over the limit of 1 MB \(L2C_MAX_FILE_MB\)"):
        read_event_file(big)
    monkeypatch.delenv("L2C_MAX_FILE_MB")

    with pytest.raises(EventFileError, match=r"line 1: missing column 'Event timestamp'"):
        read_event_file(write_csv(tmp_path / "nots.csv", "case_id,activity\nA,Lead Created\n"))
    with pytest.raises(EventFileError, match="unknown kind of file"):
        read_event_file(write_csv(tmp_path / "log.txt", "hello"))
    (tmp_path / "log.csv.gz").write_bytes(gzip.compress(b"case_id,activity,timestamp\n"))
    with pytest.raises(EventFileError, match=r"\.xes or \.xes\.gz \(unpack it first"):
        read_event_file(tmp_path / "log.csv.gz")
    (tmp_path / "broken.xes.gz").write_bytes(gzip.compress(b"<log><trace><event>"))
    with pytest.raises(EventFileError, match="not a readable XES file"):
        read_event_file(tmp_path / "broken.xes.gz")


def test_csv_with_offsets_is_read_in_utc(tmp_path):
    path = write_csv(
        tmp_path / "log.csv",
        "Opportunity ID,Activity,Event timestamp\n"
        "A,Lead Created,2026-01-05 10:00:00+02:00\n"
        "A,Lead Converted,2026-01-05 09:30:00\n"
        # An offset after a space, as some tools write it and pandas reads it.
        "A,Opportunity Created,2026-01-05 10:15:00 +0100\n"
        "A,Quote Created,2026-01-05T11:00:00 -05:00\n",
    )
    loaded = read_event_file(path)
    times = [str(t) for t in loaded.events["timestamp"]]
    assert times == [
        "2026-01-05 08:00:00",
        "2026-01-05 09:30:00",
        "2026-01-05 09:15:00",
        "2026-01-05 16:00:00",
    ]
    # As pandas reads each of them: with its offset, converted to UTC; without one, as it is.
    as_pandas = [pd.Timestamp(v) for v in pd.read_csv(path)["Event timestamp"]]
    assert times == [
        str(t.tz_convert("UTC").tz_localize(None) if t.tzinfo else t) for t in as_pandas
    ]


def test_the_cases_sheet_gives_the_case_attributes(template, tmp_path):
    events = [
        ("006A", "Opportunity Created", "2026-01-05 10:00:00", "Ana Lima"),
        (
            "006A",
            "Opportunity Closed Won",
            "2026-02-05 10:00:00",
            "Ana Lima",
            None,
            1000,
            True,
            12.5,
        ),
    ]
    cases = [
        (
            "006A",
            "Ana Lima",
            "EMEA Enterprise",
            "EMEA",
            "Platform",
            "Acme",
            "SMB",
            "Web",
            "New Business",
        )
    ]
    loaded = read_event_file(
        fill(template, tmp_path / "ok.xlsx", events, cases), catalogue_activities()
    )
    con = duckdb.connect()
    try:
        load_into_warehouse(con, loaded)
        row = con.execute(
            "SELECT sales_rep, team, region, product_family, account_name, segment, lead_source, amount, "
            "discount_pct, is_won, is_closed, case_type FROM core.cases"
        ).fetchall()
    finally:
        con.close()
    assert row == [
        (
            "Ana Lima",
            "EMEA Enterprise",
            "EMEA",
            "Platform",
            "Acme",
            "SMB",
            "Web",
            1000.0,
            12.5,
            True,
            True,
            "opportunity",
        )
    ]
    with pytest.raises(EventFileError) as error:
        read_event_file(
            fill(
                template,
                tmp_path / "bad.xlsx",
                events,
                [cases[0], ("006A",), (None, "x"), ("006C", *[None] * 8, "many")],
            ),
            catalogue_activities(),
        )
    assert error.value.problems == [  # in row order
        "sheet Cases, rows 2, 3: the case 006A more than once",
        "sheet Cases, row 4, column 'Opportunity ID': empty",
        "sheet Cases, row 5, column 'Amount': 'many' is not a number",
    ]


def test_a_log_with_nothing_to_discover_still_builds_every_report(tmp_path, monkeypatch):
    import importlib

    from dagster import DagsterInstance

    # Calls and e-mails are sales touches, not steps of the process: no model to discover.
    log = write_csv(
        tmp_path / "touches.csv",
        "case_id,activity,timestamp\nA,Call,2026-01-05 10:00\nA,Email,2026-01-06 10:00\n"
        "B,Call,2026-01-07 10:00\n",
    )
    for name, value in {
        "L2C_SOURCE": "file",
        "L2C_EVENT_LOG_FILE": str(log),
        "L2C_HOME": str(tmp_path),
        "L2C_WAREHOUSE": str(tmp_path / "warehouse.duckdb"),
    }.items():
        monkeypatch.setenv(name, value)
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    (outputs / "process_model.bpmn").write_text("an earlier log's model")
    import l2c_pipeline.definitions as definitions

    defs = importlib.reload(definitions).defs
    with DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("l2c_nightly").execute_in_process(
            instance=instance, raise_on_error=False
        )
    assert result.success
    model = next(
        m
        for m in result.get_asset_materialization_events()
        if m.asset_key.path == ["mining", "process_model"]
    ).materialization.metadata
    assert model["variants_used"].value == 0
    assert not (outputs / "process_model.bpmn").exists()  # no stale model shown as this log's
    assert (outputs / "process_map_performance.svg").exists() and (outputs / "report.html").exists()
    with duckdb.connect(str(tmp_path / "analytics.duckdb"), read_only=True) as analytics:
        assert analytics.execute("SELECT count(*) FROM reports.variants").fetchone()[0] == 2
        assert (
            analytics.execute("SELECT sum(transitions) FROM reports.process_map_edges").fetchone()[
                0
            ]
            == 1
        )


def materialize_file(path: Path, warehouse: Path, monkeypatch, **env: str):
    """The file_event_log asset as a run materializes it, on `path`: the result and the
    messages the run logged."""
    from dagster import DagsterInstance, materialize

    from l2c_pipeline.file_source.assets import file_event_log
    from l2c_pipeline.resources import WarehouseResource

    monkeypatch.setenv("L2C_EVENT_LOG_FILE", str(path))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with DagsterInstance.ephemeral() as instance:
        result = materialize(
            [file_event_log],
            resources={"warehouse": WarehouseResource(path=str(warehouse))},
            instance=instance,
            raise_on_error=False,
        )
        messages = [entry.user_message for entry in instance.all_logs(result.run_id)]
    return result, messages


XES_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<log xes.version="1.0">\n'


def xes_event(activity: str, timestamp: str | None) -> str:
    date = f'<date key="time:timestamp" value="{timestamp}"/>' if timestamp is not None else ""
    return f'<event><string key="concept:name" value="{activity}"/>{date}</event>\n'


def test_the_size_limit_holds_for_what_a_gz_unpacks_to(tmp_path, monkeypatch):
    events = "".join(xes_event("Review", "2020-01-01T10:00:00") for _ in range(25_000))
    xes = (XES_HEAD + '<trace><string key="concept:name" value="c1"/>\n' + events).encode()
    assert len(xes) > 2 * 1024 * 1024
    path = tmp_path / "big.xes.gz"
    # Garbage after the compressed stream: only a reader that unpacks everything reaches it.
    path.write_bytes(gzip.compress(xes + b"</trace></log>\n") + b"not gzip")
    assert path.stat().st_size < 100 * 1024
    monkeypatch.setenv("L2C_MAX_FILE_MB", "1")
    with pytest.raises(EventFileError) as error:
        read_event_file(path)
    assert error.value.problems == [
        "the file unpacks to more than 1 MB, the limit (L2C_MAX_FILE_MB)"
    ]
    monkeypatch.setenv("L2C_MAX_FILE_MB", "3")
    with pytest.raises(EventFileError, match=r"not a readable \.gz file \("):
        read_event_file(path)


def test_the_size_limit_takes_decimals_and_a_bad_one_is_one_line(tmp_path, monkeypatch):
    from l2c_pipeline.file_source.load import SettingError, max_file_bytes

    monkeypatch.setenv("L2C_MAX_FILE_MB", "1.5")
    assert max_file_bytes() == 1_572_864
    small = write_csv(tmp_path / "small.csv", "case_id,activity,timestamp\nA,Review,2026-01-05\n")
    assert len(read_event_file(small).events) == 1
    big = write_csv(
        tmp_path / "big.csv", "case_id,activity,timestamp\n" + "A,Review,2026-01-05\n" * 90_000
    )
    with pytest.raises(EventFileError, match=r"over the limit of 1\.5 MB \(L2C_MAX_FILE_MB\)"):
        read_event_file(big)
    for bad in ("1,5", "0", "-2", "nan", "inf", "lots"):
        monkeypatch.setenv("L2C_MAX_FILE_MB", bad)
        with pytest.raises(SettingError) as error:
            read_event_file(small)
        assert str(error.value) == (
            f"L2C_MAX_FILE_MB must be a positive number of megabytes (e.g. 500 or 1.5), got '{bad}'"
        )
    # A run says it in that one line, no traceback.
    result, _ = materialize_file(small, tmp_path / "warehouse.duckdb", monkeypatch)
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert failure.step_failure_data.user_failure_data.description == (
        "L2C_MAX_FILE_MB must be a positive number of megabytes (e.g. 500 or 1.5), got 'lots'"
    )


def test_control_characters_from_the_file_are_shown_escaped(tmp_path):
    # A terminal escape in a value is shown, never sent to the terminal; messages name the
    # file's own columns.
    for text, expected in (
        (
            "case_id,activity,timestamp\nA,Review,\x1b[31mnext tuesday\n",
            "line 2, column 'timestamp': '\\x1b[31mnext tuesday' is not a date and time",
        ),
        (
            "case_id,activity,timestamp,amount\nA,Review,2026-01-05,\x9b6n" + "9" * 300 + "\n",
            "line 2, column 'amount': '\\x9b6n"
            + "9" * 197
            + "... (303 characters)' is not a number",
        ),
    ):
        path = write_csv(tmp_path / "log.csv", text)
        with pytest.raises(EventFileError) as error:
            read_event_file(path)
        assert error.value.problems[0].startswith(expected)
        assert not any(c in str(error.value) for c in "\x1b\x9b")


@pytest.mark.parametrize(
    "text, expected",
    [
        (  # NaN and infinity are no amounts, whatever the spelling
            "case_id,activity,timestamp,amount\nA,Review,2026-01-05,NaN\nA,Sign,2026-01-06,inf\n"
            "A,Pay,2026-01-07,-Infinity\nA,Close,2026-01-08,12.5\n",
            [
                "line 2, column 'amount': 'NaN' is not a finite number",
                "line 3, column 'amount': 'inf' is not a finite number",
                "line 4, column 'amount': '-Infinity' is not a finite number",
            ],
        ),
        (  # which column is the activity cannot be guessed (none is the XES standard's)
            "case:concept:name,Activity name,Activity,time:timestamp\nA,Review,Check,2026-01-05\n",
            [
                "line 1: the columns 'Activity name' and 'Activity' both name the activity; "
                "keep one of them"
            ],
        ),
        (
            "Case ID,case,Timestamp,time,Event timestamp,Activity\nA,B,x,y,z,Review\n",
            [
                "line 1: the columns 'Case ID' and 'case' both name the case; keep one of them",
                "line 1: the columns 'Timestamp', 'time' and 'Event timestamp' all "
                "name the timestamp; keep one of them",
            ],
        ),
        (
            "case_id,\x1b[2Jactivity,timestamp\nA,Review,2026-01-05\n",
            [
                "line 1: missing column 'Activity' (or 'concept:name' or 'activity name'); "
                "the header holds: case_id, \\x1b[2Jactivity, timestamp"
            ],
        ),
        (  # lifecycle transitions and start times are checked like any other cell
            "case_id,activity,timestamp,lifecycle:transition\nA,Review,2026-01-05,begun\n",
            [
                "line 2, column 'lifecycle:transition': 'begun' is not a lifecycle transition "
                "(start, complete, or another of the XES lifecycle model)"
            ],
        ),
        (
            "case_id,activity,timestamp,start_timestamp\nA,Review,2026-01-05 10:00,2026-01-05 11:00\n"
            "A,Sign,2026-01-06 10:00,soon\n",
            [
                "line 2, column 'start_timestamp': '2026-01-05 11:00' is after the event's end, "
                "timestamp '2026-01-05 10:00'",
                "line 3, column 'start_timestamp': 'soon' is not a date and time "
                "(e.g. 2026-03-01 14:05:00)",
            ],
        ),
        (
            "case_id,activity,timestamp,lifecycle,start_timestamp\nA,Review,2026-01-05,start,2026-01-04\n",
            [
                "line 1: 'lifecycle' and 'start_timestamp' both say when activities start; "
                "keep one of them"
            ],
        ),
    ],
)
def test_bad_csv_cells_are_named_with_the_files_own_columns(tmp_path, text, expected):
    path = write_csv(tmp_path / "log.csv", text)
    with pytest.raises(EventFileError) as error:
        read_event_file(path)
    assert error.value.problems == expected
    message = str(error.value)
    assert message.startswith(f"{path}: ") and "\x1b" not in message


def test_a_csv_broken_far_down_the_file_is_named_and_nothing_is_staged(tmp_path):
    # The delimiter is found in the header; the rows are read in one pass after it, so a row
    # that breaks the file long after the header fails that pass, named by its line.
    lines = [f"C{n // 5},Review {n % 5},2026-01-05 10:{n % 60:02d}:00" for n in range(40_000)]
    lines[35_000] += ",an extra cell"
    path = write_csv(tmp_path / "log.csv", "case_id,activity,timestamp\n" + "\n".join(lines) + "\n")
    with pytest.raises(EventFileError) as error:
        read_event_file(path, work_dir=tmp_path / "work")
    assert error.value.problems == ["line 35002: 4 fields, where the header has 3"]
    assert not list((tmp_path / "work").iterdir())  # the staged log is gone with the failure
    header_only = write_csv(tmp_path / "empty.csv", "case_id,activity,timestamp\n")
    with pytest.raises(EventFileError) as error:
        read_event_file(header_only)
    assert error.value.problems == ["the file has a header but no events"]


def test_csv_times_lose_their_white_space_and_names_keep_theirs_as_pm4py_does(tmp_path):
    path = write_csv(
        tmp_path / "log.csv",
        "case_id,activity,timestamp,resource\n"
        '" A ",\tReview,2026-01-05 10:00:00 ,"Ana  Lee"\n'
        'A,"Sign\n",  2026-01-06 10:00:00,\x01Bo\n'
        "A,Pay,2026-01-07 10:00:00,  \n"
        "A,Review,2026-01-08 10:00:00,Ana\n",
    )
    events = read_event_file(path).events
    assert list(events["case_id"]) == [" A ", "A", "A", "A"]
    assert list(events["activity"]) == ["\tReview", "Sign\n", "Pay", "Review"]
    assert [str(t) for t in events["timestamp"]] == [
        "2026-01-05 10:00:00",
        "2026-01-06 10:00:00",
        "2026-01-07 10:00:00",
        "2026-01-08 10:00:00",
    ]
    # Inner white space stays; a control character is no white space; blank is empty.
    assert list(events["resource_name"].fillna("-")) == ["Ana  Lee", "\x01Bo", "-", "Ana"]
    # Cases and variants as pm4py counts them from the same file.
    frame = pm4py.format_dataframe(pd.read_csv(path, dtype=str), "case_id", "activity", "timestamp")
    assert (len(events), events["case_id"].nunique()) == (len(frame), 2)
    variants = {tuple(g.sort_values("timestamp")["activity"]) for _, g in events.groupby("case_id")}
    assert variants == set(pm4py.get_variants(frame))


def test_nan_amounts_on_the_cases_sheet_are_refused(template, tmp_path):
    events = [("006A", "Opportunity Created", "2026-01-05 10:00:00")]
    cases = [("006A", *[None] * 8, "NaN")]
    with pytest.raises(EventFileError) as error:
        read_event_file(
            fill(template, tmp_path / "nan.xlsx", events, cases), catalogue_activities()
        )
    assert error.value.problems == [
        "sheet Cases, row 2, column 'Amount': 'NaN' is not a finite number"
    ]


def test_an_unparsable_xes_timestamp_is_named_with_its_value(tmp_path):
    path = tmp_path / "log.xes"
    path.write_text(
        XES_HEAD
        + '<trace><string key="concept:name" value="c1"/>\n'
        + xes_event("Review", "2020-01-01T10:00:00.000+01:00")
        + xes_event("Sign", "yesterday")
        + xes_event("Pay", None)
        + "</trace>\n<trace>\n"  # a trace without its name: placed by its number in the file
        + xes_event("Review", "2020-01-02T10:00:00Z")
        + "</trace>\n</log>\n",
        encoding="utf-8",
    )
    with pytest.raises(EventFileError) as error:
        read_event_file(path)
    assert error.value.problems == [
        "trace 'c1', event 2, attribute 'time:timestamp': 'yesterday' is not a date and time "
        "(e.g. 2026-03-01 14:05:00)",
        "trace 'c1', event 3, attribute 'time:timestamp': empty",
        "trace 2 (its concept:name missing or empty), event 1, attribute 'case:concept:name': "
        "empty",
    ]


def test_exact_duplicate_events_are_dropped_and_counted(tmp_path, monkeypatch):
    # pm4py's helpdesk log has 127 events written twice, every attribute equal.
    path = PUBLIC_LOGS / "helpdesk.xes.gz"
    result, messages = materialize_file(path, tmp_path / "warehouse.duckdb", monkeypatch)
    assert result.success
    metadata = next(
        m.metadata
        for m in result.asset_materializations_for_node("file_event_log")
        if m.asset_key.path == ["core", "event_log"]
    )
    assert metadata["duplicate_events_dropped"].value == 127
    assert metadata["rows"].value == 21_348 - 127
    assert any(
        m.startswith("loaded 21,221 events in 4,580 cases")
        and "127 exact duplicate events dropped" in m
        for m in messages
    )
    frame = pm4py.read_xes(str(path), return_legacy_log_object=False).drop_duplicates()
    con = connect(tmp_path / "warehouse.duckdb")  # where the run built it
    try:
        build_pipeline(con, tables=EVENT_LOG_ONLY_MODELS)
        figures = con.execute(
            "SELECT (SELECT count(*) FROM core.event_log), (SELECT count(*) FROM core.cases), "
            "(SELECT count(*) FROM reports.variants)"
        ).fetchone()
    finally:
        con.close()
    assert figures == pm4py_counts(frame) == (21_221, 4_580, 211)


def test_only_exact_duplicates_are_dropped_and_the_template_still_refuses_them(template, tmp_path):
    path = write_csv(
        tmp_path / "log.csv",
        "case_id,activity,timestamp,resource\n"
        "A,Review,2026-01-05 10:00:00,Ana\n"
        "A,Review,2026-01-05 10:00:00,Ana\n"  # the line above again: dropped
        "A,Review,2026-01-05 10:00:00,Bo\n"  # another person at the same time: kept
        "A,Approve,2026-01-06 10:00:00,Ana\n",
    )
    loaded = read_event_file(path)
    assert loaded.figures["duplicate_events_dropped"] == 1
    assert list(zip(loaded.events["source_row"], loaded.events["resource_name"])) == [
        (2, "Ana"),
        (4, "Bo"),
        (5, "Ana"),
    ]
    rows = [("006A", "Opportunity Created", "2026-01-05 10:00:00", "Ana")] * 2
    with pytest.raises(EventFileError) as error:
        read_event_file(fill(template, tmp_path / "twice.xlsx", rows), catalogue_activities())
    assert error.value.problems == [
        "sheet Events, rows 2, 3: the same event more than once "
        "(006A, Opportunity Created, 2026-01-05 10:00:00)"
    ]


def interval_performance(frame: pd.DataFrame) -> dict:
    """pm4py's waits between activity instances with start times: from the end of one to the
    start of the next, 0 when the next started first (pm4py.discover_performance_dfg leaves
    those negative; its DFG routine given the start column, as here, does not)."""
    from pm4py.algo.discovery.dfg.adapters.pandas.df_statistics import get_dfg_graph

    return get_dfg_graph(
        frame,
        measure="performance",
        perf_aggregation_key="all",
        activity_key="concept:name",
        case_id_glue="case:concept:name",
        timestamp_key="time:timestamp",
        start_timestamp_key="start_timestamp",
    )


def assert_instances_as_pm4py(con, frame: pd.DataFrame, started=None) -> None:
    """The process map, its waits and the service times equal pm4py's on the same activity
    instances (`frame`: one row each, with start_timestamp; `started`: those whose start is
    recorded, all by default: pm4py gives the others their end as start)."""
    frame = frame.assign(
        **{k: pd.to_datetime(frame[k], utc=True) for k in ("time:timestamp", "start_timestamp")}
    )
    edges = {
        (a, b): (n, mean, median)
        for a, b, n, mean, median in con.execute(
            "SELECT from_activity, to_activity, transitions, mean_hours, median_hours "
            "FROM reports.process_map_edges"
        ).fetchall()
    }
    dfg, _, _ = pm4py.discover_dfg(frame)
    assert {pair: n for pair, (n, _, _) in edges.items()} == dict(dfg)
    performance = interval_performance(frame)
    assert set(performance) == set(edges)
    for pair, figures in performance.items():
        _, mean_hours, median_hours = edges[pair]
        assert math.isclose(mean_hours * 3600, figures["mean"], abs_tol=1e-6), pair
        assert math.isclose(median_hours * 3600, figures["median"], abs_tol=1e-6), pair
    timed = frame if started is None else frame[started]
    service = (timed["time:timestamp"] - timed["start_timestamp"]).dt.total_seconds()
    expected = service.groupby(timed["concept:name"]).agg(["median", "mean"])
    nodes = {
        a: (median, mean)
        for a, median, mean in con.execute(
            "SELECT activity, median_service_hours, mean_service_hours "
            "FROM reports.process_map_nodes WHERE median_service_hours IS NOT NULL"
        ).fetchall()
    }
    assert set(nodes) == set(expected.index)
    for activity, (median, mean) in nodes.items():
        assert math.isclose(median * 3600, expected.loc[activity, "median"], abs_tol=1e-6)
        assert math.isclose(mean * 3600, expected.loc[activity, "mean"], abs_tol=1e-6)
    # Instances in the order pm4py's map puts them: by start, then end.
    ordered = frame.sort_values(
        ["case:concept:name", "start_timestamp", "time:timestamp"], kind="stable"
    )
    variants = con.execute("SELECT activities, cases FROM reports.variants").fetchall()
    assert {tuple(a): n for a, n in variants} == {
        tuple(v): n for v, n in pm4py.get_variants(ordered).items()
    }


def test_start_and_complete_events_pair_into_one_activity_instance_with_its_service_time(
    tmp_path,
):
    # pm4py's reviewing log: 1,452 activities recorded with a start and a complete event (often
    # at the same time: not duplicates of each other), 826 with a complete event only.
    path = PUBLIC_LOGS / "reviewing.xes"
    loaded = read_event_file(path)
    assert loaded.figures == {
        "duplicate_events_dropped": 0,
        "activity_instances_with_start": 1452,
        "lifecycle_events_left_out": 0,
    }
    frame = pm4py_instances(path)
    assert len(frame) == len(loaded.events) == 2278
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    try:
        load_into_warehouse(con, loaded)
        build_pipeline(con, schemas=("mining", "reports"))
        # Each instance counts once: pm4py's map of the interval log, and of its complete events.
        assert_instances_as_pm4py(con, frame, frame["@@startevent_concept:name"].notna())
        complete = pm4py.read_xes(str(path), return_legacy_log_object=False)
        complete = complete[complete["lifecycle:transition"] == "complete"]
        assert con.execute("SELECT sum(transitions) FROM reports.process_map_edges").fetchone()[
            0
        ] == sum(pm4py.discover_dfg(complete)[0].values())
        # The waits between milestones leave the service time out, and it stands beside them.
        assert con.execute(
            "SELECT count(*), count(service_hours), round(median(service_hours), 6), "
            "round(median(wait_hours), 6) FROM mining.milestone_events"
        ).fetchone() == (2278, 1452, 72.0, 72.0)
    finally:
        con.close()


def test_a_start_timestamp_column_gives_the_service_time(tmp_path):
    # pm4py's interval log as CSV: one row per activity instance, with start_timestamp.
    path = PUBLIC_LOGS / "interval_event_log.csv"
    loaded = read_event_file(path)
    assert loaded.figures["activity_instances_with_start"] == len(loaded.events) == 8109
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    try:
        load_into_warehouse(con, loaded)
        build_pipeline(con, tables=EVENT_LOG_ONLY_MODELS)
        assert_instances_as_pm4py(con, pd.read_csv(path))
    finally:
        con.close()


@pytest.mark.parametrize("instance_key", ["concept:instance", "lifecycle:instance"])
def test_starts_pair_with_completes_of_their_own_activity_instance_as_pm4py_pairs_them(
    tmp_path, instance_key
):
    """Two overlapping instances of one activity: first in first out would pair the first start
    with the first complete; the instance ids (the XES standard's concept:instance, pm4py's key;
    else lifecycle:instance) say the first started ran until 05:00."""
    from pm4py.objects.log.util import interval_lifecycle

    def event(time: str, transition: str, instance: int) -> str:
        return (
            f'<event><string key="concept:name" value="A"/>'
            f'<date key="time:timestamp" value="2011-10-01T{time}:00Z"/>'
            f'<string key="lifecycle:transition" value="{transition}"/>'
            f'<string key="{instance_key}" value="{instance}"/></event>'
        )

    path = tmp_path / "overlapping.xes"
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?><log xes.version="1.0">'
        '<trace><string key="concept:name" value="c1"/>'
        + event("00:00", "start", 1)
        + event("00:10", "start", 2)
        + event("00:20", "complete", 2)
        + event("05:00", "complete", 1)
        + "</trace></log>",
        encoding="utf-8",
    )
    con = connect(tmp_path / "warehouse.duckdb")
    try:
        with read_event_file(path, work_dir=tmp_path / "work") as loaded:
            load_into_warehouse(con, loaded)
        ours = con.execute(
            "SELECT strftime(started_at, '%H:%M'), strftime(timestamp, '%H:%M') "
            "FROM core.event_log ORDER BY started_at"
        ).fetchall()
    finally:
        con.close()
    log = pm4py.read_xes(str(path), return_legacy_log_object=True)
    key = interval_lifecycle.Parameters.LIFECYCLE_INSTANCE_KEY
    frame = pm4py.convert_to_dataframe(
        interval_lifecycle.to_interval(log, parameters={key: instance_key})
    )
    theirs = sorted(
        zip(
            frame["start_timestamp"].dt.strftime("%H:%M"),
            frame["time:timestamp"].dt.strftime("%H:%M"),
            strict=True,
        )
    )
    assert ours == theirs == [("00:00", "05:00"), ("00:10", "00:20")]
