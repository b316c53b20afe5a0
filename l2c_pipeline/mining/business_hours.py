"""The business week that business time is counted in, as the table `mining.business_hours`:
one row per working weekday with its start and end (minutes after local midnight) and the time
zone, chosen once per run:

1. `L2C_BUSINESS_HOURS`, when set: e.g. `Europe/Berlin Mon-Fri 09:00-17:30`, or
   `America/New_York Mon-Thu 08:00-18:00 Fri 08:00-14:00`; without a time zone, the zone of the
   org's default business hours (else the org's own time zone, else UTC) is kept;
2. else the org's default business hours (BusinessHours with IsDefault, active);
3. else (an org without business hours, a user who may not read them, an event-log file)
   Monday to Friday 09:00-17:00 in the org's time zone (Organization.TimeZoneSidKey), else UTC.

The hours are small (seven rows); the calendar built from them and every business duration are
SQL (sql/mining/business_calendar.sql)."""

from __future__ import annotations

import os
import re

import duckdb

SETTING = "L2C_BUSINESS_HOURS"
TABLE = "mining.business_hours"
HOLIDAYS = "mining.business_holidays"
TABLES = (TABLE, HOLIDAYS)
FALLBACK = "Mon-Fri 09:00-17:00"
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_SPAN = re.compile(r"^([a-z]{3})(?:-([a-z]{3}))?$")
_HOURS = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")
_DESCRIPTION = (
    "The business week business time is counted in: one row per working weekday, its start and "
    "end in minutes after local midnight, the time zone and where the hours come from "
    "(L2C_BUSINESS_HOURS, else the org's default BusinessHours, else Monday to Friday 09:00-17:00 "
    "in the org's time zone)."
)
_HOLIDAYS_DESCRIPTION = (
    "The holidays business time leaves out: the org's Holiday records (staging.stg_holidays), "
    "one row each, with the part of a day it covers and, for a recurring holiday, its rule "
    "(mining.business_holiday_dates expands the rules into days); none for an event-log file."
)
# column -> (type, description); a column the staging table lacks (a file source's empty
# table, a warehouse built before recurrences were read) is null: the holiday counts on its date.
_HOLIDAY_COLUMNS = {
    "holiday_id": ("VARCHAR", "the Holiday record"),
    "holiday_name": ("VARCHAR", "the holiday's name"),
    "holiday_date": ("DATE", "its own date, in the business hours' time zone"),
    "start_minute": (
        "INTEGER",
        "minutes after local midnight the holiday starts (0 for a whole day)",
    ),
    "end_minute": ("INTEGER", "minutes after local midnight it ends (1440 for a whole day)"),
    "is_recurring": ("BOOLEAN", "a recurring holiday"),
    "recurrence_type": ("VARCHAR", "the recurrence rule (null: the holiday's own date only)"),
    "recurrence_interval": ("INTEGER", "every how many days, weeks, months or years"),
    "recurrence_start_date": ("DATE", "the first day the rule may fall on"),
    "recurrence_end_date": ("DATE", "the last day it may fall on (null: open)"),
    "recurrence_day_of_month": ("INTEGER", "the day of the month"),
    "recurrence_month": ("INTEGER", "the month, 1 to 12"),
    "recurrence_instance": ("INTEGER", "which matching weekday of the month: 1 to 4, -1 the last"),
    "recurrence_day_mask": ("INTEGER", "the weekdays: Sunday 1, Monday 2, ... Saturday 64"),
}
_COLUMNS = {
    "holiday_date": "the day, in the business hours' time zone",
    "start_minute": "minutes after local midnight the holiday starts (0 for a whole day)",
    "end_minute": "minutes after local midnight it ends (1440 for a whole day)",
    "holiday_name": "the holiday's name",
}
_COLUMNS = {
    "iso_weekday": "the weekday, 1 Monday to 7 Sunday",
    "start_minute": "minutes after local midnight that work starts",
    "end_minute": "minutes after local midnight that work ends (1440: the day's end)",
    "time_zone": "the time zone the hours are in (an IANA name)",
    "source": "where the hours come from, in words",
}


class BusinessHoursError(ValueError):
    """A bad L2C_BUSINESS_HOURS; the message names the setting, the value and the problem."""


def _minutes(hours: str, minutes: str, text: str) -> int:
    value = int(hours) * 60 + int(minutes)
    if int(minutes) >= 60 or value > 1440:
        raise BusinessHoursError(f"{SETTING}: {text!r} is not a time of day (00:00 to 24:00)")
    return value


