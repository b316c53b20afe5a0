"""Reading an event-log file (a filled template, a CSV or an XES file) and loading it into
core.event_log and core.cases, so the rest of the graph runs as it does on Salesforce data.

Every problem is reported, one line each, with the file and the place (sheet and row, line, or
trace and event) and column, and then nothing is loaded: the warehouse keeps what it had.

The file never passes through pandas whole: DuckDB reads a CSV itself, an XES file is parsed as
it streams and appended to DuckDB in batches, and only the template (small by nature) is read
cell by cell. The cells land as text in a DuckDB file of their own (a staging file, under
L2C_DUCKDB_MEMORY_LIMIT and spilling to disk beyond it); checks, dropping exact duplicates and
pairing start and complete events run set-based there, and load_into_warehouse copies the
checked log from it into the warehouse. So memory stays bounded whatever the file's size.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import os
import re
import shutil
import tempfile
import uuid
import weakref
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial
from pathlib import Path
from xml.parsers import expat

import duckdb
import pandas as pd

from ..models.sql_models import catalogue_activities  # noqa: F401  (a template's activities)
from ..terminal_log import one_line
from ..warehouse.duckdb_warehouse import (
    check_database_path,
    quote,
    session,
    set_memory_limit,
    sql_literal,
    write_comments,
)
from .template import CASE_COLUMNS, CASES_SHEET, EVENT_COLUMNS, EVENTS_SHEET, Column

MAX_PROBLEMS_SHOWN = 50
# Problems kept in EventFileError.problems (the message counts them all): a file wrong on each of
# its 10 million lines gives its first thousand, not 10 million strings in memory.
MAX_PROBLEMS_KEPT = 1000
# A 20-million-event CSV fits with room to spare: BPI Challenge 2012 as pandas writes it takes
# about 105 bytes an event, 2.1 GB for 20M (as XES, about 280 bytes an event: 15 million events).
# Memory does not grow with the file: the limit is there for the disk and the time a load takes.
DEFAULT_MAX_FILE_MB = 4096
# An XES file's events go to DuckDB this many at a time: the parser holds one batch, not the log.
XES_BATCH_EVENTS = 50_000
# An xlsx is a zip: refuse one that would unpack to much more than it weighs (a zip bomb).
MAX_UNPACKED_RATIO = 100
# Values longer than this are cut in messages: a 100,000-character name helps nobody there.
SHOWN_CHARACTERS = 200


def shown(value) -> str:
    """A value from the file as a message shows it: cut when long, control characters (C0, DEL,
    C1) shown as \\xNN, so that it never drives the terminal that prints it (ESC [31m ...)."""
    return one_line(value, SHOWN_CHARACTERS)


# The same in SQL, for the checks' messages, and cell(): a cell as the checks read it (text
# without surrounding white space, empty as NULL).
_SQL_MACROS = (
    # Most cells have nothing to strip: only those that start or end with a character up to
    # the space (white space is among them) go through the regular expression.
    r"""CREATE TEMP MACRO cell(x) AS nullif(CASE
        WHEN ord(CAST(x AS VARCHAR)[1]) <= 32 OR ord(CAST(x AS VARCHAR)[-1]) <= 32
        THEN regexp_replace(CAST(x AS VARCHAR), '^\s+|\s+$', '', 'g') ELSE CAST(x AS VARCHAR) END, '')""",
    # Names other tools wrote (case, activity, resource) are kept as written, as pm4py and
    # pandas keep them: 'B ' and 'B' are two activities there. Only white space alone is empty.
    r"""CREATE TEMP MACRO as_written(x) AS CASE WHEN cell(x) IS NOT NULL THEN CAST(x AS VARCHAR) END""",
    r"""CREATE TEMP MACRO escaped(s) AS CASE
        WHEN regexp_matches(s, '[\x00-\x1f\x7f-\x9f]') THEN array_to_string(list_transform(
            string_split(s, ''),
            lambda c: CASE WHEN ord(c) < 32 OR ord(c) BETWEEN 127 AND 159
                           THEN '\x' || lower(lpad(hex(ord(c)), 2, '0')) ELSE c END), '')
        ELSE s END""",
    f"""CREATE TEMP MACRO shown(s) AS escaped(CASE WHEN length(s) > {SHOWN_CHARACTERS}
        THEN left(s, {SHOWN_CHARACTERS}) || '... (' || format('{{:,}}', length(s)) || ' characters)'
        ELSE s END)""",
)


class EventFileError(ValueError):
    """A file that cannot be loaded; the message lists every problem, one per line."""

    def __init__(self, path: Path, problems: list[str], total: int | None = None) -> None:
        """`total`: how many problems there are, when `problems` holds only the first ones."""
        self.path, self.problems = Path(path), problems
        self.total = len(problems) if total is None else total
        shown_problems = "\n".join(f"  - {p}" for p in problems[:MAX_PROBLEMS_SHOWN])
        more = self.total - min(len(problems), MAX_PROBLEMS_SHOWN)
        super().__init__(
            f"{shown(self.path)}: {self.total} problem{'s' if self.total != 1 else ''}, "
            "nothing loaded:\n" + shown_problems + (f"\n  ... and {more} more" if more > 0 else "")
        )


class SettingError(ValueError):
    """A file-source setting that cannot be used; the message is one line naming it."""


class LoadedLog:
    """A checked event log, staged in a DuckDB file of its own until load_into_warehouse copies
    it: table events, one row per activity instance (source_row, case_id, activity, timestamp
    when it completed, started_at when it started or null for an instantaneous event,
    resource_name, stage, amount, is_won, discount_pct), and table cases (source_row, case_id
    and the CASE_COLUMNS keys; empty when the file has none). close() deletes the staging file;
    so does the garbage collector for a log nobody closed."""

    def __init__(self, database: Path, source: str, figures: dict[str, int]) -> None:
        self.database, self.source = Path(database), source
        # duplicate_events_dropped, activity_instances_with_start, lifecycle_events_left_out
        self.figures = figures
        self._remove = weakref.finalize(self, shutil.rmtree, self.database.parent, True)

    def close(self) -> None:
        self._remove()

    def __enter__(self) -> LoadedLog:
        return self

    def __exit__(self, *_) -> None:
        self.close()

    @property
    def events(self) -> pd.DataFrame:
        """The activity instances in the file's order, as a DataFrame: to look at a small log
        (loading it never builds one)."""
        return self._frame("SELECT * FROM events ORDER BY source_row")

    @property
    def cases(self) -> pd.DataFrame:
        return self._frame("SELECT * EXCLUDE (source_row) FROM cases ORDER BY source_row")

    def _frame(self, sql: str) -> pd.DataFrame:
        with duckdb.connect(str(self.database), read_only=True) as con:
            return con.execute(sql).df()


def max_file_bytes() -> int:
    configured = os.environ.get("L2C_MAX_FILE_MB", "").strip()
    if not configured:
        return DEFAULT_MAX_FILE_MB * 1024 * 1024
    try:
        megabytes = float(configured)
    except ValueError:
        megabytes = math.nan
    if not (math.isfinite(megabytes) and megabytes > 0):
        raise SettingError(
            "L2C_MAX_FILE_MB must be a positive number of megabytes (e.g. 500 or 1.5), "
            f"got '{shown(configured)}'"
        )
    return int(megabytes * 1024 * 1024)


def _megabytes(size: float) -> str:
    megabytes = size / 1024 / 1024
    if 0 < megabytes < 0.01:  # a tiny limit reads as what it is, not as 0 MB
        return f"{size:,.0f} bytes"
    return f"{megabytes:,.2f}".rstrip("0").rstrip(".") + " MB"


def read_event_file(
    path: Path, known_activities: set[str] | None = None, work_dir: Path | None = None
) -> LoadedLog:
    """Read and check the file, staged for load_into_warehouse. `known_activities`: the
    catalogue, which a template's activities must come from (CSV and XES files from other tools
    may use their own). `work_dir`: where the staging file and what DuckDB spills go (a
    folder of their own in it, deleted with the log); the system's temporary folder by default."""
    path = Path(path)
    limit = max_file_bytes()  # a bad setting is named before the file is looked at
    if not path.is_file():
        raise EventFileError(path, [_not_a_file(path)])
    size = path.stat().st_size
    if size == 0:
        raise EventFileError(path, ["the file is empty"])
    if size > limit:
        raise EventFileError(
            path,
            [
                f"the file is {_megabytes(size)}, over the limit of {_megabytes(limit)} "
                "(L2C_MAX_FILE_MB)"
            ],
        )
    name = path.name.lower()
    if name.endswith(".xlsx"):
        read, known = _read_xlsx, known_activities
    elif name.endswith(".csv"):
        read, known = _read_csv, None
    elif name.endswith(".xes") or name.endswith(".xes.gz"):
        read, known = _read_xes, None
    else:
        # A compressed CSV is not read as it is (DuckDB could not split it between threads).
        unpack = " (unpack it first: gunzip FILE)" if name.endswith(".csv.gz") else ""
        raise EventFileError(
            path,
            ["unknown kind of file: expected .xlsx (the template), .csv, .xes or .xes.gz" + unpack],
        )
    work_dir = Path(work_dir or tempfile.gettempdir())
    work_dir.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(work_dir)
    folder = Path(tempfile.mkdtemp(prefix=f"{_STAGED}{os.getpid()}-", dir=work_dir))
    database = folder / "staged.duckdb"
    if read is _read_csv:
        # DuckDB reads a path as a pattern (log[1].csv would read log1.csv): it is given a
        # link of a plain name to the file.
        read = partial(_read_csv, link=folder / "file.csv")
    before = _identity(path)
    try:
        with _staging(database) as con:
            figures = _checked(path, con, read(path, con, limit), known)
        # A file rewritten while it was read (a CSV is read twice where rows repeat) would load
        # rows of both versions.
        if _identity(path) != before:
            raise EventFileError(
                path,
                [
                    "the file changed while it was read: load it again once whatever writes it "
                    "has finished"
                ],
            )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return LoadedLog(database, str(path), figures)


def _identity(path: Path) -> tuple[int, int, int, int]:
    """What changes when a file is written or replaced: device, inode, size, modification time."""
    found = path.stat()
    return (found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns)


def _not_a_file(path: Path) -> str:
    if path.is_dir():
        return "a folder, not a file"
    if path.is_symlink() and not path.exists():
        return "a link to a file that does not exist"
    if path.exists():
        return "not a regular file (a device, a pipe or a socket): save the log as a file"
    return "the file does not exist"


# A staged log's folder: this, the pid of the process loading it, a dash and a random part.
_STAGED = ".l2c-event-file-"


