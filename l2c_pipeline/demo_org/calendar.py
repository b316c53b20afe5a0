"""The demo org's time: its own record (the company's time zone), business hours per region
(the company's the default) and the company's holidays over the simulated years.

Nothing here draws a random number: the simulation's streams are untouched, and the same seed
gives the same records in every shape."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from .ids import make_id
from .world import REGION_TIMEZONE, REGIONS

# The company sits in North America: its time zone, and its hours are the default ones.
COMPANY_REGION = "North America"
COMPANY_TIME_ZONE = REGION_TIMEZONE[COMPANY_REGION]
# Per region: (start, end) local hours on Monday to Friday.
REGION_HOURS = {
    "North America": ("09:00", "17:00"),
    "EMEA": ("09:00", "17:30"),
    "APAC": ("09:00", "18:00"),
    "LATAM": ("08:00", "17:00"),
}
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# The company's half day: Christmas Eve from noon (minutes after midnight).
HALF_DAY = (720, 1440)


def _system(created_at: int, user_id: str) -> dict:
    return {
        "CreatedDate": created_at,
        "CreatedById": user_id,
        "LastModifiedDate": created_at,
        "LastModifiedById": user_id,
        "SystemModstamp": created_at,
    }


def organization_record(organization: dict, created_at: int, user_id: str) -> dict:
    return {
        "Id": organization["Id"],
        "Name": organization["Name"],
        "OrganizationType": "Developer Edition",
        "IsSandbox": False,
        "InstanceName": "DEMO1",
        "TimeZoneSidKey": COMPANY_TIME_ZONE,
        "DefaultLocaleSidKey": "en_US",
        **_system(created_at, user_id),
    }


def business_hours_records(created_at: int, user_id: str) -> list[dict]:
    records = []
    for number, region in enumerate(REGIONS, start=1):
        start, end = REGION_HOURS[region]
        record = {
            "Id": make_id("01m", number),
            "Name": region if region != COMPANY_REGION else f"Default ({region})",
            "IsActive": True,
            "IsDefault": region == COMPANY_REGION,
            "TimeZoneSidKey": REGION_TIMEZONE[region],
            **_system(created_at, user_id),
        }
        for day in WEEKDAYS[:5]:
            record[f"{day}StartTime"] = f"{start}:00.000Z"
            record[f"{day}EndTime"] = f"{end}:00.000Z"
        records.append(record)
    return records


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The n-th (1-based; -1 the last) given weekday (Monday 0) of a month."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    following = date(year + month // 12, month % 12 + 1, 1)
    last = following - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def company_holidays(first_year: int, last_year: int) -> list[tuple[str, date, tuple | None]]:
    """(name, day, (start, end) minutes or None for the whole day) of the company's holidays."""
    days = []
    for year in range(first_year, last_year + 1):
        days += [
            ("New Year's Day", date(year, 1, 1), None),
            ("Memorial Day", _nth_weekday(year, 5, 0, -1), None),
            ("Independence Day", date(year, 7, 4), None),
            ("Labor Day", _nth_weekday(year, 9, 0, 1), None),
            ("Thanksgiving", _nth_weekday(year, 11, 3, 4), None),
            ("Christmas Eve (afternoon)", date(year, 12, 24), HALF_DAY),
            ("Christmas Day", date(year, 12, 25), None),
        ]
    return days


def holiday_records(created_at: int, until: int, user_id: str) -> list[dict]:
    first = datetime.fromtimestamp(created_at, UTC).year
    last = datetime.fromtimestamp(until, UTC).year
    records = []
    for number, (name, day, part) in enumerate(company_holidays(first, last), start=1):
        records.append(
            {
                "Id": make_id("0C0", number),
                "Name": name,
                "Description": f"{name} {day.year}",
                "IsAllDay": part is None,
                "ActivityDate": int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()),
                "StartTimeInMinutes": part[0] if part else None,
                "EndTimeInMinutes": part[1] if part else None,
                "IsRecurrence": False,
                **_system(created_at, user_id),
            }
        )
    return records


def calendar_summary(holidays: list[dict]) -> dict:
    """What org.json says of the org's time: the figures a test compares the warehouse with."""
    start, end = REGION_HOURS[COMPANY_REGION]
    return {
        "time_zone": COMPANY_TIME_ZONE,
        "default_business_hours": {
            "time_zone": COMPANY_TIME_ZONE,
            "weekdays": f"Mon-Fri {start}-{end}",
        },
        "business_hours": {region: REGION_TIMEZONE[region] for region in REGIONS},
        "holidays": len(holidays),
        "half_day_holidays": sum(1 for h in holidays if not h["IsAllDay"]),
    }
