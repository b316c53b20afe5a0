"""How a demo org of each shape records the same sales process.

The simulation is one process for every shape; a shape decides which objects hold each step
and what an org of that kind keeps of it: the standard Quote has no status history (the
pipeline's change capture sees only its current status), CPQ's 'Denied' is the approver's
answer and 'Rejected' the customer's, a Sales Cloud org has no invoices, Billing applies
payments through allocations, and so on. The expected event log follows: it holds what the
records of that shape let anyone reconstruct.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ShapeRules:
    name: str
    quote_object: str
    quote_prefix: str
    # Where quote status changes are kept: a custom object, Salesforce field history, or
    # nowhere (only the current status is in the record).
    quote_history: str | None
    approval_rejected_status: str  # the quote's status when the approver says no
    customer_rejected_status: str  # the quote's status when the customer says no
    contract_signed_status: (
        str | None
    )  # None: signing is CustomerSignedDate + 'In Approval Process'
    contract_history: bool
    order_fulfilled_status: str | None
    order_history: bool
    billing: str | None  # None, 'direct' (a payment points at its invoice) or 'allocations'
    region_role_suffix: str  # the regional roles' names: 'EMEA Sales' or 'EMEA'
    users_have_division: bool
    loss_reasons: bool
    # Several currencies (CurrencyType, DatedConversionRate, CurrencyIsoCode on every record
    # with an amount); otherwise a single-currency org, whose records have no currency field.
    currencies: bool = False

    @property
    def quote_status_captured(self) -> bool:
        """Only the current status is in the record (the pipeline's change capture sees it)."""
        return self.quote_history is None


SHAPE_RULES: dict[str, ShapeRules] = {
    "standard": ShapeRules(
        name="standard",
        quote_object="Quote",
        quote_prefix="0Q0",
        quote_history=None,
        approval_rejected_status="Rejected",
        customer_rejected_status="Denied",
        contract_signed_status=None,
        contract_history=False,
        order_fulfilled_status=None,
        order_history=False,
        billing=None,
        region_role_suffix="",
        users_have_division=False,
        loss_reasons=False,
    ),
    "cpq_billing": ShapeRules(
        name="cpq_billing",
        quote_object="SBQQ__Quote__c",
        quote_prefix="a0G",
        quote_history="SBQQ__Quote__History",
        approval_rejected_status="Denied",
        customer_rejected_status="Rejected",
        contract_signed_status=None,
        contract_history=True,
        order_fulfilled_status="Completed",
        order_history=False,
        billing="allocations",
        region_role_suffix=" Sales",
        users_have_division=True,
        loss_reasons=True,
        currencies=True,
    ),
    "custom": ShapeRules(
        name="custom",
        quote_object="Quote",
        quote_prefix="0Q0",
        quote_history="Quote_Status_History__c",
        approval_rejected_status="Rejected",
        customer_rejected_status="Denied",
        contract_signed_status="Signed",
        contract_history=True,
        order_fulfilled_status="Fulfilled",
        order_history=True,
        billing="direct",
        region_role_suffix=" Sales",
        users_have_division=True,
        loss_reasons=True,
    ),
}

LOSS_REASONS = ("Price", "Competitor", "No Decision", "Timing", "Product Fit")
LOSS_REASON_WEIGHTS = (0.28, 0.25, 0.22, 0.15, 0.10)
