"""Business calendars per region or team: every active BusinessHours is a calendar, each case
counts its business time in the calendar process.yaml's business_calendars rule gives it (by
default the owner's time zone), and an org with one business hours (or none) counts as before.
The figures are checked against the minute-by-minute count of test_business_time, in each case's
own calendar, and the demo org's against its generator's own arithmetic."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import duckdb
import pytest

from l2c_pipeline.mining.business_hours import (
    BusinessHoursError,
    CalendarRule,
    parse_business_hours,
    parse_calendar_rule,
)
from l2c_pipeline.mining.target_process import (
    TargetProcessError,
    default_process_file,
    load_target_process,
)

from .test_business_time import (
    CALENDARS,
    build_business_time,
    pairs_for,
    reference_seconds,
    warehouse_with,
)


def hours_rows(hours_id: str, name: str, default: bool, setting: str) -> list[tuple]:
    """staging.stg_business_hours rows of one business hours, from the setting's notation."""
    zone, week = parse_business_hours(setting)
    return [(hours_id, name, default, zone, day, start, end) for day, (start, end) in week.items()]


BERLIN, NEW_YORK = "Europe/Berlin", "America/New_York"
# Two calendars in different zones: New York the org's default, Berlin not.
TWO_CALENDARS = [
    *hours_rows("01mB", "Berlin", False, CALENDARS[BERLIN][0]),
    *hours_rows("01mN", "New York", True, CALENDARS[NEW_YORK][0]),
]
# Every holiday applies to every calendar (on its date in the calendar's own zone).
HOLIDAYS = CALENDARS[BERLIN][1] + CALENDARS[NEW_YORK][1]


def business_columns(con) -> dict:
    """Every business figure of the mining tables the test warehouse builds, by key."""
    figures = {}
    for key, value in con.execute(
        "SELECT 'approval ' || approval_id, business_wait_hours * 3600 FROM mining.approval_waits "
        "UNION ALL SELECT 'follows ' || case_id, business_wait_seconds FROM mining.directly_follows "
        "UNION ALL SELECT 'milestones ' || case_id, business_wait_hours * 3600 "
        "FROM mining.milestone_events WHERE business_wait_hours IS NOT NULL"
    ).fetchall():
        figures[key] = value
    return figures


def test_two_calendars_in_two_time_zones_equal_a_minute_by_minute_count():
    """Cases owned in Berlin count in Berlin's hours, those owned in New York in New York's
    (weekends, both changes of the clocks in each zone, whole and part-day holidays, events
    outside the hours); an owner in a zone without business hours counts in the default."""
    pairs = pairs_for(CALENDARS[BERLIN][2] + CALENDARS[NEW_YORK][2])
    owners, expected_zone = {}, {}
    for i in range(len(pairs)):
        user = ("uB", "uN", "uT")[i % 3]
        zone = {"uB": BERLIN, "uN": NEW_YORK, "uT": NEW_YORK}[user]
        for case in (f"c{i}", f"s{i}"):
            owners[case] = user
            expected_zone[case] = zone
    org = {
        "business_hours": TWO_CALENDARS,
        "users": [("uB", BERLIN), ("uN", NEW_YORK), ("uT", "Asia/Tokyo")],
        "owners": owners,
    }
    con = duckdb.connect()
    warehouse_with(con, "", HOLIDAYS, pairs, org=org)
    assigned = dict(
        con.execute("SELECT case_id, calendar_id FROM mining.case_calendars").fetchall()
    )
    assert assigned == {
        case: "01mB" if zone == BERLIN else "01mN" for case, zone in expected_zone.items()
    }
    weeks = {zone: parse_business_hours(CALENDARS[zone][0])[1] for zone in CALENDARS}
    figures = business_columns(con)
    wrong, checked = [], 0
    for i, (start, end) in enumerate(pairs):
        zone = expected_zone[f"c{i}"]
        expected = reference_seconds(zone, weeks[zone], HOLIDAYS, start, end)
        for key in (f"approval a{i}", f"follows c{i}", f"follows s{i}", f"milestones c{i}"):
            checked += 1
            if abs(figures[key] - expected) > 1e-6:
                wrong.append((key, zone, start, end, expected / 3600, figures[key] / 3600))
    assert not wrong, wrong
    assert checked == 4 * len(pairs) > 250
    # The calendars differ: the same wait counts differently in the two zones somewhere.
    assert any(
        reference_seconds(BERLIN, weeks[BERLIN], HOLIDAYS, a, b)
        != reference_seconds(NEW_YORK, weeks[NEW_YORK], HOLIDAYS, a, b)
        for a, b in pairs[:5]
    )
    # Each calendar keeps its own clock, its own days of 23 and 25 hours.
    sundays = dict(
        con.execute(
            "SELECT calendar_id || ' ' || local_date, sum(seconds) / 3600 "
            "FROM mining.business_calendar WHERE local_date IN "
            "('2026-03-29', '2026-10-25', '2026-03-08', '2026-11-01') GROUP BY ALL"
        ).fetchall()
    )
    assert sundays == {
        "01mB 2026-03-29": 23,
        "01mB 2026-10-25": 25 - 1,  # a holiday hour
        "01mB 2026-03-08": 24,
        "01mB 2026-11-01": 24,
        "01mN 2026-03-08": 23,
        "01mN 2026-11-01": 25,
        "01mN 2026-03-29": 24,
        "01mN 2026-10-25": 24 - 1,  # the Berlin holiday hour, on New York's day
    }


