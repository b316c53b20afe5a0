"""Exports of the event log for other tools: CSV, Parquet, XES and OCEL 2.0.

Every file is written under a temporary name and renamed into place, so a reader never opens
half an export. CSV cells that a spreadsheet would run as a formula (starting with = + - @,
a tab or a carriage return) are prefixed with a quote, the OWASP advice against formula
injection; Parquet, XES and OCEL carry the values as they are (no spreadsheet reads them).
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pandas as pd

from ..warehouse.duckdb_warehouse import (
    drop_other_kind,
    sql_literal,
    transaction,
    write_comments,
)
from ..warehouse.publish import replace_file
from .fingerprints import remember, tables_fingerprint, up_to_date

FORMATS = ("csv", "parquet", "xes", "ocel")
FILE_NAMES = {
    "csv": "event_log.csv",
    "parquet": "event_log.parquet",
    "xes": "event_log.xes",
    "ocel": "event_log.ocel2.json",
}
EVENT_COLUMNS = (
    "event_id",
    "case_id",
    "activity",
    "timestamp",
    "resource_id",
    "resource_name",
    "object_type",
    "object_id",
    "old_value",
    "new_value",
    "event_order",
    "start_timestamp",  # last: a reader of the earlier columns by position is not thrown
)
# The mapping's entities as OCEL object types; approvals belong to their quote, touches to the case.
ENTITY_TYPES = {
    "leads": "lead",
    "opportunities": "opportunity",
    "quotes": "quote",
    "contracts": "contract",
    "orders": "order",
    "invoices": "invoice",
    "payments": "payment",
}
# Without the mapping's tables (a loaded file), the objects of the usual shapes.
DEFAULT_OBJECT_TYPES = {
    "Lead": "lead",
    "Opportunity": "opportunity",
    "Quote": "quote",
    "SBQQ__Quote__c": "quote",
    "Contract": "contract",
    "Order": "order",
    "blng__Invoice__c": "invoice",
    "blng__Payment__c": "payment",
}


def object_types(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Salesforce object -> OCEL object type, from the warehouse's mapping where it has one."""
    has_mapping = con.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_schema = 'mapped' AND table_name = 'entity_fields'"
    ).fetchone()[0]
    if not has_mapping:
        return dict(DEFAULT_OBJECT_TYPES)
    types: dict[str, str] = {}
    rows = con.execute("SELECT DISTINCT entity, object FROM mapped.entity_fields").fetchall()
    for entity, ocel_type in ENTITY_TYPES.items():  # an object of two entities: the first wins
        for row_entity, obj in rows:
            if row_entity == entity:
                types.setdefault(obj, ocel_type)
    return types


# Columns exported under another name than the event log's: the start as pm4py and the file
# source name it, so an exported interval log reads back with its service times.
EXPORTED_AS = {"start_timestamp": "started_at"}
TIME_COLUMNS = ("timestamp", "start_timestamp")


def _column(name: str) -> str:
    return f"{EXPORTED_AS[name]} AS {name}" if name in EXPORTED_AS else name


def formula_safe(column: str) -> str:
    """SQL that neutralises a text cell a spreadsheet would evaluate."""
    return (
        f"CASE WHEN regexp_matches({column}, '^[=+\\-@\\t\\r]') THEN '''' || {column} "
        f"ELSE {column} END"
    )


def _text_columns(con, table: str) -> set[str]:
    return {
        name for name, kind, *_ in con.execute(f"DESCRIBE {table}").fetchall() if kind == "VARCHAR"
    }


def _of_cases(cases: str | None) -> str:
    """The WHERE clause keeping the events of the cases in the table `cases` (its case_id), or
    none: the explorer exports a filtered log."""
    return f" WHERE case_id IN (SELECT case_id FROM {cases})" if cases else ""


def export_csv(con: duckdb.DuckDBPyConnection, path: Path, cases: str | None = None) -> Path:
    text = _text_columns(con, "core.event_log")
    columns = ", ".join(
        f"{formula_safe(c)} AS {c}" if c in text else _column(c) for c in EVENT_COLUMNS
    )

    def write(partial: Path) -> None:
        con.execute(
            f"COPY (SELECT {columns} FROM core.event_log{_of_cases(cases)} ORDER BY case_id, event_order) "
            f"TO '{_sql_path(partial)}' (HEADER, DELIMITER ',')"
        )

    return replace_file(Path(path), write)


def export_parquet(con: duckdb.DuckDBPyConnection, path: Path) -> Path:
    # The times as instants in UTC (Parquet's isAdjustedToUTC): readers see the zone, where a
    # plain timestamp would leave them to guess it.
    columns = ", ".join(
        f'timezone(\'UTC\', "{EXPORTED_AS.get(c, c)}") AS "{c}"' if c in TIME_COLUMNS else c
        for c in EVENT_COLUMNS
    )

    def write(partial: Path) -> None:
        con.execute(
            f"COPY (SELECT {columns} FROM core.event_log ORDER BY case_id, event_order) "
            f"TO '{_sql_path(partial)}' (FORMAT parquet, COMPRESSION zstd)"
        )

    return replace_file(Path(path), write)