def _remove_leftovers(work_dir: Path) -> None:
    """The staged logs of loads whose process died before it could delete them (killed, out of
    memory): a staged log is about as large as its file."""
    from ..warehouse.publish import pid_alive

    for leftover in work_dir.glob(f"{_STAGED}*-*"):
        pid = leftover.name.removeprefix(_STAGED).split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
            shutil.rmtree(leftover, ignore_errors=True)


@contextmanager
def _staging(database: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to the staging file, with the warehouse's memory limit (what is over it
    spills to a folder beside the file) and the checks' SQL macros."""
    try:
        check_database_path(database, "L2C_HOME")
    except ValueError as error:
        raise SettingError(str(error)) from None
    con = duckdb.connect(str(database))
    try:
        con.execute("SET enable_progress_bar = false")
        # Timestamps with an offset (2011-10-11 13:45:40+02:00) are converted to UTC; those
        # without one are read as UTC.
        con.execute("SET TimeZone = 'UTC'")
        # The default, said here because CSV line numbers are the rows' order in their table.
        con.execute("SET preserve_insertion_order = true")
        try:
            set_memory_limit(con)
        except ValueError as error:
            raise SettingError(str(error)) from None
        for macro in _SQL_MACROS:
            con.execute(macro)
        yield con
    finally:
        con.close()


def _text(value) -> str | None:
    """A cell as text for the checks: dates in ISO form, booleans as true/false."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip()
    return text or None


# Other tools' names for the same columns (XES attribute names, as pm4py writes CSV; Disco's).
ALIASES = {
    "case_id": ("case:concept:name", "case id", "case"),
    "activity": ("concept:name", "activity name"),
    "timestamp": (
        "time:timestamp",
        "timestamp",
        "time",
        "complete timestamp",
        "end timestamp",
        "end time",
    ),
    "resource_name": ("org:resource", "resource"),
    "lifecycle": ("lifecycle", "transition", "lifecycle transition"),
    "lifecycle_instance": ("lifecycle:instance",),
    "start_timestamp": ("start timestamp", "start time", "start_time"),
}
# What the columns are, for messages.
NOUNS = {
    "case_id": "case",
    "activity": "activity",
    "timestamp": "timestamp",
    "resource_name": "resource",
}
# Columns other tools write besides the template's: an event's lifecycle transition (start,
# complete, ...) and the activity instance it belongs to (the XES standard's concept:instance,
# pm4py's key for pairing; some tools write lifecycle:instance), or, on one event per activity
# instance, when it started (pm4py's start_timestamp).
LIFECYCLE_COLUMNS = (
    Column("lifecycle:transition", "lifecycle", "text", False, "start, complete, ..."),
    Column("concept:instance", "lifecycle_instance", "text", False, "the activity instance"),
    Column("start_timestamp", "start_timestamp", "datetime", False, "when the activity started"),
)
FILE_COLUMNS = (*EVENT_COLUMNS, *LIFECYCLE_COLUMNS)
# The transitions of the XES standard lifecycle model. A start and the complete it pairs with
# make one activity instance, a complete without a start an instantaneous one; the others
# (schedule, suspend, ...) and starts never completed are left out, as pm4py leaves them out
# when it pairs them.
LIFECYCLE_TRANSITIONS = (
    "schedule",
    "assign",
    "reassign",
    "withdraw",
    "start",
    "suspend",
    "resume",
    "pi_abort",
    "ate_abort",
    "complete",
    "autoskip",
    "manualskip",
    "unknown",
)
# The XES attributes the events are read from.
XES_ATTRIBUTES = {
    "case_id": "case:concept:name",
    "activity": "concept:name",
    "timestamp": "time:timestamp",
    "resource_name": "org:resource",
    "lifecycle": "lifecycle:transition",
    "lifecycle_instance": "concept:instance",
    "start_timestamp": "start_timestamp",
}
# Read where the XES standard's attribute is absent (concept:instance wins where both are).
XES_FALLBACKS = {"lifecycle_instance": "lifecycle:instance"}


@dataclass(frozen=True)
class FileEvents:
    """A file's events as read into the staging file, before any check: file_rows (a table or
    a view) has the file's columns (XES attributes) as text, under names safe in SQL, and
    source_row, except for a CSV: there file_rows is the file itself, read where it is read, and
    its rows are numbered by the order that read keeps (_cells). file_cases is the template's
    Cases sheet (empty for other files). `columns` maps the keys (case_id, activity, ...) to
    file_rows' columns, `labels` to the file's own names for them; `file_columns` are all of
    file_rows' columns but source_row."""

    kind: str  # template, csv or xes
    columns: dict[str, str]
    labels: dict[str, str]
    header_place: str
    file_columns: tuple[str, ...]
    # For a CSV whose lines end in more than one way (which DuckDB's strict reader refuses):
    # checks every row with Python's csv reader and, when all are sound, writes them again with
    # one line end and points file_rows at that copy; returns the problems found.
    reread_line_ends: Callable[[], list[str]] | None = field(default=None, compare=False)


def _quoted(name: str) -> str:
    return f"'{shown(name)}'"


def _listed(names: list[str], conjunction: str = "and") -> str:
    quoted = [_quoted(n) for n in names]
    return ", ".join(quoted[:-1]) + f" {conjunction} " + quoted[-1]


# Names other tools give an event's end time: a column of the file named otherwise (timestamp,
# time:timestamp) is the one read, as it was before these names were.
_WEAK_FORMS = {"timestamp": ("endtimestamp", "endtime")}


def _header_form(name: str) -> str:
    """A header as compared: case, spaces, underscores and hyphens aside (Case ID, case_id,
    CaseID and case-id are one name)."""
    return re.sub(r"[\s_-]+", "", name.lower())


def _other_names(column: Column) -> list[str]:
    """The names besides the column's header that a file may give it, once each."""
    seen, names = {_header_form(column.header)}, []
    for name in (column.key, *ALIASES.get(column.key, ())):
        if _header_form(name) not in seen:
            seen.add(_header_form(name))
            names.append(name)
    return names


def _names_read(column: Column) -> set[str]:
    return {_header_form(n) for n in (column.header, *_other_names(column))}


def _header_keys(
    header: tuple, columns, header_place: str, problems: list[str]
) -> tuple[dict[str, int], dict[str, str]]:
    """Column key -> position and key -> the header as written, from the header row (the
    template's headers, the keys, or the XES attribute names). Two columns that name the same
    thing are a problem: which one is meant cannot be guessed."""
    found: dict[str, list[int]] = {}
    written = [shown(_text(c) or "") for c in header if _text(c)]
    found_headers = ", ".join(written[:12]) + (", ..." if len(written) > 12 else "") or "nothing"
    names_read = {column.key: _names_read(column) for column in columns}
    for position, cell in enumerate(header):
        label = _header_form(_text(cell) or "")
        for column in columns:
            if label in names_read[column.key]:
                found.setdefault(column.key, []).append(position)
    for column in columns:
        positions = found.get(column.key, [])
        # pm4py's format_dataframe writes the XES column beside the one it was given (case_id
        # and case:concept:name): the XES one is the log's.
        for names in (
            (XES_ATTRIBUTES.get(column.key),),
            (XES_FALLBACKS.get(column.key),),
            # Other tools' end times yield to a column named as the load names it.
            names_read[column.key] - set(_WEAK_FORMS.get(column.key, ())),
        ):
            preferred = [
                p
                for p in positions
                if (_text(header[p]) or "") in names
                or _header_form(_text(header[p]) or "") in names
            ]
            if len(positions) > 1 and len(preferred) == 1:
                found[column.key] = positions = preferred
        if len(positions) > 1:
            from openpyxl.utils import get_column_letter  # only a file with such a problem

            noun = NOUNS.get(column.key, f"'{column.header}'")
            names = [_text(header[p]) for p in positions]
            # Columns written alike are told apart by their place in the header.
            # A sheet's columns by their letters, as a spreadsheet shows them.
            numbers = [
                get_column_letter(p + 1) if header_place.startswith("sheet") else str(p + 1)
                for p in positions
            ]
            places = (
                f" (columns {', '.join(numbers[:-1])} and {numbers[-1]})"
                if len(set(names)) < len(names)
                else ""
            )
            problems.append(
                f"{header_place}: the columns {_listed(names)}{places} "
                f"{'both' if len(positions) == 2 else 'all'} name the {noun}; keep one of them"
            )
    missing = [c for c in columns if c.required and c.key not in found]
    if missing:
        # Each with the other names it is read by, so a file from another tool can be mended.
        named = [f"{_quoted(c.header)} (or {_listed(_other_names(c), 'or')})" for c in missing]
        problems.append(
            f"{header_place}: missing column{'s' if len(missing) > 1 else ''} "
            f"{'; '.join(named)}; the header holds: {found_headers}"
        )
    keys = {key: positions[0] for key, positions in found.items() if len(positions) == 1}
    return keys, {key: _text(header[position]) for key, position in keys.items()}


def _read_xlsx(path: Path, con: duckdb.DuckDBPyConnection, limit: int) -> FileEvents:
    from openpyxl import load_workbook

    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile:
        raise EventFileError(
            path, ["not an xlsx file (it is not a zip archive; save it as .xlsx)"]
        ) from None
    if unpacked > MAX_UNPACKED_RATIO * path.stat().st_size or unpacked > 4 * limit:
        raise EventFileError(
            path,
            [f"the xlsx unpacks to {_megabytes(unpacked)}: refused as too large or malformed"],
        )
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a broken file
        raise EventFileError(
            path, [f"not a readable xlsx file ({type(error).__name__}: {shown(error)})"]
        ) from None
    problems: list[str] = []
    where = f"sheet {EVENTS_SHEET}"
    try:
        if EVENTS_SHEET not in workbook.sheetnames:
            raise EventFileError(
                path,
                [
                    f"no sheet '{EVENTS_SHEET}' (found: "
                    f"{', '.join(shown(s) for s in workbook.sheetnames)}); use the template"
                ],
            )
        # The sheets' XML is parsed as their rows are read: a broken sheet fails here.
        reading = where
        try:
            events, labels = _sheet_rows(workbook[EVENTS_SHEET], FILE_COLUMNS, where, problems)
            reading = f"sheet {CASES_SHEET}"
            cases, _ = (
                _sheet_rows(workbook[CASES_SHEET], CASE_COLUMNS, reading, problems, optional=True)
                if CASES_SHEET in workbook.sheetnames
                else (_empty(CASE_COLUMNS), {})
            )
        except Exception as error:  # openpyxl and the XML parser raise many kinds
            raise EventFileError(
                path,
                [f"{reading}: not readable ({type(error).__name__}: {shown(error)})"],
            ) from None
    finally:
        workbook.close()
    if problems:
        raise EventFileError(path, problems)
    keys = tuple(c for c in events.columns if c != "source_row")
    _sheet_table(con, "file_rows", events, keys)
    _sheet_table(con, "file_cases", cases, tuple(c.key for c in CASE_COLUMNS))
    return FileEvents("template", {k: k for k in keys}, labels, f"{where}, row 1", keys)


