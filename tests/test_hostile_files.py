"""Files built to break the file source: paths DuckDB would take for patterns, dialects a
sniffer guesses wrong, placeholder times, an XES file with a key per event, a workbook whose
sheet is no XML, things that are not files, and terminal escapes in what `l2c run` prints.
Each must load exactly what the file says, or stop with one line naming the place."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import duckdb
import pandas as pd
import pytest

import l2c_pipeline.file_source.load as file_source
from l2c_pipeline.file_source.load import EventFileError, load_into_warehouse, read_event_file
from l2c_pipeline.warehouse.duckdb_warehouse import connect

HEADER = "case:concept:name,concept:name,time:timestamp\n"
# Each activity instance loaded: its activity, start and end (hours and minutes).
INSTANCES = (
    "SELECT activity, strftime(started_at, '%H:%M'), strftime(timestamp, '%H:%M') "
    "FROM core.event_log "
)


def loaded_rows(path: Path, tmp_path: Path, query: str) -> list[tuple]:
    """The query's rows once the file source has loaded `path` into a new warehouse."""
    con = connect(tmp_path / "warehouse.duckdb")
    try:
        with read_event_file(path, work_dir=tmp_path / "work") as loaded:
            load_into_warehouse(con, loaded)
        return con.execute(query).fetchall()
    finally:
        con.close()


def loaded_events(path: Path, tmp_path: Path) -> list[tuple]:
    """core.event_log's case, activity and time, as the file source loads `path`."""
    return loaded_rows(
        path,
        tmp_path,
        "SELECT case_id, activity, strftime(timestamp, '%Y-%m-%d %H:%M') FROM core.event_log "
        "ORDER BY event_id",
    )


def problems(path: Path) -> list[str]:
    with pytest.raises(EventFileError) as error:
        read_event_file(path)
    assert str(error.value).startswith(f"{path}: ")
    return error.value.problems


def test_a_path_duckdb_could_read_as_a_pattern_reads_that_one_file(tmp_path):
    (tmp_path / "log1.csv").write_text(HEADER + "1,Wrong file,2026-03-01 10:00\n")
    (tmp_path / "logX.csv").write_text(HEADER + "2,Wrong file,2026-03-01 10:00\n")
    (tmp_path / "log[1].csv").write_text(HEADER + "1,Right file,2026-03-01 10:00\n")
    (tmp_path / "log*.csv").write_text(HEADER + "1,Star,2026-03-01 10:00\n")
    assert loaded_events(tmp_path / "log[1].csv", tmp_path / "a") == [
        ("1", "Right file", "2026-03-01 10:00")
    ]
    assert loaded_events(tmp_path / "log*.csv", tmp_path / "b") == [
        ("1", "Star", "2026-03-01 10:00")
    ]


@pytest.mark.parametrize(
    "name, text",
    [
        # Case ids that begin with # (a sniffer takes # for a comment and drops the rows).
        ("hash.csv", HEADER + "".join(f"#{n},Email,2026-03-01 10:0{n}\n" for n in range(6))),
        # Semicolons, a byte-order mark, Windows line ends, quoted delimiters and quotes.
        (
            "semicolon.csv",
            "\ufeffcase:concept:name;concept:name;time:timestamp\r\n"
            '"0042";"Call; then ""mail""";2026-03-01 10:00\r\n'
            "0042;Review;2026-03-02 10:00\r\n",
        ),
        ("tab.csv", HEADER.replace(",", "\t") + "007\tReview\t2026-03-01 10:00\n"),
        ("pipe.csv", HEADER.replace(",", "|") + "7|Review|2026-03-01 10:00\n"),
    ],
)
def test_a_csv_loads_what_pandas_reads_in_it(tmp_path, name, text):
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    # pandas is told the delimiter; the file source finds it.
    delimiter = {"semicolon.csv": ";", "tab.csv": "\t", "pipe.csv": "|"}.get(name, ",")
    frame = pd.read_csv(path, sep=delimiter, dtype=str, encoding="utf-8-sig")
    expected = [
        (case, activity, stamp[:16])
        for case, activity, stamp in frame[
            ["case:concept:name", "concept:name", "time:timestamp"]
        ].itertuples(index=False)
    ]
    assert loaded_events(path, tmp_path) == expected


