"""What the SQL models read: the canonical entities, attributes and value meanings.

A mapping file says where each of these lives in one org (which object, which field); the
mapping step turns the raw tables into `mapped.<entity>` views with exactly these columns, so
every SQL model reads the same names whatever the org's shape. A column the mapping leaves
out, or the org lacks, is NULL, and `mapped.sources` says so.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # DuckDB type of the view's column
    description: str
    # What it means that the org lacks the field: None, the column is missing (a warning);
    # a sentence, nothing is missing (a single-currency org has no CurrencyIsoCode).
    absent_means: str | None = None


@dataclass(frozen=True)
class EntitySpec:
    name: str
    description: str
    columns: tuple[Column, ...]
    required: bool = False  # without it there is no event log at all
    # As Column.absent_means, for the whole object.
    absent_means: str | None = None

    @property
    def key(self) -> str:
        return self.columns[0].name

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def _c(name: str, type_: str, description: str) -> Column:
    return Column(name, type_, description)


def _id(name: str, what: str) -> Column:
    return Column(name, "VARCHAR", what)


SINGLE_CURRENCY = "a single-currency org: its amounts are all in its one currency"


def _currency(what: str) -> Column:
    return Column(
        "currency_code", "VARCHAR", f"the currency of the {what} (ISO code)", SINGLE_CURRENCY
    )


# An org whose Holiday has no recurrence fields (an older API, a profile that may not read them).
NO_RECURRENCE = "a recurring holiday counts on its own date (ActivityDate) only"

# Weekdays as the business hours name them (Monday = 1 in ISO numbering).
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

ENTITIES: dict[str, EntitySpec] = {
    spec.name: spec
    for spec in (
        EntitySpec(
            "users",
            "Salesforce users: the sales reps, approvers and automation users behind events.",
            (
                _id("user_id", "the user's Id"),
                _c("user_name", "VARCHAR", "full name"),
                _c("title", "VARCHAR", "job title"),
                _id("role_id", "the user's role"),
                _id("manager_id", "the user's manager"),
                _c("time_zone", "VARCHAR", "the user's time zone (an IANA name)"),
            ),
            required=True,
        ),
        EntitySpec(
            "roles",
            "The role hierarchy (teams, regions).",
            (
                _id("role_id", "the role's Id"),
                _c("role_name", "VARCHAR", "the role's name"),
                _id("parent_role_id", "the role above it"),
            ),
        ),
        EntitySpec(
            "accounts",
            "Customers.",
            (
                _id("account_id", "the account's Id"),
                _c("account_name", "VARCHAR", "the customer's name"),
                _c("industry", "VARCHAR", "the customer's industry"),
            ),
        ),
        EntitySpec(
            "products",
            "The price list.",
            (
                _id("product_id", "the product's Id"),
                _c("product_name", "VARCHAR", "the product's name"),
            ),
        ),
        EntitySpec(
            "leads",
            "Leads: captured, worked, converted or disqualified.",
            (
                _id("lead_id", "the lead's Id"),
                _c("created_at", "TIMESTAMP", "when the lead was captured (UTC)"),
                _id("created_by", "who or what created it"),
                _id("owner_id", "the lead owner"),
                _c("lead_source", "VARCHAR", "where the lead came from"),
                _c("status", "VARCHAR", "the lead's status"),
                _c("is_converted", "BOOLEAN", "converted"),
                _c("converted_on", "DATE", "the day it was converted"),
                _id("converted_opportunity_id", "the opportunity made at conversion"),
                _id("converted_account_id", "the account made or matched at conversion"),
                _c("industry", "VARCHAR", "the lead's industry"),
                _c("country", "VARCHAR", "the lead's country"),
            ),
            required=True,
        ),
        EntitySpec(
            "opportunities",
            "Opportunities: the cases of the event log.",
            (
                _id("opportunity_id", "the opportunity's Id"),
                _id("account_id", "the customer"),
                _id("owner_id", "the sales rep who owns it"),
                _c("created_at", "TIMESTAMP", "when it was created (UTC)"),
                _id("created_by", "who created it"),
                _c("stage", "VARCHAR", "current stage"),
                _c("amount", "DOUBLE", "current amount"),
                _c("close_date", "DATE", "current close date"),
                _c("is_closed", "BOOLEAN", "closed won or lost"),
                _c("is_won", "BOOLEAN", "closed won"),
                _c("opportunity_type", "VARCHAR", "new or existing business"),
                _c("lead_source", "VARCHAR", "lead source carried from the lead"),
                _id(
                    "contract_id",
                    "the contract the opportunity points at, where the org links them so",
                ),
                _currency("opportunity's amount"),
            ),
            required=True,
        ),
        EntitySpec(
            "opportunity_snapshots",
            "Salesforce's own snapshots of an opportunity at each change (OpportunityHistory): "
            "the stage it opened in, and its stage changes where the field history has none.",
            (
                _id("snapshot_id", "the snapshot's Id"),
                _id("opportunity_id", "the opportunity"),
                _c("created_at", "TIMESTAMP", "when the snapshot was taken"),
                _id("created_by", "who made the change the snapshot records"),
                _c("stage", "VARCHAR", "the stage at that moment"),
            ),
        ),
        EntitySpec(
            "opportunity_lines",
            "Products on an opportunity.",
            (
                _id("line_id", "the line's Id"),
                _id("opportunity_id", "the opportunity"),
                _id("product_id", "the product"),
                _c("quantity", "DOUBLE", "quantity"),
                _c("list_price", "DOUBLE", "list price"),
                _c("discount_pct", "DOUBLE", "discount %"),
            ),
        ),
        EntitySpec(
            "quotes",
            "Quotes (versions per opportunity), standard or CPQ.",
            (
                _id("quote_id", "the quote's Id"),
                _id("opportunity_id", "the quote's opportunity"),
                _c("created_at", "TIMESTAMP", "when the quote was created"),
                _id("created_by", "who created it"),
                _id("owner_id", "the quote's owner"),
                _c("status", "VARCHAR", "the quote's status"),
                _c("discount_pct", "DOUBLE", "the quote's discount %"),
                _c("grand_total", "DOUBLE", "the quoted total"),
                _c("is_primary", "BOOLEAN", "the quote synced to (primary on) the opportunity"),
                _currency("quote"),
            ),
        ),
        EntitySpec(
            "quote_lines",
            "Products on a quote (CPQ quote lines): where a deal's product comes from when the "
            "opportunity itself has no product lines.",
            (
                _id("quote_line_id", "the line's Id"),
                _id("quote_id", "the quote"),
                _id("product_id", "the product"),
                _c("quantity", "DOUBLE", "quantity"),
                _c("list_price", "DOUBLE", "list price"),
                _c("discount_pct", "DOUBLE", "discount %"),
            ),
        ),
        EntitySpec(
            "approvals",
            "Approval processes (ProcessInstance), e.g. discount approvals of quotes.",
            (
                _id("approval_id", "the approval process's Id"),
                _id("target_id", "the record submitted for approval (a quote)"),
                _c("status", "VARCHAR", "Pending, Approved, Rejected or Removed"),
                _c("submitted_at", "TIMESTAMP", "when it was submitted"),
                _c("completed_at", "TIMESTAMP", "when it was decided"),
            ),
        ),
        EntitySpec(
            "approval_steps",
            "Steps of an approval process (ProcessInstanceStep): submission and decisions.",
            (
                _id("step_id", "the step's Id"),
                _id("approval_id", "its approval process"),
                _c("step_status", "VARCHAR", "Started, Approved, Rejected, ..."),
                _c("created_at", "TIMESTAMP", "when it happened"),
                _id("created_by", "who acted"),
            ),
        ),
        EntitySpec(
            "contracts",
            "Contracts.",
            (
                _id("contract_id", "the contract's Id"),
                _id("opportunity_id", "the opportunity, where the contract points at it"),
                _id("account_id", "the customer"),
                _id("owner_id", "the contract owner"),
                _c("status", "VARCHAR", "the contract's status"),
                _c("created_at", "TIMESTAMP", "when it was drafted"),
                _id("created_by", "who drafted it"),
                _c("customer_signed_on", "DATE", "the day the customer signed"),
                _c("activated_at", "TIMESTAMP", "when it was activated"),
                _id("activated_by", "who activated it"),
            ),
        ),
        EntitySpec(
            "orders",
            "Sales orders; reduction orders correct an earlier order.",
            (
                _id("order_id", "the order's Id"),
                _id("opportunity_id", "the order's opportunity"),
                _id("contract_id", "the contract it fulfils"),
                _id("quote_id", "the quote it was ordered from (CPQ)"),
                _c("created_at", "TIMESTAMP", "when it was created"),
                _id("created_by", "who created it"),
                _id("owner_id", "the order's owner"),
                _c("status", "VARCHAR", "the order's status"),
                _c("activated_at", "TIMESTAMP", "when it was activated"),
                _id("activated_by", "who activated it"),
                _c("total_amount", "DOUBLE", "order total (negative for a reduction)"),
                _c("is_reduction", "BOOLEAN", "a reduction (amendment) order"),
                _id("original_order_id", "the order a reduction corrects"),
                _currency("order's total"),
            ),
        ),
        EntitySpec(
            "invoices",
            "Invoices (e.g. Salesforce Billing).",
            (
                _id("invoice_id", "the invoice's Id"),
                _id("order_id", "the invoiced order"),
                _id("opportunity_id", "the opportunity, where the invoice points at it"),
                _id("account_id", "the customer"),
                _c("created_at", "TIMESTAMP", "when the invoice record was created"),
                _id("created_by", "who created it"),
                _id("owner_id", "the invoice's owner"),
                _c("invoice_date", "DATE", "invoice (posting) date"),
                _c("due_date", "DATE", "payment due date"),
                _c("sent_at", "TIMESTAMP", "when it was sent to the customer"),
                _c("invoice_status", "VARCHAR", "Draft, Posted, ..."),
                _c("payment_status", "VARCHAR", "Unpaid, Partially Paid, Paid, ..."),
                _c("total_amount", "DOUBLE", "invoice total"),
                _c("balance", "DOUBLE", "amount still open"),
                _currency("invoice's amounts"),
            ),
        ),
        EntitySpec(
            "payments",
            "Payments received from customers.",
            (
                _id("payment_id", "the payment's Id"),
                _id("account_id", "the paying customer"),
                _c("amount", "DOUBLE", "amount paid"),
                _c("payment_date", "DATE", "the day the customer paid"),
                _c("status", "VARCHAR", "the payment's status"),
                _c("created_at", "TIMESTAMP", "when the payment was recorded"),
                _id("created_by", "who recorded it"),
            ),
        ),
        EntitySpec(
            "payment_allocations",
            "What part of which payment settles which invoice (Billing allocations; an org "
            "whose payments point at one invoice maps its payments here too).",
            (
                _id("allocation_id", "the allocation's Id"),
                _id("payment_id", "the payment"),
                _id("invoice_id", "the invoice it settles"),
                _c("amount", "DOUBLE", "amount allocated"),
                _c("allocation_type", "VARCHAR", "allocation or unallocation (a reversal)"),
                _c("created_at", "TIMESTAMP", "when it was recorded"),
                _id("created_by", "who recorded it"),
                _currency("allocated amount"),
            ),
        ),
        EntitySpec(
            "currencies",
            "The org's currencies (CurrencyType, multi-currency orgs): the corporate one and each "
            "one's rate against it.",
            (
                _id("currency_id", "the currency's Id"),
                _c("iso_code", "VARCHAR", "the currency's ISO code"),
                _c(
                    "conversion_rate",
                    "DOUBLE",
                    "units of the currency per unit of the corporate one",
                ),
                _c("decimal_places", "BIGINT", "the currency's decimals"),
                _c("is_active", "BOOLEAN", "active"),
                _c("is_corporate", "BOOLEAN", "the corporate currency"),
            ),
            absent_means=SINGLE_CURRENCY,
        ),
        EntitySpec(
            "dated_rates",
            "Dated exchange rates (DatedConversionRate, advanced currency management): each "
            "currency's rate for a range of dates.",
            (
                _id("rate_id", "the rate's Id"),
                _c("iso_code", "VARCHAR", "the currency's ISO code"),
                _c(
                    "conversion_rate",
                    "DOUBLE",
                    "units of the currency per unit of the corporate one",
                ),
                _c("start_date", "DATE", "the first day the rate applies"),
                _c("next_start_date", "DATE", "the day the next rate starts (null: open)"),
            ),
            absent_means="no dated exchange rates (advanced currency management off, or a "
            "single-currency org): each currency's one rate applies",
        ),
        EntitySpec(
            "organization",
            "The org's own record (Organization): its default time zone.",
            (
                _id("organization_id", "the org's Id"),
                _c("organization_name", "VARCHAR", "the org's name"),
                _c("time_zone", "VARCHAR", "the org's default time zone (an IANA name)"),
            ),
        ),
        EntitySpec(
            "business_hours",
            "The org's business hours (BusinessHours): a start and an end per weekday, in a time "
            "zone; the default one is what business time is counted in.",
            (
                _id("business_hours_id", "the business hours' Id"),
                _c("business_hours_name", "VARCHAR", "their name"),
                _c("is_active", "BOOLEAN", "active"),
                _c("is_default", "BOOLEAN", "the org's default business hours"),
                _c("time_zone", "VARCHAR", "the time zone the hours are in (an IANA name)"),
                *(
                    _c(f"{day}_{edge}", "VARCHAR", f"{day.title()}'s {edge} time (HH:MM:SS)")
                    for day in WEEKDAYS
                    for edge in ("start", "end")
                ),
            ),
        ),
        EntitySpec(
            "holidays",
            "Holidays (Holiday): days, or hours of a day, when the business hours do not apply.",
            (
                _id("holiday_id", "the holiday's Id"),
                _c("holiday_name", "VARCHAR", "the holiday's name"),
                _c("activity_date", "DATE", "the day of the holiday"),
                _c("is_all_day", "BOOLEAN", "the whole day"),
                _c("start_minutes", "BIGINT", "start, minutes from midnight (not all day)"),
                _c("end_minutes", "BIGINT", "end, minutes from midnight (not all day)"),
                _c("is_recurring", "BOOLEAN", "a recurring holiday"),
                *(
                    Column(name, type_, what, NO_RECURRENCE)
                    for name, type_, what in (
                        ("recurrence_type", "VARCHAR", "the recurrence rule (RecursYearly, ...)"),
                        (
                            "recurrence_interval",
                            "BIGINT",
                            "every how many days, weeks, months, years",
                        ),
                        ("recurrence_start_date", "DATE", "the first day the rule may fall on"),
                        ("recurrence_end_date", "DATE", "the last day it may fall on (null: open)"),
                        ("recurrence_day_of_month", "BIGINT", "the day of the month"),
                        ("recurrence_month_of_year", "VARCHAR", "the month's name (January, ...)"),
                        ("recurrence_instance", "VARCHAR", "First, Second, Third, Fourth or Last"),
                        (
                            "recurrence_day_of_week_mask",
                            "BIGINT",
                            "the weekdays: Sunday 1 ... Saturday 64",
                        ),
                    )
                ),
            ),
        ),
    )
}

# Where a case attribute may be read from: the case's record of that entity.
ANCHORS: dict[str, tuple[str, str]] = {
    "opportunity": ("opportunities", "the case's opportunity"),
    "lead": ("leads", "the case's lead"),
    "account": ("accounts", "the case's customer"),
    "owner": ("users", "the case's owner (the sales rep)"),
    "owner_role": ("roles", "the owner's role"),
    "owner_parent_role": ("roles", "the role above the owner's role"),
    "product": ("products", "the product of the case's first product line"),
    "invoice": ("invoices", "the invoice (invoice attributes only)"),
}

# The attributes reports cut by. A mapping may add its own (lower_snake_case): they reach
# mining.case_dimensions and so every breakdown and root-cause ranking.
ATTRIBUTES: dict[str, str] = {
    "team": "the sales rep's team",
    "region": "the sales rep's region",
    "segment": "the customer's segment",
    "industry": "the customer's industry",
    "product_family": "the product family of the first product line",
    "lead_source": "where the lead came from",
    "loss_reason": "why a lost deal was lost",
    "invoice_type": "the type of an invoice",
}
# Attributes that belong to an invoice rather than to a case.
INVOICE_ATTRIBUTES = ("invoice_type",)

# Which field values mean what: the SQL models join mapped.value_meanings on these names.
MEANINGS: dict[str, str] = {
    "lead_disqualified": "lead status values of a disqualified lead (Lead Disqualified)",
    "stage_won": "opportunity stages that close the deal as won (Opportunity Closed Won); a stage "
    "whose deals are all closed and won counts too",
    "stage_lost": "opportunity stages that close the deal as lost (Opportunity Closed Lost); a "
    "stage whose deals are all closed and lost counts too",
    "quote_presented": "quote status values of a quote presented to the customer",
    "quote_accepted": "quote status values of a quote the customer accepted",
    "quote_rejected": "quote status values of a quote the customer rejected",
    "approval_submitted": "approval step statuses of a submission (Discount Approval Requested)",
    "approval_approved": "approval step statuses of an approval (Discount Approved)",
    "approval_rejected": "approval step statuses of a rejection (Discount Rejected)",
    "contract_signed": "contract status values of a contract signed by the customer",
    "order_fulfilled": "order status values of an order fulfilled or delivered",
    "invoice_posted": "invoice status values of a posted (issued) invoice",
    "invoice_sent": "invoice status values of an invoice sent to the customer",
    "invoice_paid": "payment status values of an invoice paid in full",
    "allocation": "allocation types that apply a payment to an invoice (Payment Received)",
    "unallocation": "allocation types that take a payment off an invoice again (Payment Reversed)",
}
