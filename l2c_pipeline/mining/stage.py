"""The mining stage's Python steps (not SQL files), as build steps for l2c_pipeline.pipeline:
the target process tables, the business hours and pm4py conformance. Dagster runs the same steps as assets
(mining/assets.py)."""

from __future__ import annotations

from .business_hours import write_business_hours, write_case_calendars
from .conformance import write_case_conformance
from .target_process import TARGET_PROCESS_TABLES, TargetProcess

REFERENCE_PATH = ("mining", "reference_path")
CASE_CONFORMANCE = ("mining", "case_conformance")
BUSINESS_HOURS = ("mining", "business_hours")
# What the business hours are chosen from (staging models, or the file source's empty tables).
BUSINESS_HOURS_SOURCES = {
    ("staging", "stg_business_hours"),
    ("staging", "stg_organization"),
    ("staging", "stg_holidays"),
}
BUSINESS_HOLIDAYS = ("mining", "business_holidays")
CASE_CALENDARS = ("mining", "case_calendars")
# What a case's calendar is chosen from (a public log loaded on its own has only the event log).
CASE_CALENDAR_SOURCES = {
    BUSINESS_HOURS,
    ("core", "event_log"),
    ("core", "cases"),
    ("core", "case_attributes"),
    ("staging", "stg_users"),
}


def python_steps(process: TargetProcess, log=lambda message: None) -> dict:
    """The steps that are Python, not SQL: key -> (dependencies, build(con) -> rows)."""
    from .target_process import write_target_process

    def target_process_tables(con) -> int:
        return write_target_process(con, process)["mining.reference_path"]

    steps = {REFERENCE_PATH: (set(), target_process_tables)}
    # The other two target-process tables are written by the same step.
    for table in TARGET_PROCESS_TABLES[1:]:
        steps[tuple(table.split("."))] = ({REFERENCE_PATH}, _count(table))
    steps[BUSINESS_HOURS] = (BUSINESS_HOURS_SOURCES, write_business_hours)
    # Written by the same step.
    steps[BUSINESS_HOLIDAYS] = ({BUSINESS_HOURS}, _count("mining.business_holidays"))
    steps[CASE_CALENDARS] = (
        CASE_CALENDAR_SOURCES,
        lambda con: write_case_calendars(con, process.business_calendars),
    )
    steps[CASE_CONFORMANCE] = (
        {
            ("mining", "case_variants"),
            ("mining", "activity_codes"),
            ("core", "activity_evidence"),
            REFERENCE_PATH,
        },
        lambda con: write_case_conformance(con, process, log)["cases"],
    )
    return steps


def _count(table: str):
    return lambda con: con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
