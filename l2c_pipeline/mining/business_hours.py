"""The business calendars business time is counted in, as the table `mining.business_hours`:
one row per calendar and working weekday with its start and end (minutes after local midnight)
and the time zone, chosen once per run:

1. `L2C_BUSINESS_HOURS`, when set: one calendar for every case, e.g. `Europe/Berlin Mon-Fri
   09:00-17:30`, or `America/New_York Mon-Thu 08:00-18:00 Fri 08:00-14:00`; without a time zone,
   the zone of the org's default business hours (else the org's own time zone, else UTC) is kept;
2. else every active BusinessHours record of the org, one calendar each (calendar_id its Id), the
   default one (IsDefault; else the lowest Id) marked;
3. else (an org without business hours, a user who may not read them, an event-log file) one
   calendar, Monday to Friday 09:00-17:00 in the org's time zone (Organization.TimeZoneSidKey),
   else UTC.

Which calendar a case counts in is `mining.case_calendars`, by process.yaml's
`business_calendars:` rule (parse_calendar_rule): by default the case owner's time zone
(User.TimeZoneSidKey) matched to the business hours in that zone, else the default hours.

The hours are small (seven rows a calendar); the calendars built from them and every business
duration are SQL (sql/mining/business_calendar.sql)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import duckdb

SETTING = "L2C_BUSINESS_HOURS"
TABLE = "mining.business_hours"
HOLIDAYS = "mining.business_holidays"
CASE_CALENDARS = "mining.case_calendars"
TABLES = (TABLE, HOLIDAYS)
FALLBACK = "Mon-Fri 09:00-17:00"
# calendar_id of the one calendar L2C_BUSINESS_HOURS gives, and of the fallback week.
SETTING_CALENDAR = "L2C_BUSINESS_HOURS"
FALLBACK_CALENDAR = "fallback"
RULE_KEY = "business_calendars"
OWNER_TIME_ZONE = "owner_time_zone"
DEFAULT = "default"
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_SPAN = re.compile(r"^([a-z]{3})(?:-([a-z]{3}))?$")
_HOURS = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")
_DESCRIPTION = (
    "The business calendars business time is counted in: one row per calendar and working "
    "weekday, its start and end in minutes after local midnight, the time zone and where the hours "
    "come from (L2C_BUSINESS_HOURS, one calendar; else every active BusinessHours of the org, the "
    "default one marked; else Monday to Friday 09:00-17:00 in the org's time zone)."
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
    "calendar_id": "the calendar: the BusinessHours Id (L2C_BUSINESS_HOURS or fallback for the "
    "setting's or the fallback week)",
    "calendar_name": "the calendar's name (the BusinessHours' Name)",
    "is_default": "the org's default calendar: the cases no rule assigns count in it",
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


def known_zone(con: duckdb.DuckDBPyConnection, zone: str) -> bool:
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


def _org_calendars(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Every active business hours of the org with working days: {calendar_id, name, time_zone,
    is_default, week}, the default first (IsDefault; of several, or none marked, the lowest Id),
    then by Id."""
    if not _table_exists(con, "staging", "stg_business_hours"):
        return []
    rows = con.execute(
        """
        SELECT business_hours_id, business_hours_name, coalesce(is_default, false), time_zone,
               iso_weekday, start_minute, end_minute
        FROM staging.stg_business_hours
        ORDER BY business_hours_id, iso_weekday
        """
    ).fetchall()
    calendars: dict[str, dict] = {}
    for hours_id, name, is_default, zone, day, start, end in rows:
        calendar = calendars.setdefault(
            hours_id,
            {"calendar_id": hours_id, "name": name, "time_zone": zone, "marked": False, "week": {}},
        )
        calendar["marked"] = calendar["marked"] or bool(is_default)
        calendar["week"][day] = (start, end)
    ordered = sorted(calendars.values(), key=lambda c: (not c["marked"], c["calendar_id"]))
    for index, calendar in enumerate(ordered):
        calendar["is_default"] = index == 0
    return ordered


def _org_zone(con: duckdb.DuckDBPyConnection) -> str | None:
    if not _table_exists(con, "staging", "stg_organization"):
        return None
    row = con.execute("SELECT time_zone FROM staging.stg_organization").fetchone()
    return row[0] if row else None