def test_the_csv_of_a_pm4py_formatted_frame_loads_its_xes_columns(tmp_path):
    import pm4py

    # format_dataframe keeps the columns it was given beside the XES ones it adds.
    frame = pd.DataFrame(
        {
            "case_id": ["1", "1", "2"],
            "activity": ["Review", "Sign", "Review"],
            "timestamp": ["2026-03-01 10:00:00", "2026-03-01 11:00:00", "2026-03-02 09:30:00"],
        }
    )
    frame["timestamp"] = pd.to_datetime(frame["timestamp"])
    formatted = pm4py.format_dataframe(
        frame, case_id="case_id", activity_key="activity", timestamp_key="timestamp"
    )
    path = tmp_path / "formatted.csv"
    formatted.to_csv(path, index=False)
    expected = [
        (case, activity, stamp.strftime("%Y-%m-%d %H:%M"))
        for case, activity, stamp in formatted[
            ["case:concept:name", "concept:name", "time:timestamp"]
        ].itertuples(index=False)
    ]
    assert loaded_events(path, tmp_path) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        (  # one stray quote does not turn quoting off for the whole file
            HEADER + '"C1","Lead Created",2026-03-01 10:00\n"C2","Say "hi"",2026-03-01 11:00\n',
            ['line 3: a quoted value is not closed (a quote inside quotes is written twice: "")'],
        ),
        (
            HEADER + '001,"A,2026-03-01 10:00\n001,B,2026-03-01 11:00\n',
            ['line 2: a quoted value is not closed (a quote inside quotes is written twice: "")'],
        ),
        (HEADER + "1,A\n", ["line 2: 2 fields, where the header has 3"]),
        (
            HEADER + "1,A,2026-03-01 10:00\n1,B,2026-03-01 11:00,extra\n",
            ["line 3: 4 fields, where the header has 3"],
        ),
        (  # a column named twice, whatever the case
            "case:concept:name,concept:name,concept:name,time:timestamp\n1,A,B,2026-03-01\n",
            [
                "line 1: the columns 'concept:name' and 'concept:name' (columns 2 and 3) both "
                "name the activity; keep one of them"
            ],
        ),
        (
            "case_id,Activity,activity,timestamp\n1,A,B,2026-03-01\n",
            [
                "line 1: the columns 'Activity' and 'activity' both name the activity; keep one of them"
            ],
        ),
        (  # a line above the header is not skipped without a word
            "My export of events\n" + HEADER + "1,A,2026-03-01 10:00\n",
            [
                "line 1: missing columns 'Opportunity ID' (or 'case_id', 'case:concept:name' or "
                "'case'); 'Activity' (or 'concept:name' or 'activity name'); 'Event timestamp' "
                "(or 'timestamp', 'time:timestamp', 'time', 'complete timestamp', 'end timestamp' "
                "or 'end time'); the header holds: My export of events"
            ],
        ),
        (  # a zone's abbreviation stands for several zones (CST: US Central, or China?)
            HEADER + "1,A,2011-10-01 00:38:44 CST\n1,B,2011/10/01 00:38:44 IST\n"
            "1,C,2011-10-01 01:00:00 UTC\n1,D,2011-10-01 02:00:00 Europe/Berlin\n"
            "1,E,next tuesday\n",
            [
                "line 2, column 'time:timestamp': '2011-10-01 00:38:44 CST' names its time zone by "
                "an abbreviation or short name, which may mean more than one zone (CST: US "
                "Central or China?): give the offset (e.g. 2026-03-01 14:05:00+08:00), Z for "
                "UTC, or a zone such as Asia/Shanghai",
                "line 3, column 'time:timestamp': '2011/10/01 00:38:44 IST' names its time zone by "
                "an abbreviation or short name, which may mean more than one zone (CST: US "
                "Central or China?): give the offset (e.g. 2026-03-01 14:05:00+08:00), Z for "
                "UTC, or a zone such as Asia/Shanghai",
                "line 6, column 'time:timestamp': 'next tuesday' is not a date and time "
                "(e.g. 2026-03-01 14:05:00)",
            ],
        ),
        (  # DuckDB's words for times and placeholder dates are no event's time
            HEADER + "1,A,infinity\n1,B,epoch\n1,C,0001-01-01\n1,D,9999-12-31 23:00-05:00\n"
            "1,E,1899-12-30 12:00\n1,F,2026-03-01 10:00\n",
            [
                "line 2, column 'time:timestamp': 'infinity' is not a date and time "
                "(e.g. 2026-03-01 14:05:00)",
                "line 3, column 'time:timestamp': 'epoch' is not a date and time "
                "(e.g. 2026-03-01 14:05:00)",
                "line 4, column 'time:timestamp': '0001-01-01' is not in the years 1900 to 2199 "
                "(a placeholder for no date?)",
                "line 5, column 'time:timestamp': '9999-12-31 23:00-05:00' is not in the years "
                "1900 to 2199 (a placeholder for no date?)",
                "line 6, column 'time:timestamp': '1899-12-30 12:00' is not in the years 1900 to "
                "2199 (a placeholder for no date?)",
            ],
        ),
        (
            "case_id,activity,timestamp,start_timestamp\n1,A,2026-03-01 10:00,0001-01-01\n",
            [
                "line 2, column 'start_timestamp': '0001-01-01' is not in the years 1900 to 2199 "
                "(a placeholder for no date?)"
            ],
        ),
    ],
)
def test_a_broken_csv_is_named_by_its_line(tmp_path, text, expected):
    path = tmp_path / "log.csv"
    path.write_text(text, encoding="utf-8")
    assert problems(path) == expected


