"""The explorer's filters: read from a URL's parameters, checked, and turned into SQL that selects
the filtered cases from the prepared tables (source.py).

Pure functions. Every value a person gives reaches DuckDB as a bound parameter: the SQL text is
made only of this module's own fragments, so a quote, a keyword or a huge string in a filter
can change which cases match, never what the query does. `parse` rejects what is malformed
with a one-line FilterError; `check_known` (queries.py) rejects names the file does not hold.

Filters, combined with AND (values of one attribute with OR):
- timeframe: cases started, ended, contained in or intersecting [from, to] (days, UTC)
- variation: the most frequent variants covering a share of the cases, and/or chosen variants
- performance: cycle time (first to last event) in a range of days
- endpoints: cases starting with one of some activities, ending with one of some
- attributes: dimension:value pairs (region, team, rep, product family, segment, lead source,
  deal size, discount band, outcome, case type, and any the published tables add)
- follower: A eventually or directly followed by B, optionally within some hours; or not
- conformance: conformant with the target process, not, or breaking a chosen rule
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

# The prepared tables' schema (source.py), in the explorer's in-memory database.
P = "memory.explore"

TIMEFRAME_MODES = ("started", "ended", "contained", "intersecting")
FOLLOWER_MODES = ("eventually", "directly")
CONFORMANCE = ("conformant", "nonconformant")
# Most values of a repeated parameter. A value's length is bounded by the address's
# (app.MAX_QUERY_CHARACTERS) alone: an activity's name can be long.
MAX_VALUES = 50
# Parameters naming what the log holds (activities, an attribute's value): kept as given, since
# names differing only in white space are different names ("B" and "B "); the others are trimmed.
_NAMES = {"start", "end", "attr", "fol_a", "fol_b"}
# The filter parameters (a prefix, e.g. "b_", makes the second set of the compare view).
FILTER_PARAMETERS = (
    "tf_mode",
    "tf_from",
    "tf_to",
    "cov",
    "variant",
    "cyc_min",
    "cyc_max",
    "start",
    "end",
    "attr",
    "fol_a",
    "fol_b",
    "fol_mode",
    "fol_within",
    "fol_not",
    "conf",
)
_REPEATED = {"variant", "start", "end", "attr"}
_VARIANT_KEY = re.compile(r"^[0-9a-f]{16}$")


class FilterError(ValueError):
    """A parameter that cannot be a filter: its message is one line, for the person."""


@dataclass(frozen=True)
class Follower:
    a: str
    b: str
    mode: str = "eventually"
    within_hours: float | None = None
    negate: bool = False


@dataclass(frozen=True)
class Filters:
    timeframe_mode: str = "intersecting"
    timeframe_from: date | None = None
    timeframe_to: date | None = None
    coverage: float | None = None  # percent of cases, 0 < x <= 100
    variants: tuple[str, ...] = ()
    cycle_min_days: float | None = None
    cycle_max_days: float | None = None
    starts: tuple[str, ...] = ()
    ends: tuple[str, ...] = ()
    attributes: tuple[tuple[str, str], ...] = ()
    follower: Follower | None = None
    conformance: str | None = None  # conformant, nonconformant or rule:<rule>
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def empty(self) -> bool:
        return not self.chips()

    def chips(self) -> list[tuple[str, str, tuple[str, str]]]:
        """Each active filter as (what, shown text, (parameter, value) that removes it)."""
        chips: list[tuple[str, str, tuple[str, str]]] = []
        if self.timeframe_from or self.timeframe_to:
            span = f"{self.timeframe_from or '…'} to {self.timeframe_to or '…'}"
            chips.append(("timeframe", f"{self.timeframe_mode} {span}", ("tf_*", "")))
        if self.coverage is not None:
            chips.append(("variation", f"top variants covering {self.coverage:g}%", ("cov", "")))
        for key in self.variants:
            chips.append(("variant", key, ("variant", key)))
        if self.cycle_min_days is not None or self.cycle_max_days is not None:
            low = "…" if self.cycle_min_days is None else f"{self.cycle_min_days:g}"
            high = "…" if self.cycle_max_days is None else f"{self.cycle_max_days:g}"
            chips.append(("performance", f"cycle time {low} to {high} days", ("cyc_*", "")))
        for activity in self.starts:
            chips.append(("start", activity, ("start", activity)))
        for activity in self.ends:
            chips.append(("end", activity, ("end", activity)))
        for dimension, value in self.attributes:
            chips.append((dimension, value, ("attr", f"{dimension}:{value}")))
        if self.follower:
            f = self.follower
            text = f"{f.a} {'not ' if f.negate else ''}{f.mode} followed by {f.b}"
            if f.within_hours is not None:
                text += f" within {f.within_hours:g} h"
            chips.append(("follower", text, ("fol_*", "")))
        if self.conformance:
            chips.append(("conformance", self.conformance, ("conf", "")))
        return chips


def shown(value) -> str:
    """A value as an error message shows it: quoted, at most 60 characters (a value can be as
    long as the address)."""
    text = str(value)
    return repr(text if len(text) <= 60 else text[:59] + "…")


def _one(values: list[str], name: str, trim: bool = True) -> str | None:
    if not values:
        return None
    if len(values) > 1:
        raise FilterError(f"{name} is given {len(values)} times; give it once")
    return (values[0].strip() if trim else values[0]) or None


def _number(text: str | None, name: str, low: float = 0, high: float = math.inf) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and low <= value <= high):
        bound = "" if high == math.inf else f" and at most {high:g}"
        raise FilterError(f"{name} must be a number of at least {low:g}{bound}, got {shown(text)}")
    return value


def _day(text: str | None, name: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise FilterError(f"{name} must be a day as YYYY-MM-DD, got {shown(text)}") from None


def parse(
    items: Iterable[tuple[str, str]], prefix: str = "", allowed: Iterable[str] = ()
) -> Filters:
    """The filters of the parameters named with `prefix`; a parameter of that prefix this does
    not know, unless in `allowed`, is an error (a mistyped filter must not silently show all)."""
    values: dict[str, list[str]] = {}
    allowed = set(allowed)
    for key, value in items:
        if not key.startswith(prefix):
            continue
        name = key[len(prefix) :]
        if name not in FILTER_PARAMETERS:
            if key in allowed or (prefix and name in allowed):
                continue
            raise FilterError(f"unknown parameter {key[:40]!r}")
        values.setdefault(name, []).append(value)
    for name, given in values.items():
        if len(given) > MAX_VALUES:
            raise FilterError(f"{prefix}{name} is given {len(given)} times; at most {MAX_VALUES}")
    get = {
        name: _one(values.get(name, []), prefix + name, trim=name not in _NAMES)
        for name in FILTER_PARAMETERS
        if name not in _REPEATED
    }

    def many(name: str) -> tuple[str, ...]:
        given = values.get(name, [])
        if name not in _NAMES:
            given = [v.strip() for v in given]
        return tuple(dict.fromkeys(v for v in given if v))

    mode = get["tf_mode"] or "intersecting"
    if mode not in TIMEFRAME_MODES:
        raise FilterError(
            f"{prefix}tf_mode must be one of {', '.join(TIMEFRAME_MODES)}, got {shown(mode)}"
        )
    start, stop = _day(get["tf_from"], prefix + "tf_from"), _day(get["tf_to"], prefix + "tf_to")
    if start and stop and stop < start:
        raise FilterError(f"{prefix}tf_to ({stop}) is before {prefix}tf_from ({start})")
    coverage = _number(get["cov"], prefix + "cov", 0, 100)
    if coverage == 0:
        raise FilterError(f"{prefix}cov must be more than 0 (a share of the cases, in %)")
    for key in many("variant"):
        if not _VARIANT_KEY.match(key):
            raise FilterError(
                f"{prefix}variant must be a variant's 16-character key, got {key[:40]!r}"
            )
    low = _number(get["cyc_min"], prefix + "cyc_min")
    high = _number(get["cyc_max"], prefix + "cyc_max")
    if low is not None and high is not None and high < low:
        raise FilterError(f"{prefix}cyc_max ({high:g}) is below {prefix}cyc_min ({low:g})")
    attributes = []
    for pair in many("attr"):
        dimension, colon, value = pair.partition(":")
        if not colon or not dimension or not value:
            raise FilterError(f"{prefix}attr must be dimension:value, got {pair[:60]!r}")
        attributes.append((dimension, value))
    follower = None
    if get["fol_a"] or get["fol_b"]:
        if not (get["fol_a"] and get["fol_b"]):
            raise FilterError(f"the follower filter needs both {prefix}fol_a and {prefix}fol_b")
        fmode = get["fol_mode"] or "eventually"
        if fmode not in FOLLOWER_MODES:
            raise FilterError(
                f"{prefix}fol_mode must be one of {', '.join(FOLLOWER_MODES)}, got {shown(fmode)}"
            )
        negate = get["fol_not"] or "0"
        if negate not in ("0", "1"):
            raise FilterError(f"{prefix}fol_not must be 0 or 1, got {shown(negate)}")
        follower = Follower(
            get["fol_a"],
            get["fol_b"],
            fmode,
            _number(get["fol_within"], prefix + "fol_within"),
            negate == "1",
        )
    conformance = get["conf"]
    if conformance and conformance not in CONFORMANCE and not conformance.startswith("rule:"):
        raise FilterError(
            f"{prefix}conf must be conformant, nonconformant or rule:<rule>, got {shown(conformance)}"
        )
    return Filters(
        timeframe_mode=mode,
        timeframe_from=start,
        timeframe_to=stop,
        coverage=coverage,
        variants=many("variant"),
        cycle_min_days=low,
        cycle_max_days=high,
        starts=many("start"),
        ends=many("end"),
        attributes=tuple(attributes),
        follower=follower,
        conformance=conformance,
    )


def to_params(filters: Filters, prefix: str = "") -> list[tuple[str, str]]:
    """The URL parameters that give these filters back (parse(to_params(f)) == f)."""
    out: list[tuple[str, str]] = []
    if filters.timeframe_from or filters.timeframe_to:
        out.append(("tf_mode", filters.timeframe_mode))
        if filters.timeframe_from:
            out.append(("tf_from", filters.timeframe_from.isoformat()))
        if filters.timeframe_to:
            out.append(("tf_to", filters.timeframe_to.isoformat()))
    if filters.coverage is not None:
        out.append(("cov", f"{filters.coverage:g}"))
    out += [("variant", key) for key in filters.variants]
    if filters.cycle_min_days is not None:
        out.append(("cyc_min", f"{filters.cycle_min_days:g}"))
    if filters.cycle_max_days is not None:
        out.append(("cyc_max", f"{filters.cycle_max_days:g}"))
    out += [("start", a) for a in filters.starts] + [("end", a) for a in filters.ends]
    out += [("attr", f"{d}:{v}") for d, v in filters.attributes]
    if filters.follower:
        f = filters.follower
        out += [("fol_a", f.a), ("fol_b", f.b), ("fol_mode", f.mode)]
        if f.within_hours is not None:
            out.append(("fol_within", f"{f.within_hours:g}"))
        if f.negate:
            out.append(("fol_not", "1"))
    if filters.conformance:
        out.append(("conf", filters.conformance))
    return [(prefix + k, v) for k, v in out]


def without(filters: Filters, parameter: str, value: str) -> Filters:
    """The filters less one chip (its removal parameter, as chips() gives it)."""
    if parameter == "tf_*":
        return replace(filters, timeframe_from=None, timeframe_to=None)
    if parameter == "cov":
        return replace(filters, coverage=None)
    if parameter == "cyc_*":
        return replace(filters, cycle_min_days=None, cycle_max_days=None)
    if parameter == "fol_*":
        return replace(filters, follower=None)
    if parameter == "conf":
        return replace(filters, conformance=None)
    if parameter == "variant":
        return replace(filters, variants=tuple(k for k in filters.variants if k != value))
    if parameter == "start":
        return replace(filters, starts=tuple(a for a in filters.starts if a != value))
    if parameter == "end":
        return replace(filters, ends=tuple(a for a in filters.ends if a != value))
    if parameter == "attr":
        return replace(
            filters, attributes=tuple(p for p in filters.attributes if f"{p[0]}:{p[1]}" != value)
        )
    raise ValueError(parameter)


def _marks(values) -> str:
    return ", ".join("?" * len(values))


def case_where(filters: Filters) -> tuple[str, list]:
    """The condition on {P}.cases (alias c) that keeps the filtered cases, and its parameters in
    order. Every value is a parameter; the text depends only on which filters are set."""
    where: list[str] = []
    params: list = []
    if filters.timeframe_from or filters.timeframe_to:
        # [from, to] are whole days: an instant is in them when from <= t < to + 1 day.
        low = (
            datetime.combine(filters.timeframe_from, datetime.min.time())
            if filters.timeframe_from
            else None
        )
        high = (
            datetime.combine(filters.timeframe_to + timedelta(days=1), datetime.min.time())
            if filters.timeframe_to
            else None
        )
        # Which of the case's instants must be on or after `from`, and which before `to`.
        after, before = {
            "started": ("c.started_at", "c.started_at"),
            "ended": ("c.ended_at", "c.ended_at"),
            "contained": ("c.started_at", "c.ended_at"),
            "intersecting": ("c.ended_at", "c.started_at"),
        }[filters.timeframe_mode]
        if low is not None:
            where.append(f"{after} >= ?")
            params.append(low)
        if high is not None:
            where.append(f"{before} < ?")
            params.append(high)
    if filters.coverage is not None:
        # The most frequent variants until they cover the share: each variant whose more
        # frequent ones cover less than it.
        where.append(
            f"c.variant_idx IN (SELECT variant_idx FROM {P}.variants WHERE coverage_before < ?)"
        )
        params.append(filters.coverage / 100)
    if filters.variants:
        where.append(
            f"c.variant_idx IN (SELECT variant_idx FROM {P}.variants WHERE key IN ({_marks(filters.variants)}))"
        )
        params += list(filters.variants)
    if filters.cycle_min_days is not None:
        where.append("c.throughput_seconds >= ?")
        params.append(filters.cycle_min_days * 86400)
    if filters.cycle_max_days is not None:
        where.append("c.throughput_seconds <= ?")
        params.append(filters.cycle_max_days * 86400)
    for column, activities in (("start_code", filters.starts), ("end_code", filters.ends)):
        if activities:
            where.append(
                f"c.{column} IN (SELECT code FROM {P}.activities WHERE activity IN ({_marks(activities)}))"
            )
            params += list(activities)
    by_dimension: dict[str, list[str]] = {}
    for dimension, value in filters.attributes:
        by_dimension.setdefault(dimension, []).append(value)
    for dimension, chosen in by_dimension.items():
        where.append(
            f"c.case_idx IN (SELECT d.case_idx FROM {P}.dims AS d JOIN {P}.dim_values AS v "
            f"USING (value_idx) WHERE v.dimension = ? AND v.value IN ({_marks(chosen)}))"
        )
        params += [dimension, *chosen]
    if filters.follower:
        f = filters.follower
        within = "" if f.within_hours is None else " AND {wait} <= ?"
        if f.mode == "directly":
            # mining.directly_follows: each event and the next of its case, with the wait.
            matching = (
                f"SELECT t.case_idx FROM {P}.df AS t "
                f"WHERE t.from_code = (SELECT code FROM {P}.activities WHERE activity = ?) "
                f"AND t.to_code = (SELECT code FROM {P}.activities WHERE activity = ?)"
                + within.format(wait="t.wait_seconds")
            )
        else:
            # Any A event and any later B event of the case (core.event_log order); the time
            # between them as the map's waits count it, from A's end to B's start.
            matching = (
                f"SELECT k.case_idx FROM core.event_log AS a JOIN core.event_log AS b "
                "ON b.case_id = a.case_id AND b.event_order > a.event_order "
                f"JOIN {P}.cases AS k ON k.case_id = a.case_id "
                "WHERE a.activity = ? AND b.activity = ?"
                + within.format(wait='epoch(coalesce(b.started_at, b."timestamp") - a."timestamp")')
            )
        params += [f.a, f.b]
        if f.within_hours is not None:
            params.append(f.within_hours * 3600)
        where.append(f"c.case_idx {'NOT IN' if f.negate else 'IN'} ({matching})")
    if filters.conformance in CONFORMANCE:
        # mining.case_conformance's verdict, on the case's row.
        where.append(
            "c.is_conformant" if filters.conformance == "conformant" else "NOT c.is_conformant"
        )
    elif filters.conformance:
        where.append(f"c.case_idx IN (SELECT case_idx FROM {P}.violations WHERE rule = ?)")
        params.append(filters.conformance.removeprefix("rule:"))
    return " AND ".join(where) or "true", params


def case_sql(filters: Filters) -> tuple[str, list]:
    """SQL selecting the filtered cases' case_idx, and its parameters in order."""
    where, params = case_where(filters)
    return f"SELECT c.case_idx FROM {P}.cases AS c WHERE {where}", params
