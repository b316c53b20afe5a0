"""Simulates the Lead-to-Cash life of every lead in one block and records it as Salesforce rows.

Each lead walks the process step by step on an org clock: touches, conversion, stages with
skips, regressions and losses, quote versions and discount approvals, contract, order,
invoice and payments. A step that would happen after the snapshot time (`as_of`) does not
happen, so recent cases are open, exactly as in a live org. Every step writes the records
Salesforce would hold *and* the event it means, so the expected event log is exact.

Times are whole seconds since the epoch (UTC); the writer formats them.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field

from .catalogue import BY_NAME
from .ids import IdAllocator
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


class BlockSimulation:
    def __init__(self, world: World, plant: Plant, block_no: int, as_of: int, seed: int) -> None:
        self.world = world
        self.plant = plant
        self.block_no = block_no
        self.as_of = as_of
        self.rng = random.Random(f"{seed}:block:{block_no}")
        self.new_id = IdAllocator(first_number=block_no * 40_000_000)
        self.rows: dict[str, list[dict]] = {name: [] for name in BY_NAME}
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
    def _number(self, kind: str) -> str:
        self._counters[kind] = self._counters.get(kind, 0) + 1
        return f"{self.block_no:05d}{self._counters[kind]:06d}"

    def _snap(self, t: int, region: str, weekend_chance: float = 0.03) -> int:
        """Move a time into the region's business hours (Mon-Fri 08:00-18:00 local)."""
        offset = REGION_UTC_OFFSET[region] * HOUR
        day, second = divmod(t + offset, DAY)
        weekday = (day + 3) % 7  # 1970-01-01 was a Thursday; Monday is 0
        if weekday >= 5 and self.rng.random() >= weekend_chance:
            day += 7 - weekday
            second = 8 * HOUR + self.rng.randrange(3 * HOUR)
        elif second < 8 * HOUR:
            second = 8 * HOUR + self.rng.randrange(2 * HOUR)
        elif second >= 18 * HOUR:
            day += 1
            if (day + 3) % 7 >= 5:
                day += 7 - (day + 3) % 7
            second = 8 * HOUR + self.rng.randrange(3 * HOUR)
        return day * DAY + second - offset

    def _after(self, t: int, median_days: float, region: str, sigma: float = 0.55) -> int:
        """A business-hours time a log-normal wait (with the given median) after t."""
        wait = median_days * math.exp(self.rng.gauss(0.0, sigma))
        return self._snap(t + int(wait * DAY), region)

    def _minutes_after(self, t: int, low: int, high: int) -> int:
        return t + 60 * self.rng.randint(low, high)

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
    def run(self, lead_times: list[int]) -> None:
        for t in sorted(lead_times):
            self.lead(t)

    def lead(self, t0: int) -> None:
        rng, world = self.rng, self.world
        region = rng.choices(REGIONS, REGION_WEIGHTS)[0]
        segment = rng.choices(SEGMENTS, (0.25, 0.35, 0.40))[0]
        team = "Enterprise" if segment == "Enterprise" else "Commercial"
        owner = rng.choice(world.reps_by_team[(region, team)])
        source = rng.choices(LEAD_SOURCES, LEAD_SOURCE_WEIGHTS)[0]
        inbound = source in ("Web", "Webinar")
        if not inbound:
            snapped = self._snap(t0, region)
            t0 = snapped if snapped <= self.as_of else t0  # every requested lead exists
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
                if t > self.as_of:
                    return
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
            self.events.extend((case_id, *event) for event in events)

    def _duplicate_lead(self, lead: dict, t0: int, region: str) -> None:
        """A duplicate web lead that someone deletes a few days later (kept as IsDeleted)."""
        created = self._minutes_after(t0, 2, 600)
        deleted = self._after(created, 1.5, region)
        if deleted > self.as_of:
            return
        duplicate = {**lead, "Id": self.new_id("00Q"), **self._audit(created, lead["CreatedById"])}
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
        meeting = {
            "Id": self.new_id("00U"),
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
        self.rows["Event"].append(meeting)
        events.append(("Meeting", start, "Event", meeting["Id"], owner.id))

    # ---------------------------------------------------------------- conversion
    def _account_for(
        self, lead: dict, region: str, segment: str, owner: Rep, t: int
    ) -> tuple[dict, bool]:
        existing = self._accounts_by_region[region]
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
        existing.append(account)
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
        rng, world = self.rng, self.world
        account, is_new = self._account_for(lead, region, segment, owner, t)
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
        self._line_items(case, t)
        opp["Amount"] = round(case.list_total, 2)
        case.close_date = t + rng.randint(45, 120) * DAY
        opp["CloseDate"] = case.close_date
        self.rows["Opportunity"].append(opp)

        self._history(
            "LeadHistory", "LeadId", lead["Id"], "leadConverted", None, None, "Text", t, owner.id
        )
        lead.update(
            IsConverted=True,
            ConvertedDate=t,
            ConvertedAccountId=account["Id"],
            ConvertedOpportunityId=opp["Id"],
            Status="Closed - Converted",
        )
        self._touch(lead, t, owner.id)
        events.append(("Lead Converted", t, "Lead", lead["Id"], owner.id))
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
        self._opportunity(case, events)
        return opp["Id"]

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
        """Reps push the close date by a month when it passes with the deal still open."""
        opp = case.rec
        while case.close_date + DAY < until:
            pushed_at = self._snap(case.close_date + DAY + self.rng.randrange(2 * DAY), case.region)
            if pushed_at >= until or pushed_at <= case.t:
                pushed_at = until - 60
                if pushed_at <= case.t:
                    return
            new_date = case.close_date + 30 * DAY
            user = case.current_owner.id
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
            case.t = pushed_at

    def _set_amount(self, case: Case, events: list, amount: float, t: int) -> None:
        opp = case.rec
        amount = round(amount, 2)
        if abs(amount - opp["Amount"]) < 0.005:
            return
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
        if amount < opp["Amount"]:
            events.append(("Amount Reduced", t, "Opportunity", opp["Id"], user))
        opp["Amount"] = amount
        self._touch(opp, t, user)
        self._snapshot(case, t)

    def _change_owner(self, case: Case, events: list, t: int) -> None:
        opp, old, new = case.rec, case.current_owner, case.owner
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
        for _ in range(count):
            t = self._snap(start + self.rng.randrange(max(end - start, 1)), case.region)
            if start < t < end and t <= self.as_of:
                self._task(
                    events,
                    case.current_owner,
                    t,
                    lead_id=None,
                    opp_id=case.rec["Id"],
                    region=case.region,
                )

    def _lose(self, case: Case, events: list, t: int) -> None:
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
            if t > self.as_of:
                return
            self._touches_between(case, events, case.t, t, rng.choice((0, 1, 1, 2)))
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
                if meeting <= self.as_of:
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
        self.rows["Quote_Status_History__c"].append(
            {
                "Id": self.new_id("a01"),
                **self._audit(t, user_id),
                "Name": f"QSH-{self._number('qsh')}",
                "Quote__c": quote["Id"],
                "Old_Status__c": quote["Status"],
                "New_Status__c": status,
            }
        )
        quote["Status"] = status
        self._touch(quote, t, user_id)
        activity = {
            "Presented": "Quote Presented",
            "Accepted": "Quote Accepted",
            "Denied": "Quote Rejected",
        }.get(status)
        if activity:
            events.append((activity, t, "Quote", quote["Id"], user_id))

    def _new_quote(self, case: Case, events: list, discount: float, t: int) -> dict:
        user = case.current_owner.id
        subtotal = round(case.list_total, 2)
        total = round(subtotal * (1 - discount / 100), 2)
        number = self._number("quote")
        quote = {
            "Id": self.new_id("0Q0"),
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
        }
        self.rows["Quote"].append(quote)
        case.quotes.append(quote)
        events.append(("Quote Created", t, "Quote", quote["Id"], user))
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
        decided = self._after(t, median, case.region, sigma=0.5)
        if decided > self.as_of:
            return None
        approved = self.rng.random() < self.plant.approval_rate
        status = "Approved" if approved else "Rejected"
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
        self._quote_status(quote, status, decided, approver, events)
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
                self._quote_status(quote, "Denied", t, rep, events)
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
            quote["IsSyncing"] = True
            case.synced_quote = quote
            case.discount = discount
            for item in case.line_items:
                item["Discount"] = discount
                item["UnitPrice"] = round(item["ListPrice"] * (1 - discount / 100), 2)
                item["TotalPrice"] = round(item["UnitPrice"] * item["Quantity"], 2)
                self._touch(item, t, rep)
            self._set_amount(case, events, quote["GrandTotal"], self._minutes_after(t, 1, 5))
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
            "Opportunity__c": case.rec["Id"],
            "Status": "Draft",
            "ContractTerm": rng.choice((12, 24, 36)),
        }
        self.rows["Contract"].append(contract)
        self._history(
            "ContractHistory", "ContractId", contract["Id"], "created", None, None, "Text", t, rep
        )
        events.append(("Contract Created", t, "Contract", contract["Id"], rep))
        t = self._after(t, 4.0, case.region)
        if t > self.as_of:
            return
        self._set_status(
            "ContractHistory",
            "ContractId",
            contract,
            "Signed",
            t,
            rep,
            CustomerSignedDate=t,
            StartDate=t + 7 * DAY,
        )
        events.append(("Contract Signed", t, "Contract", contract["Id"], rep))
        t = self._minutes_after(t, 15, 300)
        if t > self.as_of:
            return
        self._stage(case, events, "Closed Won", t)
        t = self._after(t, 1.5, case.region)
        if t > self.as_of:
            return
        self._set_status(
            "ContractHistory",
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
            "Status": "Draft",
            "Type": "Reduction" if original else "New",
            "EffectiveDate": t,
            "TotalAmount": total,
            "IsReductionOrder": original is not None,
            "OriginalOrderId": original["Id"] if original else None,
        }
        self.rows["Order"].append(order)
        self._history("OrderHistory", "OrderId", order["Id"], "created", None, None, "Text", t, rep)
        return order

    def _set_status(
        self,
        history: str,
        parent_field: str,
        record: dict,
        status: str,
        t: int,
        user_id: str,
        **also,
    ) -> None:
        """A Status change as Salesforce records it: a history row, the record updated and touched."""
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
        self._set_status("OrderHistory", "OrderId", order, status, t, user_id, **also)

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

        fulfilled = self._after(activated, 8.0, case.region)
        amendment = (
            plant.amendment_family
            if case.family == world.order_rework_family
            else plant.amendment_base
        )
        amended = self._after(activated, 6.0, case.region) if rng.random() < amendment else None
        if amended is not None and amended <= self.as_of:
            reduction = self._new_order(
                case, contract, amended, -round(total * rng.uniform(0.05, 0.2), 2), order
            )
            events.append(("Order Amended", amended, "Order", reduction["Id"], rep))
            reduction_activated = self._after(amended, 1.0, case.region)
            if reduction_activated <= self.as_of:
                self._order_status(reduction, "Activated", reduction_activated, rep)
        if fulfilled <= self.as_of:
            self._order_status(order, "Fulfilled", fulfilled, rep)
            events.append(("Order Fulfilled", fulfilled, "Order", order["Id"], rep))
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
        rng, plant = self.rng, self.plant
        billing = self.world.billing_user_id
        t = self._after(order_activated, 1.0, case.region)
        if t > self.as_of:
            return
        total = order["TotalAmount"]
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
        t = self._minutes_after(t, 30, 240)
        if t > self.as_of:
            return
        invoice.update(blng__InvoiceDate__c=t, blng__DueDate__c=t + plant.payment_terms_days * DAY)
        self._invoice_status(
            invoice, "blng__InvoiceStatus__c", "Posted", t, events, "Invoice Posted"
        )
        t = self._after(t, 0.5, case.region)
        if t > self.as_of:
            return
        invoice["Sent_Date__c"] = t
        self._touch(invoice, t, billing)
        events.append(("Invoice Sent", t, "blng__Invoice__c", invoice["Id"], billing))
        sent = t

        if rng.random() < 0.03:
            return  # never paid: stays Unpaid and ages
        days = plant.payment_median_days * math.exp(rng.gauss(0.0, 0.45))
        if case.discount > plant.deep_discount:
            days += plant.deep_discount_extra_days
        paid_at = self._snap(sent + int(days * DAY), case.region, weekend_chance=0.0)
        if rng.random() < 0.15:
            first_at = self._snap(sent + int(days * rng.uniform(0.4, 0.8) * DAY), case.region, 0.0)
            if first_at >= paid_at or first_at > self.as_of:
                first_at = None
            if first_at is not None:
                self._payment(invoice, events, round(total * rng.uniform(0.4, 0.7), 2), first_at)
                self._invoice_status(
                    invoice, "blng__PaymentStatus__c", "Partially Paid", first_at, events, None
                )
        if paid_at > self.as_of:
            return
        self._payment(invoice, events, round(invoice["blng__Balance__c"], 2), paid_at)
        self._invoice_status(
            invoice, "blng__PaymentStatus__c", "Paid", paid_at, events, "Invoice Paid"
        )

    def _payment(self, invoice: dict, events: list, amount: float, t: int) -> None:
        billing = self.world.billing_user_id
        payment = {
            "Id": self.new_id("a03"),
            **self._audit(t, billing),
            "OwnerId": billing,
            "Name": f"PAY-{self._number('payment')}",
            "blng__Account__c": invoice["blng__Account__c"],
            "blng__Invoice__c": invoice["Id"],
            "blng__Amount__c": amount,
            "blng__PaymentDate__c": t,
            "blng__PaymentType__c": self.rng.choice(("ACH", "Wire", "Credit Card", "Check")),
            "blng__Status__c": "Posted",
        }
        self.rows["blng__Payment__c"].append(payment)
        invoice["blng__Payments__c"] = round(invoice["blng__Payments__c"] + amount, 2)
        invoice["blng__Balance__c"] = round(
            invoice["blng__TotalAmount__c"] - invoice["blng__Payments__c"], 2
        )
        self._touch(invoice, t, billing)
        events.append(("Payment Received", t, "blng__Payment__c", payment["Id"], billing))