def _sheet_table(
    con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame, keys: tuple[str, ...]
) -> None:
    """A sheet's rows (source_row and cells as text) as `table`, with a text column for each
    of `keys` (null where the sheet has no such column)."""
    con.register("sheet", frame)
    try:
        cells = ", ".join(
            f"CAST({quote(k)} AS VARCHAR) AS {quote(k)}"
            if k in frame.columns
            else f"NULL::VARCHAR AS {quote(k)}"
            for k in keys
        )
        con.execute(
            f"CREATE TEMP TABLE {table} AS SELECT source_row::BIGINT AS source_row, {cells} FROM sheet"
        )
    finally:
        con.unregister("sheet")


def _no_cases(con: duckdb.DuckDBPyConnection) -> None:
    """An empty file_cases: only the template has a Cases sheet."""
    columns = ", ".join(f"{quote(c.key)} VARCHAR" for c in CASE_COLUMNS)
    con.execute(f"CREATE TEMP TABLE file_cases (source_row BIGINT, {columns})")


def _sheet_rows(
    sheet, columns, where: str, problems: list[str], optional: bool = False
) -> tuple[pd.DataFrame, dict[str, str]]:
    rows = sheet.iter_rows(values_only=True)
    header = next(rows, None)
    if header is None or not any(_text(c) for c in header):
        if not optional:
            problems.append(f"{where} is empty: no header row and no events")
        return _empty(columns), {}
    positions, labels = _header_keys(header, columns, f"{where}, row 1", problems)
    records = []
    for number, row in enumerate(rows, start=2):
        cells = [_text(row[p]) if p < len(row) else None for p in positions.values()]
        if any(cells):
            records.append((number, *cells))
    frame = pd.DataFrame(records, columns=["source_row", *positions.keys()], dtype=object)
    if not records and not optional:
        problems.append(f"{where} has a header but no events")
    return frame, labels


def _empty(columns) -> pd.DataFrame:
    return pd.DataFrame(columns=["source_row", *(c.key for c in columns)], dtype=object)


def _read_csv(
    path: Path, con: duckdb.DuckDBPyConnection, limit: int, link: Path | None = None
) -> FileEvents:
    """DuckDB reads the CSV itself, in parallel, every column as text (the checks type them, so
    a bad cell is named rather than failing the read). The dialect is the one pandas reads:
    RFC 4180 quotes (a quote in a quoted value written twice), no comment lines, the header on
    line 1; only the delimiter is found, from the header (_csv_header). A row that breaks it
    (a quote not closed, more or fewer fields than the header) stops the read, named by its
    line: sniffing instead guessed a dialect that read such a file without its quotes, or
    dropped the rows that begin with #. The rows are read once, by _cells, which keeps of
    them only what the checks and the load need (a second read only to compare the rows whose
    hashes repeat, when some do). `link`: where to put a link to the file that DuckDB reads
    (its path as written could be taken for a pattern)."""
    names, delimiter = _csv_header(path)
    problems: list[str] = []
    positions, labels = _header_keys(tuple(names), FILE_COLUMNS, "line 1", problems)
    if problems:
        raise EventFileError(path, problems)
    readable = path
    if link is not None:
        link.symlink_to(path.resolve())
        readable = link
    # Columns are named c0, c1, ...: any header is safe in SQL.
    columns = tuple(f"c{i}" for i in range(len(names)))
    types = ", ".join(f"{sql_literal(c)}: 'VARCHAR'" for c in columns)

    def read_from(csv_file: Path) -> None:
        con.execute(
            f"""CREATE OR REPLACE TEMP VIEW file_rows AS SELECT * FROM read_csv(
            {sql_literal(str(csv_file))}, header = true, auto_detect = false,
            columns = {{{types}}}, delim = {sql_literal(delimiter)}, quote = '"', escape = '"',
            comment = '', skip = 0, strict_mode = true, parallel = true)"""
        )

    def reread_line_ends() -> list[str]:
        # Beside the link, in the staging folder deleted with the log.
        copy = (link or path).with_name("one-line-end.csv")
        problems = _rewrite_line_ends(path, delimiter, len(names), copy)
        if not problems:
            read_from(copy)
        return problems

    read_from(readable)
    _no_cases(con)
    return FileEvents(
        "csv",
        {key: f"c{p}" for key, p in positions.items()},
        labels,
        "line 1",
        columns,
        reread_line_ends=reread_line_ends if link is not None else None,
    )


# The delimiters a CSV may use; of those that split its header, the one into most fields.
CSV_DELIMITERS = (",", ";", "\t", "|")
# The most different activities a log may have: the mining stage numbers them in 16 bits
# (sql/mining/activity_codes.sql), and a map of more could not be read anyway.
MAX_ACTIVITIES = 65_535
# The header must end within this many bytes.
CSV_HEADER_BYTES = 1 << 20
# A row whose quote is never closed, as both readers of a CSV say it.
UNCLOSED_QUOTE = 'a quoted value is not closed (a quote inside quotes is written twice: "")'
# The longest line DuckDB's reader takes (its max_line_size).
CSV_MAX_LINE_BYTES = 2_000_000


def _csv_header(path: Path) -> tuple[list[str], str]:
    """The header's names as written (quotes as in the rows) and the delimiter."""
    with path.open("rb") as file:
        head = file.read(CSV_HEADER_BYTES)
    if len(head) == CSV_HEADER_BYTES and b"\n" not in head:
        raise EventFileError(
            path, [f"line 1: no end of the header in its first {_megabytes(CSV_HEADER_BYTES)}"]
        )
    # Bytes that are no UTF-8 become lone surrogates, found below; a UTF-8 byte-order mark goes.
    text = head.decode("utf-8", errors="surrogateescape").removeprefix("\ufeff")
    try:
        splits = {
            delimiter: next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), [])
            for delimiter in CSV_DELIMITERS
        }
    except csv.Error as error:  # a field over the csv module's limit (a quote never closed)
        raise EventFileError(
            path, [f"line 1: the header cannot be read ({error}; is a quote not closed?)"]
        ) from None
    delimiter = max(CSV_DELIMITERS, key=lambda d: len(splits[d]))  # the first of equals
    names = splits[delimiter]
    if any("\udc80" <= character <= "\udcff" for name in names for character in name):
        raise EventFileError(path, ["line 1: not UTF-8 text; save the file as UTF-8"])
    return names, delimiter


_LINE = re.compile(r"^line (\d+)")


def _on_file_lines(path: Path, problems: list[str], count_empty: bool = False) -> list[str]:
    """The problems with each "line N" made the line of the file it starts on, as an editor
    counts. N counts records: the rows' numbers (an empty line is none), or with `count_empty`
    DuckDB's read errors' (an empty line is one); after a line break inside quotes, or an
    empty line, they differ from the file's lines. Only a file with problems is read for this,
    up to the last record named."""
    records = {int(m[1]) for problem in problems if (m := _LINE.match(problem))}
    if not records:
        return problems
    _, delimiter = _csv_header(path)
    starts: dict[int, int] = {}
    last = max(records)
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as file:
        reader = csv.reader(file, delimiter=delimiter, quotechar='"', doublequote=True)
        record, start = 0, 1
        try:
            for row in reader:
                if row or count_empty:
                    record += 1
                    if record in records:
                        starts[record] = start
                    if record >= last:
                        break
                start = reader.line_num + 1
        except csv.Error:
            pass  # the lines found so far are right; the rest keep their record numbers
    return [
        _LINE.sub(lambda m: f"line {starts.get(int(m[1]), int(m[1]))}", problem)
        for problem in problems
    ]


# What DuckDB says of a row that breaks the CSV, said plainly.
_CSV_REASONS = (
    (
        re.compile(r"Expected Number of Columns: (\d+) Found: (\d+)"),
        lambda m: f"{m[2]} fields, where the header has {m[1]}",
    ),
    (
        re.compile(r"unterminated quote"),
        lambda m: UNCLOSED_QUOTE,
    ),
    (re.compile(r"Invalid unicode"), lambda m: "not UTF-8 text; save the file as UTF-8"),
    (
        re.compile(r"Maximum line size of (\d+) bytes exceeded"),
        lambda m: f"the line is longer than {_megabytes(int(m[1]))}",
    ),
)


def _unreadable_csv(path: Path, error: duckdb.Error) -> EventFileError:
    """One line for a CSV DuckDB could not read: the line and the reason when it names them."""
    text = str(error)
    lines = text.splitlines() or [""]
    line = re.search(r"CSV Error on Line: (\d+)", text)
    # The reason is the last line before DuckDB's suggestions.
    end = next((i for i, t in enumerate(lines) if t.startswith("Possible")), len(lines))
    reason = next((t.strip() for t in reversed(lines[1:end]) if t.strip()), "")
    for pattern, said in _CSV_REASONS:
        if match := pattern.search(text):
            reason = said(match)
            break
    if line and reason and not reason.startswith("Original Line"):
        problem = f"line {line[1]}: {shown(reason)}"
        return EventFileError(path, _on_file_lines(path, [problem], count_empty=True))
    return EventFileError(path, [f"not a readable CSV file ({shown(lines[0])})"])


def _rewrite_line_ends(
    path: Path, delimiter: str, width: int, copy: Path, most: int = 10
) -> list[str]:
    """The rows of a CSV that break the dialect _read_csv reads (a quote not closed, other than
    `width` fields), by line, as Python's csv reader finds them; when there are none, the rows
    written to `copy` with \\n after each (values, line breaks inside quotes included, as they
    are). For a file DuckDB's strict reader could not read, nor say more of."""
    problems: list[str] = []
    previous_limit = csv.field_size_limit()
    csv.field_size_limit(max(previous_limit, CSV_MAX_LINE_BYTES))
    try:
        with (
            path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as source,
            copy.open("w", encoding="utf-8", errors="surrogateescape", newline="") as target,
        ):
            reader = csv.reader(source, delimiter=delimiter, quotechar='"', strict=True)
            writer = csv.writer(target, delimiter=delimiter, quotechar='"', lineterminator="\n")
            start = 1
            try:
                for row in reader:
                    if start > 1 and row and len(row) != width:
                        problems.append(
                            f"line {start}: {len(row)} fields, where the header has {width}"
                        )
                        if len(problems) >= most:
                            break
                    elif row:
                        writer.writerow(row)
                    start = reader.line_num + 1
            except csv.Error as error:
                reason = str(error)
                if "unexpected end of data" in reason or "EOF" in reason:
                    reason = UNCLOSED_QUOTE
                problems.append(f"line {start}: {shown(reason)}")
    finally:
        csv.field_size_limit(previous_limit)
    return problems


