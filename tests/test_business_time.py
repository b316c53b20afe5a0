"""Business time: the SQL models' business durations against a direct calculation in Python,
minute by minute with zoneinfo, over weekends, holidays (whole and part days), both
daylight-saving changes of Europe/Berlin and America/New_York, and events outside the hours;
recurring holidays expanded in SQL against dateutil's rrule, one rule of each kind; and the
choice of business hours (the setting, the org's default, the fallback)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import duckdb
import pytest
from dateutil import rrule

from l2c_pipeline.mapping.spec import ENTITIES
from l2c_pipeline.mining.business_hours import (
    BusinessHoursError,
    parse_business_hours,
    write_business_hours,
    write_case_calendars,
)
from l2c_pipeline.mining.target_process import load_target_process, write_target_process
from l2c_pipeline.models.sql_models import build_model, discover

# Two weeks with odd minutes, a whole Sunday (so the day the clocks change is a working day of
# 23 or 25 hours) and a late Saturday.
CALENDARS = {
    "Europe/Berlin": (
        "Europe/Berlin Mon-Fri 09:00-17:00 Sun 00:00-24:00",
        # (date, start minute, end minute): a whole day, part of the Monday after the spring
        # change, part of the Sunday of the autumn change.
        [("2026-04-03", 0, 1440), ("2026-03-30", 720, 810), ("2026-10-25", 600, 660)],
        # The changes: 2026-03-29 and 2026-10-25.
        [datetime(2026, 3, 27, 12), datetime(2026, 10, 23, 12)],
    ),
    "America/New_York": (
        "America/New_York Mon-Fri 08:30-17:15 Sat 22:00-24:00 Sun 00:00-24:00",
        [("2026-11-26", 0, 1440), ("2026-03-09", 0, 600), ("2026-11-02", 900, 1035)],
        # The changes: 2026-03-08 and 2026-11-01.
        [datetime(2026, 3, 6, 12), datetime(2026, 10, 30, 12)],
    ),
}


def reference_seconds(zone_name: str, week: dict, holidays: list, start: datetime, end: datetime):
    """Business seconds from start to end (UTC, whole minutes), counted minute by minute: a
    minute counts when its local time lies in that weekday's hours and in no holiday."""
    zone = ZoneInfo(zone_name)
    cuts = {}
    for day, first, last in holidays:
        cuts.setdefault(datetime.fromisoformat(day).date(), []).append((first, last))
    seconds = 0
    moment = start.replace(tzinfo=UTC)
    stop = end.replace(tzinfo=UTC)
    while moment < stop:
        local = moment.astimezone(zone)
        minute = local.hour * 60 + local.minute
        hours = week.get(local.isoweekday())
        holiday = any(a <= minute < b for a, b in cuts.get(local.date(), []))
        if hours and hours[0] <= minute < hours[1] and not holiday:
            seconds += 60
        moment += timedelta(minutes=1)
    return seconds


def pairs_for(changes: list[datetime]) -> list[tuple[datetime, datetime]]:
    """Hand-picked pairs over each change's weekend, and random ones around them."""
    rng = random.Random(7)
    pairs = []
    for friday in changes:
        pairs += [
            (friday, friday + timedelta(days=3)),  # Friday noon to Monday noon
            (friday + timedelta(hours=10), friday + timedelta(days=1, hours=16)),  # outside hours
            (friday + timedelta(days=1, hours=11), friday + timedelta(days=2, hours=13)),
            (friday + timedelta(days=2), friday + timedelta(days=2)),  # no time at all
            (friday - timedelta(days=4), friday + timedelta(days=8, minutes=7)),
        ]
        for _ in range(12):
            start = friday + timedelta(minutes=rng.randrange(-5 * 1440, 5 * 1440))
            pairs.append((start, start + timedelta(minutes=rng.randrange(0, 6 * 1440))))
    # Across the holidays too.
    pairs += [
        (datetime(2026, 4, 2, 15, 3), datetime(2026, 4, 7, 9, 41)),
        (datetime(2026, 11, 25, 13, 0), datetime(2026, 11, 30, 15, 59)),
        (datetime(2026, 11, 2, 18, 0), datetime(2026, 11, 2, 23, 0)),
    ]
    return pairs