def parse_business_hours(text: str) -> tuple[str | None, dict[int, tuple[int, int]]]:
    """(time zone or None, {ISO weekday: (start minute, end minute)}) from the setting's text:
    an optional time zone, then pairs of days (`Mon`, `Mon-Fri`, `Sat,Sun`) and hours
    (`09:00-17:00`, `00:00-24:00` for the whole day)."""
    words = text.split()
    if not words:
        raise BusinessHoursError(f"{SETTING} is empty")
    zone = None
    # A three-letter zone (UTC, EST) has the form of a day: only a day's name is a day.
    first = _DAY_SPAN.match(words[0].split(",")[0].lower())
    if not first or first[1] not in _DAYS:
        zone, words = words[0], words[1:]
    if not words or len(words) % 2:
        raise BusinessHoursError(
            f"{SETTING}={text!r}: expected [time zone] days hours [days hours ...], "
            "e.g. 'Europe/Berlin Mon-Fri 09:00-17:00'"
        )
    week: dict[int, tuple[int, int]] = {}
    for days_text, hours_text in zip(words[::2], words[1::2]):
        hours = _HOURS.match(hours_text)
        if not hours:
            raise BusinessHoursError(
                f"{SETTING}={text!r}: {hours_text!r} is not hours like 09:00-17:00"
            )
        start = _minutes(hours[1], hours[2], hours_text)
        end = _minutes(hours[3], hours[4], hours_text)
        if end <= start:
            raise BusinessHoursError(f"{SETTING}={text!r}: {hours_text!r} ends before it starts")
        for part in days_text.lower().split(","):
            span = _DAY_SPAN.match(part)
            if not span or span[1] not in _DAYS or (span[2] and span[2] not in _DAYS):
                raise BusinessHoursError(
                    f"{SETTING}={text!r}: {part!r} is not a day or days like Mon or Mon-Fri"
                )
            first = _DAYS.index(span[1])
            last = _DAYS.index(span[2]) if span[2] else first
            if last < first:
                raise BusinessHoursError(f"{SETTING}={text!r}: {part!r} runs backwards")
            for day in range(first, last + 1):
                week[day + 1] = (start, end)
    return zone, week


def _known_zone(con: duckdb.DuckDBPyConnection, zone: str) -> bool:
    return bool(
        con.execute("SELECT count(*) FROM pg_timezone_names() WHERE name = ?", [zone]).fetchone()[0]
    )


def _table_exists(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
            [schema, name],
        ).fetchone()[0]
    )


def _org_hours(con: duckdb.DuckDBPyConnection):
    """(name, time zone, week) of the org's default business hours (the first active one when
    none is marked default), or None."""
    if not _table_exists(con, "staging", "stg_business_hours"):
        return None
    rows = con.execute(
        """
        WITH chosen AS (
            SELECT business_hours_id FROM staging.stg_business_hours
            ORDER BY is_default DESC, business_hours_id LIMIT 1
        )
        SELECT business_hours_name, time_zone, iso_weekday, start_minute, end_minute
        FROM staging.stg_business_hours JOIN chosen USING (business_hours_id)
        ORDER BY iso_weekday
        """
    ).fetchall()
    if not rows:
        return None
    return rows[0][0], rows[0][1], {day: (start, end) for _, _, day, start, end in rows}


def _org_zone(con: duckdb.DuckDBPyConnection) -> str | None:
    if not _table_exists(con, "staging", "stg_organization"):
        return None
    row = con.execute("SELECT time_zone FROM staging.stg_organization").fetchone()
    return row[0] if row else None


def choose_business_hours(
    con: duckdb.DuckDBPyConnection, environ=None
) -> tuple[str, dict[int, tuple[int, int]], str]:
    """(time zone, week, source in words): the setting, else the org's, else the fallback."""
    environ = os.environ if environ is None else environ
    setting = environ.get(SETTING, "").strip()
    org = _org_hours(con)
    org_zone = _org_zone(con)
    if setting:
        zone, week = parse_business_hours(setting)
        zone = zone or (org[1] if org else None) or org_zone or "UTC"
        source = f"{SETTING}={setting}"
    elif org:
        name, zone, week = org
        zone = zone or org_zone or "UTC"
        source = f"the org's default business hours ({name})"
    else:
        _, week = parse_business_hours(FALLBACK)
        zone = org_zone or "UTC"
        where = "the org's time zone" if org_zone else "UTC (the org's time zone is not known)"
        source = f"no business hours in the org: {FALLBACK} in {where}"
    if not _known_zone(con, zone):
        raise BusinessHoursError(f"business hours ({source}): unknown time zone {zone!r}")
    return zone, week, source


def write_business_hours(con: duckdb.DuckDBPyConnection, environ=None) -> int:
    """Replace mining.business_hours and mining.business_holidays (the org's holiday records
    and their rules, none where the warehouse has no staging.stg_holidays, e.g. a public log
    loaded on its own); returns the business hours' row count."""
    from ..warehouse.duckdb_warehouse import write_comments

    zone, week, source = choose_business_hours(con, environ)
    con.execute("CREATE SCHEMA IF NOT EXISTS mining")
    con.execute(
        f"CREATE OR REPLACE TABLE {TABLE} (iso_weekday INTEGER, start_minute INTEGER, "
        "end_minute INTEGER, time_zone VARCHAR, source VARCHAR)"
    )
    con.executemany(
        f"INSERT INTO {TABLE} VALUES (?, ?, ?, ?, ?)",
        [(day, start, end, zone, source) for day, (start, end) in sorted(week.items())],
    )
    write_comments(con, TABLE, _DESCRIPTION, _COLUMNS)
    staged = (
        {
            row[0]
            for row in con.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = 'staging' AND table_name = 'stg_holidays'"
            ).fetchall()
        }
        if _table_exists(con, "staging", "stg_holidays")
        else None
    )
    selects = ", ".join(
        f"{name if staged and name in staged else 'NULL'}::{type_} AS {name}"
        for name, (type_, _) in _HOLIDAY_COLUMNS.items()
    )
    holidays = (
        f"SELECT {selects} FROM staging.stg_holidays"
        if staged is not None
        else f"SELECT {selects} WHERE false"
    )
    con.execute(f"CREATE OR REPLACE TABLE {HOLIDAYS} AS {holidays}")
    write_comments(
        con, HOLIDAYS, _HOLIDAYS_DESCRIPTION, {k: v[1] for k, v in _HOLIDAY_COLUMNS.items()}
    )
    return len(week)