def pairs_one_calendar():
    return pairs_for(CALENDARS[NEW_YORK][2])


@pytest.mark.parametrize("hours", ["one business hours", "no business hours"])
def test_a_one_calendar_org_counts_as_before(hours):
    """An org with one business hours record (or none: the fallback week in the org's zone)
    gives every case the same figures as the one week of L2C_BUSINESS_HOURS, which is how
    business time was counted before calendars per case (and test_business_time checks against
    the minute count), whatever time zone the owners are in."""
    pairs = pairs_one_calendar()
    holidays = CALENDARS[NEW_YORK][1]
    setting = CALENDARS[NEW_YORK][0] if hours == "one business hours" else "Mon-Fri 09:00-17:00"
    week_text = setting.removeprefix(f"{NEW_YORK} ")
    owners = {
        case: ("uB", "uN", "uT")[i % 3] for i in range(len(pairs)) for case in (f"c{i}", f"s{i}")
    }
    org = {
        "business_hours": (
            hours_rows("01mN", "Only", False, setting) if hours == "one business hours" else []
        ),
        "users": [("uB", BERLIN), ("uN", NEW_YORK), ("uT", "Asia/Tokyo")],
        "owners": owners,
        "attributes": [(case, "region", "EMEA") for case in owners],
    }
    con = duckdb.connect()
    warehouse_with(con, "", holidays, pairs, org=org)
    if hours == "no business hours":
        con.execute("INSERT INTO staging.stg_organization VALUES ('00D', 'Org', ?)", [NEW_YORK])
        build_business_time(con)
    figures = business_columns(con)
    reference = duckdb.connect()
    warehouse_with(reference, f"{NEW_YORK} {week_text}", holidays, pairs)
    before = business_columns(reference)
    assert len(figures) == len(before) == 5 * len(pairs)
    assert figures == before
    _, week = parse_business_hours(week_text)
    for i, (start, end) in enumerate(pairs[:8]):
        assert figures[f"approval a{i}"] == pytest.approx(
            reference_seconds(NEW_YORK, week, holidays, start, end), abs=1e-6
        )
    assert con.execute(
        "SELECT count(DISTINCT calendar_id), count(*) FROM mining.case_calendars"
    ).fetchone() == (1, 2 * len(pairs))


# Four business hours in two zones, for the choice among several in one zone.
RULE_ORG = {
    "business_hours": [
        *hours_rows("01m2", "Paris B", False, "Europe/Paris Mon-Fri 09:00-17:00"),
        *hours_rows("01m1", "Paris A", False, "Europe/Paris Mon-Fri 08:00-16:00"),
        *hours_rows("01m0", "New York B", False, "America/New_York Mon-Fri 10:00-18:00"),
        *hours_rows("01m3", "New York", True, "America/New_York Mon-Fri 09:00-17:00"),
    ],
    "users": [("uP", "Europe/Paris"), ("uN", NEW_YORK), ("uT", "Asia/Tokyo"), ("uX", None)],
    # c4 has no core.cases row (as a case of a public log); c5 has no owner.
    "owners": {"c0": "uP", "c1": "uN", "c2": "uT", "c3": "uX", "c5": None},
    "attributes": [
        ("c0", "region", "Nowhere"),
        ("c1", "region", "EMEA"),
        ("c2", "team", "APAC Enterprise"),
        ("c3", "region", "EMEA"),
    ],
}
RULE_PAIRS = [(datetime(2026, 1, 5, 10), datetime(2026, 1, 6, 10))] * 6