class _Unpacking:
    """A .gz file read as it unpacks, refused as soon as it unpacks to more than the limit: a
    small file can unpack to far more than it weighs, and nothing is unpacked beyond the limit
    (nor twice: the parser reads from this)."""

    def __init__(self, path: Path, limit: int) -> None:
        self.path, self.limit, self.unpacked = path, limit, 0
        self.stream = gzip.open(path, "rb")  # noqa: SIM115  (closed by __exit__)

    def read(self, size: int) -> bytes:
        try:
            chunk = self.stream.read(size)
        except (OSError, EOFError, zlib.error) as error:
            raise EventFileError(self.path, [f"not a readable .gz file ({shown(error)})"]) from None
        self.unpacked += len(chunk)
        if self.unpacked > self.limit:
            raise EventFileError(
                self.path,
                [
                    f"the file unpacks to more than {_megabytes(self.limit)}, the limit "
                    "(L2C_MAX_FILE_MB)"
                ],
            )
        return chunk

    def __enter__(self) -> _Unpacking:
        return self

    def __exit__(self, *_) -> None:
        self.stream.close()


class XesSyntaxError(ValueError):
    """Well-formed XML that is no XES log (a trace inside a trace, ...)."""


# Where an event's (a trace's) attributes the load does not read go: a name no XES key can
# have (XML names hold no NUL).
_XES_OTHERS = "\x00others"
# On the reader's stack: inside an event's or a trace's attribute.
_IN_ATTRIBUTE = object()
# Among the others, after an attribute's key: the attributes nested in it.
_XES_NESTED = "\x00nested"
# Deeper than any log nests its attributes (and than JSON can be written): refused.
_XES_MAX_DEPTH = 200
# The XES elements that hold one attribute each (a list's or a container's value is what it
# holds, which goes with the others).
_XES_ATTRIBUTE_TAGS = frozenset(
    ("string", "date", "int", "float", "boolean", "id", "list", "container")
)