def warehouse_with(
    con, setting: str, holidays: list, pairs: list, records=None, org=None, rule=None
) -> None:
    """The tables the business-time models read: empty org tables, the holidays, and a log in
    which each pair is an approval (request, decision) and a case of two events. With `records`
    (mapped.holidays rows, as dicts; "mapped": the view is there), staging.stg_holidays is the
    model built from them; without, it is a table of the one-off holidays in the layout of a
    warehouse built before recurrences were read. With `org` (a dict of `business_hours`:
    staging.stg_business_hours rows, `users`: (user_id, time zone), `owners`: {case: user_id},
    `attributes`: (case, attribute, value)), the org's calendars and cases; `rule`: process.yaml's
    business_calendars rule."""
    con.execute("CREATE SCHEMA staging; CREATE SCHEMA core; CREATE SCHEMA mining")
    con.execute(
        "CREATE TABLE staging.stg_organization (organization_id VARCHAR, organization_name VARCHAR, "
        "time_zone VARCHAR)"
    )
    con.execute(
        "CREATE TABLE staging.stg_business_hours (business_hours_id VARCHAR, business_hours_name "
        "VARCHAR, is_default BOOLEAN, time_zone VARCHAR, iso_weekday INTEGER, start_minute INTEGER, "
        "end_minute INTEGER)"
    )
    if records is None:
        con.execute(
            "CREATE TABLE staging.stg_holidays (holiday_id VARCHAR, holiday_name VARCHAR, "
            "holiday_date DATE, start_minute INTEGER, end_minute INTEGER, is_recurring BOOLEAN)"
        )
        for i, (day, first, last) in enumerate(holidays):
            con.execute(
                "INSERT INTO staging.stg_holidays VALUES (?, 'h', ?, ?, ?, false)",
                [f"h{i}", day, first, last],
            )
    else:
        if records != "mapped":
            mapped_holidays(con, records)
        build_model(con, discover()[("staging", "stg_holidays")])
    con.execute(
        "CREATE TABLE core.event_log (case_id VARCHAR, activity VARCHAR, timestamp TIMESTAMP, "
        "started_at TIMESTAMP, event_order BIGINT, object_id VARCHAR)"
    )
    rows = []
    for i, (start, end) in enumerate(pairs):
        rows.append((f"c{i}", "Discount Approval Requested", start, None, 1, f"a{i}"))
        rows.append((f"c{i}", "Discount Approved", end, None, 2, f"a{i}"))
        # The same wait before an activity that records its start (and ends days later).
        rows.append((f"s{i}", "Order Created", start, None, 1, f"o{i}"))
        rows.append((f"s{i}", "Order Activated", end + timedelta(days=3), end, 2, f"o{i}"))
    if rows:
        con.executemany("INSERT INTO core.event_log VALUES (?, ?, ?, ?, ?, ?)", rows)
    if org is not None:
        con.execute("CREATE TABLE staging.stg_users (user_id VARCHAR, time_zone VARCHAR)")
        con.execute("CREATE TABLE core.cases (case_id VARCHAR, owner_id VARCHAR)")
        con.execute(
            "CREATE TABLE core.case_attributes (case_id VARCHAR, attribute VARCHAR, value VARCHAR)"
        )
        for table, rows in (
            ("staging.stg_business_hours", org.get("business_hours")),
            ("staging.stg_users", org.get("users")),
            ("core.cases", sorted(org.get("owners", {}).items())),
            ("core.case_attributes", org.get("attributes")),
        ):
            for row in rows or []:
                con.execute(f"INSERT INTO {table} VALUES ({', '.join('?' * len(row))})", row)
    build_business_time(con, setting, rule)


