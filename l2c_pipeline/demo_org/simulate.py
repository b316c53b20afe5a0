"""Simulates the Lead-to-Cash life of every lead in one block and records it as Salesforce rows.

Each lead walks the process step by step on an org clock: touches, conversion, stages with
skips, regressions and losses, quote versions and discount approvals, contract, order,
invoice and payments. A step that would happen after the snapshot time (`as_of`) does not
happen, so recent cases are open, exactly as in a live org. Every step writes the records
Salesforce would hold *and* the event it means, so the expected event log is exact.

The org lives over time: the snapshot at a later time is what the earlier one became. Each case
draws from streams of its own (seeded by seed, block and case) and takes its ids and numbers
from a range of its own, so no case's draws depend on how far another got. Within a case, what
happens in parallel (an order's amendment, its fulfilment, each invoice's collection) is a
lane with its own stream and id range, and every check against the snapshot time either ends
the lane or comes after all of the step's draws: a case cut at A is a prefix of the same case
cut at B > A.

Times are whole seconds since the epoch (UTC); the writer formats them.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field

from .catalogue import objects_for
from .ids import IdAllocator
from .shapes import LOSS_REASON_WEIGHTS, LOSS_REASONS, SHAPE_RULES
from .world import (
    FAMILY_WEIGHTS,
    FIRST_NAMES,
    INDUSTRIES,
    LAST_NAMES,
    LEAD_SOURCE_CONVERSION,
    LEAD_SOURCE_WEIGHTS,
    LEAD_SOURCES,
    PRODUCT_FAMILIES,
    REGION_COUNTRIES,
    REGION_UTC_OFFSET,
    REGION_WEIGHTS,
    REGIONS,
    SEGMENTS,
    Rep,
    World,
)

DAY = 86400
HOUR = 3600

STAGE_PROBABILITY = {
    "Prospecting": 10,
    "Qualification": 20,
    "Needs Analysis": 30,
    "Value Proposition": 50,
    "Proposal/Price Quote": 65,
    "Negotiation/Review": 80,
    "Closed Won": 100,
    "Closed Lost": 0,
}
STAGE_FORECAST = {
    "Prospecting": "Pipeline",
    "Qualification": "Pipeline",
    "Needs Analysis": "Pipeline",
    "Value Proposition": "Pipeline",
    "Proposal/Price Quote": "Best Case",
    "Negotiation/Review": "Commit",
    "Closed Won": "Closed",
    "Closed Lost": "Omitted",
}
# Median days spent in a stage before the next step, and the chance the deal is lost there.
STAGE_DWELL_DAYS = {
    "Prospecting": 4,
    "Qualification": 6,
    "Needs Analysis": 8,
    "Value Proposition": 6,
}
STAGE_LOSS = {
    "Prospecting": 0.10,
    "Qualification": 0.10,
    "Needs Analysis": 0.09,
    "Value Proposition": 0.08,
    "Proposal/Price Quote": 0.08,
}


@dataclass(frozen=True)
class Plant:
    """Effect sizes of the planted truths (the figures in truths.json follow from these)."""

    discount_approval_threshold: float = 20.0
    approval_median_days: float = 1.2
    approval_rate: float = 0.82
    slow_approval_factor: float = 3.0
    low_conversion_factor: float = 0.5
    quote_denial_base: float = 0.16
    quote_denial_rework_family: float = 0.55
    deep_discount: float = 30.0
    deep_discount_extra_days: float = 20.0
    accept_skip_base: float = 0.02
    accept_skip_region: float = 0.15
    amendment_base: float = 0.08
    amendment_family: float = 0.28
    low_win_extra_loss: float = 0.5
    approval_skip_base: float = 0.02
    approval_skip_rep: float = 0.45
    negotiation_stall_factor: float = 2.5
    regression_base: float = 0.10
    regression_region: float = 0.35
    payment_median_days: float = 24.0
    payment_terms_days: int = 30
    # Lost deals in one product family give 'Product Fit' as the reason this often (else 10%).
    loss_reason_family_product_fit: float = 0.45
    # Behaviour every org shows and the event log must survive.
    conversion_without_opportunity: float = 0.03
    deleted_opportunity: float = 0.005
    direct_opportunities_per_lead: float = 0.08
    backdated_payment: float = 0.10
    # Salesforce Billing: orders invoiced in instalments, one payment over both, reversals.
    instalments: float = 0.20
    one_payment_for_instalments: float = 0.5
    payment_reversal: float = 0.03


@dataclass(frozen=True)
class Drift:
    """A change of behaviour from a day on (a living org's planted drift): discount approvals
    requested at or after `onset` take `factor` times as long."""

    kind: str = "approval_slowdown"
    factor: float = 3.0
    onset: int = 0  # epoch seconds

    def applies(self, t: int) -> bool:
        return t >= self.onset


DRIFT_KINDS = ("approval_slowdown",)
# Ids: each case owns CASE_IDS record numbers per key prefix, split into lanes (LANE_IDS each,
# the main line the first MAIN_IDS); a block owns BLOCK_IDS numbers.
BLOCK_IDS = 40_000_000
CASE_IDS = 7_000
MAIN_IDS = 3_500
LANE_IDS = 500
LANES = {
    "main": 0,
    "amend": 1,
    "fulfil": 2,
    "bill": 3,
    "collect0": 4,
    "collect1": 5,
    "reason": 6,
    "push": 7,
}


QUOTE_STATUS_ACTIVITIES = ("Quote Presented", "Quote Accepted", "Quote Rejected")


def _fmt_day(ts: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ts))


@dataclass
class Case:
    """The state of one opportunity while it is simulated."""

    rec: dict
    owner: Rep  # the final owner: planted behaviours follow the rep who owns the deal
    current_owner: Rep
    region: str
    team: str
    family: str
    account_id: str
    lead_source: str
    line_items: list[dict] = field(default_factory=list)
    list_total: float = 0.0
    discount: float = 0.0
    close_date: int = 0
    t: int = 0
    quotes: list[dict] = field(default_factory=list)
    synced_quote: dict | None = None
    lead: dict | None = None
    lead_events: int = 0  # how many of the case's events happened on the lead, before it
    records: list[dict] = field(default_factory=list)  # deleted with the deal
    deleted_at: int | None = None  # when someone deletes the deal (it ends there)
    next_push: int | None = None  # when the rep pushes the passed close date next


class BlockSimulation:
    def __init__(
        self,
        world: World,
        plant: Plant,
        block_no: int,
        as_of: int,
        seed: int,
        shape: str = "custom",
        horizon: int | None = None,
        drift: Drift | None = None,
    ) -> None:
        self.world = world
        self.plant = plant
        self.block_no = block_no
        self.seed = seed
        # The snapshot time; `as_of` is the current case's own end (earlier for a deal deleted
        # before the snapshot).
        self.snapshot = self.as_of = as_of
        self.horizon = max(horizon or as_of, as_of)
        self.drift = drift
        self.rules = SHAPE_RULES[shape]
        # The block's own stream draws the lead times; each case then has its own (_start_case).
        self.rng = random.Random(f"{seed}:block:{block_no}")
        self.billing_rng = self.rng  # each case's invoicing switches it to its own lanes
        self._doom = (1.0, 0.0)  # whether and when the current case's deal is deleted
        self.new_id = IdAllocator(first_number=block_no * BLOCK_IDS)
        self._case_index = 0
        self._lane_no = 0
        self.rows: dict[str, list[dict]] = {o.name: [] for o in objects_for(shape)}
        self._case: Case | None = None
        self.events: list[tuple] = []
        self._counters: dict[str, int] = {}
        self._accounts_by_region: dict[str, list[dict]] = {region: [] for region in REGIONS}
        others = [s for s in LEAD_SOURCES if s != world.low_conversion_source]
        other_weights = [LEAD_SOURCE_WEIGHTS[LEAD_SOURCES.index(s)] for s in others]
        pooled = sum(LEAD_SOURCE_CONVERSION[s] * w for s, w in zip(others, other_weights)) / sum(
            other_weights
        )
        self.conversion = dict(LEAD_SOURCE_CONVERSION)
        self.conversion[world.low_conversion_source] = pooled * plant.low_conversion_factor

    # ---------------------------------------------------------------- helpers
    def _stream(self, lane: str) -> random.Random:
        # Int seeds: a string seed costs a hash on top of the seeding, per case.
        key = ((self.seed * 1_000_003 + self.block_no) * 10_000 + self._case_index) * 16
        return random.Random(key + LANES[lane])

    def _start_case(self, index: int) -> None:
        """The case's own main stream, id range and numbers; its end is the snapshot's."""
        self._case_index = index
        self.as_of = self.snapshot
        self._pushes: tuple[random.Random, IdAllocator] | None = None
        self._lane("main")

    def _lane_ids(self, number: int) -> IdAllocator:
        first = self.block_no * BLOCK_IDS + self._case_index * CASE_IDS
        first += 0 if number == 0 else MAIN_IDS + (number - 1) * LANE_IDS
        return IdAllocator(first, MAIN_IDS if number == 0 else LANE_IDS)

    def _lane(self, lane: str) -> random.Random:
        """Switch to one of the case's lanes (its own stream, ids and numbers) and return its
        stream. What only some shapes record (billing, loss reasons) is in lanes of its own, so
        the process itself (leads, deals, quotes, contracts, orders) is the same for a seed
        whatever the shape."""
        number = LANES[lane]
        self.new_id = self._lane_ids(number)
        self._lane_no = number
        self._counters = {}
        rng = self._stream(lane)
        if lane in ("main", "amend", "fulfil"):
            self.rng = rng
        return rng

    def _number(self, kind: str) -> str:
        self._counters[kind] = self._counters.get(kind, 0) + 1
        count = self._counters[kind]
        if count > 99:
            raise ValueError(f"case {self._case_index} needs more than 99 {kind} numbers")
        return f"{self.block_no:05d}{self._case_index:04d}{self._lane_no}{count:02d}"

    def _snap(
        self, t: int, region: str, weekend_chance: float = 0.03, rng: random.Random | None = None
    ) -> int:
        """Move a time into the region's business hours (Mon-Fri 08:00-18:00 local)."""
        rng = rng or self.rng
        offset = REGION_UTC_OFFSET[region] * HOUR
        day, second = divmod(t + offset, DAY)
        weekday = (day + 3) % 7  # 1970-01-01 was a Thursday; Monday is 0
        if weekday >= 5 and rng.random() >= weekend_chance:
            day += 7 - weekday
            second = 8 * HOUR + rng.randrange(3 * HOUR)
        elif second < 8 * HOUR:
            second = 8 * HOUR + rng.randrange(2 * HOUR)
        elif second >= 18 * HOUR:
            day += 1
            if (day + 3) % 7 >= 5:
                day += 7 - (day + 3) % 7
            second = 8 * HOUR + rng.randrange(3 * HOUR)
        return day * DAY + second - offset

    def _after(
        self,
        t: int,
        median_days: float,
        region: str,
        sigma: float = 0.55,
        rng: random.Random | None = None,
    ) -> int:
        """A business-hours time a log-normal wait (with the given median) after t."""
        rng = rng or self.rng
        wait = median_days * math.exp(rng.gauss(0.0, sigma))
        return self._snap(t + int(wait * DAY), region, rng=rng)

    def _minutes_after(self, t: int, low: int, high: int, rng: random.Random | None = None) -> int:
        return t + 60 * (rng or self.rng).randint(low, high)

    def _audit(self, t: int, user_id: str) -> dict:
        return {
            "IsDeleted": False,
            "CreatedDate": t,
            "CreatedById": user_id,
            "LastModifiedDate": t,
            "LastModifiedById": user_id,
            "SystemModstamp": t,
        }

    @staticmethod
    def _touch(rec: dict, t: int, user_id: str) -> None:
        # A close date pushed on the way is made at the deal's next stage, after steps that
        # came later: the record keeps its latest modification.
        if t < rec["LastModifiedDate"]:
            return
        rec["LastModifiedDate"] = t
        rec["LastModifiedById"] = user_id
        if "SystemModstamp" in rec:
            rec["SystemModstamp"] = t

    def _history(
        self,
        sobject: str,
        parent_field: str,
        parent_id: str,
        field_name: str,
        old,
        new,
        data_type: str,
        t: int,
        user_id: str,
    ) -> None:
        self.rows[sobject].append(
            {
                "Id": self.new_id("017"),
                "IsDeleted": False,
                parent_field: parent_id,
                "CreatedById": user_id,
                "CreatedDate": t,
                "Field": field_name,
                "DataType": data_type,
                "OldValue": old,
                "NewValue": new,
            }
        )

    # ---------------------------------------------------------------- leads
    def run(self, lead_times: list[int], start: int | None = None, end: int | None = None) -> None:
        """Simulate the block's leads (times drawn over the block's window [start, end) of the
        generation horizon: those after the snapshot are not in it) and its direct deals."""
        lead_times = sorted(lead_times)
        if not lead_times:
            return
        if start is None:
            start, end = lead_times[0], lead_times[-1] + 1
        directs = round(len(lead_times) * self.plant.direct_opportunities_per_lead)
        if len(lead_times) + directs > BLOCK_IDS // CASE_IDS:
            raise ValueError(f"a block holds at most {BLOCK_IDS // CASE_IDS:,} cases")
        # Drawn before any case, from the block's stream: the same whatever the snapshot.
        direct_times = [self.rng.randrange(start, end) for _ in range(directs)]
        for index, t in enumerate(lead_times):
            if t <= self.snapshot:
                self._start_case(index)
                self.lead(t)
        # Existing customers buy again without a lead: the rep opens the deal on the account.
        for number, t in enumerate(direct_times):
            if t <= self.snapshot:
                self._start_case(len(lead_times) + number)
                self.direct_opportunity(t)

    def lead(self, t0: int) -> None:
        rng, world = self.rng, self.world
        doom = rng.random(), rng.random()  # drawn first: whether and when the deal is deleted
        region = rng.choices(REGIONS, REGION_WEIGHTS)[0]
        segment = rng.choices(SEGMENTS, (0.25, 0.35, 0.40))[0]
        team = "Enterprise" if segment == "Enterprise" else "Commercial"
        owner = rng.choice(world.reps_by_team[(region, team)])
        source = rng.choices(LEAD_SOURCES, LEAD_SOURCE_WEIGHTS)[0]
        inbound = source in ("Web", "Webinar")
        if not inbound:
            snapped = self._snap(t0, region)
            t0 = snapped if snapped <= self.horizon else t0  # every requested lead exists
            if t0 > self.snapshot:
                return  # entered after the snapshot (on the next business day)
        creator = world.integration_user_id if inbound else owner.id
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        company = f"{last} {rng.choice(('GmbH', 'Inc', 'Ltd', 'Group', 'Systems', 'Labs', 'SA'))}"
        employees = {
            "Enterprise": rng.randint(2000, 60000),
            "Mid-Market": rng.randint(200, 1999),
            "SMB": rng.randint(5, 199),
        }[segment]
        lead = {
            "Id": self.new_id("00Q"),
            **self._audit(t0, creator),
            "OwnerId": owner.id,
            "FirstName": first,
            "LastName": last,
            "Company": company,
            "Email": f"{first}.{last}@{last.lower()}.example".lower(),
            "Title": rng.choice(
                ("CFO", "Head of Sales Ops", "IT Director", "COO", "Procurement Lead")
            ),
            "LeadSource": source,
            "Status": "Open - Not Contacted",
            "Industry": rng.choice(INDUSTRIES),
            "Country": rng.choice(REGION_COUNTRIES[region]),
            "NumberOfEmployees": employees,
            "IsConverted": False,
            "_segment": segment,
        }
        self.rows["Lead"].append(lead)
        events: list[tuple] = [("Lead Created", t0, "Lead", lead["Id"], creator)]
        self._history(
            "LeadHistory", "LeadId", lead["Id"], "created", None, None, "Text", t0, creator
        )
        if rng.random() < 0.01:
            self._duplicate_lead(lead, t0, region)

        case_id = lead["Id"]
        self._case = None
        self._doom = doom
        try:
            t = self._after(t0, 0.8, region)
            if t > self.as_of:
                return
            self._task(events, owner, t, lead_id=lead["Id"], opp_id=None, region=region)
            t = self._minutes_after(t, 1, 20)
            if t > self.as_of:
                return
            self._lead_status(lead, events, "Working - Contacted", "Lead Status Changed", t, owner)
            for _ in range(rng.choice((0, 1, 1, 2))):
                t = self._after(t, 2.0, region)
                if t > self.as_of:
                    return
                self._task(events, owner, t, lead_id=lead["Id"], opp_id=None, region=region)
            if rng.random() < 0.3:
                t = self._after(t, 3.0, region)
                self._meeting(events, owner, t, lead_id=lead["Id"], opp_id=None)
            t = self._after(t, 2.5, region)
            if t > self.as_of:
                return
            p_convert = self.conversion[source]
            decision = rng.random()
            if decision < p_convert:
                case_id = self._convert(lead, events, owner, region, team, segment, source, t)
            elif decision < p_convert + (1 - p_convert) * 0.75:
                self._lead_status(
                    lead, events, "Closed - Not Converted", "Lead Disqualified", t, owner
                )
            # else: the lead stays in nurture (Working - Contacted), open.
        finally:
            self._record_case(case_id, lead["Id"], events)

    def _record_case(self, case_id: str, lead_id: str | None, events: list) -> None:
        """The case's events as the org's records will show them: a deal deleted later takes its
        events with it (the lead's own become the lead's case again), and what the shape keeps
        only as a current value is what the expected log holds."""
        case, self._case = self._case, None
        if case is not None:
            if not case.rec["IsClosed"]:
                # Still open at its end: the close dates passed by then are pushed already.
                self._push_close_dates(case, events, self.as_of + 1)
            self._finish_quotes(case, events)
            if self._delete_deal(case, events):
                if lead_id is None:
                    return
                case_id, events = lead_id, events[: case.lead_events]
        self.events.extend((case_id, *event) for event in events)

    def _finish_quotes(self, case: Case, events: list) -> None:
        """A shape whose quotes keep no status history: only each quote's current status is in
        the records, dated by its last modification (what the pipeline's change capture sees)."""
        if not self.rules.quote_status_captured:
            return
        kept = [e for e in events if e[0] not in QUOTE_STATUS_ACTIVITIES]
        for quote in case.quotes:
            activity = self._quote_activity(quote["Status"])
            if activity:
                kept.append(
                    (
                        activity,
                        quote["LastModifiedDate"],
                        self.rules.quote_object,
                        quote["Id"],
                        quote["LastModifiedById"],
                    )
                )
        events[:] = kept

    def _delete_deal(self, case: Case, events: list) -> bool:
        """Now and then someone deletes a deal (a duplicate, a test): the opportunity, its quotes
        and products go to the recycle bin (kept with IsDeleted = true); contracts, orders and
        invoices keep pointing at it."""
        deleted_at = case.deleted_at
        if deleted_at is None or deleted_at > self.snapshot:
            return False
        user = case.current_owner.id
        for record in (case.rec, *case.records):
            record["IsDeleted"] = True
            self._touch(record, deleted_at, user)
        for row in self.rows["OpportunityFieldHistory"]:
            if row["OpportunityId"] == case.rec["Id"]:
                row["IsDeleted"] = True
        return True

    def _quote_activity(self, status: str) -> str | None:
        return {
            "Presented": "Quote Presented",
            "Accepted": "Quote Accepted",
            self.rules.customer_rejected_status: "Quote Rejected",
        }.get(status)

    def direct_opportunity(self, t: int) -> None:
        """A deal opened straight on an existing account (no lead): expansion, renewal."""
        rng, world = self.rng, self.world
        self._doom = rng.random(), rng.random()
        region = rng.choices(REGIONS, REGION_WEIGHTS)[0]
        t = self._snap(t, region)
        accounts = [a for a in self._accounts_by_region[region] if a["CreatedDate"] < t]
        if not accounts or t > self.as_of:
            return
        account = rng.choice(accounts)
        segment = account["Segment__c"]
        team = "Enterprise" if segment == "Enterprise" else "Commercial"
        owner = rng.choice(world.reps_by_team[(region, team)])
        events: list[tuple] = []
        case = self._open_opportunity(events, owner, region, team, account, False, None, t)
        self._opportunity(case, events)
        self._record_case(case.rec["Id"], None, events)

    def _duplicate_lead(self, lead: dict, t0: int, region: str) -> None:
        """A duplicate web lead that someone deletes a few days later (kept as IsDeleted)."""
        created = self._minutes_after(t0, 2, 600)
        deleted = self._after(created, 1.5, region)
        number = self.new_id("00Q")  # taken whether or not it shows yet: later ids stay put
        if deleted > self.as_of:
            return  # an org's replica sees it once it is in the recycle bin, by its modstamp
        duplicate = {**lead, "Id": number, **self._audit(created, lead["CreatedById"])}
        duplicate["IsDeleted"] = True
        self._touch(duplicate, deleted, lead["OwnerId"])
        self.rows["Lead"].append(duplicate)

    def _lead_status(
        self, lead: dict, events: list, status: str, activity: str, t: int, owner: Rep
    ) -> None:
        self._history(
            "LeadHistory",
            "LeadId",
            lead["Id"],
            "Status",
            lead["Status"],
            status,
            "DynamicEnum",
            t,
            owner.id,
        )
        lead["Status"] = status
        self._touch(lead, t, owner.id)
        events.append((activity, t, "Lead", lead["Id"], owner.id))

    def _task(
        self,
        events: list,
        owner: Rep,
        t: int,
        *,
        lead_id: str | None,
        opp_id: str | None,
        region: str,
    ) -> None:
        kind = "Call" if self.rng.random() < 0.55 else "Email"
        task = {
            "Id": self.new_id("00T"),
            **self._audit(t, owner.id),
            "OwnerId": owner.id,
            "Subject": "Call" if kind == "Call" else "Email: follow-up",
            "Type": kind,
            "TaskSubtype": kind,
            "Status": "Completed",
            "WhoId": lead_id,
            "WhatId": opp_id,
            "ActivityDate": t,
            "CompletedDateTime": t,
        }
        self.rows["Task"].append(task)
        if self.rng.random() < 0.01:
            deleted = self._after(t, 2.0, region)
            if deleted <= self.as_of:
                task["IsDeleted"] = True
                self._touch(task, deleted, owner.id)
                return
        events.append((kind, t, "Task", task["Id"], owner.id))

    def _meeting(
        self, events: list, owner: Rep, start: int, *, lead_id: str | None, opp_id: str | None
    ) -> None:
        created = max(start - self.rng.randint(1, 5) * DAY, 0)
        number = self.new_id("00U")
        if start > self.as_of:
            return  # drawn and numbered all the same, so the case goes on alike
        meeting = {
            "Id": number,
            **self._audit(created, owner.id),
            "OwnerId": owner.id,
            "Subject": "Discovery meeting" if opp_id is None else "Solution workshop",
            "Type": "Meeting",
            "WhoId": lead_id,
            "WhatId": opp_id,
            "StartDateTime": start,
            "EndDateTime": start + HOUR,
            "DurationInMinutes": 60,
        }
        # Logged as held when it took place: that edit is when a replica first sees it.
        self._touch(meeting, start, owner.id)
        self.rows["Event"].append(meeting)
        events.append(("Meeting", start, "Event", meeting["Id"], owner.id))

    # ---------------------------------------------------------------- conversion
    def _account_for(
        self, lead: dict, region: str, segment: str, owner: Rep, t: int
    ) -> tuple[dict, bool]:
        # Only accounts that exist at the conversion: the choice is the same in every later
        # snapshot.
        existing = [a for a in self._accounts_by_region[region] if a["CreatedDate"] < t]
        if existing and self.rng.random() < 0.15:
            return self.rng.choice(existing), False
        revenue = {"Enterprise": 5e8, "Mid-Market": 5e7, "SMB": 5e6}[segment]
        account = {
            "Id": self.new_id("001"),
            **self._audit(t, owner.id),
            "OwnerId": owner.id,
            "Name": lead["Company"],
            "Type": "Customer",
            "Industry": lead["Industry"],
            "BillingCountry": lead["Country"],
            "AnnualRevenue": round(revenue * (0.3 + self.rng.random() * 1.4), -3),
            "NumberOfEmployees": lead["NumberOfEmployees"],
            "Segment__c": segment,
        }
        self.rows["Account"].append(account)
        self._accounts_by_region[region].append(account)
        return account, True

    def _convert(
        self,
        lead: dict,
        events: list,
        owner: Rep,
        region: str,
        team: str,
        segment: str,
        source: str,
        t: int,
    ) -> str:
        """Convert the lead into an account and, unless the rep chooses none, an opportunity;
        returns the id of the case its events belong to."""
        account, is_new = self._account_for(lead, region, segment, owner, t)
        with_opportunity = self.rng.random() >= self.plant.conversion_without_opportunity
        events.append(("Lead Converted", t, "Lead", lead["Id"], owner.id))
        lead_events = len(events)
        case = (
            self._open_opportunity(events, owner, region, team, account, is_new, source, t)
            if with_opportunity
            else None
        )
        self._history(
            "LeadHistory", "LeadId", lead["Id"], "leadConverted", None, None, "Text", t, owner.id
        )
        lead.update(
            IsConverted=True,
            ConvertedDate=t,
            ConvertedAccountId=account["Id"],
            ConvertedOpportunityId=case.rec["Id"] if case else None,
            Status="Closed - Converted",
        )
        self._touch(lead, t, owner.id)
        if case is None:
            return lead["Id"]
        case.lead, case.lead_events = lead, lead_events
        self._opportunity(case, events)
        return case.rec["Id"]

    def _open_opportunity(
        self,
        events: list,
        owner: Rep,
        region: str,
        team: str,
        account: dict,
        is_new: bool,
        source: str | None,
        t: int,
    ) -> Case:
        rng, world = self.rng, self.world
        family = rng.choices(PRODUCT_FAMILIES, FAMILY_WEIGHTS)[0]
        final_owner = owner
        if rng.random() < 0.07:
            teammates = [r for r in world.reps_by_team[(region, team)] if r.id != owner.id]
            if teammates:
                final_owner = rng.choice(teammates)
        opp = {
            "Id": self.new_id("006"),
            **self._audit(t, owner.id),
            "OwnerId": owner.id,
            "Name": f"{account['Name']} - {family}",
            "AccountId": account["Id"],
            "StageName": "Prospecting",
            "Probability": 10,
            "Type": "New Business" if is_new else "Existing Business",
            "LeadSource": source,
            "ForecastCategoryName": "Pipeline",
            "IsClosed": False,
            "IsWon": False,
        }
        case = Case(
            rec=opp,
            owner=final_owner,
            current_owner=owner,
            region=region,
            team=team,
            family=family,
            account_id=account["Id"],
            lead_source=source,
            t=t,
        )
        doomed, when = self._doom
        if doomed < self.plant.deleted_opportunity:
            # Deleted within two months of its creation (a duplicate, a test): it ends there.
            case.deleted_at = t + HOUR + int(when * 60 * DAY)
            self.as_of = min(self.as_of, case.deleted_at - 1)
        self._line_items(case, t)
        opp["Amount"] = round(case.list_total, 2)
        case.close_date = t + rng.randint(45, 120) * DAY
        opp["CloseDate"] = case.close_date
        self.rows["Opportunity"].append(opp)
        events.append(("Opportunity Created", t, "Opportunity", opp["Id"], owner.id))
        self._history(
            "OpportunityFieldHistory",
            "OpportunityId",
            opp["Id"],
            "created",
            None,
            None,
            "Text",
            t,
            owner.id,
        )
        self._snapshot(case, t)
        self._case = case
        return case

    def _line_items(self, case: Case, t: int) -> None:
        rng = self.rng
        products = self.world.products_by_family[case.family]
        chosen = rng.sample(products, rng.choice((1, 1, 2, 3)))
        for product in chosen:
            quantity = rng.randint(1, 12) if product["_price"] < 15000 else rng.randint(1, 4)
            item = {
                "Id": self.new_id("00k"),
                **self._audit(t, case.current_owner.id),
                "OpportunityId": case.rec["Id"],
                "Product2Id": product["Id"],
                "Name": product["Name"],
                "Quantity": float(quantity),
                "ListPrice": float(product["_price"]),
                "UnitPrice": float(product["_price"]),
                "Discount": 0.0,
                "TotalPrice": float(product["_price"] * quantity),
            }
            case.line_items.append(item)
            case.records.append(item)
            self.rows["OpportunityLineItem"].append(item)
        case.list_total = sum(i["ListPrice"] * i["Quantity"] for i in case.line_items)

    # ---------------------------------------------------------------- opportunity
    def _snapshot(self, case: Case, t: int) -> None:
        opp = case.rec
        self.rows["OpportunityHistory"].append(
            {
                "Id": self.new_id("008"),
                "IsDeleted": False,
                "OpportunityId": opp["Id"],
                "CreatedById": case.current_owner.id,
                "CreatedDate": t,
                "StageName": opp["StageName"],
                "Amount": opp["Amount"],
                "ExpectedRevenue": round(opp["Amount"] * opp["Probability"] / 100, 2),
                "CloseDate": opp["CloseDate"],
                "Probability": opp["Probability"],
                "ForecastCategory": STAGE_FORECAST[opp["StageName"]],
                "SystemModstamp": t,
            }
        )

    def _stage(self, case: Case, events: list, stage: str, t: int) -> None:
        opp = case.rec
        self._push_close_dates(case, events, t)
        user = case.current_owner.id
        self._history(
            "OpportunityFieldHistory",
            "OpportunityId",
            opp["Id"],
            "StageName",
            opp["StageName"],
            stage,
            "DynamicEnum",
            t,
            user,
        )
        opp.update(
            StageName=stage,
            Probability=STAGE_PROBABILITY[stage],
            ForecastCategoryName=STAGE_FORECAST[stage],
        )
        if stage in ("Closed Won", "Closed Lost"):
            opp.update(IsClosed=True, IsWon=stage == "Closed Won")
        self._touch(opp, t, user)
        activity = {
            "Closed Won": "Opportunity Closed Won",
            "Closed Lost": "Opportunity Closed Lost",
        }.get(stage, f"Stage: {stage}")
        events.append((activity, t, "Opportunity", opp["Id"], user))
        if stage in ("Closed Won", "Closed Lost") and opp["CloseDate"] // DAY != t // DAY:
            # Orgs set the close date to the day the deal closed.
            self._history(
                "OpportunityFieldHistory",
                "OpportunityId",
                opp["Id"],
                "CloseDate",
                _fmt_day(opp["CloseDate"]),
                _fmt_day(t),
                "Date",
                t,
                user,
            )
            if t // DAY > opp["CloseDate"] // DAY:
                events.append(("Close Date Pushed", t, "Opportunity", opp["Id"], user))
            opp["CloseDate"] = case.close_date = t
        self._snapshot(case, t)
        case.t = t

    def _push_close_dates(self, case: Case, events: list, until: int) -> None:
        """Reps push the close date by a month when it passes with the deal still open; every
        push before `until` (the deal's next step, or the end of the snapshot) is made.

        A lane of its own (stream and ids, kept for the whole case): the pushes a snapshot has
        made by its end are the same ones a later snapshot makes on the way to the next step."""
        if self._pushes is None:
            self._pushes = (self._stream("push"), self._lane_ids(LANES["push"]))
        rng, ids = self._pushes
        opp = case.rec
        while case.close_date + DAY < until:
            if case.next_push is None:
                at = self._snap(
                    case.close_date + DAY + rng.randrange(2 * DAY), case.region, rng=rng
                )
                case.next_push = max(at, case.t + 60)
            pushed_at = case.next_push
            if pushed_at >= until or pushed_at > self.as_of:
                return  # kept for the next step (or a later snapshot)
            case.next_push = None
            new_date = case.close_date + 30 * DAY
            user = case.current_owner.id
            main, self.new_id = self.new_id, ids
            self._history(
                "OpportunityFieldHistory",
                "OpportunityId",
                opp["Id"],
                "CloseDate",
                _fmt_day(case.close_date),
                _fmt_day(new_date),
                "Date",
                pushed_at,
                user,
            )
            case.close_date = opp["CloseDate"] = new_date
            self._touch(opp, pushed_at, user)
            events.append(("Close Date Pushed", pushed_at, "Opportunity", opp["Id"], user))
            self._snapshot(case, pushed_at)
            self.new_id = main
            case.t = pushed_at

    def _set_amount(
        self, case: Case, events: list, amount: float, t: int, *, from_quote: bool = False
    ) -> None:
        """The opportunity's amount changes: a scope cut (Amount Reduced), or Salesforce copying
        the synced quote's total onto it (from_quote: no event, the quote says it all)."""
        opp = case.rec
        amount = round(amount, 2)
        if abs(amount - opp["Amount"]) < 0.005:
            return
        # The close dates passed by now are pushed first: their snapshots hold the old amount.
        self._push_close_dates(case, events, t)
        user = case.current_owner.id
        self._history(
            "OpportunityFieldHistory",
            "OpportunityId",
            opp["Id"],
            "Amount",
            f"{opp['Amount']:.2f}",
            f"{amount:.2f}",
            "Currency",
            t,
            user,
        )
        if amount < opp["Amount"] and not from_quote:
            events.append(("Amount Reduced", t, "Opportunity", opp["Id"], user))
        opp["Amount"] = amount
        self._touch(opp, t, user)
        self._snapshot(case, t)

    def _change_owner(self, case: Case, events: list, t: int) -> None:
        opp, old, new = case.rec, case.current_owner, case.owner
        self._push_close_dates(case, events, t)  # by the old owner, before the change
        self._history(
            "OpportunityFieldHistory",
            "OpportunityId",
            opp["Id"],
            "Owner",
            old.id,
            new.id,
            "EntityId",
            t,
            old.id,
        )
        self._history(
            "OpportunityFieldHistory",
            "OpportunityId",
            opp["Id"],
            "Owner",
            old.name,
            new.name,
            "Text",
            t,
            old.id,
        )
        opp["OwnerId"] = new.id
        case.current_owner = new
        self._touch(opp, t, old.id)
        events.append(("Owner Changed", t, "Opportunity", opp["Id"], old.id))

    def _touches_between(self, case: Case, events: list, start: int, end: int, count: int) -> None:
        # All drawn first and made in time order: a snapshot cuts them after a prefix.
        times = sorted(
            self._snap(start + self.rng.randrange(max(end - start, 1)), case.region)
            for _ in range(count)
        )
        for t in times:
            if not start < t < end:
                continue
            if t > self.as_of:
                return
            self._task(
                events,
                case.current_owner,
                t,
                lead_id=None,
                opp_id=case.rec["Id"],
                region=case.region,
            )

    def _lose(self, case: Case, events: list, t: int) -> None:
        if self.rules.loss_reasons:
            weights = list(LOSS_REASON_WEIGHTS)
            if case.family == self.world.loss_reason_family:
                # One family loses on product fit: the rest of the reasons share what is left.
                fit = LOSS_REASONS.index("Product Fit")
                rest = 1 - self.plant.loss_reason_family_product_fit
                scale = rest / (1 - weights[fit])
                weights = [w * scale for w in weights]
                weights[fit] = self.plant.loss_reason_family_product_fit
            case.rec["Loss_Reason__c"] = self._stream("reason").choices(LOSS_REASONS, weights)[0]
        self._stage(case, events, "Closed Lost", t)

    def _opportunity(self, case: Case, events: list) -> None:
        rng, plant = self.rng, self.plant
        path = ["Qualification", "Needs Analysis", "Value Proposition"]
        if rng.random() < 0.12:
            path.remove("Qualification")
        if rng.random() < 0.45:
            path.remove("Value Proposition")
        stage_now = "Prospecting"
        for stage in path:
            t = self._after(case.t, STAGE_DWELL_DAYS[stage_now], case.region)
            # The touches on the way come first: they happen before the next stage, so a
            # snapshot between them has those already made.
            self._touches_between(case, events, case.t, t, rng.choice((0, 1, 1, 2)))
            if t > self.as_of:
                return
            if rng.random() < STAGE_LOSS[stage_now]:
                self._lose(case, events, t)
                return
            if case.owner is not case.current_owner and stage in (
                "Qualification",
                "Needs Analysis",
            ):
                self._change_owner(case, events, t)
                t = self._minutes_after(t, 5, 90)
            self._stage(case, events, stage, t)
            if stage == "Needs Analysis" and rng.random() < 0.5:
                meeting = self._after(t, 2.0, case.region)
                self._meeting(
                    events, case.current_owner, meeting, lead_id=None, opp_id=case.rec["Id"]
                )
            stage_now = stage
        if case.owner is not case.current_owner:
            t = self._after(case.t, 0.5, case.region)
            if t > self.as_of:
                return
            self._change_owner(case, events, t)
            case.t = t
        # A scope cut before proposing: fewer licences, lower amount.
        if rng.random() < 0.12:
            t = self._after(case.t, 1.0, case.region)
            if t > self.as_of:
                return
            item = case.line_items[0]
            if item["Quantity"] > 1:
                item["Quantity"] = float(max(1, int(item["Quantity"] * 0.7)))
                self._touch(item, t, case.current_owner.id)
                case.list_total = sum(i["ListPrice"] * i["Quantity"] for i in case.line_items)
                self._set_amount(case, events, case.list_total, t)
                case.t = t
        t = self._after(case.t, STAGE_DWELL_DAYS[stage_now], case.region)
        if t > self.as_of:
            return
        if rng.random() < STAGE_LOSS[stage_now]:
            self._lose(case, events, t)
            return
        self._stage(case, events, "Proposal/Price Quote", t)

        regression = (
            plant.regression_region
            if case.region == self.world.stage_regression_region
            else plant.regression_base
        )
        if rng.random() < regression:
            # Back to discovery: the proposal missed what the customer needs.
            t = self._after(case.t, 3.0, case.region)
            if t > self.as_of:
                return
            self._stage(case, events, "Needs Analysis", t)
            t = self._after(t, STAGE_DWELL_DAYS["Needs Analysis"], case.region)
            if t > self.as_of:
                return
            self._stage(case, events, "Proposal/Price Quote", t)
        if rng.random() < STAGE_LOSS["Proposal/Price Quote"]:
            # Lost on the proposal itself, before any quote went out.
            t = self._after(case.t, 5.0, case.region)
            if t <= self.as_of:
                self._lose(case, events, t)
            return
        self._proposal(case, events)

    # ---------------------------------------------------------------- quotes and approvals
    def _draw_discount(self) -> float:
        band = self.rng.random()
        if band < 0.45:
            value = self.rng.uniform(0, 10)
        elif band < 0.75:
            value = self.rng.uniform(10, 20)
        elif band < 0.90:
            value = self.rng.uniform(20, 30)
        else:
            value = self.rng.uniform(30, 45)
        return round(value * 2) / 2

    def _quote_status(self, quote: dict, status: str, t: int, user_id: str, events: list) -> None:
        """A quote's status change, kept where the shape keeps it: a custom history object, CPQ's
        field history, or nowhere (the standard Quote: only the new status is in the record)."""
        history = self.rules.quote_history
        if history == "Quote_Status_History__c":
            self.rows[history].append(
                {
                    "Id": self.new_id("a01"),
                    **self._audit(t, user_id),
                    "Name": f"QSH-{self._number('qsh')}",
                    "Quote__c": quote["Id"],
                    "Old_Status__c": quote["Status"],
                    "New_Status__c": status,
                }
            )
        elif history == "SBQQ__Quote__History":
            self._history(
                history,
                "ParentId",
                quote["Id"],
                "SBQQ__Status__c",
                quote["Status"],
                status,
                "Picklist",
                t,
                user_id,
            )
        quote["Status"] = quote["SBQQ__Status__c"] = status
        self._touch(quote, t, user_id)
        activity = self._quote_activity(status)
        if activity:
            events.append((activity, t, self.rules.quote_object, quote["Id"], user_id))

    def _new_quote(self, case: Case, events: list, discount: float, t: int) -> dict:
        user = case.current_owner.id
        subtotal = round(case.list_total, 2)
        total = round(subtotal * (1 - discount / 100), 2)
        number = self._number("quote")
        # The standard Quote's fields and CPQ's; the shape's catalogue writes its own.
        quote = {
            "Id": self.new_id(self.rules.quote_prefix),
            **self._audit(t, user),
            "OwnerId": user,
            "Name": f"{case.rec['Name']} v{len(case.quotes) + 1}",
            "QuoteNumber": number,
            "OpportunityId": case.rec["Id"],
            "AccountId": case.account_id,
            "Status": "Draft",
            "Discount": discount,
            "Subtotal": subtotal,
            "TotalPrice": total,
            "GrandTotal": total,
            "ExpirationDate": t + 30 * DAY,
            "IsSyncing": False,
            "SBQQ__Opportunity2__c": case.rec["Id"],
            "SBQQ__Account__c": case.account_id,
            "SBQQ__Status__c": "Draft",
            "SBQQ__Type__c": "Quote",
            "SBQQ__Primary__c": False,
            "SBQQ__CustomerDiscount__c": discount,
            "SBQQ__ListAmount__c": subtotal,
            "SBQQ__NetAmount__c": total,
            "SBQQ__ExpirationDate__c": t + 30 * DAY,
            "SBQQ__SalesRep__c": user,
        }
        self.rows[self.rules.quote_object].append(quote)
        case.quotes.append(quote)
        case.records.append(quote)
        if "SBQQ__QuoteLine__c" in self.rows:
            for item in case.line_items:
                line = {
                    "Id": self.new_id("a0F"),
                    **self._audit(t, user),
                    "Name": item["Name"],
                    "SBQQ__Quote__c": quote["Id"],
                    "SBQQ__Product__c": item["Product2Id"],
                    "SBQQ__Quantity__c": item["Quantity"],
                    "SBQQ__ListPrice__c": item["ListPrice"],
                    "SBQQ__Discount__c": discount,
                    "SBQQ__NetPrice__c": round(item["ListPrice"] * (1 - discount / 100), 2),
                }
                self.rows["SBQQ__QuoteLine__c"].append(line)
                case.records.append(line)
        events.append(("Quote Created", t, self.rules.quote_object, quote["Id"], user))
        return quote

    def _approval(self, case: Case, events: list, quote: dict, t: int) -> tuple[bool, int] | None:
        """Submit the quote for discount approval; None if the decision is after the snapshot."""
        plant, rep = self.plant, case.current_owner
        self._quote_status(quote, "In Review", t, rep.id, events)
        instance = {
            "Id": self.new_id("04g"),
            "IsDeleted": False,
            "ProcessDefinitionId": self.world.process_definition_id,
            "TargetObjectId": quote["Id"],
            "Status": "Pending",
            "SubmittedById": rep.id,
            "LastActorId": rep.id,
            "CreatedDate": t,
            "CreatedById": rep.id,
            "LastModifiedDate": t,
            "LastModifiedById": rep.id,
            "SystemModstamp": t,
        }
        self.rows["ProcessInstance"].append(instance)
        self.rows["ProcessInstanceStep"].append(
            {
                "Id": self.new_id("04h"),
                "IsDeleted": False,
                "ProcessInstanceId": instance["Id"],
                "StepStatus": "Started",
                "ActorId": rep.id,
                "OriginalActorId": rep.id,
                "Comments": f"Discount {quote['Discount']}% requested",
                "CreatedDate": t,
                "CreatedById": rep.id,
                "SystemModstamp": t,
            }
        )
        events.append(("Discount Approval Requested", t, "ProcessInstance", instance["Id"], rep.id))
        median = plant.approval_median_days
        if case.owner is self.world.slow_approval_rep:
            median *= plant.slow_approval_factor
        if self.drift is not None and self.drift.applies(t):
            median *= self.drift.factor
        decided = self._after(t, median, case.region, sigma=0.5)
        if decided > self.as_of:
            return None
        approved = self.rng.random() < self.plant.approval_rate
        status = "Approved" if approved else "Rejected"
        quote_status = "Approved" if approved else self.rules.approval_rejected_status
        approver = rep.manager_id
        self.rows["ProcessInstanceStep"].append(
            {
                "Id": self.new_id("04h"),
                "IsDeleted": False,
                "ProcessInstanceId": instance["Id"],
                "StepStatus": status,
                "ActorId": approver,
                "OriginalActorId": approver,
                "Comments": None if approved else "Discount too deep for this deal size",
                "CreatedDate": decided,
                "CreatedById": approver,
                "SystemModstamp": decided,
            }
        )
        instance.update(
            Status=status,
            LastActorId=approver,
            CompletedDate=decided,
            ElapsedTimeInDays=round((decided - t) / DAY, 4),
        )
        self._touch(instance, decided, approver)
        events.append(
            (
                "Discount Approved" if approved else "Discount Rejected",
                decided,
                "ProcessInstance",
                instance["Id"],
                approver,
            )
        )
        self._quote_status(quote, quote_status, decided, approver, events)
        return approved, decided

    def _proposal(self, case: Case, events: list) -> None:
        rng, plant, world = self.rng, self.plant, self.world
        stall = (
            plant.negotiation_stall_factor
            if (case.region, case.team) == world.negotiation_stall_team
            else 1.0
        )
        if rng.random() < 0.08:
            # Won (or lost) without a quote: small deals closed on the price list.
            t = self._after(case.t, 4.0, case.region)
            if t > self.as_of:
                return
            self._stage(case, events, "Negotiation/Review", t)
            t = self._after(t, 9.0 * stall, case.region)
            if t > self.as_of:
                return
            if rng.random() < 0.30 or (
                case.owner is world.low_win_rate_rep and rng.random() < plant.low_win_extra_loss
            ):
                self._lose(case, events, t)
                return
            self._close_won(case, events, t)
            return

        discount = self._draw_discount()
        t = self._after(case.t, 1.5, case.region)
        in_negotiation = False
        denial = (
            plant.quote_denial_rework_family
            if case.family == world.quote_rework_family
            else plant.quote_denial_base
        )
        skip_accept = (
            plant.accept_skip_region
            if case.region == world.quote_accept_skipping_region
            else plant.accept_skip_base
        )
        skip_approval = (
            plant.approval_skip_rep
            if case.owner is world.approval_skipping_rep
            else plant.approval_skip_base
        )
        for _version in range(6):
            if t > self.as_of:
                return
            quote = self._new_quote(case, events, discount, t)
            rep = case.current_owner.id
            if discount > plant.discount_approval_threshold and rng.random() >= skip_approval:
                submitted = self._after(t, 0.3, case.region)
                if submitted > self.as_of:
                    return
                outcome = self._approval(case, events, quote, submitted)
                if outcome is None:
                    return
                approved, t = outcome
                if not approved:
                    discount = max(0.0, round((discount - rng.uniform(4, 10)) * 2) / 2)
                    t = self._after(t, 1.0, case.region)
                    continue
            t = self._after(t, 0.8, case.region)
            if t > self.as_of:
                return
            self._quote_status(quote, "Presented", t, rep, events)
            if not in_negotiation:
                t = self._minutes_after(t, 10, 240)
                if t > self.as_of:
                    return
                self._stage(case, events, "Negotiation/Review", t)
                in_negotiation = True
            t = self._after(t, 9.0 * stall, case.region)
            if t > self.as_of:
                return
            decision = rng.random()
            if decision < denial:
                self._quote_status(quote, self.rules.customer_rejected_status, t, rep, events)
                discount = min(45.0, round((discount + rng.uniform(0, 5)) * 2) / 2)
                t = self._after(t, 2.0, case.region)
                continue
            if decision < denial + 0.12 or (
                case.owner is world.low_win_rate_rep and rng.random() < plant.low_win_extra_loss
            ):
                self._lose(case, events, t)
                return
            if rng.random() >= skip_accept:
                self._quote_status(quote, "Accepted", t, rep, events)
            quote["IsSyncing"] = quote["SBQQ__Primary__c"] = True
            self._touch(quote, t, rep)
            case.synced_quote = quote
            case.discount = discount
            for item in case.line_items:
                item["Discount"] = discount
                item["UnitPrice"] = round(item["ListPrice"] * (1 - discount / 100), 2)
                item["TotalPrice"] = round(item["UnitPrice"] * item["Quantity"], 2)
                self._touch(item, t, rep)
            self._set_amount(
                case, events, quote["GrandTotal"], self._minutes_after(t, 1, 5), from_quote=True
            )
            self._close_won(case, events, t)
            return
        # Six versions and still no deal.
        if t <= self.as_of:
            self._lose(case, events, t)

    # ---------------------------------------------------------------- contract to cash
    def _close_won(self, case: Case, events: list, accepted_at: int) -> None:
        rng = self.rng
        rep = case.current_owner.id
        t = self._after(accepted_at, 0.7, case.region)
        if t > self.as_of:
            return
        contract = {
            "Id": self.new_id("800"),
            **self._audit(t, rep),
            "OwnerId": rep,
            "ContractNumber": self._number("contract"),
            "AccountId": case.account_id,
            # The link to the deal, as each shape's org keeps it (the catalogue writes its own).
            "Opportunity__c": case.rec["Id"],
            "SBQQ__Opportunity__c": case.rec["Id"],
            "SBQQ__Quote__c": case.synced_quote["Id"] if case.synced_quote else None,
            "Status": "Draft",
            "ContractTerm": rng.choice((12, 24, 36)),
        }
        created = t
        self.rows["Contract"].append(contract)
        history = "ContractHistory" if self.rules.contract_history else None
        if history:
            self._history(
                history, "ContractId", contract["Id"], "created", None, None, "Text", t, rep
            )
        if self.rules.name == "standard":
            case.rec["ContractId"] = contract["Id"]  # Sales Cloud: the deal points at its contract
            self._touch(case.rec, t, rep)
        events.append(("Contract Created", t, "Contract", contract["Id"], rep))
        t = self._after(t, 4.0, case.region)
        if t > self.as_of:
            return
        signed_status = self.rules.contract_signed_status
        self._set_status(
            history,
            "ContractId",
            contract,
            signed_status or "In Approval Process",
            t,
            rep,
            CustomerSignedDate=t,
            StartDate=t + 7 * DAY,
        )
        if signed_status:
            events.append(("Contract Signed", t, "Contract", contract["Id"], rep))
        else:
            # Only the signature's day is recorded (CustomerSignedDate): the contract's creation
            # time when it was created that day, else the start of the day.
            day = t // DAY * DAY
            signed_at = created if created // DAY * DAY == day else day
            events.append(("Contract Signed", signed_at, "Contract", contract["Id"], rep))
        t = self._minutes_after(t, 15, 300)
        if t > self.as_of:
            return
        self._stage(case, events, "Closed Won", t)
        t = self._after(t, 1.5, case.region)
        if t > self.as_of:
            return
        self._set_status(
            history,
            "ContractId",
            contract,
            "Activated",
            t,
            rep,
            ActivatedDate=t,
            ActivatedById=rep,
        )
        events.append(("Contract Activated", t, "Contract", contract["Id"], rep))
        self._order(case, events, contract, t)

    def _new_order(
        self, case: Case, contract: dict, t: int, total: float, original: dict | None = None
    ) -> dict:
        """An order in Draft; with `original`, a reduction order correcting that one."""
        rep = case.current_owner.id
        order = {
            "Id": self.new_id("801"),
            **self._audit(t, rep),
            "OwnerId": rep,
            "OrderNumber": self._number("order"),
            "AccountId": case.account_id,
            "OpportunityId": case.rec["Id"],
            "ContractId": contract["Id"],
            "SBQQ__Quote__c": case.synced_quote["Id"] if case.synced_quote else None,
            "Status": "Draft",
            "Type": "Reduction" if original else "New",
            "EffectiveDate": t,
            "TotalAmount": total,
            "IsReductionOrder": original is not None,
            "OriginalOrderId": original["Id"] if original else None,
        }
        self.rows["Order"].append(order)
        if self.rules.order_history:
            self._history(
                "OrderHistory", "OrderId", order["Id"], "created", None, None, "Text", t, rep
            )
        return order

    def _set_status(
        self,
        history: str | None,
        parent_field: str,
        record: dict,
        status: str,
        t: int,
        user_id: str,
        **also,
    ) -> None:
        """A Status change as Salesforce records it: a history row (where the org tracks the
        field), the record updated and touched."""
        if history:
            self._history(
                history,
                parent_field,
                record["Id"],
                "Status",
                record["Status"],
                status,
                "DynamicEnum",
                t,
                user_id,
            )
        record.update(Status=status, **also)
        self._touch(record, t, user_id)

    def _order_status(self, order: dict, status: str, t: int, user_id: str) -> None:
        also = {"ActivatedDate": t, "ActivatedById": user_id} if status == "Activated" else {}
        history = "OrderHistory" if self.rules.order_history else None
        self._set_status(history, "OrderId", order, status, t, user_id, **also)

    def _order(self, case: Case, events: list, contract: dict, activated_contract: int) -> None:
        rng, plant, world = self.rng, self.plant, self.world
        rep = case.current_owner.id
        t = self._after(activated_contract, 1.0, case.region)
        if t > self.as_of:
            return
        total = case.rec["Amount"]
        order = self._new_order(case, contract, t, total)
        events.append(("Order Created", t, "Order", order["Id"], rep))
        t = self._after(t, 1.5, case.region)
        if t > self.as_of:
            return
        self._order_status(order, "Activated", t, rep)
        events.append(("Order Activated", t, "Order", order["Id"], rep))
        activated = t

        # From here three things run side by side, each in a lane of its own.
        rng = self._lane("fulfil")
        fulfilled = self._after(activated, 8.0, case.region)
        fulfilled_status = self.rules.order_fulfilled_status
        if fulfilled <= self.as_of and fulfilled_status:
            self._order_status(order, fulfilled_status, fulfilled, rep)
            events.append(("Order Fulfilled", fulfilled, "Order", order["Id"], rep))
        rng = self._lane("amend")
        amendment = (
            plant.amendment_family
            if case.family == world.order_rework_family
            else plant.amendment_base
        )
        if rng.random() < amendment:
            amended = self._after(activated, 6.0, case.region)
            cut = round(total * rng.uniform(0.05, 0.2), 2)
            if amended <= self.as_of:
                reduction = self._new_order(case, contract, amended, -cut, order)
                events.append(("Order Amended", amended, "Order", reduction["Id"], rep))
                reduction_activated = self._after(amended, 1.0, case.region)
                if reduction_activated <= self.as_of:
                    self._order_status(reduction, "Activated", reduction_activated, rep)
        if self.rules.billing:
            self._invoice(case, events, order, activated)

    def _invoice_status(
        self, invoice: dict, field_name: str, new: str, t: int, events: list, activity: str | None
    ) -> None:
        billing = self.world.billing_user_id
        self._history(
            "blng__Invoice__History",
            "ParentId",
            invoice["Id"],
            field_name,
            invoice[field_name],
            new,
            "DynamicEnum",
            t,
            billing,
        )
        invoice[field_name] = new
        self._touch(invoice, t, billing)
        if activity:
            events.append((activity, t, "blng__Invoice__c", invoice["Id"], billing))

    def _invoice(self, case: Case, events: list, order: dict, order_activated: int) -> None:
        """Bill the order (with Billing's allocations, sometimes in two instalments a month apart)
        and collect the money."""
        rng = self.billing_rng = self._lane("bill")
        t = self._after(order_activated, 1.0, case.region, rng=rng)
        total = order["TotalAmount"]
        amounts = [total]
        if self.rules.billing == "allocations" and rng.random() < self.plant.instalments:
            first = round(total / 2, 2)
            amounts = [first, round(total - first, 2)]
        # Decided now, from the plan: whether the second instalment exists yet must not change it.
        together = len(amounts) == 2 and rng.random() < self.plant.one_payment_for_instalments
        second_at = self._snap(t + 30 * DAY, case.region, 0.0, rng)
        invoices = []
        for index, amount in enumerate(amounts):
            invoice = self._issue_invoice(
                case, events, order, amount, t if index == 0 else second_at
            )
            invoices.append(invoice)
            if invoice is None:
                break
        if together:
            self.billing_rng = self._lane("collect0")
            self._collect(case, events, invoices)  # one payment spread over both
        else:
            for index, invoice in enumerate(invoices):
                self.billing_rng = self._lane(f"collect{index}")
                self._collect(case, events, [invoice])

    def _issue_invoice(
        self, case: Case, events: list, order: dict, total: float, t: int
    ) -> dict | None:
        """Create, post and send an invoice; None if it is not even created by the snapshot."""
        rng, plant = self.billing_rng, self.plant
        billing = self.world.billing_user_id
        if t > self.as_of:
            return None
        invoice = {
            "Id": self.new_id("a02"),
            **self._audit(t, billing),
            "OwnerId": billing,
            "Name": f"INV-{self._number('invoice')}",
            "blng__Account__c": case.account_id,
            "blng__Order__c": order["Id"],
            "blng__InvoiceStatus__c": "Draft",
            "blng__PaymentStatus__c": "Unpaid",
            "blng__TotalAmount__c": total,
            "blng__Payments__c": 0.0,
            "blng__Balance__c": total,
            "Invoice_Type__c": "New Business"
            if case.rec["Type"] == "New Business"
            else "Existing Business",
            "_sent_at": None,
        }
        self.rows["blng__Invoice__c"].append(invoice)
        self._history(
            "blng__Invoice__History",
            "ParentId",
            invoice["Id"],
            "created",
            None,
            None,
            "Text",
            t,
            billing,
        )
        t = self._minutes_after(t, 30, 240, rng)
        if t > self.as_of:
            return invoice
        invoice.update(blng__InvoiceDate__c=t, blng__DueDate__c=t + plant.payment_terms_days * DAY)
        self._invoice_status(
            invoice, "blng__InvoiceStatus__c", "Posted", t, events, "Invoice Posted"
        )
        t = self._after(t, 0.5, case.region, rng=rng)
        if t > self.as_of:
            return invoice
        invoice["_sent_at"] = t
        if self.rules.billing == "direct":  # this org stamps the sending on the invoice
            invoice["Sent_Date__c"] = t
            self._touch(invoice, t, billing)
            events.append(("Invoice Sent", t, "blng__Invoice__c", invoice["Id"], billing))
        return invoice

    def _collect(self, case: Case, events: list, invoices: list[dict]) -> None:
        """The customer pays the invoices: on time, late, in part, or not yet; with Billing a
        payment is now and then reversed (bounced, charged back) and paid again."""
        rng, plant = self.billing_rng, self.plant
        if any(i is None or i["_sent_at"] is None for i in invoices) or rng.random() < 0.03:
            return  # not sent yet, or never paid: stays Unpaid and ages
        sent = max(i["_sent_at"] for i in invoices)
        days = plant.payment_median_days * math.exp(rng.gauss(0.0, 0.45))
        if case.discount > plant.deep_discount:
            days += plant.deep_discount_extra_days
        paid_at = self._snap(sent + int(days * DAY), case.region, 0.0, rng)
        if len(invoices) == 1 and rng.random() < 0.15:
            first_at = self._snap(
                sent + int(days * rng.uniform(0.4, 0.8) * DAY), case.region, 0.0, rng
            )
            if first_at < paid_at and first_at <= self.as_of:
                invoice = invoices[0]
                part = round(invoice["blng__TotalAmount__c"] * rng.uniform(0.4, 0.7), 2)
                if self._payment(events, [(invoice, part)], first_at) is None:
                    return
        if paid_at > self.as_of:
            return
        payment = self._payment(
            events, [(i, round(i["blng__Balance__c"], 2)) for i in invoices], paid_at
        )
        if payment is None or self.rules.billing != "allocations":
            return
        if rng.random() < plant.payment_reversal:
            reversed_at = self._after(payment["CreatedDate"], 8.0, case.region, rng=rng)
            if reversed_at > self.as_of:
                return
            self._reverse(events, payment, reversed_at)
            again = self._after(reversed_at, 10.0, case.region, rng=rng)
            if again <= self.as_of:
                self._payment(
                    events, [(i, round(i["blng__Balance__c"], 2)) for i in invoices], again
                )

    def _invoice_paid(self, invoice: dict, events: list, t: int) -> None:
        """Billing recomputes the invoice's payment status when money is applied or taken off."""
        if invoice["blng__Balance__c"] <= 0.004:
            status, activity = "Paid", "Invoice Paid"
        elif invoice["blng__Payments__c"] > 0.004:
            status, activity = "Partially Paid", None
        else:
            status, activity = "Unpaid", None
        if status != invoice["blng__PaymentStatus__c"]:
            self._invoice_status(invoice, "blng__PaymentStatus__c", status, t, events, activity)

    def _payment(
        self, events: list, parts: list[tuple[dict, float]], received_at: int
    ) -> dict | None:
        """A payment received at `received_at` for these invoices and amounts. It is sometimes
        entered a few days later (the payment date says when the money came): None if that is
        after the snapshot. One Payment Received per invoice it settles."""
        rng = self.billing_rng
        billing = self.world.billing_user_id
        recorded_at = received_at
        if rng.random() < self.plant.backdated_payment:
            recorded_at = received_at + rng.randint(1, 3) * DAY + rng.randrange(4 * HOUR)
        if recorded_at > self.as_of:
            return None
        payment = {
            "Id": self.new_id("a03"),
            **self._audit(recorded_at, billing),
            "OwnerId": billing,
            "Name": f"PAY-{self._number('payment')}",
            "blng__Account__c": parts[0][0]["blng__Account__c"],
            "blng__Invoice__c": parts[0][0]["Id"] if self.rules.billing == "direct" else None,
            "blng__Amount__c": round(sum(amount for _, amount in parts), 2),
            "blng__PaymentDate__c": received_at,
            "blng__PaymentType__c": rng.choice(("ACH", "Wire", "Credit Card", "Check")),
            "blng__Status__c": "Posted",
            "_allocations": [],
        }
        self.rows["blng__Payment__c"].append(payment)
        # The event's time: the payment's day; its recording time when it was entered that day.
        day = received_at // DAY * DAY
        event_at = recorded_at if recorded_at // DAY * DAY == day else day
        for invoice, amount in parts:
            if self.rules.billing == "allocations":
                allocation = self._allocation(payment, invoice, amount, "Allocation", recorded_at)
                payment["_allocations"].append((allocation, invoice, amount))
            self._apply(invoice, amount, recorded_at)
            events.append(
                ("Payment Received", event_at, "blng__Payment__c", payment["Id"], billing)
            )
            self._invoice_paid(invoice, events, recorded_at)
        return payment

    def _allocation(self, payment: dict, invoice: dict, amount: float, kind: str, t: int) -> dict:
        billing = self.world.billing_user_id
        allocation = {
            "Id": self.new_id("a0T"),
            **self._audit(t, billing),
            "Name": f"PAI-{self._number('allocation')}",
            "blng__Payment__c": payment["Id"],
            "blng__Invoice__c": invoice["Id"],
            "blng__Amount__c": amount,
            "blng__ImpactAmount__c": amount if kind == "Allocation" else -amount,
            "blng__Type__c": kind,
            "blng__Unallocated__c": False,
        }
        self.rows["blng__PaymentAllocationInvoice__c"].append(allocation)
        return allocation

    def _apply(self, invoice: dict, amount: float, t: int) -> None:
        invoice["blng__Payments__c"] = round(invoice["blng__Payments__c"] + amount, 2)
        invoice["blng__Balance__c"] = round(
            invoice["blng__TotalAmount__c"] - invoice["blng__Payments__c"], 2
        )
        self._touch(invoice, t, self.world.billing_user_id)

    def _reverse(self, events: list, payment: dict, t: int) -> None:
        """Take the payment off its invoices again (Billing's unallocation)."""
        billing = self.world.billing_user_id
        for allocation, invoice, amount in payment["_allocations"]:
            allocation["blng__Unallocated__c"] = True
            self._touch(allocation, t, billing)
            self._allocation(payment, invoice, amount, "Unallocation", t)
            self._apply(invoice, -amount, t)
            events.append(("Payment Reversed", t, "blng__Payment__c", payment["Id"], billing))
            self._invoice_paid(invoice, events, t)