def choose_calendars(con: duckdb.DuckDBPyConnection, environ=None) -> list[dict]:
    """The calendars, the default one first: [{calendar_id, name, time_zone, is_default, week,
    source}]: the setting (one), else the org's business hours, else the fallback week (one)."""
    environ = os.environ if environ is None else environ
    setting = environ.get(SETTING, "").strip()
    org = _org_calendars(con)
    org_zone = _org_zone(con)
    if setting:
        zone, week = parse_business_hours(setting)
        zone = zone or (org[0]["time_zone"] if org else None) or org_zone or "UTC"
        calendars = [
            {
                "calendar_id": SETTING_CALENDAR,
                "name": SETTING,
                "time_zone": zone,
                "is_default": True,
                "week": week,
                "source": f"{SETTING}={setting}",
            }
        ]
    elif org:
        calendars = []
        for calendar in org:
            kind = "default business hours" if calendar["is_default"] else "business hours"
            calendars.append(
                calendar
                | {
                    "time_zone": calendar["time_zone"] or org_zone or "UTC",
                    "source": f"the org's {kind} ({calendar['name']})",
                }
            )
    else:
        _, week = parse_business_hours(FALLBACK)
        zone = org_zone or "UTC"
        where = "the org's time zone" if org_zone else "UTC (the org's time zone is not known)"
        calendars = [
            {
                "calendar_id": FALLBACK_CALENDAR,
                "name": FALLBACK,
                "time_zone": zone,
                "is_default": True,
                "week": week,
                "source": f"no business hours in the org: {FALLBACK} in {where}",
            }
        ]
    for calendar in calendars:
        if not known_zone(con, calendar["time_zone"]):
            raise BusinessHoursError(
                f"business hours ({calendar['source']}): unknown time zone "
                f"{calendar['time_zone']!r}"
            )
    return calendars