def build_business_time(con, setting: str = "", rule=None) -> None:
    """The business-time tables from the org's tables in `con`: the calendars, each case's, the
    clocks and the models that read them."""
    write_business_hours(con, {"L2C_BUSINESS_HOURS": setting} if setting else {})
    write_case_calendars(con, rule)
    # The approvals' processes, which say when one is still pending: none here.
    con.execute(
        "CREATE TABLE IF NOT EXISTS staging.stg_approvals (approval_id VARCHAR, status VARCHAR)"
    )
    write_target_process(con, load_target_process())
    models = discover()
    for key in (
        ("core", "activity_catalogue"),
        ("mining", "business_holiday_dates"),
        ("mining", "business_calendar"),
        ("mining", "business_clock_days"),
        ("mining", "approval_waits"),
        ("mining", "directly_follows"),
        ("mining", "milestone_events"),
    ):
        build_model(con, models[key], models)


def mapped_holidays(con, records: list[dict]) -> None:
    """mapped.holidays as the mapping writes it: the spec's columns, null where a record says
    nothing (as for an org without the field)."""
    spec = ENTITIES["holidays"]
    con.execute("CREATE SCHEMA IF NOT EXISTS mapped")
    con.execute(
        "CREATE TABLE mapped.holidays ("
        + ", ".join(f"{c.name} {c.type}" for c in spec.columns)
        + ", object_type VARCHAR, is_deleted BOOLEAN)"
    )
    for record in records:
        values = [record.get(c.name) for c in spec.columns]
        con.execute(
            f"INSERT INTO mapped.holidays VALUES ({', '.join('?' * (len(values) + 2))})",
            [*values, "Holiday", record.get("is_deleted", False)],
        )


def _day(text: str) -> datetime:
    return datetime.fromisoformat(text)


# One Holiday record of each rule, as Salesforce writes it, and the same rule for dateutil's
# rrule (weeks from Sunday, as the mask counts; bysetpos picks the Nth of the month's matching
# days). The log runs from 2025-01-06 to 2027-12-29.
SU, MO, TU, WE, TH, FR, SA = rrule.SU, rrule.MO, rrule.TU, rrule.WE, rrule.TH, rrule.FR, rrule.SA
RECURRING = [
    # Every third day, from a start to an end.
    (
        {"recurrence_type": "RecursDaily", "recurrence_interval": 3},
        "2026-02-10",
        "2026-03-05",
        {"freq": rrule.DAILY, "interval": 3},
    ),
    (
        {"recurrence_type": "RecursEveryWeekday", "recurrence_day_of_week_mask": 62},
        "2026-07-29",
        "2026-08-11",
        {"freq": rrule.DAILY, "byweekday": (MO, TU, WE, TH, FR)},
    ),
    # Every other week on Monday and Wednesday, starting on a Wednesday.
    (
        {
            "recurrence_type": "RecursWeekly",
            "recurrence_interval": 2,
            "recurrence_day_of_week_mask": 2 + 8,
        },
        "2026-01-07",
        "2026-05-20",
        {"freq": rrule.WEEKLY, "interval": 2, "byweekday": (MO, WE), "wkst": SU},
    ),
    # Every other month on the 31st: months without a 31st have none.
    (
        {
            "recurrence_type": "RecursMonthly",
            "recurrence_interval": 2,
            "recurrence_day_of_month": 31,
        },
        "2025-12-15",
        None,
        {"freq": rrule.MONTHLY, "interval": 2, "bymonthday": 31},
    ),
    # The last Friday of every month, until an end in the middle of a month.
    (
        {
            "recurrence_type": "RecursMonthlyNth",
            "recurrence_instance": "Last",
            "recurrence_day_of_week_mask": 32,
        },
        "2025-03-01",
        "2026-06-20",
        {"freq": rrule.MONTHLY, "byweekday": FR, "bysetpos": -1},
    ),
    # The first weekday of every third month.
    (
        {
            "recurrence_type": "RecursMonthlyNth",
            "recurrence_interval": 3,
            "recurrence_instance": "First",
            "recurrence_day_of_week_mask": 62,
        },
        "2025-02-01",
        None,
        {"freq": rrule.MONTHLY, "interval": 3, "byweekday": (MO, TU, WE, TH, FR), "bysetpos": 1},
    ),
    # Christmas, from a start before the log.
    (
        {
            "recurrence_type": "RecursYearly",
            "recurrence_month_of_year": "December",
            "recurrence_day_of_month": 25,
        },
        "2019-01-01",
        None,
        {"freq": rrule.YEARLY, "bymonth": 12, "bymonthday": 25},
    ),
    # Every other year on 4 July.
    (
        {
            "recurrence_type": "RecursYearly",
            "recurrence_interval": 2,
            "recurrence_month_of_year": "July",
            "recurrence_day_of_month": 4,
        },
        "2025-01-01",
        None,
        {"freq": rrule.YEARLY, "interval": 2, "bymonth": 7, "bymonthday": 4},
    ),
    # Thanksgiving (the fourth Thursday of November) and Memorial Day (the last Monday of May),
    # the latter ending before the log does.
    (
        {
            "recurrence_type": "RecursYearlyNth",
            "recurrence_month_of_year": "November",
            "recurrence_instance": "Fourth",
            "recurrence_day_of_week_mask": 16,
        },
        "2020-11-01",
        None,
        {"freq": rrule.YEARLY, "bymonth": 11, "byweekday": TH, "bysetpos": 4},
    ),
    (
        {
            "recurrence_type": "RecursYearlyNth",
            "recurrence_month_of_year": "May",
            "recurrence_instance": "Last",
            "recurrence_day_of_week_mask": 2,
        },
        "2021-05-01",
        "2026-12-31",
        {"freq": rrule.YEARLY, "bymonth": 5, "byweekday": MO, "bysetpos": -1},
    ),
    # Friday afternoons from 13:00 (a part of the day), every week.
    (
        {
            "recurrence_type": "RecursWeekly",
            "recurrence_day_of_week_mask": 32,
            "is_all_day": False,
            "start_minutes": 780,
            "end_minutes": 1440,
        },
        "2026-09-04",
        "2026-10-30",
        {"freq": rrule.WEEKLY, "byweekday": FR},
    ),
]
LOG_START, LOG_END = _day("2025-01-06T10:00"), _day("2027-12-29T10:00")