class _XesReader:
    """expat's handlers for an XES log, appending it to the staging file XES_BATCH_EVENTS
    events at a time: xes_events (source_row, the event's number in the file from 1; trace, the
    trace's; and a column per event attribute) and xes_traces (trace and a column per trace
    attribute). Values are the text in the file: dates are parsed later, in SQL, by the same
    rules as a CSV's, and one that does not parse is named with its value. Attributes nested in
    an attribute (a list's items, a container's parts) go with the others, as a tree under the
    attribute's key: they tell duplicates apart. Left out, as pm4py leaves them out of its
    DataFrame: the log's own attributes, the <global> defaults, events outside a trace."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        # The attributes the load reads get a column each; an event's (a trace's) others go
        # together in one, as JSON: they only tell exact duplicates apart, and a file whose
        # events each have other keys stays a narrow table.
        self.event_keys = frozenset((*XES_ATTRIBUTES.values(), *XES_FALLBACKS.values()))
        self.trace_keys = frozenset(("concept:name",))
        # Per open element, where the attributes in it go: the open event's or trace's dict,
        # None in anything else (the log, an attribute, <global>, ...). The handlers run for
        # every element of the file, so they do as little as they can.
        self.stores: list = [None]
        self.attribute: tuple[dict, str] | None = None  # the open event attribute's owner, key
        self.trace: dict | None = None  # the open trace's attributes
        self.event: dict | None = None  # the open event's
        self.kinds: dict[str, str] = {}  # element name -> attribute, event, trace or other
        self.traces_read = self.events_read = 0
        self.batches: dict[str, tuple[list[dict], list[int]]] = {
            "xes_events": ([], []),
            "xes_traces": ([], []),
        }
        # Per table, attribute -> column (e0, e1, ... and t0, t1, ...), as they turn up.
        self.columns: dict[str, dict[str, str]] = {"xes_events": {}, "xes_traces": {}}
        self.prefixes = {"xes_events": "e", "xes_traces": "t"}
        con.execute("CREATE TEMP TABLE xes_events (source_row BIGINT, trace BIGINT)")
        con.execute("CREATE TEMP TABLE xes_traces (trace BIGINT)")

    def parse(self, stream) -> None:
        parser = expat.ParserCreate()
        parser.StartElementHandler, parser.EndElementHandler = self.start, self.end
        parser.EntityDeclHandler = self.entity  # no entity expansion (a billion laughs)
        while chunk := stream.read(1 << 20):
            parser.Parse(chunk, False)
        parser.Parse(b"", True)
        for table in self.batches:
            self.append(table)

    def entity(self, name, *_) -> None:
        raise XesSyntaxError(f"the file declares the entity {name!r}; XES needs none")

    def kind(self, name: str) -> str:
        tag = name.rpartition(":")[2]  # <xes:event> as <event>
        kind = "attribute" if tag in _XES_ATTRIBUTE_TAGS else tag
        self.kinds[name] = kind if kind in ("attribute", "event", "trace") else "other"
        return self.kinds[name]

    def start(self, name: str, attributes: dict[str, str]) -> None:
        kind = self.kinds.get(name) or self.kind(name)
        if kind == "attribute":
            store = self.stores[-1]
            if store is None or "key" not in attributes:
                self.stores.append(None)
                return
            key = attributes["key"]
            if store is _IN_ATTRIBUTE or type(store) is list:
                # An attribute inside an event's attribute (a list's item, a container's part):
                # kept as [key, value, its own nested ones] in its parent's list, under the
                # parent's key among the others, so two events that differ only there are not
                # taken for duplicates. What is kept grows with the file, not its depth.
                if store is _IN_ATTRIBUTE:
                    owner, parent = self.attribute
                    others = owner.get(_XES_OTHERS)
                    if others is None:
                        others = owner[_XES_OTHERS] = {}
                    store = others.get(parent + _XES_NESTED)
                    if store is None:
                        store = others[parent + _XES_NESTED] = []
                if len(self.stores) > _XES_MAX_DEPTH:
                    raise XesSyntaxError(f"elements nested over {_XES_MAX_DEPTH} deep")
                nested = [key, attributes.get("value"), []]
                store.append(nested)
                self.stores.append(nested[2])
                return
            if key in (self.event_keys if store is self.event else self.trace_keys):
                store[key] = attributes.get("value")
            else:
                others = store.get(_XES_OTHERS)
                if others is None:
                    others = store[_XES_OTHERS] = {}
                others[key] = attributes.get("value")
            # Inside it: its owner and key in self.attribute (nothing made for each attribute of
            # the file), deeper in, the lists its nested attributes go in.
            self.attribute = (store, key)
            self.stores.append(_IN_ATTRIBUTE)
        elif kind == "event":
            if self.event is not None:
                raise XesSyntaxError("an event inside an event")
            if self.stores[-1] is _IN_ATTRIBUTE or type(self.stores[-1]) is list:
                raise XesSyntaxError("an event inside an attribute")
            if self.trace is not None:  # (one outside a trace is left out)
                self.event = {}
            self.stores.append(self.event)
        elif kind == "trace":
            if self.trace is not None:
                raise XesSyntaxError("a trace inside a trace")
            self.traces_read += 1
            self.trace = {}
            self.stores.append(self.trace)
        else:  # <values> of a list passes its items on; anything else is left out
            store = self.stores[-1]
            self.stores.append(store if store is _IN_ATTRIBUTE or type(store) is list else None)

    def end(self, name: str) -> None:
        store = self.stores.pop()
        if store is None or store is _IN_ATTRIBUTE or type(store) is list:
            return
        if store is self.event:
            self.events_read += 1
            self.batch("xes_events", self.event, self.traces_read)
            self.event = None
        else:
            self.batch("xes_traces", self.trace, self.traces_read)
            self.trace = None

    def batch(self, table: str, attributes: dict, number: int) -> None:
        rows, numbers = self.batches[table]
        rows.append(attributes)
        numbers.append(number)
        if len(rows) >= XES_BATCH_EVENTS:
            self.append(table)

    def append(self, table: str) -> None:
        """The batch of `table` into it, adding the columns of attributes new in it."""
        rows, numbers = self.batches[table]
        if not rows:
            return
        others = [row.pop(_XES_OTHERS, None) for row in rows]
        frame = pd.DataFrame.from_records(rows, coerce_float=False)
        if any(o is not None for o in others):
            frame[_XES_OTHERS] = [
                None if o is None else json.dumps(o, sort_keys=True, ensure_ascii=False)
                for o in others
            ]
        columns = self.columns[table]
        for attribute in frame.columns:
            if attribute not in columns:
                columns[attribute] = f"{self.prefixes[table]}{len(columns)}"
                self.con.execute(f"ALTER TABLE {table} ADD COLUMN {columns[attribute]} VARCHAR")
        frame.columns = [columns[a] for a in frame.columns]
        frame.insert(0, "trace", numbers)
        if table == "xes_events":
            frame.insert(
                0, "source_row", range(self.events_read - len(rows) + 1, self.events_read + 1)
            )
        self.con.register("xes_batch", frame)
        try:
            self.con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM xes_batch")
        finally:
            self.con.unregister("xes_batch")
        rows.clear()
        numbers.clear()


def _read_xes(path: Path, con: duckdb.DuckDBPyConnection, limit: int) -> FileEvents:
    """The XES log (.xes or .xes.gz) parsed as it streams into the staging file; file_rows is a
    view of each event with its trace's attributes (case:concept:name, ...), as pm4py's
    DataFrame has them."""
    compressed = path.name.lower().endswith(".gz")
    reader = _XesReader(con)
    try:
        with _Unpacking(path, limit) if compressed else path.open("rb") as stream:
            reader.parse(stream)
    except (expat.ExpatError, XesSyntaxError, OSError, EOFError, zlib.error) as error:
        raise EventFileError(
            path, [f"not a readable XES file ({type(error).__name__}: {shown(error)})"]
        ) from None
    event_columns, trace_columns = reader.columns["xes_events"], reader.columns["xes_traces"]
    # The trace's attributes as pm4py names them on its events; one also on the event (rare)
    # gives way to the trace's, as in pm4py.
    attributes = {a: f"e.{c}" for a, c in event_columns.items()}
    for attribute, column in trace_columns.items():
        name = f"case:{attribute}"
        attributes[name] = (
            f"coalesce(t.{column}, {attributes[name]})" if name in attributes else f"t.{column}"
        )
    if not reader.events_read:
        raise EventFileError(path, ["the log has no events (no <event> inside a <trace>)"])
    missing = [XES_ATTRIBUTES[k] for k in ("case_id", "activity", "timestamp")]
    missing = [attribute for attribute in missing if attribute not in attributes]
    if missing:
        raise EventFileError(path, [f"no event has the attribute {k}" for k in missing])
    names = list(attributes)
    columns = tuple(f"c{i}" for i in range(len(names)))
    selected = ", ".join(f"{sql} AS {c}" for sql, c in zip(attributes.values(), columns))
    con.execute(
        f"CREATE TEMP VIEW file_rows AS SELECT e.source_row, e.trace AS trace_number, {selected} "
        "FROM xes_events AS e LEFT JOIN xes_traces AS t USING (trace)"
    )
    _no_cases(con)
    read = {
        key: attribute if attribute in names else XES_FALLBACKS.get(key, attribute)
        for key, attribute in XES_ATTRIBUTES.items()
    }
    keys = {k: f"c{names.index(a)}" for k, a in read.items() if a in names}
    labels = {k: read[k] for k in keys}
    return FileEvents("xes", keys, labels, "the events' attributes", columns)


# The event columns the checks and the load read (a file may lack all but the first three).
_KEYS = (
    "case_id",
    "activity",
    "timestamp",
    "resource_name",
    "stage",
    "amount",
    "is_won",
    "discount_pct",
    "lifecycle",
    "lifecycle_instance",
    "start_timestamp",
)
# The names among them, kept as written in files from other tools (the template's are cut).
_NAMES = ("case_id", "activity", "resource_name", "stage", "lifecycle_instance")


def _place(raw: FileEvents) -> str:
    """SQL for where an event of file_cells is in the file, from its source_row (in XES, its
    case's trace and its number there), for the messages: only problems need it."""
    if raw.kind == "template":
        return f"'sheet {EVENTS_SHEET}, row ' || source_row"
    if raw.kind == "csv":
        return "'line ' || source_row"
    return (
        "CASE WHEN case_id IS NULL THEN 'trace ' || trace_number "
        "|| ' (its concept:name missing or empty), event ' || nth "
        "ELSE 'trace ''' || shown(case_id) || ''', event ' || nth END"
    )


def _checked(
    path: Path, con: duckdb.DuckDBPyConnection, raw: FileEvents, known: set[str] | None
) -> dict[str, int]:
    """Check every cell set-based in the staging file, drop exact duplicates, pair start and
    complete events into its tables events and cases; the figures of what was dropped and
    paired, or raise with the problems."""
    try:
        rows = _cells(con, raw)
    except duckdb.Error as error:
        if raw.kind != "csv":
            raise
        if not (raw.reread_line_ends and "state machine reached an invalid state" in str(error)):
            raise _unreadable_csv(path, error) from None  # a CSV is read here
        # DuckDB refuses a file whose lines end in more than one way (\n and \r\n, as a header
        # written by hand above rows from csv.writer), and reads one wrongly without its strict
        # mode: Python's reader checks every row and writes them again with one line end.
        problems = raw.reread_line_ends()
        if problems:
            raise EventFileError(path, problems) from None
        try:
            rows = _cells(con, raw)
        except duckdb.Error as again:
            raise _unreadable_csv(path, again) from None
    if not rows:
        raise EventFileError(path, ["the file has a header but no events"])
    # Start times on the events and a lifecycle: the starts of which? Unless every event is a
    # complete (a lifecycle column written out of habit), as pm4py then reads the start times.
    # An empty start column (a spreadsheet's leftover) says nothing: the lifecycle is read.
    lifecycle = "lifecycle" in raw.columns
    if lifecycle and "start_timestamp" in raw.columns:
        transitions = ", ".join(sql_literal(t) for t in LIFECYCLE_TRANSITIONS if t != "complete")
        other_transitions, start_times = con.execute(
            f"SELECT count(*) FILTER (lower(lifecycle) IN ({transitions})), "
            "count(start_timestamp) FROM file_cells_read"
        ).fetchone()
        if other_transitions and start_times:
            raise EventFileError(
                path,
                [
                    f"{raw.header_place}: '{shown(raw.labels['lifecycle'])}' and "
                    f"'{shown(raw.labels['start_timestamp'])}' both say when activities start; "
                    "keep one of them"
                ],
            )
        lifecycle = not start_times
    _release(con, keep=_CELLS | {"file_cases"})
    problems, total = _problems(con, raw, known)
    if problems:
        if raw.kind == "csv":
            problems = _on_file_lines(path, problems)
        raise EventFileError(path, problems, total)
    figures = _typed(con, lifecycle=lifecycle)
    instances, activities = con.execute(
        "SELECT count(*), approx_count_distinct(activity) FROM events"
    ).fetchone()
    if activities > MAX_ACTIVITIES * 0.9:  # the estimate is within a few per cent
        (activities,) = con.execute("SELECT count(DISTINCT activity) FROM events").fetchone()
        if activities > MAX_ACTIVITIES:
            raise EventFileError(
                path,
                [
                    f"{activities:,} different activities, more than the {MAX_ACTIVITIES:,} a "
                    "log may have (is the activity column the right one, not an id or a text?)"
                ],
            )
    if not instances:
        raise EventFileError(
            path,
            [
                "no activity instance: every event is a lifecycle transition other than start "
                "and complete, or a start never completed"
            ],
        )
    return figures


def _zone_abbreviation(column: str) -> str:
    """SQL: the time ends in a time zone's abbreviation (CST, IST, EST5EDT), which DuckDB would
    read as one zone of the several it may mean (CST: US Central, or China?). UTC and GMT are
    one zone each, and a name ending the time with a slash in it (Europe/Berlin) is the time
    zone database's own. Other names (Japan, Zulu) are refused with the abbreviations."""
    return (
        f"(upper({column}[-1]) BETWEEN 'A' AND 'Y' "
        f"AND upper({column}[-3:]) NOT IN ('UTC', 'GMT') "
        f"AND NOT regexp_matches({column}, '[A-Za-z]/[A-Za-z0-9_+-]+$'))"
    )


def _zoned_by_name(column: str) -> str:
    """SQL: a time DuckDB would read, but with a zone abbreviation: refused for that, not as no
    time."""
    return (
        f"(left({column}, 1) BETWEEN '0' AND '9' AND {_zone_abbreviation(column)} "
        f"AND try_cast({column} AS TIMESTAMPTZ) IS NOT NULL)"
    )


def _time_value(column: str) -> str:
    """SQL: the time in UTC (with an offset converted, without one read as UTC), null where it
    does not parse. A time begins with a digit: DuckDB's words for times (epoch, infinity) are
    no event's. Most end with one too, and are told from a zone's abbreviation by that alone
    (cheaper). An offset after a space (09:00:00 +0100, as pandas reads it) is read too: only the
    cells DuckDB cannot read as they are are looked at again for it."""
    spaced_offset = r"'\s+([+-][0-9]{2}(:?[0-9]{2})?)$'"
    return (
        f"CASE WHEN left({column}, 1) BETWEEN '0' AND '9' "
        f"AND ({column}[-1] BETWEEN '0' AND '9' OR NOT {_zone_abbreviation(column)}) "
        f"THEN coalesce(try_cast({column} AS TIMESTAMPTZ), "
        f"try_cast(regexp_replace({column}, {spaced_offset}, '\\1') AS TIMESTAMPTZ)) "
        "AT TIME ZONE 'UTC' END"
    )


_TIMESTAMP_ZONED = _zoned_by_name('"timestamp"')
_START_ZONED = _zoned_by_name("start_timestamp")

# Each checked cell's typed value, read once from the trimmed text (null where the cell is empty
# or does not parse): the checks find the cells that do not parse by it, the load reads it.
_TYPED_CELLS = {
    "timestamp_value": _time_value('"timestamp"'),
    "start_value": _time_value("start_timestamp"),
    "amount_value": "try_cast(amount AS DOUBLE)",
    "is_won_value": "try_cast(is_won AS BOOLEAN)",
    "discount_value": "try_cast(discount_pct AS DOUBLE)",
}
# The times an event may have: a process's, not a placeholder such as 0001-01-01 or 9999-12-31
# (which would also stretch every business calendar over thousands of years). The years 1900 to
# 2199 as written: the bounds are in UTC, a day wider for the offsets.
EARLIEST_TIME = "TIMESTAMP '1899-12-31'"
LATEST_TIME = "TIMESTAMP '2200-01-02'"
# What _cells leaves: the table it writes and the view that numbers its rows.
_CELLS = {"file_cells_read", "file_cells"}


def _cells(con: duckdb.DuckDBPyConnection, raw: FileEvents) -> int:
    """file_cells, in one pass over the file's rows: each event's cells the checks read, by
    key, as text without surrounding white space (names from other tools' files as written),
    and typed (_TYPED_CELLS); in XES its number among its trace's events (nth, for the
    messages); and whether it is an exact duplicate
    (every column, every attribute equal to an earlier event's: the same event written twice by
    another tool, of which the first is kept). The template is typed by hand: the checks refuse
    its duplicates instead. Returns the number of rows."""
    # A person filled the template: white space around a name there is a slip, and is cut.
    kept = () if raw.kind == "template" else _NAMES
    selected = ", ".join(
        f"{'as_written' if key in kept else 'cell'}({raw.columns[key]}) AS {key}"
        if key in raw.columns
        else f"NULL::VARCHAR AS {key}"
        for key in _KEYS
    )
    # A CSV's rows are numbered by the order the read keeps (preserve_insertion_order): a row's
    # rowid gives its line, the header being line 1 (counted in records: a line break inside
    # quotes or a blank line is not one). The other files number their rows themselves.
    numbered = raw.kind != "csv"
    source_row = "source_row" if numbered else "rowid + 2"
    if numbered:
        selected = f"source_row, {selected}"
    if raw.kind != "template":
        # Rows equal in every column hash alike: only rows whose hashes repeat can be equal.
        selected += f", hash({', '.join(raw.file_columns)}) AS row_hash"
    if raw.kind == "xes":
        # The event's number in its own trace (two traces may name the same case).
        selected += (
            ", trace_number, row_number() OVER (PARTITION BY trace_number ORDER BY source_row) "
            "AS nth"
        )
    blank = "false"
    if raw.kind == "csv":
        # A row of empty fields only (`,,,`, which spreadsheets write below the data) is no
        # event: skipped, as an empty line is. Only rows without a case, an activity and a time
        # (the cells just read, by their names) are looked at further.
        every = " AND ".join(f"cell({c}) IS NULL" for c in raw.file_columns)
        blank = (
            'CASE WHEN case_id IS NULL AND activity IS NULL AND "timestamp" IS NULL '
            f"THEN {every} ELSE false END"
        )
    selected += f", {blank} AS blank"
    typed = ", ".join(f"{sql} AS {name}" for name, sql in _TYPED_CELLS.items())
    con.execute(
        f"CREATE TEMP TABLE file_cells_read AS SELECT *, {typed}, false AS duplicate "
        f"FROM (SELECT {selected} FROM file_rows)"
    )
    numbering = "" if numbered else "rowid + 2 AS source_row, "
    con.execute(f"CREATE TEMP VIEW file_cells AS SELECT {numbering}* FROM file_cells_read")
    if raw.kind != "template":
        _mark_duplicates(con, raw, source_row)
    return con.execute("SELECT count(*) FILTER (NOT blank) FROM file_cells_read").fetchone()[0]


def _mark_duplicates(con: duckdb.DuckDBPyConnection, raw: FileEvents, source_row: str) -> None:
    """Mark every exact duplicate but the first of its group. Most files have none: one hash
    aggregate of a number per row tells (grouping by every column would hold the whole file in
    its hash table). Where hashes repeat, the rows with those hashes are grouped by their
    columns (a CSV read again for it): equal hashes are not proof of equal rows."""
    (repeating,) = con.execute(
        "CREATE TEMP TABLE repeated_hashes AS SELECT row_hash FROM file_cells_read "
        "WHERE NOT blank GROUP BY row_hash HAVING count(*) > 1"
    ).fetchone()
    if not repeating:
        return
    rows = "file_rows"
    if raw.kind == "csv":
        con.execute("CREATE TEMP TABLE csv_lines AS SELECT * FROM file_rows")
        rows = "(SELECT rowid + 2 AS source_row, * FROM csv_lines)"
    columns = ", ".join(raw.file_columns)
    con.execute(f"""
        CREATE TEMP TABLE repeated AS
        SELECT {", ".join(f"{c} AS first_{c}" for c in raw.file_columns)}, min(source_row) AS first_row
        FROM {rows} WHERE hash({columns}) IN (SELECT row_hash FROM repeated_hashes)
        GROUP BY ALL HAVING count(*) > 1""")
    same = " AND ".join(f"{c} IS NOT DISTINCT FROM first_{c}" for c in raw.file_columns)
    con.execute(f"""
        UPDATE file_cells_read SET duplicate = true WHERE {source_row} IN (
            SELECT source_row FROM {rows} JOIN repeated ON {same} WHERE source_row > first_row)""")


def _release(con: duckdb.DuckDBPyConnection, keep: set[str]) -> None:
    """Drop the temporary tables and views but `keep`, once no later step reads them: DuckDB
    frees their memory at once (a temporary table otherwise stays in memory until the limit
    pushes it to disk), so the next step has all of L2C_DUCKDB_MEMORY_LIMIT."""
    for kind, listing in (("VIEW", "duckdb_views()"), ("TABLE", "duckdb_tables()")):
        names = con.execute(
            f"SELECT {kind.lower()}_name FROM {listing} WHERE temporary AND NOT internal"
        ).fetchall()
        for (name,) in names:
            if name not in keep:
                con.execute(f"DROP {kind} {quote(name)}")


def _problems(
    con: duckdb.DuckDBPyConnection, raw: FileEvents, known: set[str] | None
) -> tuple[list[str], int]:
    """The first MAX_PROBLEMS_KEPT problems in the file's order (the Cases sheet's last), and
    how many there are."""
    word = "attribute" if raw.kind == "xes" else "column"
    headers = {c.key: c.header for c in FILE_COLUMNS}

    def col(key: str) -> str:
        return sql_literal(f", {word} '{shown(raw.labels.get(key, headers[key]))}': ")

    sheet = f"sheet {EVENTS_SHEET}, " if raw.kind == "template" else ""
    con.execute(
        "CREATE TEMP TABLE known AS SELECT unnest(?::VARCHAR[]) AS activity",
        [sorted(known or ())],
    )
    checks = _cell_checks(raw, known is not None)
    # One scan finds the rows with any problem (a clean file has none); each check then reads
    # those rows only, and places them in the file.
    any_problem = " OR ".join(f"coalesce({found}, false)" for _, _, found, _ in checks)
    told = "\n                UNION ALL ".join(
        f"SELECT source_row, place, {order} AS n, {col(key)} AS col, {problem} AS problem "
        f"FROM flagged WHERE {found}"
        for order, key, found, problem in checks
    )
    rows = con.execute(
        f"""
            WITH flagged AS MATERIALIZED (
                SELECT *, {_place(raw)} AS place FROM file_cells
                WHERE NOT duplicate AND NOT blank AND ({any_problem})
            ), checks AS (
                {told}
            ), duplicates AS (
                -- The template is filled by hand: the same event twice is a mistake to fix there.
                SELECT list(source_row ORDER BY source_row) AS source_rows, case_id, activity,
                       any_value("timestamp") AS "timestamp"
                FROM file_cells
                WHERE {"true" if raw.kind == "template" else "false"} AND NOT duplicate
                  AND case_id IS NOT NULL AND activity IS NOT NULL AND timestamp_value IS NOT NULL
                GROUP BY case_id, activity, lower(coalesce(lifecycle, 'complete')), lifecycle_instance,
                         timestamp_value
                HAVING count(*) > 1
            ), case_checks AS (
                SELECT source_row, col, problem FROM (
                    SELECT source_row, 'Opportunity ID' AS col, 'empty' AS problem FROM file_cases WHERE case_id IS NULL
                    UNION ALL SELECT source_row, 'Amount', '''' || shown(amount) || ''' is not a number'
                        FROM file_cases WHERE amount IS NOT NULL AND try_cast(amount AS DOUBLE) IS NULL
                    UNION ALL SELECT source_row, 'Amount', '''' || shown(amount) || ''' is not a finite number'
                        FROM file_cases WHERE NOT isfinite(try_cast(amount AS DOUBLE))
                    UNION ALL SELECT source_row, 'Discount %', '''' || shown(discount_pct) || ''' is not a number from 0 to 100'
                        FROM file_cases WHERE discount_pct IS NOT NULL
                        AND coalesce(try_cast(discount_pct AS DOUBLE) NOT BETWEEN 0 AND 100, true)
                    UNION ALL SELECT source_row, 'Is won', '''' || shown(is_won) || ''' is not TRUE or FALSE'
                        FROM file_cases WHERE is_won IS NOT NULL AND try_cast(is_won AS BOOLEAN) IS NULL
                )
            )
            SELECT message, count(*) OVER () AS total FROM (
                SELECT source_row AS r, n, place || col || problem AS message
                FROM checks
                UNION ALL
                SELECT source_rows[1], 9, '{sheet}rows ' || array_to_string(source_rows, ', ')
                       || ': the same event more than once (' || shown(case_id) || ', ' || shown(activity)
                       || ', ' || shown("timestamp") || ')'
                FROM duplicates
                UNION ALL
                SELECT source_row, 10, 'sheet {CASES_SHEET}, row ' || source_row || ', column ''' || col || ''': ' || problem
                FROM case_checks
                UNION ALL
                SELECT min(source_row), 11, 'sheet {CASES_SHEET}, rows '
                       || array_to_string(list(source_row ORDER BY source_row), ', ')
                       || ': the case ' || shown(case_id) || ' more than once'
                FROM file_cases WHERE case_id IS NOT NULL GROUP BY case_id HAVING count(*) > 1
            ) ORDER BY n >= 10, r, n
            LIMIT {MAX_PROBLEMS_KEPT}
            """
    ).fetchall()
    return [message for message, _ in rows], rows[0][1] if rows else 0


def _cell_checks(raw: FileEvents, check_known: bool) -> tuple[tuple[int, str, str, str], ...]:
    """The checks of file_cells' rows: (order among a row's problems, column, SQL condition of
    the rows it finds, SQL of the problem it tells)."""
    transitions = ", ".join(sql_literal(t) for t in LIFECYCLE_TRANSITIONS)
    end_label = sql_literal(shown(raw.labels.get("timestamp", "")))
    not_a_time = "''' is not a date and time (e.g. 2026-03-01 14:05:00)'"
    abbreviated_zone = (
        "''' names its time zone by an abbreviation or short name, which may mean more than "
        "one zone (CST: US Central or China?): give the offset (e.g. 2026-03-01 "
        "14:05:00+08:00), Z for UTC, or a zone such as Asia/Shanghai'"
    )
    not_in_years = "''' is not in the years 1900 to 2199 (a placeholder for no date?)'"
    return (
        (1, "case_id", "case_id IS NULL", "'empty'"),
        (2, "activity", "activity IS NULL", "'empty'"),
        (
            2,
            "activity",
            f"activity IS NOT NULL AND {str(check_known).lower()} "
            "AND activity NOT IN (SELECT activity FROM known) AND activity NOT LIKE 'Stage: %'",
            "'''' || shown(activity) || ''' is not a known activity (see the Instructions sheet)'",
        ),
        (3, "timestamp", '"timestamp" IS NULL', "'empty'"),
        (
            3,
            "timestamp",
            f'"timestamp" IS NOT NULL AND timestamp_value IS NULL AND NOT {_TIMESTAMP_ZONED}',
            f"'''' || shown(\"timestamp\") || {not_a_time}",
        ),
        (
            3,
            "timestamp",
            f"timestamp_value IS NULL AND {_TIMESTAMP_ZONED}",
            f"'''' || shown(\"timestamp\") || {abbreviated_zone}",
        ),
        (
            3,
            "timestamp",
            f"timestamp_value NOT BETWEEN {EARLIEST_TIME} AND {LATEST_TIME}",
            f"'''' || shown(\"timestamp\") || {not_in_years}",
        ),
        (
            4,
            "lifecycle",
            f"lower(lifecycle) NOT IN ({transitions})",
            "'''' || shown(lifecycle) || ''' is not a lifecycle transition (start, complete, or '"
            " || 'another of the XES lifecycle model)'",
        ),
        (
            5,
            "start_timestamp",
            f"start_timestamp IS NOT NULL AND start_value IS NULL AND NOT {_START_ZONED}",
            f"'''' || shown(start_timestamp) || {not_a_time}",
        ),
        (
            5,
            "start_timestamp",
            f"start_value IS NULL AND {_START_ZONED}",
            f"'''' || shown(start_timestamp) || {abbreviated_zone}",
        ),
        (
            5,
            "start_timestamp",
            f"start_value NOT BETWEEN {EARLIEST_TIME} AND {LATEST_TIME}",
            f"'''' || shown(start_timestamp) || {not_in_years}",
        ),
        (
            5,
            "start_timestamp",
            "start_value > timestamp_value",
            "'''' || shown(start_timestamp) || ''' is after the event''s end, ' || "
            f"{end_label} || ' ''' || shown(\"timestamp\") || ''''",
        ),
        (
            6,
            "amount",
            "amount IS NOT NULL AND amount_value IS NULL",
            "'''' || shown(amount) || ''' is not a number'",
        ),
        (
            6,
            "amount",
            "NOT isfinite(amount_value)",
            "'''' || shown(amount) || ''' is not a finite number'",
        ),
        (
            7,
            "is_won",
            "is_won IS NOT NULL AND is_won_value IS NULL",
            "'''' || shown(is_won) || ''' is not TRUE or FALSE'",
        ),
        (
            8,
            "discount_pct",
            "discount_pct IS NOT NULL AND coalesce(discount_value NOT BETWEEN 0 AND 100, true)",
            "'''' || shown(discount_pct) || ''' is not a number from 0 to 100'",
        ),
    )


def _typed(con: duckdb.DuckDBPyConnection, lifecycle: bool) -> dict[str, int]:
    """The checked cells typed, exact duplicates left out and, with a lifecycle column, start and
    complete events paired: the tables events and cases load_into_warehouse reads. Returns the
    figures of what was dropped and paired."""
    # The cells are typed already (file_cells): the load reads them through a view.
    con.execute("""
        CREATE TEMP VIEW typed AS
        SELECT source_row::BIGINT AS source_row, case_id, activity,
               timestamp_value AS "timestamp", start_value AS start_timestamp,
               lower(coalesce(lifecycle, 'complete')) AS transition, lifecycle_instance,
               resource_name, stage, amount_value AS amount, is_won_value AS is_won,
               discount_value AS discount_pct
        FROM file_cells WHERE NOT duplicate AND NOT blank""")
    dropped, kept = con.execute(
        "SELECT count(*) FILTER (duplicate), count(*) FILTER (NOT duplicate AND NOT blank) "
        "FROM file_cells_read"
    ).fetchone()
    _release(con, keep=_CELLS | {"typed", "file_cases"})
    if lifecycle:
        _pair_lifecycle(con)
    else:
        con.execute(
            "CREATE TEMP VIEW instances AS SELECT *, start_timestamp AS started_at FROM typed"
        )
    con.execute("""
        CREATE TABLE events AS
        SELECT source_row, case_id, activity, "timestamp", started_at, resource_name, stage,
               amount, is_won, discount_pct
        FROM instances""")
    _release(con, keep={"file_cases"})
    con.execute("""
        CREATE TABLE cases AS
        SELECT source_row, case_id, sales_rep, team, region, product_family, account_name, segment,
               lead_source, invoice_type, amount::DOUBLE AS amount,
               discount_pct::DOUBLE AS discount_pct, is_won::BOOLEAN AS is_won
        FROM file_cases""")
    instances, started = con.execute("SELECT count(*), count(started_at) FROM events").fetchone()
    # An instance paired from a start and a complete stands for two of the file's events.
    paired = started if lifecycle else 0
    return {
        "duplicate_events_dropped": dropped,
        "activity_instances_with_start": started,
        "lifecycle_events_left_out": kept - instances - paired,
    }


def _pair_lifecycle(con: duckdb.DuckDBPyConnection) -> None:
    """One activity instance per complete event: paired with a start of the same activity (and
    lifecycle:instance) in its case, first in first out, as pm4py pairs them. Set-based: with S_j
    the starts before the j-th complete of an activity, the starts taken by the first j completes
    are M_j = j + L_j, L_j = min(0, min over i <= j of (S_i - i)); the j-th complete takes a start
    when M_j > M_(j-1), that is when L_j = L_(j-1) (L falls by 1 or not at all), namely the M_j-th.
    Starts order before completes of the same timestamp; a start's number is the starts counted
    up to it. Two sorts of the events: one to count, one to find the minimums. The completes of
    an activity that never starts anywhere in the log (many logs record some activities by
    their completion only) cannot take a start: they skip both sorts."""
    con.execute("""
        CREATE TEMP VIEW instances AS
        WITH startable AS (
            SELECT DISTINCT activity FROM typed WHERE transition = 'start'
        ), steps AS (
            SELECT *, (transition = 'start')::INTEGER AS is_start
            FROM typed WHERE transition IN ('start', 'complete')
              AND activity IN (SELECT activity FROM startable)
        ), counted AS (
            SELECT *,
                   sum(is_start) OVER run AS starts_so_far,
                   sum(1 - is_start) OVER run AS completes_so_far
            FROM steps
            WINDOW run AS (
                PARTITION BY case_id, activity, lifecycle_instance
                ORDER BY "timestamp", is_start DESC, source_row ROWS UNBOUNDED PRECEDING
            )
        ), completes AS (
            SELECT *,
                   least(0, min(starts_so_far - completes_so_far) OVER upto) AS low,
                   least(0, coalesce(min(starts_so_far - completes_so_far) OVER before, 0)) AS low_before
            FROM counted WHERE is_start = 0
            WINDOW upto AS (
                PARTITION BY case_id, activity, lifecycle_instance
                ORDER BY "timestamp", source_row ROWS UNBOUNDED PRECEDING
            ), before AS (
                PARTITION BY case_id, activity, lifecycle_instance
                ORDER BY "timestamp", source_row ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
            )
        ), paired AS (
            SELECT *, CASE WHEN low = low_before THEN completes_so_far + low END AS start_number
            FROM completes
        )
        SELECT c.source_row, c.case_id, c.activity, c."timestamp", s."timestamp" AS started_at,
               coalesce(c.resource_name, s.resource_name) AS resource_name,
               coalesce(c.stage, s.stage) AS stage, coalesce(c.amount, s.amount) AS amount,
               coalesce(c.is_won, s.is_won) AS is_won, coalesce(c.discount_pct, s.discount_pct) AS discount_pct
        FROM paired AS c
        LEFT JOIN counted AS s
          ON s.is_start = 1 AND s.case_id = c.case_id AND s.activity = c.activity
         AND s.lifecycle_instance IS NOT DISTINCT FROM c.lifecycle_instance
         AND s.starts_so_far = c.start_number
        UNION ALL
        SELECT source_row, case_id, activity, "timestamp", NULL::TIMESTAMP AS started_at,
               resource_name, stage, amount, is_won, discount_pct
        FROM typed WHERE transition = 'complete' AND activity NOT IN (SELECT activity FROM startable)
    """)


# The tables the file source writes, so the rest of the graph runs as on Salesforce data. The
# staging tables the event log has nothing for (quotes, orders, invoices, approvals) are empty.
FILE_SOURCE_TABLES = (
    "core.activity_catalogue",
    "core.event_log",
    "core.cases",
    "core.case_attributes",
    "staging.stg_users",
    "staging.stg_leads",
    "staging.stg_opportunities",
    "staging.stg_quotes",
    "staging.stg_approvals",
    "staging.stg_orders",
    "staging.stg_invoices",
    "staging.stg_payments",
    "staging.stg_organization",
    "staging.stg_business_hours",
    "staging.stg_holidays",
)
_EMPTY_STAGING = {
    "staging.stg_quotes": "quote_id VARCHAR, opportunity_id VARCHAR, created_at TIMESTAMP, created_by VARCHAR, "
    "status VARCHAR, discount_pct DOUBLE, grand_total DOUBLE, is_syncing BOOLEAN, object_type VARCHAR, "
    "original_grand_total DOUBLE, currency_code VARCHAR",
    "staging.stg_approvals": "approval_id VARCHAR, quote_id VARCHAR, opportunity_id VARCHAR, status VARCHAR, "
    "submitted_at TIMESTAMP, completed_at TIMESTAMP, object_type VARCHAR",
    "staging.stg_orders": "order_id VARCHAR, opportunity_id VARCHAR, contract_id VARCHAR, quote_id VARCHAR, "
    "created_at TIMESTAMP, created_by VARCHAR, activated_at TIMESTAMP, activated_by VARCHAR, status VARCHAR, "
    "total_amount DOUBLE, is_reduction BOOLEAN, original_order_id VARCHAR, object_type VARCHAR, "
    "original_total_amount DOUBLE, currency_code VARCHAR",
    "staging.stg_invoices": "invoice_id VARCHAR, opportunity_id VARCHAR, order_id VARCHAR, account_id VARCHAR, "
    "invoice_date DATE, due_date DATE, sent_at TIMESTAMP, invoice_status VARCHAR, payment_status VARCHAR, "
    "total_amount DOUBLE, balance DOUBLE, invoice_type VARCHAR, owner_id VARCHAR, created_at TIMESTAMP, "
    "object_type VARCHAR, original_total_amount DOUBLE, original_balance DOUBLE, currency_code VARCHAR, "
    "conversion_rate DOUBLE",
    "staging.stg_payments": "allocation_id VARCHAR, payment_id VARCHAR, invoice_id VARCHAR, opportunity_id VARCHAR, "
    "amount DOUBLE, kind VARCHAR, received_at TIMESTAMP, recorded_at TIMESTAMP, recorded_by VARCHAR, "
    "payment_object_type VARCHAR, original_amount DOUBLE, currency_code VARCHAR",
    # A file says nothing of business hours: mining.business_hours falls back (or reads
    # L2C_BUSINESS_HOURS).
    "staging.stg_organization": "organization_id VARCHAR, organization_name VARCHAR, time_zone VARCHAR",
    "staging.stg_business_hours": "business_hours_id VARCHAR, business_hours_name VARCHAR, is_default BOOLEAN, "
    "time_zone VARCHAR, iso_weekday INTEGER, start_minute INTEGER, end_minute INTEGER",
    "staging.stg_holidays": "holiday_id VARCHAR, holiday_name VARCHAR, holiday_date DATE, start_minute INTEGER, "
    "end_minute INTEGER, is_recurring BOOLEAN, recurrence_type VARCHAR, recurrence_interval INTEGER, "
    "recurrence_start_date DATE, recurrence_end_date DATE, recurrence_day_of_month INTEGER, "
    "recurrence_month INTEGER, recurrence_instance INTEGER, recurrence_day_mask INTEGER",
}
# The deal-size bands a file's cases fall into when no mapping file says otherwise.
DEFAULT_DEAL_SIZE_BANDS = (
    ("<25k", 25000.0),
    ("25k-75k", 75000.0),
    ("75k-150k", 150000.0),
    ("150k+", None),
)


def deal_size_sql(amount: str, bands) -> str:
    """The band of an amount, as SQL: (label, upper bound or None for the open top band)."""
    from ..warehouse.duckdb_warehouse import sql_literal

    cases = " ".join(
        f"WHEN {amount} < {below!r} THEN {sql_literal(label)}"
        for label, below in bands
        if below is not None
    )
    top = next((label for label, below in bands if below is None), None)
    return f"CASE WHEN {amount} IS NULL THEN NULL {cases} ELSE {sql_literal(top) if top else 'NULL'} END"


def load_into_warehouse(
    con: duckdb.DuckDBPyConnection,
    loaded: LoadedLog,
    sql_dir: Path | None = None,
    deal_size_bands=DEFAULT_DEAL_SIZE_BANDS,
) -> dict[str, int]:
    """Replace FILE_SOURCE_TABLES from the loaded file in one transaction (all or nothing), with
    the same columns and comments as the Salesforce path's models; returns rows per table.
    `deal_size_bands`: (label, upper bound) pairs, the last one open (None)."""
    for schema in ("core", "staging"):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    cur = session(con.cursor())  # a caller's half-read result on `con` must not block the load
    try:
        with _attached(cur, loaded):
            return _replace_tables(cur, loaded, sql_dir, deal_size_bands)
    finally:
        cur.close()  # the cursor, not the caller's connection


@contextmanager
def _attached(cur: duckdb.DuckDBPyConnection, loaded: LoadedLog) -> Iterator[None]:
    """The staging file attached read-only, its tables as file_events and file_cases (views on
    this cursor only): DuckDB copies them into the warehouse under its memory limit, no Python
    in between."""
    alias = f"file_log_{uuid.uuid4().hex}"  # attached databases are seen by every connection
    cur.execute(f"ATTACH {sql_literal(str(loaded.database))} AS {alias} (READ_ONLY)")
    try:
        cur.execute(f"CREATE TEMP VIEW file_events AS SELECT * FROM {alias}.events")
        cur.execute(
            f"CREATE TEMP VIEW file_cases AS SELECT * EXCLUDE (source_row) FROM {alias}.cases"
        )
        yield
    finally:
        cur.execute("DROP VIEW IF EXISTS file_events")
        cur.execute("DROP VIEW IF EXISTS file_cases")
        cur.execute(f"DETACH {alias}")


def _replace_tables(
    cur: duckdb.DuckDBPyConnection, loaded: LoadedLog, sql_dir: Path | None, deal_size_bands
) -> dict[str, int]:
    from ..models.sql_models import discover

    models = discover(sql_dir)
    catalogue_sql = models[("core", "activity_catalogue")].sql
    statements = [
        f"CREATE OR REPLACE TABLE core.activity_catalogue AS {catalogue_sql}",
        # Activity instances in the order they started (as pm4py orders an interval log), then
        # ended; an instantaneous event starts when it happens. The table is not sorted once more
        # by case (a second sort of every event): the readers that need an order (the exports)
        # ask for it.
        """CREATE OR REPLACE TABLE core.event_log AS
           SELECT 'file:' || e.source_row AS event_id, e.case_id, e.activity, e."timestamp",
                  NULL::VARCHAR AS resource_id, e.resource_name, 'File' AS object_type, e.case_id AS object_id,
                  NULL::VARCHAR AS old_value, e.stage AS new_value,
                  coalesce(c.activity_rank, CASE WHEN e.activity LIKE 'Stage: %' THEN 16 ELSE 999 END)::INTEGER
                      AS activity_rank,
                  row_number() OVER (PARTITION BY e.case_id ORDER BY coalesce(e.started_at, e."timestamp"),
                      e."timestamp",
                      coalesce(c.activity_rank, CASE WHEN e.activity LIKE 'Stage: %' THEN 16 ELSE 999 END),
                      e.source_row) AS event_order,
                  e.started_at::TIMESTAMP AS started_at
           FROM file_events AS e LEFT JOIN core.activity_catalogue AS c ON c.activity = e.activity""",
        """CREATE OR REPLACE TABLE core.cases AS
           WITH reps AS (
               -- Who did most of a case's events; of two as busy, who came first (mode() broke
               -- the tie by the order the plan met them in, which parallel scans change).
               SELECT case_id, arg_min(resource_name, (-events, first_at, first_row)) AS sales_rep
               FROM (
                   SELECT case_id, resource_name, count(*) AS events, min("timestamp") AS first_at,
                          min(source_row) AS first_row
                   FROM file_events WHERE resource_name IS NOT NULL GROUP BY case_id, resource_name
               )
               GROUP BY case_id
           ), from_events AS (
               SELECT e.case_id,
                      bool_and(coalesce(c.family, '') IN ('lead', 'touch')) AS lead_only,
                      any_value(r.sales_rep) AS sales_rep,
                      arg_max(e.amount, e."timestamp") FILTER (WHERE e.amount IS NOT NULL) AS amount,
                      arg_max(e.discount_pct, e."timestamp") FILTER (WHERE e.discount_pct IS NOT NULL) AS discount_pct,
                      bool_or(e.is_won) OR bool_or(e.activity = 'Opportunity Closed Won') AS is_won,
                      bool_or(e.activity IN ('Opportunity Closed Won', 'Opportunity Closed Lost', 'Lead Disqualified'))
                          AS is_closed,
                      arg_max(e.stage, e."timestamp") FILTER (WHERE e.stage IS NOT NULL) AS stage,
                      min(e."timestamp") AS first_event_at, max(e."timestamp") AS last_event_at, count(*) AS events,
                      max(e."timestamp") FILTER (WHERE e.activity IN ('Opportunity Closed Won', 'Opportunity Closed Lost'))
                          AS closed_at
               FROM file_events AS e LEFT JOIN core.activity_catalogue AS c ON c.activity = e.activity
                    LEFT JOIN reps AS r ON r.case_id = e.case_id
               GROUP BY e.case_id
           )
           SELECT
               e.case_id, CASE WHEN e.lead_only THEN 'lead' ELSE 'opportunity' END AS case_type,
               CASE WHEN NOT e.lead_only THEN e.case_id END AS opportunity_id,
               CASE WHEN e.lead_only THEN e.case_id END AS lead_id,
               NULL::VARCHAR AS account_id, f.account_name, f.segment, NULL::VARCHAR AS industry,
               coalesce(f.sales_rep, e.sales_rep) AS owner_id, coalesce(f.sales_rep, e.sales_rep) AS sales_rep,
               f.team, f.region, f.product_family, f.lead_source,
               coalesce(f.amount, e.amount) AS amount, DEAL_SIZE AS deal_size,
               -- A file says nothing of a quote synced to the deal: its amount is its list amount.
               DEAL_SIZE AS list_deal_size,
               coalesce(f.discount_pct, e.discount_pct, 0) AS discount_pct,
               coalesce(f.is_won, e.is_won, false) AS is_won,
               coalesce(f.is_won, false) OR coalesce(e.is_won, false) OR e.is_closed AS is_closed,
               e.stage, NULL::VARCHAR AS loss_reason, NULL::VARCHAR AS opening_stage,
               e.first_event_at AS created_at, e.closed_at::DATE AS closed_on,
               e.first_event_at, e.last_event_at, e.events
           FROM from_events AS e LEFT JOIN file_cases AS f USING (case_id)""".replace(
            "DEAL_SIZE", deal_size_sql("coalesce(f.amount, e.amount)", deal_size_bands)
        ),
        """CREATE OR REPLACE TABLE core.case_attributes AS
           SELECT case_id, attribute, value FROM (
               UNPIVOT (SELECT case_id, team, region, segment, product_family, lead_source FROM core.cases)
               ON team, region, segment, product_family, lead_source INTO NAME attribute VALUE value
           ) WHERE value IS NOT NULL""",
        """CREATE OR REPLACE TABLE staging.stg_users AS
           SELECT sales_rep AS user_id, sales_rep AS user_name, NULL::VARCHAR AS title, any_value(team) AS team,
                  any_value(region) AS region, NULL::VARCHAR AS manager_id, NULL::VARCHAR AS time_zone
           FROM core.cases WHERE sales_rep IS NOT NULL GROUP BY sales_rep""",
        """CREATE OR REPLACE TABLE staging.stg_leads AS
           SELECT c.case_id AS lead_id, c.case_id, min(e."timestamp") AS created_at, NULL::VARCHAR AS created_by,
                  any_value(c.owner_id) AS owner_id, any_value(c.lead_source) AS lead_source,
                  NULL::VARCHAR AS status, bool_or(e.activity = 'Lead Converted') OR any_value(c.case_type) = 'opportunity'
                      AS is_converted,
                  NULL::DATE AS converted_on,
                  CASE WHEN any_value(c.case_type) = 'opportunity' THEN c.case_id END AS converted_opportunity_id,
                  NULL::VARCHAR AS converted_account_id, NULL::VARCHAR AS industry, NULL::VARCHAR AS country,
                  'File' AS object_type
           FROM core.cases AS c JOIN core.event_log AS e USING (case_id)
           GROUP BY c.case_id HAVING bool_or(e.activity = 'Lead Created')""",
        """CREATE OR REPLACE TABLE staging.stg_opportunities AS
           SELECT case_id AS opportunity_id, account_id, owner_id, created_at, NULL::VARCHAR AS created_by, stage,
                  amount, closed_on AS close_date, is_closed, is_won, NULL::VARCHAR AS opportunity_type, lead_source,
                  NULL::VARCHAR AS product_id, discount_pct, NULL::VARCHAR AS synced_quote_id,
                  NULL::VARCHAR AS contract_id, 'File' AS object_type, amount AS original_amount,
                  NULL::VARCHAR AS currency_code
           FROM core.cases WHERE case_type = 'opportunity'""",
        *(
            f"CREATE OR REPLACE TABLE {table} ({columns})"
            for table, columns in _EMPTY_STAGING.items()
        ),
    ]
    # One transaction per file (DuckDB writes one database per transaction): core in the
    # models file first, then the staging tables derived from it in the warehouse. Either
    # stays as it was if its own transaction fails, and nothing is published before both are.
    for schema in ("core", "staging"):
        cur.execute("BEGIN TRANSACTION")
        try:
            for statement in statements:
                if statement.startswith(f"CREATE OR REPLACE TABLE {schema}."):
                    cur.execute(statement)
            for table in FILE_SOURCE_TABLES:
                model = models.get(tuple(table.split(".")))
                if model is None or not table.startswith(f"{schema}."):
                    continue
                description = (
                    f"{model.description} Loaded from the file {loaded.source}."
                    if schema == "core"
                    else (
                        f"{model.description} (file source: derived from the event log, empty where it has nothing)"
                    )
                )
                write_comments(cur, table, description, model.column_comments)
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        cur.execute("COMMIT")
    return {
        t: cur.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in FILE_SOURCE_TABLES
    }