def write_business_hours(con: duckdb.DuckDBPyConnection, environ=None) -> int:
    """Replace mining.business_hours (every calendar's week) and mining.business_holidays (the
    org's holiday records and their rules, none where the warehouse has no staging.stg_holidays,
    e.g. a public log loaded on its own); returns the business hours' row count."""
    from ..warehouse.duckdb_warehouse import write_comments

    calendars = choose_calendars(con, environ)
    con.execute("CREATE SCHEMA IF NOT EXISTS mining")
    con.execute(
        f"CREATE OR REPLACE TABLE {TABLE} (calendar_id VARCHAR, calendar_name VARCHAR, "
        "is_default BOOLEAN, iso_weekday INTEGER, start_minute INTEGER, end_minute INTEGER, "
        "time_zone VARCHAR, source VARCHAR)"
    )
    rows = [
        (c["calendar_id"], c["name"], c["is_default"], day, start, end, c["time_zone"], c["source"])
        for c in calendars
        for day, (start, end) in sorted(c["week"].items())
    ]
    con.executemany(f"INSERT INTO {TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
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
    return len(rows)


class CalendarRuleError(ValueError):
    """A wrong `business_calendars:` setting of process.yaml; the message names the key."""


@dataclass(frozen=True)
class CalendarRule:
    """process.yaml's `business_calendars:` key: which calendar a case's business time counts in.

    by: owner_time_zone (default): the case owner's time zone (User.TimeZoneSidKey) matched to the
        business hours in that zone (the default one among several, else the lowest Id);
        default: every case in the org's default business hours;
        a case attribute (region, team, ...): its value looked up in `calendars`, a case without
        a mapped value falling back to the owner's time zone.
    Whatever matches nothing counts in the default business hours."""

    by: str = OWNER_TIME_ZONE
    calendars: Mapping[str, str] = field(default_factory=dict)

    def described(self) -> str:
        if self.by == DEFAULT:
            return "every case in the default business hours"
        if self.by == OWNER_TIME_ZONE:
            return "by the case owner's time zone"
        return f"by the case's {self.by}, else the owner's time zone"


def parse_calendar_rule(document) -> CalendarRule:
    """The `business_calendars:` mapping of process.yaml (None: the default rule)."""
    if document is None:
        return CalendarRule()
    if not isinstance(document, dict):
        raise CalendarRuleError(f"key '{RULE_KEY}' must be a mapping of by and calendars")
    unknown = sorted(set(document) - {"by", "calendars"})
    if unknown:
        raise CalendarRuleError(
            f"key '{RULE_KEY}.{unknown[0]}' is not a business-calendar setting (known: by, calendars)"
        )
    by = document.get("by", OWNER_TIME_ZONE)
    if not isinstance(by, str) or not by.strip():
        raise CalendarRuleError(
            f"key '{RULE_KEY}.by' must be {OWNER_TIME_ZONE}, {DEFAULT} or a case attribute "
            f"(region, team, ...), got {by!r}"
        )
    by = by.strip()
    calendars = document.get("calendars")
    if by in (OWNER_TIME_ZONE, DEFAULT):
        if calendars:
            raise CalendarRuleError(
                f"key '{RULE_KEY}.calendars' applies only when {RULE_KEY}.by names a case "
                f"attribute (it is {by})"
            )
        return CalendarRule(by)
    if not isinstance(calendars, dict) or not calendars:
        raise CalendarRuleError(
            f"key '{RULE_KEY}.calendars' must map each value of the attribute {by!r} to the "
            "name of a BusinessHours record, e.g. {EMEA: EMEA Hours}"
        )
    mapping = {}
    for value, name in calendars.items():
        if not isinstance(name, str) or not name.strip():
            raise CalendarRuleError(
                f"key '{RULE_KEY}.calendars.{value}' must name a BusinessHours record, got {name!r}"
            )
        mapping[str(value)] = name.strip()
    return CalendarRule(by, mapping)


_CASE_CALENDARS_DESCRIPTION = (
    "Which business calendar (mining.business_hours) each case of the event log counts its "
    "business time in, and why: by process.yaml's business_calendars rule (by default the case "
    "owner's time zone matched to the business hours in that zone), else the org's default "
    "business hours; with L2C_BUSINESS_HOURS, its one calendar for every case."
)
_CASE_CALENDARS_COLUMNS = {
    "case_id": "the case",
    "calendar_id": "its calendar (mining.business_hours.calendar_id)",
    "calendar_name": "the calendar's name",
    "assigned_by": "why: the attribute of the rule (e.g. region), owner_time_zone, default (no "
    "rule matched, or the rule is default) or L2C_BUSINESS_HOURS",
    "matched_value": "the value that chose it: the attribute's value or the owner's time zone "
    "(null for the default)",
    "rule": "the rule, in words (process.yaml business_calendars, or L2C_BUSINESS_HOURS)",
}


def _columns(con, schema: str, name: str) -> set[str]:
    return {
        row[0]
        for row in con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ?",
            [schema, name],
        ).fetchall()
    }


