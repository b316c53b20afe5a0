"""Fault injection for the demo org, from `--faults SPEC` or from tests.

SPEC is a comma-separated list of items KIND[@SCOPE[#N[-M]]][=VALUE]:

  500@query#2        the 2nd REST query call (first page or more) answers HTTP 500
  503@any#3-5        calls 3 to 5 of any kind answer HTTP 503
  slow@query#1=40    the 1st query call answers only after 40 s (longer than a client timeout)
  drop@query_more#1  the 1st "next page" call drops the connection half-way through the body
  expire@any#4       the session expires at the 4th call: INVALID_SESSION_ID until re-login
  limit=500          the daily API budget is 500 calls; past it, 403 REQUEST_LIMIT_EXCEEDED
  late@Opportunity=120  after the next query on Opportunity, a record stamped 120 s behind the
                     newest one served becomes visible (a late commit)
  nobulk@Task        Bulk API 2.0 refuses Task (INVALIDENTITY), as it does for some objects

Scopes: any, query (all REST query calls), query_more (next-page calls), describe, bulk,
bulk_results, limits. #N counts calls in that scope from when the fault was added (default 1).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

SCOPES = ("any", "query", "query_more", "describe", "bulk", "bulk_results", "limits")
_ITEM = re.compile(
    r"^(?P<kind>[a-z0-9]+)(?:@(?P<scope>[A-Za-z0-9_]+)(?:#(?P<first>\d+)(?:-(?P<last>\d+))?)?)?(?:=(?P<value>[^,]+))?$"
)


class FaultSpecError(ValueError):
    pass


@dataclass
class Fault:
    kind: str  # 500, 503, slow, drop, expire, late, nobulk
    scope: str = "any"
    first: int = 1
    last: int = 1
    value: str | None = None
    seen: int = 0  # calls counted in scope since the fault was added
    fired: int = 0


def parse_spec(spec: str) -> tuple[list[Fault], int | None]:
    """Faults and the daily API budget (limit=N) described by SPEC."""
    faults, budget = [], None
    for raw in (part.strip() for part in (spec or "").split(",")):
        if not raw:
            continue
        match = _ITEM.match(raw)
        if not match:
            raise FaultSpecError(f"fault {raw!r} is not KIND[@SCOPE[#N[-M]]][=VALUE]")
        kind, scope, value = match["kind"], match["scope"] or "any", match["value"]
        first = int(match["first"] or 1)
        last = int(match["last"] or first)
        if kind == "limit":
            if not (value and value.isdigit()):
                raise FaultSpecError(
                    f"fault {raw!r}: limit needs a number of calls, e.g. limit=500"
                )
            budget = int(value)
            continue
        if kind in ("late", "nobulk"):
            if not re.match(r"^[A-Za-z][A-Za-z0-9_]*$", scope) or scope == "any":
                raise FaultSpecError(
                    f"fault {raw!r}: {kind} needs an object, e.g. {kind}@Opportunity"
                )
            if kind == "late" and value is not None and not value.replace(".", "", 1).isdigit():
                raise FaultSpecError(f"fault {raw!r}: late=SECONDS must be a number")
            faults.append(Fault(kind, scope, value=value or "120"))
            continue
        if kind not in ("500", "503", "slow", "drop", "expire"):
            raise FaultSpecError(
                f"fault {raw!r}: unknown kind {kind!r} (500, 503, slow, drop, expire, "
                "limit, late, nobulk)"
            )
        if scope not in SCOPES:
            raise FaultSpecError(f"fault {raw!r}: unknown scope {scope!r} ({', '.join(SCOPES)})")
        if last < first:
            raise FaultSpecError(f"fault {raw!r}: range {first}-{last} is empty")
        if kind == "slow" and not (value and value.replace(".", "", 1).isdigit()):
            raise FaultSpecError(f"fault {raw!r}: slow needs seconds, e.g. slow@query#1=40")
        faults.append(Fault(kind, scope, first, last, value))
    return faults, budget


class FaultPlan:
    """The armed faults; `on_call` says which one (if any) hits an API call."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, spec: str) -> int | None:
        faults, budget = parse_spec(spec)
        with self._lock:
            self._faults.extend(faults)
        return budget

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def on_call(self, scopes: set[str]) -> Fault | None:
        """Count the call in its scopes; return the call-numbered fault it triggers."""
        hit = None
        with self._lock:
            for fault in self._faults:
                if fault.kind in ("late", "nobulk") or fault.scope not in scopes:
                    continue
                fault.seen += 1
                if hit is None and fault.first <= fault.seen <= fault.last:
                    fault.fired += 1
                    hit = fault
        return hit

    def take_late(self, object_name: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if (
                    fault.kind == "late"
                    and fault.scope.lower() == object_name.lower()
                    and not fault.fired
                ):
                    fault.fired = 1
                    return fault
        return None

    def refuses_bulk(self, object_name: str) -> bool:
        with self._lock:
            return any(
                f.kind == "nobulk" and f.scope.lower() == object_name.lower() for f in self._faults
            )

    def describe(self) -> list[dict]:
        with self._lock:
            return [
                {
                    "kind": f.kind,
                    "scope": f.scope,
                    "calls": [f.first, f.last],
                    "value": f.value,
                    "seen": f.seen,
                    "fired": f.fired,
                }
                for f in self._faults
            ]