def recurring_records() -> list[dict]:
    records = []
    for i, (fields, start, end, _) in enumerate(RECURRING):
        records.append(
            {
                "holiday_id": f"r{i}",
                "holiday_name": f"rule {i}",
                "activity_date": start,
                "is_all_day": True,
                "is_recurring": True,
                "recurrence_start_date": start,
                "recurrence_end_date": end,
                **fields,
            }
        )
    # A one-off half day, a recurring holiday whose rule the org did not give (its own date
    # only), and a deleted one.
    records += [
        {
            "holiday_id": "o1",
            "holiday_name": "one-off",
            "activity_date": "2026-03-12",
            "is_all_day": False,
            "start_minutes": 600,
            "end_minutes": 720,
            "is_recurring": False,
        },
        {
            "holiday_id": "o2",
            "holiday_name": "no rule",
            "activity_date": "2026-06-03",
            "is_recurring": True,
        },
        {
            "holiday_id": "o3",
            "holiday_name": "gone",
            "activity_date": "2026-06-04",
            "is_deleted": True,
        },
    ]
    return records


def expected_holidays() -> dict[str, list[tuple[str, int, int]]]:
    """Per holiday, its (day, start minute, end minute) within the log, from rrule."""
    expected = {}
    for i, (fields, start, end, rule) in enumerate(RECURRING):
        first = _day(start)
        until = min(_day(end), LOG_END) if end else LOG_END
        part = (fields.get("start_minutes", 0), fields.get("end_minutes", 1440))
        expected[f"r{i}"] = [
            (d.date().isoformat(), *part)
            for d in rrule.rrule(dtstart=first, until=until, **rule)
            if d >= LOG_START.replace(hour=0)
        ]
    expected["o1"] = [("2026-03-12", 600, 720)]
    expected["o2"] = [("2026-06-03", 0, 1440)]
    return expected