def test_the_first_and_last_moments_of_the_years_read_load_whatever_their_offset(tmp_path):
    path = tmp_path / "edges.csv"
    path.write_text(
        HEADER + "1,First,1900-01-01 00:00:00+01:00\n1,Last,2199-12-31 23:59:59-01:00\n",
        encoding="utf-8",
    )
    assert loaded_events(path, tmp_path) == [
        ("1", "First", "1899-12-31 23:00"),
        ("1", "Last", "2200-01-01 00:59"),
    ]


@pytest.mark.parametrize(
    "body, expected",
    [
        # A line break inside quotes: the record after it starts on line 5.
        ('1,"A\nB\nC",2026-03-01 10:00\n2,B,2026-03-01 10:00,extra\n', "line 5: 4 fields"),
        ('1,"A\nB\nC",2026-03-01 10:00\n2,B,not-a-date\n', "line 5, column 'time:timestamp'"),
        # Empty lines are no rows, but lines of the file.
        ("\n\n1,A,2026-03-01 10:00\n\n2,B,2026-03-01 10:00,extra\n", "line 6: 4 fields"),
        ("\n\n1,A,2026-03-01 10:00\n\n2,B,not-a-date\n", "line 6, column 'time:timestamp'"),
    ],
)
def test_a_problem_is_placed_on_the_line_an_editor_shows(tmp_path, body, expected):
    path = tmp_path / "log.csv"
    path.write_text(HEADER + body, encoding="utf-8")
    [problem] = problems(path)
    assert problem.startswith(expected)


def test_a_csv_that_is_not_utf8_says_so(tmp_path):
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes(HEADER.encode() + "001,Café,2026-03-01 10:00\n".encode("latin-1"))
    assert problems(latin1) == ["line 2: not UTF-8 text; save the file as UTF-8"]
    utf16 = tmp_path / "utf16.csv"
    utf16.write_bytes((HEADER + "001,A,2026-03-01 10:00\n").encode("utf-16"))
    assert problems(utf16) == ["line 1: not UTF-8 text; save the file as UTF-8"]
    long_line = tmp_path / "long.csv"
    long_line.write_bytes(HEADER.encode() + b"001," + b"A" * 3_000_000 + b",2026-03-01\n")
    [problem] = problems(long_line)
    assert problem.startswith("line 2: the line is longer than ")


def test_what_is_not_a_file_is_named_for_what_it_is(tmp_path):
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    assert problems(folder) == ["a folder, not a file"]
    (tmp_path / "dangling.csv").symlink_to(tmp_path / "gone.csv")
    assert problems(tmp_path / "dangling.csv") == ["a link to a file that does not exist"]
    os.mkfifo(tmp_path / "pipe.csv")
    assert problems(tmp_path / "pipe.csv") == [
        "not a regular file (a device, a pipe or a socket): save the log as a file"
    ]
    assert problems(tmp_path / "missing.csv") == ["the file does not exist"]


def xes_log(events: list[dict[str, str]]) -> str:
    body = "".join(
        "<event>"
        + "".join(
            f'<date key="{k}" value="{v}"/>'
            if k == "time:timestamp"
            else f'<string key="{k}" value="{v}"/>'
            for k, v in event.items()
        )
        + "</event>"
        for event in events
    )
    return f'<log><trace><string key="concept:name" value="c1"/>{body}</trace></log>'


