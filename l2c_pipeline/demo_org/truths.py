"""The planted truths of a demo org: what the reports must rediscover, with the figure each implies.

Each truth names the questions (README, "What it answers") it serves, the subject (rep, region, source, family,
team) the seed chose, the metric, the figure and its baseline, a tolerance for sampling noise
on orgs of a few thousand leads, and in `measure` how to compute it from the records alone.
Each measure is chosen so that its figure follows from the planted probabilities alone; the
windows ("at least N days before the snapshot") keep still-open cases from biasing it.

A shape's records hold what an org of that kind keeps: the measures name its objects, and a
truth its records cannot show (a standard org has no invoices, and keeps only each quote's
current status) is listed under `not_observable` instead.
"""

from __future__ import annotations

from .shapes import SHAPE_RULES
from .simulate import Plant
from .world import World

# What a standard org's records cannot show, and why.
NOT_OBSERVABLE = {
    "standard": {
        "deep_discounts_pay_later": "a Sales Cloud org has no invoices or payments",
        "negotiation_stall_team": "the standard Quote keeps no status history: when a decided "
        "quote was presented is not in the records",
    }
}


def not_observable(shape: str) -> dict[str, str]:
    return NOT_OBSERVABLE.get(shape, {})


def planted_truths(world: World, plant: Plant, shape: str = "custom") -> list[dict]:
    """The truths a demo org of the shape lets anyone rediscover from its records."""
    truths = _truths(world, plant, shape)
    hidden = not_observable(shape)
    return [t for t in truths if t["id"] not in hidden]