def test_recurring_holidays_fall_where_rrule_puts_them():
    con = duckdb.connect()
    setting = "America/New_York Mon-Fri 09:00-17:00"
    warehouse_with(con, setting, [], [(LOG_START, LOG_END)], records=recurring_records())
    got: dict[str, list] = {}
    for holiday_id, day, first, last in con.execute(
        "SELECT holiday_id, holiday_date::VARCHAR, start_minute, end_minute "
        "FROM mining.business_holiday_dates WHERE holiday_date >= ? AND holiday_date <= ? "
        "ORDER BY holiday_id, holiday_date",
        [LOG_START.date(), LOG_END.date()],
    ).fetchall():
        got.setdefault(holiday_id, []).append((day, first, last))
    expected = expected_holidays()
    assert got == expected
    # The reference itself, counted by hand on a calendar: e.g. 19 Mondays and Wednesdays of
    # every other week (one Wednesday, then nine pairs), six 31sts of every other month (none in
    # February, April or June), 15 last Fridays (not 26 June, after the end).
    counts = [len(expected[f"r{i}"]) for i in range(len(RECURRING))]
    assert counts == [8, 10, 19, 6, 15, 12, 3, 2, 3, 2, 9]
    assert expected["r4"][-1][0] == "2026-05-29" and expected["r9"] == [
        ("2025-05-26", 0, 1440),
        ("2026-05-25", 0, 1440),
    ]


def test_recurring_holidays_are_left_out_of_business_time():
    """Waits across the recurring holidays against the minute-by-minute count, with the
    holidays rrule gives."""
    zone_name = "America/New_York"
    setting = f"{zone_name} Mon-Fri 09:00-17:00"
    _, week = parse_business_hours(setting)
    holidays = [h for days in expected_holidays().values() for h in days]
    pairs = [
        (_day("2026-02-09T15:00"), _day("2026-03-06T11:00")),  # the daily rule
        (_day("2026-07-28T16:30"), _day("2026-08-13T09:30")),  # every weekday
        (_day("2026-09-03T18:00"), _day("2026-09-19T14:00")),  # Friday afternoons
        (_day("2026-11-24T12:00"), _day("2026-11-30T16:00")),  # Thanksgiving
        (_day("2025-12-20T12:00"), _day("2026-01-06T16:00")),  # Christmas, 31 Dec
        (_day("2026-03-11T14:00"), _day("2026-03-13T14:00")),  # the one-off half day
        (LOG_START, LOG_START + timedelta(days=400)),
    ]
    con = duckdb.connect()
    warehouse_with(con, setting, [], [*pairs, (LOG_START, LOG_END)], records=recurring_records())
    approvals = dict(
        con.execute(
            "SELECT approval_id, business_wait_hours * 3600 FROM mining.approval_waits"
        ).fetchall()
    )
    for i, (start, end) in enumerate(pairs):
        # The minute count of 400 days takes a while; the others are short.
        expected = reference_seconds(zone_name, week, holidays, start, end)
        assert approvals[f"a{i}"] == pytest.approx(expected, abs=1e-6), (start, end)


def test_an_org_without_recurrence_fields_counts_a_recurring_holiday_on_its_date():
    """The mapping leaves the recurrence columns null: a recurring holiday is its ActivityDate,
    as before recurrences were read."""
    con = duckdb.connect()
    records = [
        {
            "holiday_id": "h1",
            "holiday_name": "Christmas",
            "activity_date": "2025-12-25",
            "is_recurring": True,
        }
    ]
    warehouse_with(con, "UTC Mon-Fri 09:00-17:00", [], [(LOG_START, LOG_END)], records=records)
    assert con.execute(
        "SELECT holiday_id, holiday_date::VARCHAR, is_recurring FROM mining.business_holiday_dates"
    ).fetchall() == [("h1", "2025-12-25", False)]