def write_case_calendars(con: duckdb.DuckDBPyConnection, rule: CalendarRule | None = None) -> int:
    """Replace mining.case_calendars: every case of core.event_log with its calendar, in one
    set-based statement over core.cases (the owner), staging.stg_users (their time zone) and
    core.case_attributes, whichever of them the warehouse has (a public log loaded on its own
    has none: every case counts in the default calendar). Returns the number of cases."""
    from ..warehouse.duckdb_warehouse import sql_literal, write_comments

    rule = rule or CalendarRule()
    calendars = con.execute(
        f"SELECT DISTINCT calendar_id, calendar_name, is_default FROM {TABLE} ORDER BY calendar_id"
    ).fetchall()
    setting = any(c[0] == SETTING_CALENDAR for c in calendars)
    from_org = calendars and not setting and all(c[0] != FALLBACK_CALENDAR for c in calendars)
    mapped: dict[str, str] = {}
    if from_org and rule.by not in (OWNER_TIME_ZONE, DEFAULT):
        by_name = {}
        for calendar_id, name, _ in calendars:
            by_name.setdefault(name, calendar_id)
            by_name[calendar_id] = calendar_id
        for value, name in rule.calendars.items():
            if name not in by_name:
                known = ", ".join(sorted({c[1] for c in calendars}))
                raise BusinessHoursError(
                    f"process file: key '{RULE_KEY}.calendars.{value}' names {name!r}, which is "
                    f"not an active BusinessHours of the org (active: {known})"
                )
            mapped[value] = by_name[name]
    has = {
        table: _table_exists(con, *table.split("."))
        for table in ("core.event_log", "core.cases", "core.case_attributes", "staging.stg_users")
    }
    cases = (
        "SELECT DISTINCT case_id FROM core.event_log"
        if has["core.event_log"]
        else "SELECT NULL::VARCHAR AS case_id WHERE false"
    )
    by_attribute = "SELECT NULL::VARCHAR AS case_id, NULL::VARCHAR AS value, NULL::VARCHAR AS calendar_id WHERE false"
    if mapped and has["core.case_attributes"]:
        values = ", ".join(f"({sql_literal(v)}, {sql_literal(c)})" for v, c in mapped.items())
        by_attribute = (
            "SELECT a.case_id, a.value, m.calendar_id FROM core.case_attributes AS a "
            f"JOIN (VALUES {values}) AS m(value, calendar_id) ON m.value = a.value "
            f"WHERE a.attribute = {sql_literal(rule.by)}"
        )
    owner_zones = "SELECT NULL::VARCHAR AS case_id, NULL::VARCHAR AS time_zone WHERE false"
    if (
        from_org
        and rule.by != DEFAULT
        and has["core.cases"]
        and has["staging.stg_users"]
        and "time_zone" in _columns(con, "staging", "stg_users")
    ):
        owner_zones = (
            "SELECT c.case_id, u.time_zone FROM core.cases AS c "
            "JOIN staging.stg_users AS u ON u.user_id = c.owner_id WHERE u.time_zone IS NOT NULL"
        )
    default_reason = sql_literal(SETTING if setting else DEFAULT)
    described = (
        f"every case in {SETTING}"
        if setting
        else rule.described()
        if from_org
        else "every case in the one business week"
    )
    con.execute(
        f"""
        CREATE OR REPLACE TABLE {CASE_CALENDARS} AS
        WITH calendars AS (
            SELECT DISTINCT calendar_id, calendar_name, time_zone, is_default FROM {TABLE}
        ), default_calendar AS (
            SELECT min(calendar_id) AS calendar_id FROM calendars WHERE is_default
        ), zone_calendars AS (
            -- Of the business hours in one time zone, the default, else the lowest Id.
            SELECT time_zone, arg_min(calendar_id, (NOT is_default, calendar_id)) AS calendar_id
            FROM calendars GROUP BY time_zone
        ), cases AS ({cases}
        ), by_attribute AS ({by_attribute}
        ), by_zone AS (
            SELECT o.case_id, o.time_zone, z.calendar_id
            FROM ({owner_zones}) AS o JOIN zone_calendars AS z USING (time_zone)
        ), chosen AS (
            SELECT k.case_id,
                   coalesce(a.calendar_id, z.calendar_id, d.calendar_id) AS calendar_id,
                   CASE WHEN a.calendar_id IS NOT NULL THEN {sql_literal(rule.by)}
                        WHEN z.calendar_id IS NOT NULL THEN {sql_literal(OWNER_TIME_ZONE)}
                        ELSE {default_reason} END AS assigned_by,
                   CASE WHEN a.calendar_id IS NOT NULL THEN a.value
                        WHEN z.calendar_id IS NOT NULL THEN z.time_zone END AS matched_value
            FROM cases AS k
            CROSS JOIN default_calendar AS d
            LEFT JOIN by_attribute AS a USING (case_id)
            LEFT JOIN by_zone AS z USING (case_id)
        )
        SELECT c.case_id, c.calendar_id, n.calendar_name, c.assigned_by, c.matched_value,
               {sql_literal(described)} AS rule
        FROM chosen AS c
        LEFT JOIN (SELECT DISTINCT calendar_id, calendar_name FROM calendars) AS n USING (calendar_id)
        """
    )
    write_comments(con, CASE_CALENDARS, _CASE_CALENDARS_DESCRIPTION, _CASE_CALENDARS_COLUMNS)
    return con.execute(f"SELECT count(*) FROM {CASE_CALENDARS}").fetchone()[0]