def test_an_xes_file_whose_events_each_have_other_keys_loads_narrow_and_keeps_duplicates_apart(
    tmp_path, monkeypatch
):
    # Every event with keys of its own (20,000 different keys in the file): before, a column
    # each (10,000 keys took 46 s). Events equal in every attribute are one event; events that
    # differ only in an attribute the load does not read are two.
    monkeypatch.setattr(file_source, "XES_BATCH_EVENTS", 1_000)  # several batches
    events = []
    for n in range(4_000):
        minute = f"2026-03-01T10:{n % 60:02d}:00"
        keys = {f"k{n}-{i}": "v" for i in range(5)}
        events.append(
            {"concept:name": f"A{n % 7}", "time:timestamp": minute, **keys, "org:resource": "Ana"}
        )
    twin = {"concept:name": "B", "time:timestamp": "2026-03-02T10:00:00", "note": "first"}
    events += [twin, dict(twin), {**twin, "note": "second"}]
    path = tmp_path / "wide.xes"
    path.write_text(xes_log(events), encoding="utf-8")
    con = connect(tmp_path / "warehouse.duckdb")
    try:
        with read_event_file(path, work_dir=tmp_path / "work") as loaded:
            assert loaded.figures["duplicate_events_dropped"] == 1
            load_into_warehouse(con, loaded)
        assert con.execute(
            "SELECT count(*), count(*) FILTER (activity = 'B'), "
            "count(*) FILTER (resource_name = 'Ana') FROM core.event_log"
        ).fetchone() == (4_002, 2, 4_000)
    finally:
        con.close()
    # The staged table has a column per attribute the load reads and one for all the others.
    reader = file_source._XesReader(duckdb.connect())
    with path.open("rb") as stream:
        reader.parse(stream)
    assert sorted(reader.columns["xes_events"]) == sorted(
        ["concept:name", "time:timestamp", "org:resource", file_source._XES_OTHERS]
    )