def mapped_from_raw(con, records: list[dict]):
    """raw.Holiday as extracted (text, as Salesforce sends it; a date as epoch seconds at UTC
    midnight, the demo org's form) seen through the standard mapping as mapped.holidays; returns
    the mapping's notes by column."""
    from l2c_pipeline.mapping.load import load_mapping, shape_file
    from l2c_pipeline.mapping.views import _Builder

    dates = {"ActivityDate", "RecurrenceStartDate", "RecurrenceEndDateOnly"}

    def text(field, value):
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if field in dates:
            return datetime.fromtimestamp(value, UTC).date().isoformat()
        return str(value)

    fields = list(records[0])
    con.execute("CREATE SCHEMA raw")
    con.execute(f"CREATE TABLE raw.Holiday ({', '.join(f'{f} VARCHAR' for f in fields)})")
    for record in records:
        con.execute(
            f"INSERT INTO raw.Holiday VALUES ({', '.join('?' * len(fields))})",
            [text(f, record[f]) for f in fields],
        )
    builder = _Builder(con, load_mapping(shape_file("standard")))
    con.execute("CREATE SCHEMA mapped")
    con.execute(f"CREATE VIEW mapped.holidays AS {builder.entity_sql('holidays')}")
    return {row[2]: row[5:] for row in builder.sources if row[2]}


@pytest.mark.parametrize("with_recurrence_fields", [True, False])
def test_the_mapping_reads_a_recurrence_and_does_without_one(with_recurrence_fields):
    """Through the standard mapping: with the recurrence fields a yearly holiday falls every
    year; an org without them (an older API, a profile that may not read them) gets null
    columns, a note saying what that means, and the holiday on its ActivityDate, as before."""
    record = {
        "Id": "0C0000000000001",
        "Name": "Christmas Day",
        "ActivityDate": "2025-12-25",
        "IsAllDay": True,
        "StartTimeInMinutes": None,
        "EndTimeInMinutes": None,
        "IsRecurrence": True,
    }
    if with_recurrence_fields:
        record |= {
            "RecurrenceType": "RecursYearly",
            "RecurrenceInterval": None,
            "RecurrenceStartDate": "2025-12-25",
            "RecurrenceEndDateOnly": None,
            "RecurrenceDayOfMonth": 25,
            "RecurrenceMonthOfYear": "December",
            "RecurrenceInstance": None,
            "RecurrenceDayOfWeekMask": None,
        }
    con = duckdb.connect()
    notes = mapped_from_raw(con, [record])
    if with_recurrence_fields:
        assert notes["recurrence_type"] == ("ok", None)
    else:
        assert notes["recurrence_type"] == (
            "not mapped",
            "Holiday has no RecurrenceType: a recurring holiday counts on its own date "
            "(ActivityDate) only",
        )
    warehouse_with(con, "UTC Mon-Fri 09:00-17:00", [], [(LOG_START, LOG_END)], records="mapped")
    days = con.execute(
        "SELECT holiday_date::VARCHAR FROM mining.business_holiday_dates ORDER BY 1"
    ).fetchall()
    # Every calendar year the log touches: its last event is on 2028-01-01.
    assert days == (
        [("2025-12-25",), ("2026-12-25",), ("2027-12-25",), ("2028-12-25",)]
        if with_recurrence_fields
        else [("2025-12-25",)]
    )