def event_log_frame(con: duckdb.DuckDBPyConnection, cases: str | None = None) -> pd.DataFrame:
    """The event log in pm4py's column names, in event order (equal timestamps keep it); with
    `cases`, only the events of the cases in that table."""
    frame = con.execute(
        f"""SELECT case_id AS "case:concept:name", activity AS "concept:name",
                  "timestamp" AS "time:timestamp", started_at AS start_timestamp,
                  coalesce(resource_name, resource_id) AS "org:resource",
                  event_id, object_type, object_id
           FROM core.event_log{_of_cases(cases)} ORDER BY case_id, event_order"""
    ).df()
    frame["time:timestamp"] = pd.to_datetime(frame["time:timestamp"]).dt.tz_localize("UTC")
    frame["start_timestamp"] = _utc_or_none(frame["start_timestamp"])
    return frame


def _utc_or_none(times: pd.Series) -> pd.Series:
    """Times in UTC, a missing one as None: pm4py's writers leave a None attribute out, where
    they would write a missing time as the text 'NaT'."""
    utc = pd.to_datetime(times).dt.tz_localize("UTC").astype(object)
    return utc.where(times.notna(), None)


# What XML 1.0 cannot hold, not even escaped: control characters but tab and line breaks (and
# the two non-characters at the end of the basic plane).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with every character XML cannot hold written as its escape (`\\x1b`): a
    name from a file may carry one, and an XES file holding it is not XML at all."""
    for column in frame.columns:
        series = frame[column]
        if not pd.api.types.is_string_dtype(series):  # text only (an object column of times is not)
            continue
        if series.str.contains(_NOT_XML, na=False).any():
            frame[column] = series.str.replace(
                _NOT_XML, lambda m: f"\\x{ord(m[0]):02x}", regex=True
            )
    return frame


def export_xes(con: duckdb.DuckDBPyConnection, path: Path, cases: str | None = None) -> Path:
    import pm4py

    frame = xml_safe(event_log_frame(con, cases))
    return replace_file(Path(path), lambda partial: pm4py.write_xes(frame, str(partial)))


EVENT_OBJECTS = "core.event_objects"
APPROVAL_QUOTES = "core.approval_quotes"


def build_event_objects(con: duckdb.DuckDBPyConnection) -> None:
    """core.event_objects, a view in the models file: each event's objects for the OCEL export,
    which reads the published file (where the mapping and staging are not). Each event relates
    to its case (the opportunity, or the lead while it is not converted) and to the record it
    comes from; a discount approval relates to its quote (core.approval_quotes, a small table
    built here from the staged approvals).

    A view, not a table: only the on-demand OCEL export reads it, so a run does not write two
    rows per event that nothing else reads. The Salesforce objects' OCEL types are written into
    its SQL from the mapping of the warehouse it is built in."""
    types = " ".join(
        f"WHEN {sql_literal(sf)} THEN {sql_literal(t)}" for sf, t in object_types(con).items()
    )
    with transaction(con):
        con.execute(f"""
            CREATE OR REPLACE TABLE {APPROVAL_QUOTES} AS
            SELECT approval_id, min(quote_id) AS quote_id FROM staging.stg_approvals GROUP BY approval_id
        """)
        write_comments(
            con,
            APPROVAL_QUOTES,
            "The quote each discount approval approves (read by core.event_objects: an "
            "approval event relates to its quote).",
            {
                "approval_id": "The approval process's Id (the object_id of its events).",
                "quote_id": "The quote submitted for approval.",
            },
        )
        drop_other_kind(con, EVENT_OBJECTS, "view")  # a table, as earlier releases built it
        con.execute(f"""
            CREATE OR REPLACE VIEW {EVENT_OBJECTS} AS
            -- One row per event and qualifier, without a DISTINCT over every relation: event
            -- ids are unique (a blocking check of the event log), and the two small tables
            -- joined below are one row per key.
            WITH case_types AS (
                SELECT case_id, min(case_type) AS case_type FROM core.cases GROUP BY case_id
            ), own_object AS (
                SELECT e.event_id,
                       CASE WHEN a.approval_id IS NOT NULL THEN a.quote_id ELSE e.object_id END AS object_id,
                       CASE WHEN a.approval_id IS NOT NULL THEN 'quote' ELSE CASE e.object_type {types} END END
                           AS object_type
                FROM core.event_log AS e
                LEFT JOIN {APPROVAL_QUOTES} AS a ON a.approval_id = e.object_id
            ), case_object AS (
                SELECT e.event_id, e.case_id AS object_id, c.case_type AS object_type
                FROM core.event_log AS e JOIN case_types AS c USING (case_id)
            )
            SELECT event_id, object_id, object_type, qualifier FROM (
                SELECT *, 'source record' AS qualifier FROM own_object WHERE object_id IS NOT NULL AND object_type IS NOT NULL
                UNION ALL
                SELECT *, 'case' FROM case_object
            )
        """)
        write_comments(
            con,
            EVENT_OBJECTS,
            "Each event's objects (OCEL 2.0 terms): its case, and the record it comes from (a "
            "discount approval: its quote), with the qualifier 'case' or 'source record'.",
            {
                "event_id": "The event (core.event_log.event_id).",
                "object_id": "The object's id: the case id, or the Salesforce record id.",
                "object_type": "OCEL object type: lead, opportunity, quote, contract, order, "
                "invoice, payment.",
                "qualifier": "How the event relates to the object: case, or source record.",
            },
            kind="view",
        )


def ocel_tables(con: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Events, objects and event-to-object relations of the OCEL 2.0 export, from the event log
    and core.event_objects."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE ocel_relations AS SELECT * FROM {EVENT_OBJECTS}")
    # One qualifier per (event, object): the source record wins over the case when they coincide.
    relations = con.execute("""
        SELECT r.event_id AS "ocel:eid", r.object_id AS "ocel:oid", r.object_type AS "ocel:type",
               e.activity AS "ocel:activity", e."timestamp" AS "ocel:timestamp", max(r.qualifier) AS "ocel:qualifier"
        FROM ocel_relations AS r JOIN core.event_log AS e USING (event_id)
        GROUP BY ALL ORDER BY 1, 2
    """).df()
    objects = con.execute("""
        SELECT object_id AS "ocel:oid", any_value(object_type) AS "ocel:type"
        FROM ocel_relations GROUP BY object_id ORDER BY 1
    """).df()
    events = con.execute("""
        SELECT event_id AS "ocel:eid", activity AS "ocel:activity", "timestamp" AS "ocel:timestamp",
               coalesce(resource_name, resource_id) AS "org:resource", started_at AS start_timestamp
        FROM core.event_log ORDER BY case_id, event_order
    """).df()
    con.execute("DROP TABLE ocel_relations")
    for frame in (events, relations):
        frame["ocel:timestamp"] = pd.to_datetime(frame["ocel:timestamp"]).dt.tz_localize("UTC")
    events["start_timestamp"] = _utc_or_none(events["start_timestamp"])
    return events, objects, relations


def export_ocel(con: duckdb.DuckDBPyConnection, path: Path) -> Path:
    import pm4py
    from pm4py.objects.ocel.obj import OCEL

    events, objects, relations = ocel_tables(con)
    ocel = OCEL(events=events, objects=objects, relations=relations)
    return replace_file(Path(path), lambda partial: pm4py.write_ocel2_json(ocel, str(partial)))


EXPORTERS = {"csv": export_csv, "parquet": export_parquet, "xes": export_xes, "ocel": export_ocel}


def parse_formats(text: str) -> tuple[str, ...]:
    """'csv, parquet' -> ('csv', 'parquet'); one clear error for an unknown format."""
    formats = tuple(dict.fromkeys(f.strip().lower() for f in text.split(",") if f.strip()))
    unknown = [f for f in formats if f not in EXPORTERS]
    if unknown:
        raise ValueError(f"unknown export format {unknown[0]!r} (known: {', '.join(FORMATS)})")
    return formats


def export_event_log(
    con: duckdb.DuckDBPyConnection, folder: Path, formats: tuple[str, ...] = FORMATS
) -> dict[str, Path]:
    """Write the event log in each format into `folder`; returns format -> file."""
    return {f: EXPORTERS[f](con, Path(folder) / FILE_NAMES[f]) for f in formats}


# The tables each export reads: it is written again only when they (or this code) change.
EXPORT_INPUTS = {
    "csv": ("core.event_log",),
    "parquet": ("core.event_log",),
    "xes": ("core.event_log",),
    "ocel": ("core.event_log", EVENT_OBJECTS),
}


def export_changed(
    con: duckdb.DuckDBPyConnection, folder: Path, formats: tuple[str, ...] = FORMATS
) -> tuple[dict[str, Path], list[str]]:
    """Like export_event_log, but a file that already holds what its tables would write again
    is kept as it is; returns format -> file, and the formats kept."""
    files, kept = {}, []
    for fmt in formats:
        path = Path(folder) / FILE_NAMES[fmt]
        inputs = tables_fingerprint(con, EXPORT_INPUTS[fmt], code=[Path(__file__)])
        if up_to_date(folder, [path], inputs):
            files[fmt] = path
            kept.append(fmt)
            continue
        files |= export_event_log(con, folder, (fmt,))
        remember(folder, [path], inputs)
    return files, kept


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")