def _truths(world: World, plant: Plant, shape: str) -> list[dict]:
    rules = SHAPE_RULES[shape]
    quote = rules.quote_object
    # How the shape's records say a quote reached a status.
    if rules.quote_history == "Quote_Status_History__c":
        reached = "a Quote_Status_History__c row to {status}"
        reached_at = "the Quote_Status_History__c row to {status}"
    elif rules.quote_history == "SBQQ__Quote__History":
        reached = "an SBQQ__Quote__History row (Field SBQQ__Status__c) to {status}"
        reached_at = "the SBQQ__Quote__History row to {status}"
    else:
        reached = "Status {status} (the standard Quote keeps only its current status)"
        reached_at = "the time of Status {status}"
    denied = rules.customer_rejected_status
    synced = "SBQQ__Primary__c = true" if quote == "SBQQ__Quote__c" else "IsSyncing = true"
    discount_field = "SBQQ__CustomerDiscount__c" if quote == "SBQQ__Quote__c" else "Discount"
    region_of = (
        "whose owner's User.Division is the region"
        if rules.users_have_division
        else "whose owner's role sits under the region's role (UserRole.ParentRoleId)"
    )
    sent = (
        "Sent_Date__c" if rules.billing == "direct" else "the blng__Invoice__History row to Posted"
    )
    slow, low_win, skipper = (
        world.slow_approval_rep,
        world.low_win_rate_rep,
        world.approval_skipping_rep,
    )
    stall_region, stall_team = world.negotiation_stall_team
    threshold = plant.discount_approval_threshold

    # A presented quote above the threshold either skipped approval or was approved (a rejected
    # one is re-issued, never presented): the skip share among presented ones follows.
    def skipped_share(skip: float) -> float:
        return round(skip / (skip + (1 - skip) * plant.approval_rate), 3)

    return [
        {
            "id": "slow_discount_approvals",
            "questions": [1, 3, 9],
            "statement": f"Discount approvals on deals of {slow.name} take about "
            f"{plant.slow_approval_factor:g}x as long as those of the other reps.",
            "subject": {"attribute": "sales_rep", "value": slow.name, "id": slow.id},
            "metric": "median_approval_hours_ratio",
            "figure": plant.slow_approval_factor,
            "baseline": 1.0,
            "tolerance": 0.9,
            "measure": "median hours from ProcessInstance.CreatedDate to CompletedDate over completed "
            f"approvals whose {quote}'s opportunity is owned by the rep, divided by the same "
            "median over all other reps' opportunities",
        },
        {
            "id": "low_converting_lead_source",
            "questions": [2],
            "statement": f"Leads from '{world.low_conversion_source}' convert at about "
            f"{plant.low_conversion_factor:g}x the rate of the other lead sources.",
            "subject": {"attribute": "lead_source", "value": world.low_conversion_source},
            "metric": "conversion_rate_ratio",
            "figure": plant.low_conversion_factor,
            "baseline": 1.0,
            "tolerance": 0.15,
            "measure": "share of leads with IsConverted = true among non-deleted leads created at least "
            "120 days before the snapshot, for the source, divided by the same share for all "
            "other sources together",
        },
        {
            "id": "quote_rework_family",
            "questions": [3, 11],
            "statement": f"Deals in product family '{world.quote_rework_family}' go through a quote "
            f"rework loop: about {plant.quote_denial_rework_family:.0%} of their presented "
            f"quotes are rejected by the customer and re-issued, against "
            f"{plant.quote_denial_base:.0%} elsewhere.",
            "subject": {"attribute": "product_family", "value": world.quote_rework_family},
            "metric": "quote_rejection_share",
            "figure": plant.quote_denial_rework_family,
            "baseline": plant.quote_denial_base,
            "tolerance": 0.08,
            "measure": (
                f"among {quote} records that reached Presented (or were answered: "
                + reached.format(status=f"Presented, Accepted or {denied}")
                + ") at least 60 days before the snapshot, the share that reached "
                f"{denied}, for opportunities whose first line item's product has this Family"
            ),
        },
        {
            "id": "deep_discounts_pay_later",
            "questions": [4, 7],
            "statement": f"Invoices of deals discounted above {plant.deep_discount:g}% are paid about "
            f"{plant.deep_discount_extra_days:g} days later than the others.",
            "subject": {"attribute": "discount_band", "value": f">{plant.deep_discount:g}%"},
            "metric": "median_days_to_pay_difference",
            "figure": plant.deep_discount_extra_days,
            "baseline": 0.0,
            "tolerance": 6.0,
            "measure": f"median days from {sent} to the first blng__Invoice__History row "
            "setting blng__PaymentStatus__c to Paid, over paid invoices sent at least 150 days "
            f"before the snapshot whose order's opportunity has a quote with {synced} and "
            f"{discount_field} above the band, minus the same median over the other paid invoices",
        },
        {
            "id": "region_skips_quote_accepted",
            "questions": [5, 10],
            "statement": f"In {world.quote_accept_skipping_region}, about "
            f"{plant.accept_skip_region:.0%} of won deals with a quote reach Contract "
            f"Activated without any Quote Accepted, against "
            f"{plant.accept_skip_base:.0%} elsewhere.",
            "subject": {"attribute": "region", "value": world.quote_accept_skipping_region},
            "metric": "won_without_quote_accepted_share",
            "figure": plant.accept_skip_region,
            "baseline": plant.accept_skip_base,
            "tolerance": 0.07,
            "measure": f"among won opportunities with at least one {quote}, {region_of}, the share "
            "where none of their quotes shows " + reached.format(status="Accepted"),
        },
        {
            "id": "order_rework_family",
            "questions": [6],
            "statement": f"Orders in product family '{world.order_rework_family}' are amended about "
            f"{plant.amendment_family / plant.amendment_base:.1f}x as often as others "
            f"({plant.amendment_family:.0%} against {plant.amendment_base:.0%}).",
            "subject": {"attribute": "product_family", "value": world.order_rework_family},
            "metric": "order_amendment_share",
            "figure": plant.amendment_family,
            "baseline": plant.amendment_base,
            "tolerance": 0.09,
            "measure": "share of orders (IsReductionOrder = false) activated at least 60 days before "
            "the snapshot with at least one reduction order pointing at them (OriginalOrderId), "
            "for orders whose opportunity's first line item's product is in the family",
        },
        {
            "id": "low_win_rate_rep",
            "questions": [9],
            "statement": f"{low_win.name} wins about half as often as the other reps.",
            "subject": {"attribute": "sales_rep", "value": low_win.name, "id": low_win.id},
            "metric": "win_rate_ratio",
            "figure": 1 - plant.low_win_extra_loss,
            "baseline": 1.0,
            "tolerance": 0.2,
            "measure": "IsWon share among closed opportunities created at least 180 days before the "
            "snapshot and owned by the rep, divided by the same share over all other reps' "
            "(the rep loses the extra deals late, at the customer's decision)",
        },
        {
            "id": "approvals_skipped_by_rep",
            "questions": [10, 7],
            "statement": f"About {skipped_share(plant.approval_skip_rep):.0%} of {skipper.name}'s won "
            f"deals discounted above {threshold:g}% have no approved discount approval, "
            f"against {skipped_share(plant.approval_skip_base):.0%} for the other reps.",
            "subject": {"attribute": "sales_rep", "value": skipper.name, "id": skipper.id},
            "metric": "won_without_required_approval_share",
            "figure": skipped_share(plant.approval_skip_rep),
            "baseline": skipped_share(plant.approval_skip_base),
            "tolerance": 0.2,
            "measure": f"among won opportunities owned by the rep whose {quote} with {synced} has "
            f"{discount_field} above {threshold:g}, the share where that quote has no "
            "ProcessInstance with Status = Approved",
        },
        {
            "id": "negotiation_stall_team",
            "questions": [1, 8],
            "statement": f"The {stall_region} {stall_team} team's deals wait about "
            f"{plant.negotiation_stall_factor:g}x as long for the customer's answer in "
            f"Negotiation/Review as other teams' deals.",
            "subject": {"attribute": "team", "value": f"{stall_region} {stall_team}"},
            "metric": "median_negotiation_decision_days_ratio",
            "figure": plant.negotiation_stall_factor,
            "baseline": 1.0,
            "tolerance": 0.8,
            "measure": "median days from "
            + reached_at.format(status="Presented")
            + f" to its first row to Accepted or {denied}, for opportunities owned by the "
            "team's reps (UserRole name), divided by the same median for the other teams",
        },
        {
            "id": "stage_regression_region",
            "questions": [11, 5],
            "statement": f"In {world.stage_regression_region}, about {plant.regression_region:.0%} of "
            f"deals that reach Proposal/Price Quote fall back to Needs Analysis and loop, "
            f"against {plant.regression_base:.0%} elsewhere.",
            "subject": {"attribute": "region", "value": world.stage_regression_region},
            "metric": "stage_regression_share",
            "figure": plant.regression_region,
            "baseline": plant.regression_base,
            "tolerance": 0.08,
            "measure": "among opportunities created at least 90 days before the snapshot with a "
            "StageName history row to Proposal/Price Quote, the share with a StageName row from "
            f"Proposal/Price Quote to Needs Analysis, {region_of}",
        },
        *(
            [
                {
                    "id": "loss_reason_family",
                    "questions": [9, 11],
                    "statement": f"Lost deals in product family '{world.loss_reason_family}' give "
                    f"'Product Fit' as the reason about {plant.loss_reason_family_product_fit:.0%} "
                    "of the time, against 10% elsewhere.",
                    "subject": {"attribute": "product_family", "value": world.loss_reason_family},
                    "metric": "loss_reason_share",
                    "figure": plant.loss_reason_family_product_fit,
                    "baseline": 0.10,
                    "tolerance": 0.12,
                    "measure": "among closed-lost opportunities, the share with Loss_Reason__c = "
                    "'Product Fit', for opportunities whose first line item's product has this "
                    "Family, and for the others",
                }
            ]
            if rules.loss_reasons
            else []
        ),
    ]