def test_the_demo_orgs_recurring_holidays_fall_on_the_companys_days():
    """The demo org's Holiday records (one a year, and yearly recurrences: last Monday of May,
    fourth Thursday of November, 24 December from noon, 25 December) give, within the log, the
    days org.json lists from the company's calendar arithmetic."""
    from l2c_pipeline.demo_org.calendar import calendar_summary, holiday_records

    created = int(datetime(2023, 6, 1, tzinfo=UTC).timestamp())
    until = int(datetime(2026, 3, 1, tzinfo=UTC).timestamp())
    records = holiday_records(created, until, "005000000000001")
    summary = calendar_summary(records)
    assert summary["recurring_holidays"] == 4
    assert summary["holidays"] == 3 * 4 + 4  # three one-off holidays a year, four rules
    con = duckdb.connect()
    mapped_from_raw(con, records)
    log = (datetime(2023, 6, 1, 12), datetime(2026, 2, 27, 12))
    warehouse_with(con, "America/New_York Mon-Fri 09:00-17:00", [], [log], records="mapped")
    got = con.execute(
        "SELECT holiday_date::VARCHAR, start_minute, end_minute FROM mining.business_holiday_dates "
        "WHERE holiday_date BETWEEN ? AND ? ORDER BY 1",
        [log[0].date(), log[1].date()],
    ).fetchall()
    expected = [
        tuple(day)
        for day in summary["holiday_days"]
        if log[0].date().isoformat() <= day[0] <= log[1].date().isoformat()
    ]
    assert got == expected
    # Among them, from the rules: 2024's Memorial Day and Thanksgiving, and the afternoons of
    # Christmas Eve.
    assert {("2024-05-27", 0, 1440), ("2024-11-28", 0, 1440), ("2025-12-24", 720, 1440)} <= set(got)
    assert len(got) == 5 + 7 + 7 + 1  # from June 2023 to New Year 2026


@pytest.mark.parametrize("zone_name", sorted(CALENDARS))
def test_business_time_equals_a_minute_by_minute_count(zone_name):
    setting, holidays, changes = CALENDARS[zone_name]
    pairs = pairs_for(changes)
    _, week = parse_business_hours(setting)
    con = duckdb.connect()
    warehouse_with(con, setting, holidays, pairs)
    approvals = dict(
        con.execute(
            "SELECT approval_id, business_wait_hours * 3600 FROM mining.approval_waits"
        ).fetchall()
    )
    follows = dict(
        con.execute("SELECT case_id, business_wait_seconds FROM mining.directly_follows").fetchall()
    )
    milestones = dict(
        con.execute(
            "SELECT case_id, business_wait_hours * 3600 FROM mining.milestone_events "
            "WHERE business_wait_hours IS NOT NULL"
        ).fetchall()
    )
    wrong = []
    for i, (start, end) in enumerate(pairs):
        expected = reference_seconds(zone_name, week, holidays, start, end)
        for what, got in (
            ("approval", approvals[f"a{i}"]),
            ("follows", follows[f"c{i}"]),
            ("follows, until the start", follows[f"s{i}"]),
            ("milestones", milestones[f"c{i}"]),
            ("milestones, until the start", milestones[f"s{i}"]),
        ):
            if abs(got - expected) > 1e-6:
                wrong.append((what, start, end, expected / 3600, got / 3600))
    assert not wrong, wrong
    # The weekend of each change holds a Sunday of 23 and one of 25 hours.
    sundays = dict(
        con.execute(
            "SELECT local_date::VARCHAR, sum(seconds) / 3600 FROM mining.business_calendar "
            "WHERE isodow(local_date) = 7 GROUP BY ALL"
        ).fetchall()
    )
    spring, autumn = ((c + timedelta(days=2)).date().isoformat() for c in changes)  # the Sundays
    assert sundays[spring] == 23
    assert sundays[autumn] == 25 - (1 if zone_name == "Europe/Berlin" else 0)  # a holiday hour


