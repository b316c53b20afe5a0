"""The demo org's time: its own record (the company's time zone), business hours per region
(the company's the default) and the company's holidays over the simulated years: some written
one record a year, the others (Memorial Day, Thanksgiving, Christmas Eve afternoon, Christmas)
as one recurring record each, as an org's admin sets them up once. Either way the days are
those of company_holidays, which org.json lists for a test to compare the warehouse with.

Nothing here draws a random number: the simulation's streams are untouched, and the same seed
gives the same records in every shape."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

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
    for region in REGIONS:
        start, end = REGION_HOURS[region]
        record = {
            "Id": business_hours_id(region),
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


def business_hours_id(region: str) -> str:
    """The Id of a region's BusinessHours record (as business_hours_records writes it)."""
    return make_id("01m", REGIONS.index(region) + 1)


def business_seconds(region: str, start: datetime, end: datetime) -> float:
    """The business seconds between two aware instants in a region's hours, by the company's
    own calendar arithmetic (not the records): each local weekday's hours (REGION_HOURS, in the
    region's time zone, so a day the clocks change keeps its local hours) less the company's
    holidays (company_holidays, on their local dates), overlapped with the span."""
    zone = ZoneInfo(REGION_TIMEZONE[region])
    first, last = start.astimezone(zone).date(), end.astimezone(zone).date()
    holidays: dict[date, list[tuple[int, int]]] = {}
    for _, day, part in company_holidays(first.year, last.year):
        holidays.setdefault(day, []).append(part or (0, 1440))
    opens, closes = (int(text[:2]) * 60 + int(text[3:]) for text in REGION_HOURS[region])
    seconds = 0.0
    day = first
    while day <= last:
        if day.weekday() < 5:
            pieces = [(opens, closes)]
            for cut_start, cut_end in holidays.get(day, []):
                pieces = [
                    piece
                    for a, b in pieces
                    for piece in ((a, min(b, cut_start)), (max(a, cut_end), b))
                    if piece[1] > piece[0]
                ]
            midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
            for a, b in pieces:
                piece_start = (midnight + timedelta(minutes=a)).astimezone(UTC)
                piece_end = (midnight + timedelta(minutes=b)).astimezone(UTC)
                overlap = (min(piece_end, end) - max(piece_start, start)).total_seconds()
                seconds += max(overlap, 0.0)
        day += timedelta(days=1)
    return seconds


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


# The holidays written as one recurring record (Salesforce's recurrence fields) rather than one
# record a year: name -> the rule; a yearly Nth rule names the weekday by its mask bit (Sunday 1,
# Monday 2, ... Saturday 64) and the instance.
RECURRING_HOLIDAYS = {
    "Memorial Day": {
        "RecurrenceType": "RecursYearlyNth",
        "RecurrenceMonthOfYear": "May",
        "RecurrenceInstance": "Last",
        "RecurrenceDayOfWeekMask": 2,
    },
    "Thanksgiving": {
        "RecurrenceType": "RecursYearlyNth",
        "RecurrenceMonthOfYear": "November",
        "RecurrenceInstance": "Fourth",
        "RecurrenceDayOfWeekMask": 16,
    },
    "Christmas Eve (afternoon)": {
        "RecurrenceType": "RecursYearly",
        "RecurrenceMonthOfYear": "December",
        "RecurrenceDayOfMonth": 24,
    },
    "Christmas Day": {
        "RecurrenceType": "RecursYearly",
        "RecurrenceMonthOfYear": "December",
        "RecurrenceDayOfMonth": 25,
    },
}
_RECURRENCE_FIELDS = (
    "RecurrenceType",
    "RecurrenceInterval",
    "RecurrenceStartDate",
    "RecurrenceEndDateOnly",
    "RecurrenceDayOfMonth",
    "RecurrenceMonthOfYear",
    "RecurrenceInstance",
    "RecurrenceDayOfWeekMask",
)


def _midnight(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def holiday_records(created_at: int, until: int, user_id: str) -> list[dict]:
    first = datetime.fromtimestamp(created_at, UTC).year
    last = datetime.fromtimestamp(until, UTC).year
    records, recurring_done = [], set()
    for name, day, part in company_holidays(first, last):
        rule = RECURRING_HOLIDAYS.get(name)
        if rule and name in recurring_done:
            continue  # one record for all the years
        record = {
            "Name": name,
            "Description": name if rule else f"{name} {day.year}",
            "IsAllDay": part is None,
            # A recurring holiday's date is its first occurrence.
            "ActivityDate": _midnight(day),
            "StartTimeInMinutes": part[0] if part else None,
            "EndTimeInMinutes": part[1] if part else None,
            "IsRecurrence": bool(rule),
            **dict.fromkeys(_RECURRENCE_FIELDS),
            **_system(created_at, user_id),
        }
        if rule:
            # From the first simulated year, open-ended: it falls in every year after.
            record |= {
                **rule,
                "RecurrenceInterval": 1,
                "RecurrenceStartDate": _midnight(date(first, 1, 1)),
            }
            recurring_done.add(name)
        records.append({"Id": make_id("0C0", len(records) + 1), **record})
    return records


def calendar_summary(holidays: list[dict]) -> dict:
    """What org.json says of the org's time: the figures a test compares the warehouse with,
    among them every holiday day (date, start and end minute) of the years the records cover,
    from company_holidays' own calendar arithmetic, not from the records' rules."""
    start, end = REGION_HOURS[COMPANY_REGION]
    years = [
        datetime.fromtimestamp(h["ActivityDate"], UTC).year
        for h in holidays
        if h["Name"] == "New Year's Day"
    ]
    days = company_holidays(min(years), max(years)) if years else []
    return {
        "time_zone": COMPANY_TIME_ZONE,
        "default_business_hours": {
            "time_zone": COMPANY_TIME_ZONE,
            "weekdays": f"Mon-Fri {start}-{end}",
        },
        "business_hours": {region: REGION_TIMEZONE[region] for region in REGIONS},
        # Per region, its business hours: a case owned there counts its business time in them
        # (business_seconds gives the figures).
        "company_region": COMPANY_REGION,
        "regions": {
            region: {
                "business_hours_id": business_hours_id(region),
                "time_zone": REGION_TIMEZONE[region],
                "weekdays": "Mon-Fri {}-{}".format(*REGION_HOURS[region]),
            }
            for region in REGIONS
        },
        "holidays": len(holidays),
        "recurring_holidays": sum(1 for h in holidays if h["IsRecurrence"]),
        "half_day_holidays": sum(1 for h in holidays if not h["IsAllDay"]),
        "holiday_days": [
            [day.isoformat(), *(part or (0, 1440))]
            for _, day, part in sorted(days, key=lambda d: d[1])
        ],
    }
