"""The demo org's object catalogue per shape: standard API names, fields and describe types.

One place says which objects and fields a demo org of each shape (standard, cpq_billing,
custom) has. The generator writes exactly these columns, the server describes them, and
`l2c demo-org catalogue --shape S` prints the table. Field types are Salesforce describe types.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Field:
    name: str
    type: str  # id, reference, string, picklist, boolean, datetime, date, double, currency, percent, int, textarea, email
    reference_to: tuple[str, ...] = ()
    custom: bool = False

    @property
    def filterable(self) -> bool:
        return self.type != "textarea"


@dataclass(frozen=True)
class SObject:
    name: str
    key_prefix: str
    label: str
    why: str
    fields: tuple[Field, ...]
    custom: bool = False
    history_of: str | None = None  # field-history objects: which object they track
    field_names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "field_names", tuple(f.name for f in self.fields))

    @property
    def cursor_field(self) -> str:
        """The replication cursor the extraction rules prescribe for this object."""
        for candidate in ("SystemModstamp", "LastModifiedDate", "CreatedDate"):
            if candidate in self.field_names:
                return candidate
        raise ValueError(f"{self.name} has no timestamp to sync on")


def _f(name: str, type_: str, *refs: str, custom: bool | None = None) -> Field:
    return Field(name, type_, tuple(refs), name.endswith("__c") if custom is None else custom)


def _audit(*, modstamp: bool = True, owner: bool = False) -> tuple[Field, ...]:
    """The system fields every record carries."""
    fields = [
        _f("Id", "id"),
        _f("IsDeleted", "boolean"),
        _f("CreatedDate", "datetime"),
        _f("CreatedById", "reference", "User"),
        _f("LastModifiedDate", "datetime"),
        _f("LastModifiedById", "reference", "User"),
    ]
    if modstamp:
        fields.append(_f("SystemModstamp", "datetime"))
    if owner:
        fields.append(_f("OwnerId", "reference", "User"))
    return tuple(fields)


def _field_history(parent_field: str, parent: str) -> tuple[Field, ...]:
    """Standard field-history layout: no SystemModstamp, only CreatedDate (cursor)."""
    return (
        _f("Id", "id"),
        _f("IsDeleted", "boolean"),
        _f(parent_field, "reference", parent),
        _f("CreatedById", "reference", "User"),
        _f("CreatedDate", "datetime"),
        _f("Field", "picklist"),
        _f("DataType", "picklist"),
        _f("OldValue", "string"),
        _f("NewValue", "string"),
    )


SHAPES = ("standard", "cpq_billing", "custom")
DEFAULT_SHAPE = "cpq_billing"


def _objects(shape: str) -> tuple[SObject, ...]:
    """The objects and fields of a demo org of the given shape."""
    custom, cpq, standard = shape == "custom", shape == "cpq_billing", shape == "standard"
    objects: list[SObject] = [
        SObject(
            "UserRole",
            "00E",
            "Role",
            "Sales teams: one role per region and team under a regional role; gives reps their team and region.",
            (
                _f("Id", "id"),
                _f("Name", "string"),
                _f("DeveloperName", "string"),
                _f("ParentRoleId", "reference", "UserRole"),
                _f("LastModifiedDate", "datetime"),
                _f("LastModifiedById", "reference", "User"),
                _f("SystemModstamp", "datetime"),
            ),
        ),
        SObject(
            "User",
            "005",
            "User",
            "Sales reps, their managers (the approvers), billing and integration users: the resource of every event.",
            (
                *_audit(),
                _f("Username", "string"),
                _f("FirstName", "string"),
                _f("LastName", "string"),
                _f("Name", "string"),
                _f("Email", "email"),
                _f("Title", "string"),
                _f("Department", "string"),
                _f("Division", "string"),
                _f("UserRoleId", "reference", "UserRole"),
                _f("ManagerId", "reference", "User"),
                _f("IsActive", "boolean"),
                _f("TimeZoneSidKey", "picklist"),
            ),
        ),
        SObject(
            "Product2",
            "01t",
            "Product",
            "The price list; Family is the product category the root causes break down by.",
            (
                *_audit(),
                _f("Name", "string"),
                _f("ProductCode", "string"),
                _f("Family", "picklist"),
                _f("IsActive", "boolean"),
            ),
        ),
        SObject(
            "Account",
            "001",
            "Account",
            "Customers; segment and industry are the customer attributes payment behaviour is cut by"
            + (" (segment from NumberOfEmployees)." if standard else " (Segment__c)."),
            (
                *_audit(owner=True),
                _f("Name", "string"),
                _f("Type", "picklist"),
                _f("Industry", "picklist"),
                _f("BillingCountry", "string"),
                _f("AnnualRevenue", "currency"),
                _f("NumberOfEmployees", "int"),
                *(() if standard else (_f("Segment__c", "picklist"),)),
            ),
        ),
        SObject(
            "Lead",
            "00Q",
            "Lead",
            "Lead captured; status, source and conversion (into account and opportunity) for the funnel.",
            (
                *_audit(owner=True),
                _f("FirstName", "string"),
                _f("LastName", "string"),
                _f("Company", "string"),
                _f("Email", "email"),
                _f("Title", "string"),
                _f("LeadSource", "picklist"),
                _f("Status", "picklist"),
                _f("Industry", "picklist"),
                _f("Country", "string"),
                _f("NumberOfEmployees", "int"),
                _f("IsConverted", "boolean"),
                _f("ConvertedDate", "date"),
                _f("ConvertedAccountId", "reference", "Account"),
                _f("ConvertedOpportunityId", "reference", "Opportunity"),
            ),
        ),
        SObject(
            "LeadHistory",
            "017",
            "Lead History",
            "Lead status changes and the conversion moment ('leadConverted'), with their timestamps.",
            _field_history("LeadId", "Lead"),
            history_of="Lead",
        ),
        SObject(
            "Opportunity",
            "006",
            "Opportunity",
            "The case of the event log: stage, amount, close date, owner (sales rep), won/lost"
            + (
                "; ContractId points at the deal's contract."
                if standard
                else "; Loss_Reason__c says why a deal was lost."
            ),
            (
                *_audit(owner=True),
                _f("Name", "string"),
                _f("AccountId", "reference", "Account"),
                _f("StageName", "picklist"),
                _f("Amount", "currency"),
                _f("Probability", "percent"),
                _f("CloseDate", "date"),
                _f("Type", "picklist"),
                _f("LeadSource", "picklist"),
                _f("ForecastCategoryName", "picklist"),
                _f("IsClosed", "boolean"),
                _f("IsWon", "boolean"),
                *(
                    (_f("ContractId", "reference", "Contract"),)
                    if standard
                    else (_f("Loss_Reason__c", "picklist"),)
                ),
            ),
        ),
        SObject(
            "OpportunityFieldHistory",
            "017",
            "Opportunity Field History",
            "Every stage change, close-date push, amount change and owner change with who and when.",
            _field_history("OpportunityId", "Opportunity"),
            history_of="Opportunity",
        ),
        SObject(
            "OpportunityHistory",
            "008",
            "Opportunity History",
            "Stage snapshots (stage, amount, close date, probability) kept by Salesforce at each change: the opening stage.",
            (
                _f("Id", "id"),
                _f("IsDeleted", "boolean"),
                _f("OpportunityId", "reference", "Opportunity"),
                _f("CreatedById", "reference", "User"),
                _f("CreatedDate", "datetime"),
                _f("StageName", "picklist"),
                _f("Amount", "currency"),
                _f("ExpectedRevenue", "currency"),
                _f("CloseDate", "date"),
                _f("Probability", "percent"),
                _f("ForecastCategory", "picklist"),
                _f("SystemModstamp", "datetime"),
            ),
        ),
        SObject(
            "OpportunityLineItem",
            "00k",
            "Opportunity Product",
            "Products sold on each opportunity: product family, quantity, list price and discount %.",
            (
                *_audit(),
                _f("OpportunityId", "reference", "Opportunity"),
                _f("Product2Id", "reference", "Product2"),
                _f("Name", "string"),
                _f("Quantity", "double"),
                _f("ListPrice", "currency"),
                _f("UnitPrice", "currency"),
                _f("Discount", "percent"),
                _f("TotalPrice", "currency"),
            ),
        ),
    ]
    quote_object = "SBQQ__Quote__c" if cpq else "Quote"
    if cpq:
        objects += [
            SObject(
                "SBQQ__Quote__c",
                "a0G",
                "Quote (CPQ)",
                "Salesforce CPQ quotes: versions per opportunity, the primary one synced, discount, status.",
                (
                    *_audit(owner=True),
                    _f("Name", "string"),
                    _f("SBQQ__Opportunity2__c", "reference", "Opportunity"),
                    _f("SBQQ__Account__c", "reference", "Account"),
                    _f("SBQQ__Status__c", "picklist"),
                    _f("SBQQ__Type__c", "picklist"),
                    _f("SBQQ__Primary__c", "boolean"),
                    _f("SBQQ__CustomerDiscount__c", "percent"),
                    _f("SBQQ__ListAmount__c", "currency"),
                    _f("SBQQ__NetAmount__c", "currency"),
                    _f("SBQQ__ExpirationDate__c", "date"),
                    _f("SBQQ__SalesRep__c", "reference", "User"),
                ),
                custom=True,
            ),
            SObject(
                "SBQQ__QuoteLine__c",
                "a0F",
                "Quote Line (CPQ)",
                "The products of each CPQ quote with list and net price.",
                (
                    *_audit(),
                    _f("Name", "string"),
                    _f("SBQQ__Quote__c", "reference", "SBQQ__Quote__c"),
                    _f("SBQQ__Product__c", "reference", "Product2"),
                    _f("SBQQ__Quantity__c", "double"),
                    _f("SBQQ__ListPrice__c", "currency"),
                    _f("SBQQ__Discount__c", "percent"),
                    _f("SBQQ__NetPrice__c", "currency"),
                ),
                custom=True,
            ),
            SObject(
                "SBQQ__Quote__History",
                "017",
                "Quote History (CPQ)",
                "Field history of CPQ quotes: every SBQQ__Status__c change with its timestamp.",
                _field_history("ParentId", "SBQQ__Quote__c"),
                custom=True,
                history_of="SBQQ__Quote__c",
            ),
        ]
    else:
        objects.append(
            SObject(
                "Quote",
                "0Q0",
                "Quote",
                "Quote versions per opportunity (rework loops), their discount and status"
                + (" (standard Quote has no field history)." if standard else "."),
                (
                    *_audit(owner=True),
                    _f("Name", "string"),
                    _f("QuoteNumber", "string"),
                    _f("OpportunityId", "reference", "Opportunity"),
                    _f("AccountId", "reference", "Account"),
                    _f("Status", "picklist"),
                    _f("Discount", "percent"),
                    _f("Subtotal", "currency"),
                    _f("TotalPrice", "currency"),
                    _f("GrandTotal", "currency"),
                    _f("ExpirationDate", "date"),
                    _f("IsSyncing", "boolean"),
                ),
            )
        )
    if custom:
        objects.append(
            SObject(
                "Quote_Status_History__c",
                "a01",
                "Quote Status History",
                "Quote status changes (Presented, Accepted, Denied...). Standard Quote has no field history, "
                "so orgs keep one in a custom object written by a flow; this is that object.",
                (
                    *_audit(),
                    _f("Name", "string"),
                    _f("Quote__c", "reference", "Quote"),
                    _f("Old_Status__c", "picklist"),
                    _f("New_Status__c", "picklist"),
                ),
                custom=True,
            )
        )
    objects += [
        SObject(
            "ProcessInstance",
            "04g",
            "Approval Process Instance",
            "Discount approvals: one per quote submitted for approval, with its outcome and duration.",
            (
                _f("Id", "id"),
                _f("IsDeleted", "boolean"),
                _f("ProcessDefinitionId", "reference", "ProcessDefinition"),
                _f("TargetObjectId", "reference", quote_object),
                _f("Status", "picklist"),
                _f("SubmittedById", "reference", "User"),
                _f("LastActorId", "reference", "User"),
                _f("CompletedDate", "datetime"),
                _f("ElapsedTimeInDays", "double"),
                _f("CreatedDate", "datetime"),
                _f("CreatedById", "reference", "User"),
                _f("LastModifiedDate", "datetime"),
                _f("LastModifiedById", "reference", "User"),
                _f("SystemModstamp", "datetime"),
            ),
        ),
        SObject(
            "ProcessInstanceStep",
            "04h",
            "Approval Step",
            "Approval steps: submission (Started) and the approver's Approved / Rejected decision.",
            (
                _f("Id", "id"),
                _f("IsDeleted", "boolean"),
                _f("ProcessInstanceId", "reference", "ProcessInstance"),
                _f("StepStatus", "picklist"),
                _f("ActorId", "reference", "User"),
                _f("OriginalActorId", "reference", "User"),
                _f("Comments", "textarea"),
                _f("CreatedDate", "datetime"),
                _f("CreatedById", "reference", "User"),
                _f("SystemModstamp", "datetime"),
            ),
        ),
        SObject(
            "Contract",
            "800",
            "Contract",
            {
                "custom": "Contracts created, signed by the customer ('Signed' status) and activated; "
                "Opportunity__c links them to the deal.",
                "cpq_billing": "Contracts from CPQ quotes (SBQQ__Opportunity__c, SBQQ__Quote__c): Draft, In "
                "Approval Process once signed (CustomerSignedDate), Activated.",
                "standard": "Contracts: Draft, In Approval Process once signed (CustomerSignedDate), Activated; "
                "the opportunity points at its contract (Opportunity.ContractId).",
            }[shape],
            (
                *_audit(owner=True),
                _f("ContractNumber", "string"),
                _f("AccountId", "reference", "Account"),
                *((_f("Opportunity__c", "reference", "Opportunity"),) if custom else ()),
                *(
                    (
                        _f("SBQQ__Opportunity__c", "reference", "Opportunity"),
                        _f("SBQQ__Quote__c", "reference", "SBQQ__Quote__c"),
                    )
                    if cpq
                    else ()
                ),
                _f("Status", "picklist"),
                _f("StartDate", "date"),
                _f("ContractTerm", "int"),
                _f("CustomerSignedDate", "date"),
                _f("ActivatedDate", "datetime"),
                _f("ActivatedById", "reference", "User"),
            ),
        ),
        SObject(
            "ContractHistory",
            "017",
            "Contract History",
            "Contract status changes with timestamps"
            + (
                " (the signature moment)."
                if custom
                else "."
                if cpq
                else "; empty: this org tracks no contract fields."
            ),
            _field_history("ContractId", "Contract"),
            history_of="Contract",
        ),
        SObject(
            "Order",
            "801",
            "Order",
            "Sales orders; reduction orders (IsReductionOrder, OriginalOrderId) are the corrections / amendments"
            + ("; SBQQ__Quote__c is the quote ordered." if cpq else "."),
            (
                *_audit(owner=True),
                _f("OrderNumber", "string"),
                _f("AccountId", "reference", "Account"),
                _f("OpportunityId", "reference", "Opportunity"),
                _f("ContractId", "reference", "Contract"),
                *((_f("SBQQ__Quote__c", "reference", "SBQQ__Quote__c"),) if cpq else ()),
                _f("Status", "picklist"),
                _f("Type", "picklist"),
                _f("EffectiveDate", "date"),
                _f("ActivatedDate", "datetime"),
                _f("ActivatedById", "reference", "User"),
                _f("TotalAmount", "currency"),
                _f("IsReductionOrder", "boolean"),
                _f("OriginalOrderId", "reference", "Order"),
            ),
        ),
        SObject(
            "OrderHistory",
            "017",
            "Order History",
            "Order status changes with timestamps (activation, fulfilment)."
            if custom
            else "Order field history; empty: this org tracks no order fields.",
            _field_history("OrderId", "Order"),
            history_of="Order",
        ),
        SObject(
            "Task",
            "00T",
            "Task",
            "Sales touches: calls and emails on leads and opportunities.",
            (
                *_audit(owner=True),
                _f("Subject", "string"),
                _f("Type", "picklist"),
                _f("TaskSubtype", "picklist"),
                _f("Status", "picklist"),
                _f("WhoId", "reference", "Lead"),
                _f("WhatId", "reference", "Opportunity"),
                _f("ActivityDate", "date"),
                _f("CompletedDateTime", "datetime"),
            ),
        ),
        SObject(
            "Event",
            "00U",
            "Event",
            "Sales touches: meetings on leads and opportunities.",
            (
                *_audit(owner=True),
                _f("Subject", "string"),
                _f("Type", "picklist"),
                _f("WhoId", "reference", "Lead"),
                _f("WhatId", "reference", "Opportunity"),
                _f("StartDateTime", "datetime"),
                _f("EndDateTime", "datetime"),
                _f("DurationInMinutes", "int"),
            ),
        ),
    ]
    if standard:
        return (*objects, *_calendar_objects())
    objects += [
        SObject(
            "blng__Invoice__c",
            "a02",
            "Invoice (Salesforce Billing)",
            "Invoices of the Salesforce Billing package: dates, due date, posting and payment status."
            + (
                " Invoice_Type__c and Sent_Date__c are org-added custom fields (the package has no 'sent' stamp)."
                if custom
                else " Orders may be invoiced in instalments."
            ),
            (
                *_audit(owner=True),
                _f("Name", "string"),
                _f("blng__Account__c", "reference", "Account"),
                _f("blng__Order__c", "reference", "Order"),
                _f("blng__InvoiceDate__c", "date"),
                _f("blng__DueDate__c", "date"),
                _f("blng__InvoiceStatus__c", "picklist"),
                _f("blng__PaymentStatus__c", "picklist"),
                _f("blng__TotalAmount__c", "currency"),
                _f("blng__Payments__c", "currency"),
                _f("blng__Balance__c", "currency"),
                *(
                    (_f("Invoice_Type__c", "picklist"), _f("Sent_Date__c", "datetime"))
                    if custom
                    else ()
                ),
            ),
            custom=True,
        ),
        SObject(
            "blng__Invoice__History",
            "017",
            "Invoice History",
            "Invoice status and payment-status changes (Posted, Partially Paid, Paid) with timestamps.",
            _field_history("ParentId", "blng__Invoice__c"),
            custom=True,
            history_of="blng__Invoice__c",
        ),
        SObject(
            "blng__Payment__c",
            "a03",
            "Payment (Salesforce Billing)",
            "Payments received against invoices, partial ones included"
            + (
                "; each points at its invoice."
                if custom
                else "; applied to invoices by allocations."
            ),
            (
                *_audit(owner=True),
                _f("Name", "string"),
                _f("blng__Account__c", "reference", "Account"),
                *((_f("blng__Invoice__c", "reference", "blng__Invoice__c"),) if custom else ()),
                _f("blng__Amount__c", "currency"),
                _f("blng__PaymentDate__c", "date"),
                _f("blng__PaymentType__c", "picklist"),
                _f("blng__Status__c", "picklist"),
            ),
            custom=True,
        ),
    ]
    if cpq:
        objects.append(
            SObject(
                "blng__PaymentAllocationInvoice__c",
                "a0T",
                "Payment Allocation (Salesforce Billing)",
                "What part of which payment settles which invoice: partial payments, one payment over "
                "several invoices, and unallocations (reversed payments).",
                (
                    *_audit(),
                    _f("Name", "string"),
                    _f("blng__Payment__c", "reference", "blng__Payment__c"),
                    _f("blng__Invoice__c", "reference", "blng__Invoice__c"),
                    _f("blng__Amount__c", "currency"),
                    _f("blng__ImpactAmount__c", "currency"),
                    _f("blng__Type__c", "picklist"),
                    _f("blng__Unallocated__c", "boolean"),
                ),
                custom=True,
            )
        )
    objects.extend(_calendar_objects())
    if cpq:
        objects = [_with_currency(o) for o in objects]
        objects.extend(_currency_objects())
    return tuple(objects)


# The objects with amounts (and the accounts whose currency they are in): in a multi-currency
# org every record of them carries its currency.
CURRENCY_OBJECTS = frozenset(
    {
        "Account",
        "Opportunity",
        "OpportunityHistory",
        "OpportunityLineItem",
        "SBQQ__Quote__c",
        "SBQQ__QuoteLine__c",
        "Order",
        "blng__Invoice__c",
        "blng__Payment__c",
        "blng__PaymentAllocationInvoice__c",
    }
)


def _with_currency(sobject: SObject) -> SObject:
    if sobject.name not in CURRENCY_OBJECTS:
        return sobject
    return SObject(
        sobject.name,
        sobject.key_prefix,
        sobject.label,
        sobject.why,
        (*sobject.fields, _f("CurrencyIsoCode", "picklist")),
        sobject.custom,
        sobject.history_of,
    )


def _currency_objects() -> tuple[SObject, ...]:
    system = (
        _f("CreatedDate", "datetime"),
        _f("CreatedById", "reference", "User"),
        _f("LastModifiedDate", "datetime"),
        _f("LastModifiedById", "reference", "User"),
        _f("SystemModstamp", "datetime"),
    )
    return (
        SObject(
            "CurrencyType",
            "02I",
            "Currency Type",
            "The org's currencies (multi-currency): the corporate one (USD) and each currency's "
            "static rate against it.",
            (
                _f("Id", "id"),
                _f("IsoCode", "picklist"),
                _f("ConversionRate", "double"),
                _f("DecimalPlaces", "int"),
                _f("IsActive", "boolean"),
                _f("IsCorporate", "boolean"),
                *system,
            ),
        ),
        SObject(
            "DatedConversionRate",
            "04w",
            "Dated Conversion Rate",
            "Advanced currency management: each currency's rate against the corporate currency, "
            "month by month; an amount is converted at the rate of its record's date.",
            (
                _f("Id", "id"),
                _f("IsoCode", "picklist"),
                _f("ConversionRate", "double"),
                _f("StartDate", "date"),
                _f("NextStartDate", "date"),
                *system,
            ),
        ),
    )


def _calendar_objects() -> tuple[SObject, ...]:
    """What every org has for business time: its own record (default time zone), business hours
    and holidays (Setup objects: no IsDeleted, no owner)."""
    system = (
        _f("CreatedDate", "datetime"),
        _f("CreatedById", "reference", "User"),
        _f("LastModifiedDate", "datetime"),
        _f("LastModifiedById", "reference", "User"),
        _f("SystemModstamp", "datetime"),
    )
    days = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
    return (
        SObject(
            "Organization",
            "00D",
            "Organization",
            "The org's own record: its default time zone (TimeZoneSidKey), the one business time "
            "falls back to.",
            (
                _f("Id", "id"),
                _f("Name", "string"),
                _f("OrganizationType", "picklist"),
                _f("IsSandbox", "boolean"),
                _f("InstanceName", "string"),
                _f("TimeZoneSidKey", "picklist"),
                _f("DefaultLocaleSidKey", "picklist"),
                *system,
            ),
        ),
        SObject(
            "BusinessHours",
            "01m",
            "Business Hours",
            "Business hours per region in the region's time zone, the default one the company's: "
            "what business time is counted in.",
            (
                _f("Id", "id"),
                _f("Name", "string"),
                _f("IsActive", "boolean"),
                _f("IsDefault", "boolean"),
                _f("TimeZoneSidKey", "picklist"),
                *(_f(f"{day}{edge}Time", "time") for day in days for edge in ("Start", "End")),
                *system,
            ),
        ),
        SObject(
            "Holiday",
            "0C0",
            "Holiday",
            "The company's holidays (whole days, and a half day; some one record a year, some "
            "a yearly recurrence): no business time.",
            (
                _f("Id", "id"),
                _f("Name", "string"),
                _f("Description", "string"),
                _f("IsAllDay", "boolean"),
                _f("ActivityDate", "date"),
                _f("StartTimeInMinutes", "int"),
                _f("EndTimeInMinutes", "int"),
                _f("IsRecurrence", "boolean"),
                _f("RecurrenceType", "picklist"),
                _f("RecurrenceInterval", "int"),
                _f("RecurrenceStartDate", "date"),
                _f("RecurrenceEndDateOnly", "date"),
                _f("RecurrenceDayOfMonth", "int"),
                _f("RecurrenceMonthOfYear", "picklist"),
                _f("RecurrenceInstance", "picklist"),
                _f("RecurrenceDayOfWeekMask", "int"),
                *system,
            ),
        ),
    )


OBJECTS_BY_SHAPE: dict[str, tuple[SObject, ...]] = {shape: _objects(shape) for shape in SHAPES}


def objects_for(shape: str) -> tuple[SObject, ...]:
    if shape not in OBJECTS_BY_SHAPE:
        raise ValueError(f"the demo org's shape must be one of {', '.join(SHAPES)}, got {shape!r}")
    return OBJECTS_BY_SHAPE[shape]


def by_name(shape: str) -> dict[str, SObject]:
    return {o.name: o for o in objects_for(shape)}


def _union_catalogue() -> dict[str, SObject]:
    """Every object of every shape with the union of its fields: the types the demo server
    gives a snapshot's known columns, whatever shape wrote it."""
    union: dict[str, SObject] = {}
    for shape in SHAPES:
        for sobject in OBJECTS_BY_SHAPE[shape]:
            known = union.get(sobject.name)
            if known is None:
                union[sobject.name] = sobject
                continue
            extra = tuple(f for f in sobject.fields if f.name not in known.field_names)
            if extra:
                union[sobject.name] = SObject(
                    known.name,
                    known.key_prefix,
                    known.label,
                    known.why,
                    (*known.fields, *extra),
                    known.custom,
                    known.history_of,
                )
    return union


BY_NAME: dict[str, SObject] = _union_catalogue()

# The users: standard sales stages, in their usual order.
OPPORTUNITY_STAGES = (
    "Prospecting",
    "Qualification",
    "Needs Analysis",
    "Value Proposition",
    "Proposal/Price Quote",
    "Negotiation/Review",
    "Closed Won",
    "Closed Lost",
)

# Key prefixes of records the demo org refers to but does not export.
PROCESS_DEFINITION_PREFIX = "04a"


def catalogue_markdown(shape: str = DEFAULT_SHAPE) -> str:
    """The table of every object and field of a demo org of the shape."""
    lines = ["| object | fields | why |", "|---|---|---|"]
    for sobject in objects_for(shape):
        fields = ", ".join(f"`{f.name}`" for f in sobject.fields)
        lines.append(f"| `{sobject.name}` ({sobject.key_prefix}) | {fields} | {sobject.why} |")
    return "\n".join(lines)