def test_the_org_default_business_hours_and_the_fallback():
    con = duckdb.connect()
    warehouse_with(con, "Mon 09:00-10:00", [], [(datetime(2026, 1, 5), datetime(2026, 1, 6))])
    # No setting, no business hours: Monday to Friday 09:00-17:00 in the org's time zone.
    con.execute("INSERT INTO staging.stg_organization VALUES ('00D', 'Org', 'Asia/Tokyo')")
    write_business_hours(con, {})
    assert con.execute(
        "SELECT count(*), min(start_minute), max(end_minute), any_value(time_zone) "
        "FROM mining.business_hours"
    ).fetchone() == (5, 540, 1020, "Asia/Tokyo")
    # Every active business hours is a calendar; the org's default one is marked.
    con.executemany(
        "INSERT INTO staging.stg_business_hours VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            ("01m1", "APAC", False, "Asia/Singapore", 1, 480, 960),
            ("01m2", "Default", True, "Europe/Paris", 2, 600, 1080),
            ("01m2", "Default", True, "Europe/Paris", 3, 600, 1080),
        ],
    )
    write_business_hours(con, {})
    assert con.execute(
        "SELECT calendar_id, is_default, list(iso_weekday ORDER BY iso_weekday), "
        "any_value(time_zone), any_value(source) FROM mining.business_hours GROUP BY ALL "
        "ORDER BY 1"
    ).fetchall() == [
        ("01m1", False, [1], "Asia/Singapore", "the org's business hours (APAC)"),
        ("01m2", True, [2, 3], "Europe/Paris", "the org's default business hours (Default)"),
    ]
    # The setting wins; without a zone it keeps the org's hours' zone.
    write_business_hours(con, {"L2C_BUSINESS_HOURS": "Mon-Thu 08:00-16:00 Fri 08:00-12:00"})
    assert con.execute(
        "SELECT count(*), any_value(time_zone), max(end_minute) FILTER (WHERE iso_weekday = 5) "
        "FROM mining.business_hours"
    ).fetchone() == (5, "Europe/Paris", 720)


def test_a_three_letter_time_zone_is_a_zone_not_a_day():
    assert parse_business_hours("UTC Mon-Fri 09:00-17:00") == (
        "UTC",
        {day: (540, 1020) for day in range(1, 6)},
    )
    assert parse_business_hours("Sat 10:00-12:00") == (None, {6: (600, 720)})


@pytest.mark.parametrize(
    "text, problem",
    [
        ("Mon-Fri", "days hours \\[days hours"),
        ("Mon-Fri 9-17", "is not hours like"),
        ("Fri-Mon 09:00-17:00", "runs backwards"),
        ("Mon-Fri 17:00-09:00", "ends before it starts"),
        ("Mon-Fri 09:00-25:00", "is not a time of day"),
        ("Europe/Berlin Mo-Fr 09:00-17:00", "is not a day"),
    ],
)
def test_a_bad_setting_is_named(text, problem):
    with pytest.raises(BusinessHoursError, match=problem):
        parse_business_hours(text)


def test_an_unknown_time_zone_is_named():
    con = duckdb.connect()
    with pytest.raises(BusinessHoursError, match="unknown time zone 'Mars/Olympus'"):
        warehouse_with(con, "Mars/Olympus Mon-Fri 09:00-17:00", [], [])


def test_the_truth_warehouse_leaves_out_the_demo_orgs_holiday_days(tables, truth_org):
    """End to end (extracted over HTTPS, built through the mining stage): the holiday days
    within the log are those org.json lists, the recurring ones among them."""
    import json

    calendar = json.loads((truth_org / "org.json").read_text(encoding="utf-8"))["calendar"]
    first, last = tables.execute(
        "SELECT min(timestamp)::DATE, max(timestamp)::DATE FROM core.event_log"
    ).fetchone()
    got = tables.execute(
        "SELECT holiday_date, start_minute, end_minute, is_recurring "
        "FROM mining.business_holiday_dates WHERE holiday_date BETWEEN ? AND ? ORDER BY 1",
        [first, last],
    ).fetchall()
    expected = [
        (d, s, e)
        for d, s, e in calendar["holiday_days"]
        if first.isoformat() <= d <= last.isoformat()
    ]
    assert [(d.isoformat(), s, e) for d, s, e, _ in got] == expected
    assert calendar["recurring_holidays"] == 4
    recurring = {d.isoformat() for d, _, _, is_recurring in got if is_recurring}
    assert len(recurring) >= 8  # two years of four rules
    # No business time on a holiday: e.g. Christmas Day is no working interval.
    christmas = [d for d, _, _, _ in got if (d.month, d.day) == (12, 25)]
    assert (
        christmas
        and not tables.execute(
            "SELECT count(*) FROM mining.business_calendar WHERE local_date IN "
            f"({', '.join('?' * len(christmas))})",
            christmas,
        ).fetchone()[0]
    )