def assignments(rule=None, setting="") -> dict:
    con = duckdb.connect()
    warehouse_with(con, setting, [], RULE_PAIRS, org=RULE_ORG, rule=rule)
    return {
        case: rest
        for case, *rest in con.execute(
            "SELECT case_id, calendar_id, assigned_by, matched_value FROM mining.case_calendars "
            "WHERE case_id LIKE 'c%'"
        ).fetchall()
    }


def test_cases_are_assigned_by_the_rule():
    # The owner's time zone: of two in Paris, neither the default, the lowest Id; of two in
    # New York, the default one; a zone without hours, no zone, no owner, no case: the default.
    assert assignments() == {
        "c0": ["01m1", "owner_time_zone", "Europe/Paris"],
        "c1": ["01m3", "owner_time_zone", NEW_YORK],
        "c2": ["01m3", "default", None],
        "c3": ["01m3", "default", None],
        "c4": ["01m3", "default", None],
        "c5": ["01m3", "default", None],
    }
    # A case attribute mapped to business hours by name (or Id); an unmapped value falls back
    # to the owner's time zone.
    rule = parse_calendar_rule(
        {"by": "region", "calendars": {"EMEA": "Paris B", "Nowhere": "01m0"}}
    )
    assert assignments(rule) == {
        "c0": ["01m0", "region", "Nowhere"],
        "c1": ["01m2", "region", "EMEA"],
        "c2": ["01m3", "default", None],
        "c3": ["01m2", "region", "EMEA"],
        "c4": ["01m3", "default", None],
        "c5": ["01m3", "default", None],
    }
    team = parse_calendar_rule({"by": "team", "calendars": {"APAC Enterprise": "Paris A"}})
    assert assignments(team)["c2"] == ["01m1", "team", "APAC Enterprise"]
    assert assignments(team)["c1"] == ["01m3", "owner_time_zone", NEW_YORK]
    # Every case in the default hours.
    assert {c[0] for c in assignments(parse_calendar_rule({"by": "default"})).values()} == {"01m3"}
    # The setting is the one calendar of every case, whatever the rule.
    assert set(map(tuple, assignments(rule, setting="UTC Mon-Fri 09:00-17:00").values())) == {
        ("L2C_BUSINESS_HOURS", "L2C_BUSINESS_HOURS", None)
    }


def test_a_rule_naming_unknown_business_hours_is_named():
    rule = CalendarRule("region", {"EMEA": "Paris C"})
    with pytest.raises(
        BusinessHoursError,
        match=r"key 'business_calendars.calendars.EMEA' names 'Paris C', which is not an active "
        r"BusinessHours of the org \(active: New York, New York B, Paris A, Paris B\)",
    ):
        assignments(rule)


@pytest.mark.parametrize(
    "setting, problem",
    [
        ("owner", "key 'business_calendars' must be a mapping"),
        ({"by": "region"}, "key 'business_calendars.calendars' must map each value"),
        ({"by": "default", "calendars": {"EMEA": "EMEA"}}, "applies only when"),
        ({"by": "region", "calendars": {"EMEA": 3}}, "'business_calendars.calendars.EMEA' must"),
        ({"by": 7}, "key 'business_calendars.by' must be owner_time_zone, default"),
        ({"rule": "region"}, "key 'business_calendars.rule' is not a business-calendar"),
    ],
)
def test_a_wrong_rule_in_the_process_file_is_named(tmp_path, setting, problem):
    import yaml

    document = yaml.safe_load(default_process_file().read_text(encoding="utf-8"))
    document["business_calendars"] = setting
    path = tmp_path / "process.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    with pytest.raises(TargetProcessError, match=problem) as error:
        load_target_process(path)
    assert str(error.value).startswith(f"{path}: key 'business_calendars")
    assert "\n" not in str(error.value)