def test_a_workbook_whose_sheet_is_no_xml_is_named(tmp_path):
    from openpyxl import Workbook

    good = tmp_path / "good.xlsx"
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Events"
    sheet.append(["Opportunity ID", "Activity", "Event timestamp"])
    sheet.append(["006A", "Opportunity Created", "2026-01-05 10:00:00"])
    workbook.save(good)
    broken = tmp_path / "broken.xlsx"
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(broken, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data[: len(data) // 2]  # cut in the middle of its rows
            target.writestr(item, data)
    [problem] = problems(broken)
    assert problem.startswith("sheet Events: not readable (ParseError: ")


def l2c_run_on_file(log, tmp_path) -> subprocess.CompletedProcess:
    """`l2c run` on the file in a process of its own, a fresh home, no setting of the caller's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("L2C_", "SF_", "DAGSTER_"))}
    env.update(L2C_HOME=str(tmp_path / "home"), L2C_SOURCE="file", L2C_EVENT_LOG_FILE=str(log))
    return subprocess.run(
        [sys.executable, "-m", "l2c_pipeline.cli", "run"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        timeout=600,
    )


def test_l2c_run_prints_no_terminal_escape_from_the_file(tmp_path):
    log = tmp_path / "log.csv"
    log.write_text(
        "Opportunity ID,Activity,Event timestamp,Sales rep\n"
        "006A,Opportunity Created,2026-01-05 10:00:00,Ana\n"
        "006A,\x1b]0;pwned\x07Call,2026-01-06 10:00:00,\x1b[2JAna\n"
        '006A,"Mail\rall good",2026-01-07 10:00:00,Ana\n'  # a CR writes over the line
        "006A,Opportunity Closed Won,2026-01-20 10:00:00,Ana\n",
        encoding="utf-8",
    )
    run = l2c_run_on_file(log, tmp_path)
    printed = run.stdout + run.stderr
    assert run.returncode == 0, printed.decode(errors="replace")[-2000:]
    assert b"\x1b" not in printed and b"\x07" not in printed and b"\r" not in printed
    assert b"\\x1b]0;pwned\\x07Call" in printed and b"Mail\\x0dall good" in printed  # escaped
    with duckdb.connect(str(tmp_path / "home" / "analytics.duckdb"), read_only=True) as analytics:
        assert (
            analytics.execute(
                "SELECT count(*) FROM core.event_log WHERE activity = '\x1b]0;pwned\x07Call'"
            ).fetchone()[0]
            == 1
        )  # the data keeps what the file says


def test_a_folder_duckdb_cannot_keep_a_database_in_is_named(tmp_path):
    from l2c_pipeline.file_source.load import SettingError
    from l2c_pipeline.warehouse.duckdb_warehouse import UnusablePath

    for name in ("home?x", "home\\b"):
        with pytest.raises(UnusablePath, match=r"DuckDB cannot keep a database at a path with"):
            connect(tmp_path / name / "warehouse.duckdb")
        log = tmp_path / "log.csv"
        log.write_text(HEADER + "1,A,2026-03-01 10:00\n", encoding="utf-8")
        with pytest.raises(SettingError, match=r"choose another folder \(L2C_HOME\)"):
            read_event_file(log, work_dir=tmp_path / name)
        assert not list((tmp_path / name).iterdir())  # nothing staged is left there


def test_other_tools_headers_are_read_whatever_their_case_spaces_or_underscores(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text(
        "CaseID,ActivityName,StartTime,End_Time,Resource\n"
        "7,Review,2026-03-01 10:00:00,2026-03-01 10:30:00,ann\n"
        "7,Approve,2026-03-01 11:00:00+01:00,2026-03-01 11:15:00+01:00,bob\n",
        encoding="utf-8",
    )
    assert loaded_rows(
        path,
        tmp_path,
        "SELECT case_id, activity, strftime(started_at, '%H:%M'), strftime(timestamp, '%H:%M'), "
        "resource_name FROM core.event_log ORDER BY resource_name",
    ) == [
        ("7", "Review", "10:00", "10:30", "ann"),
        ("7", "Approve", "10:00", "10:15", "bob"),
    ]


def test_xes_events_that_differ_only_inside_a_list_or_container_are_both_kept(tmp_path):
    """A list's items and a container's parts are not read as columns, but they still tell two
    events apart: only events equal in those too are duplicates."""

    def event(nested: str) -> str:
        return (
            '<event><string key="concept:name" value="A"/>'
            f'<date key="time:timestamp" value="2026-03-01T10:00:00Z"/>{nested}</event>'
        )

    def items(*values: str) -> str:
        listed = "".join(f'<string key="item" value="{v}"/>' for v in values)
        return f'<list key="items"><values>{listed}</values></list>'

    def part(value: str) -> str:
        return f'<container key="box"><string key="part" value="{value}"/></container>'

    path = tmp_path / "nested.xes"
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?><log xes.version="2.0">'
        '<global scope="event"><list key="items"><values/></list></global>'
        '<trace><string key="concept:name" value="c1"/>'
        + event(items("apple"))
        + event(items("pear"))
        + event(items("pear", "apple"))
        + event(items("apple", "pear"))
        + event(items("apple", "pear"))  # the only duplicate
        + event(part("x"))
        + event(part("y"))
        + "</trace></log>",
        encoding="utf-8",
    )
    with read_event_file(path, work_dir=tmp_path / "work") as loaded:
        assert loaded.figures["duplicate_events_dropped"] == 1
        assert len(loaded.events) == 6


def test_start_times_beside_a_lifecycle_of_completes_only_are_read_as_pm4py_reads_them(
    tmp_path,
):
    """A lifecycle column that says complete on every event (written out of habit beside the
    start times) does not stand in the way: the start times are read. With a start among them
    the two would disagree, and the file is refused."""
    path = tmp_path / "interval.csv"
    header = "case:concept:name,concept:name,time:timestamp,start_timestamp,lifecycle:transition\n"
    path.write_text(
        header + "1,A,2026-03-01 10:30,2026-03-01 10:00,complete\n"
        "1,B,2026-03-01 12:00,2026-03-01 11:00,COMPLETE\n",
        encoding="utf-8",
    )
    assert loaded_rows(path, tmp_path, INSTANCES + "ORDER BY started_at") == [
        ("A", "10:00", "10:30"),
        ("B", "11:00", "12:00"),
    ]
    path.write_text(header + "1,A,2026-03-01 10:30,2026-03-01 10:00,start\n", encoding="utf-8")
    assert problems(path) == [
        "line 1: 'lifecycle:transition' and 'start_timestamp' both say when activities start; "
        "keep one of them"
    ]


def test_an_xes_log_without_events_says_so(tmp_path):
    path = tmp_path / "empty.xes"
    path.write_text('<?xml version="1.0"?><log><trace/></log>', encoding="utf-8")
    assert problems(path) == ["the log has no events (no <event> inside a <trace>)"]


@pytest.mark.parametrize(
    "text, expected",
    [
        (  # another tool's end time beside the timestamp the load reads: the timestamp wins
            "case_id,activity,timestamp,end_time\n1,A,2026-03-01 10:00,2026-03-01 11:00\n",
            [("A", None, "10:00")],
        ),
        (  # an empty start column beside a lifecycle: the lifecycle pairs the events
            "case,activity,timestamp,start_time,lifecycle\n"
            "1,A,2026-03-01 10:00,,start\n1,A,2026-03-01 10:20,,complete\n",
            [("A", "10:00", "10:20")],
        ),
        (  # lifecycle:instance (the file's XES name) beside lifecycle_instance: the XES name
            "case_id,activity,timestamp,lifecycle,lifecycle:instance,lifecycle_instance\n"
            "1,A,2026-03-01 10:00,start,a,x\n1,A,2026-03-01 10:05,start,b,x\n"
            "1,A,2026-03-01 10:10,complete,b,x\n1,A,2026-03-01 10:30,complete,a,x\n",
            [("A", "10:00", "10:30"), ("A", "10:05", "10:10")],
        ),
    ],
)
def test_columns_other_tools_add_do_not_stand_in_the_way(tmp_path, text, expected):
    path = tmp_path / "log.csv"
    path.write_text(text, encoding="utf-8")
    assert loaded_rows(path, tmp_path, INSTANCES + "ORDER BY started_at, timestamp") == expected


def test_l2c_run_prints_a_bad_files_problems_a_line_each(tmp_path):
    log = tmp_path / "log.csv"
    log.write_text(
        "case,activity,timestamp\n"
        "c1,A,yesterday\n"
        "c1,B,2026-01-01 10:00\n"
        ",C,2026-01-02 10:00\n"
        "c2,A,2026-13-01 10:00\n",
        encoding="utf-8",
    )
    run = l2c_run_on_file(log, tmp_path)
    assert run.returncode == 1
    assert run.stderr.decode().splitlines()[-4:] == [
        f"Error: file_event_log: {log}: 3 problems, nothing loaded:",
        "  - line 2, column 'timestamp': 'yesterday' is not a date and time (e.g. 2026-03-01 14:05:00)",
        "  - line 4, column 'case': empty",
        "  - line 5, column 'timestamp': '2026-13-01 10:00' is not a date and time (e.g. 2026-03-01 14:05:00)",
    ]


@pytest.mark.parametrize(
    "name, text",
    [
        # A header written by hand above rows from csv.writer (\r\n after each).
        ("header_lf_rows_crlf.csv", HEADER + "c1,A,2026-03-01 10:00\r\nc1,B,2026-03-01 11:00\r\n"),
        # Every kind at once, and line breaks of both kinds inside quotes, kept as written.
        (
            "every_line_end.csv",
            HEADER.replace("\n", "\r\n") + "c1,A,2026-03-01 10:00\n"
            'c1,"B\r\nsecond line",2026-03-01 11:00\r'
            'c2,"C\nsecond line",2026-03-02 10:00\r\n'
            "c2,D,2026-03-02 11:00",
        ),
        # One Windows line end late in a long Unix file.
        (
            "one_late_crlf.csv",
            HEADER
            + "".join(f"c{n},A,2026-03-01 10:00\n" for n in range(3000))
            + "c3000,A,2026-03-01 10:00\r\nc3001,A,2026-03-01 10:00\n",
        ),
    ],
)
def test_a_csv_whose_lines_end_in_more_than_one_way_loads_what_pandas_reads(tmp_path, name, text):
    """DuckDB's strict reader refused these ('state machine reached an invalid state', no
    line), and its lenient one read 'c2' as '2' after a lone \\r."""
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    frame = pd.read_csv(path, dtype=str)
    expected = sorted(
        (case, activity, stamp[:16])
        for case, activity, stamp in frame[
            ["case:concept:name", "concept:name", "time:timestamp"]
        ].itertuples(index=False)
    )
    assert sorted(loaded_events(path, tmp_path)) == expected


def test_a_broken_row_in_a_csv_of_mixed_line_ends_is_named_by_its_line(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_bytes((HEADER + "c1,A,2026-03-01 10:00\r\nc1,B\r\nc1,C,2026-03-01 12:00\n").encode())
    assert problems(path) == ["line 3: 2 fields, where the header has 3"]


def test_a_header_with_a_quote_never_closed_is_one_line(tmp_path):
    path = tmp_path / "stray_quote.csv"
    path.write_text('case,"activity,timestamp\n' + "c1,A,2026-03-01 10:00\n" * 20_000)
    [problem] = problems(path)
    assert problem.startswith("line 1: the header cannot be read (") and "quote" in problem


def test_rows_of_empty_fields_below_the_data_are_skipped_as_empty_lines(tmp_path):
    """Spreadsheets save the rows they once formatted as `,,`: no event, not a problem. A row
    with something in it is still checked."""
    path = tmp_path / "excel.csv"
    path.write_text(HEADER + "c1,A,2026-03-01 10:00\nc1,B,2026-03-01 11:00\n,,\n , ,\n,,\n")
    assert loaded_events(path, tmp_path) == [
        ("c1", "A", "2026-03-01 10:00"),
        ("c1", "B", "2026-03-01 11:00"),
    ]
    path.write_text(HEADER + "c1,A,2026-03-01 10:00\n,,\n,Note,\n")
    assert problems(path) == [
        "line 4, column 'case:concept:name': empty",
        "line 4, column 'time:timestamp': empty",
    ]
    path.write_text(HEADER + ",,\n,,\n")
    assert problems(path) == ["the file has a header but no events"]


def test_more_activities_than_the_mining_can_number_are_refused_at_the_load(tmp_path):
    path = tmp_path / "ids_as_activities.csv"
    path.write_text(HEADER + "".join(f"c{n % 10},A{n},2026-03-01 10:00\n" for n in range(70_000)))
    assert problems(path) == [
        "70,000 different activities, more than the 65,535 a log may have (is the activity "
        "column the right one, not an id or a text?)"
    ]


def test_a_file_rewritten_while_it_is_read_is_refused(tmp_path, monkeypatch):
    """Rows repeat, so the CSV is read a second time: a rewrite in between would have marked
    the second version's duplicates on the first version's rows (and dropped a real event)."""
    path = tmp_path / "export.csv"
    path.write_text(HEADER + "c1,A,2026-03-01 10:00\n" * 2 + "c1,B,2026-03-01 11:00\n")
    marking = file_source._mark_duplicates

    def rewritten_first(con, raw, source_row):
        path.write_text(HEADER + "c1,A,2026-03-01 10:00\nc1,X,2026-03-01 11:00\n" * 2)
        return marking(con, raw, source_row)

    monkeypatch.setattr(file_source, "_mark_duplicates", rewritten_first)
    assert problems(path) == [
        "the file changed while it was read: load it again once whatever writes it has finished"
    ]


def test_names_xml_cannot_hold_export_as_escapes_and_the_check_lists_them_on_one_line(tmp_path):
    """A control character in a name made the XES export no XML (pm4py could not read it
    back); a name with a line break split the run's CHECK WARNING line, and thousands of names
    made it megabytes long."""
    import pm4py

    log = tmp_path / "log.csv"
    rows = [("c1", "\x1b[31mRed\x1b[0m"), ("c1", "Multi\nline"), ("c1", "Bell\x07")]
    rows += [("c2", f"Step {n:02d}") for n in range(25)]
    log.write_text(
        HEADER
        + "".join(
            f'{case},"{activity}",2026-03-01 {10 + n // 60:02d}:{n % 60:02d}\n'
            for n, (case, activity) in enumerate(rows)
        ),
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("L2C_", "SF_", "DAGSTER_"))}
    env.update(
        L2C_HOME=str(tmp_path / "home"),
        L2C_SOURCE="file",
        L2C_EVENT_LOG_FILE=str(log),
        L2C_EXPORT_FORMATS="xes",
    )
    run = subprocess.run(
        [sys.executable, "-m", "l2c_pipeline.cli", "run"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    [warning] = [line for line in run.stderr.splitlines() if "every_activity_is_catalogued" in line]
    assert "Multi\\x0aline" in warning and "and 8 more" in warning and len(warning) < 1000
    exported = pm4py.read_xes(str(tmp_path / "home" / "outputs" / "event_log.xes"))
    assert set(exported["concept:name"]) == {
        "\\x1b[31mRed\\x1b[0m",
        "Multi\nline",
        "Bell\\x07",
        *(f"Step {n:02d}" for n in range(25)),
    }
