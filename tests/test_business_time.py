"""Business time: the SQL models' business durations against a direct calculation in Python,
minute by minute with zoneinfo, over weekends, holidays (whole and part days), both
daylight-saving changes of Europe/Berlin and America/New_York, and events outside the hours;
and the choice of business hours (the setting, the org's default, the fallback)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import duckdb
import pytest

from l2c_pipeline.mining.business_hours import (
    BusinessHoursError,
    parse_business_hours,
    write_business_hours,
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


def warehouse_with(con, setting: str, holidays: list, pairs: list) -> None:
    """The tables the business-time models read: empty org tables, the holidays, and a log in
    which each pair is an approval (request, decision) and a case of two events."""
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
    con.execute(
        "CREATE TABLE staging.stg_holidays (holiday_id VARCHAR, holiday_name VARCHAR, holiday_date "
        "DATE, start_minute INTEGER, end_minute INTEGER, is_recurring BOOLEAN)"
    )
    for i, (day, first, last) in enumerate(holidays):
        con.execute(
            "INSERT INTO staging.stg_holidays VALUES (?, 'h', ?, ?, ?, false)",
            [f"h{i}", day, first, last],
        )
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
    write_business_hours(con, {"L2C_BUSINESS_HOURS": setting})
    write_target_process(con, load_target_process())
    models = discover()
    for key in (
        ("core", "activity_catalogue"),
        ("mining", "business_calendar"),
        ("mining", "business_clock_days"),
        ("mining", "approval_waits"),
        ("mining", "directly_follows"),
        ("mining", "milestone_events"),
    ):
        build_model(con, models[key], models)


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
    # The org's default business hours win over the other active ones.
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
        "SELECT list(iso_weekday ORDER BY iso_weekday), any_value(time_zone), any_value(source) "
        "FROM mining.business_hours"
    ).fetchone() == ([2, 3], "Europe/Paris", "the org's default business hours (Default)")
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