def demo_business_seconds(region: str, start: datetime, end: datetime) -> float:
    from l2c_pipeline.demo_org.calendar import business_seconds

    return business_seconds(region, start.replace(tzinfo=UTC), end.replace(tzinfo=UTC))


def test_the_truth_warehouse_counts_each_case_in_its_regions_hours(tables, truth_org):
    """End to end: each case counts in the business hours of its owner's region (the owner's
    time zone), and its discount approvals' business waits are those the demo org's own
    calendar arithmetic gives for that region (demo_org/calendar.py, from the company's hours
    and holidays, not the records)."""
    calendar = json.loads((truth_org / "org.json").read_text(encoding="utf-8"))["calendar"]
    regions = calendar["regions"]
    by_zone = {r["time_zone"]: name for name, r in regions.items()}
    rows = tables.execute(
        "SELECT a.approval_id, a.requested_at, a.decided_at, a.business_wait_hours, "
        "u.time_zone, k.calendar_id "
        "FROM mining.approval_waits AS a JOIN core.cases AS c USING (case_id) "
        "JOIN staging.stg_users AS u ON u.user_id = c.owner_id "
        "JOIN mining.case_calendars AS k USING (case_id) "
        "WHERE a.decided_at IS NOT NULL AND a.requested_at IS NOT NULL ORDER BY a.approval_id"
    ).fetchall()
    per_region: dict[str, int] = {}
    wrong = []
    for approval, requested, decided, hours, zone, calendar_id in rows:
        region = by_zone.get(zone, calendar["company_region"])
        per_region[region] = per_region.get(region, 0) + 1
        if calendar_id != regions[region]["business_hours_id"]:
            wrong.append((approval, zone, calendar_id))
            continue
        expected = demo_business_seconds(region, requested, decided) / 3600
        if abs(hours - expected) > 1e-6:
            wrong.append((approval, region, requested, decided, expected, hours))
    assert not wrong, wrong[:5]
    # Every region's calendar is used, and the figures differ from the company's hours.
    assert set(per_region) == set(regions) and min(per_region.values()) >= 20, per_region
    company = calendar["company_region"]
    assert any(
        abs(
            demo_business_seconds(company, r, d)
            - demo_business_seconds(by_zone.get(z, company), r, d)
        )
        > 1
        for _, r, d, _, z, _ in rows
    )
    assert tables.execute(
        "SELECT count(DISTINCT calendar_id) FROM mining.business_hours"
    ).fetchone()[0] == len(regions)
    # Every case, approval or not: the business hours of its owner's zone, else the default.
    owners = tables.execute(
        "SELECT k.case_id, k.calendar_id, k.assigned_by, u.time_zone FROM mining.case_calendars AS k "
        "LEFT JOIN core.cases AS c USING (case_id) "
        "LEFT JOIN staging.stg_users AS u ON u.user_id = c.owner_id"
    ).fetchall()
    cases = tables.execute("SELECT count(DISTINCT case_id) FROM core.event_log").fetchone()[0]
    assert len(owners) == cases > 1000
    misplaced = [
        row
        for row in owners
        if row[1] != regions[by_zone.get(row[3], calendar["company_region"])]["business_hours_id"]
        or row[2] != ("owner_time_zone" if row[3] in by_zone else "default")
    ]
    assert not misplaced, misplaced[:5]


def test_the_demo_orgs_arithmetic_counts_a_known_week():
    """The generator's own arithmetic by hand: EMEA (Paris, 09:00-17:30) from Friday
    2025-12-19 16:00 to Monday 2025-12-29 10:00 UTC: Friday 17:00-17:30 local (0.5 h), the
    Monday to Tuesday 22-23 (8.5 h each), Wednesday 24th from 09:00 to noon (the company's half
    day, 3 h), Thursday 25th none (Christmas), Friday 26th 8.5 h, Monday 29th 09:00-11:00
    local (2 h)."""
    start, end = datetime(2025, 12, 19, 16), datetime(2025, 12, 29, 10)
    assert demo_business_seconds("EMEA", start, end) / 3600 == 0.5 + 8.5 * 2 + 3 + 8.5 + 2
    # North America (New York, 09:00-17:00) over the spring change of the clocks.
    start, end = datetime(2026, 3, 6, 21, 30), datetime(2026, 3, 9, 14)
    assert demo_business_seconds("North America", start, end) / 3600 == 0.5 + 1
