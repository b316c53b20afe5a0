"""Several currencies in the demo org (the cpq_billing shape): USD is the corporate currency,
each customer pays in its country's currency, and the rates move month by month (dated
exchange rates, as advanced currency management keeps them).

The simulation runs in the corporate currency, unchanged; only the records are written in the
customer's currency, each amount the corporate amount x the rate on the record's date, rounded
to the currency's decimals:

- an opportunity and what belongs to it (its product lines, its amount history, its
  snapshots, its quotes and quote lines): the rate on the day the opportunity was created (the
  amounts are entered in the customer's currency then: a close date pushed into another month
  later changes no amount, as in Salesforce, so a later snapshot of a living org keeps them);
  its corporate amount is still at the rate on its close date (advanced currency management);
- an order: the rate on the day it was created;
- an invoice: the rate on its invoice date; the payments allocated to it are in its currency at
  the same rate (the customer pays what the invoice says); a payment is the sum of its
  allocations.

`expected_amounts.csv` then holds, per opportunity, quote, order and invoice, the amount in its
currency, the rate and the corporate amount the pipeline must find (amount / rate). Nothing
here draws a random number: the rates are a function of the month."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

from .ids import make_id

CORPORATE = "USD"
# (corporate units -> currency units at the start, decimals, monthly swing)
CURRENCIES = {
    "USD": (1.0, 2, 0.0),
    "CAD": (1.36, 2, 0.02),
    "EUR": (0.92, 2, 0.03),
    "GBP": (0.79, 2, 0.025),
    "SGD": (1.34, 2, 0.015),
    "AUD": (1.52, 2, 0.03),
    "JPY": (149.5, 0, 0.04),
    "INR": (83.2, 2, 0.02),
    "BRL": (5.05, 2, 0.05),
    "MXN": (17.1, 2, 0.04),
    "CLP": (935.0, 0, 0.05),
}
COUNTRY_CURRENCY = {
    "United States": "USD",
    "Canada": "CAD",
    "Germany": "EUR",
    "France": "EUR",
    "Netherlands": "EUR",
    "Spain": "EUR",
    "United Kingdom": "GBP",
    "Singapore": "SGD",
    "Australia": "AUD",
    "Japan": "JPY",
    "India": "INR",
    "Brazil": "BRL",
    "Mexico": "MXN",
    "Chile": "CLP",
}
DAY = 86400
# The amount fields of each object, and which record's rate they take.
_OPPORTUNITY_CHILDREN = {
    "OpportunityLineItem": ("OpportunityId", ("ListPrice", "UnitPrice", "TotalPrice")),
    "OpportunityHistory": ("OpportunityId", ("Amount", "ExpectedRevenue")),
}


def _month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def rate_on(currency: str, day: date) -> float:
    """Currency units per corporate unit in the month of `day` (4 decimals)."""
    base, _, swing = CURRENCIES[currency]
    if swing == 0:
        return base
    month = _month_index(day)
    factor = 1 + swing * math.sin(month * 0.7 + len(currency)) + swing / 2 * math.cos(month * 1.9)
    return round(base * factor, 4)


def _day(ts: int) -> date:
    return datetime.fromtimestamp(ts // DAY * DAY, UTC).date()


def currency_type_records(created_at: int, user_id: str) -> list[dict]:
    """CurrencyType: each active currency with its static rate (the first month's)."""
    first = _day(created_at)
    records = []
    for number, (code, (_, decimals, _)) in enumerate(sorted(CURRENCIES.items()), start=1):
        records.append(
            {
                "Id": make_id("02I", number),
                "IsoCode": code,
                "ConversionRate": rate_on(code, first),
                "DecimalPlaces": decimals,
                "IsActive": True,
                "IsCorporate": code == CORPORATE,
                "CreatedDate": created_at,
                "CreatedById": user_id,
                "LastModifiedDate": created_at,
                "LastModifiedById": user_id,
                "SystemModstamp": created_at,
            }
        )
    return records


def dated_rate_records(created_at: int, until: int, user_id: str) -> list[dict]:
    """DatedConversionRate: one rate per currency and month, from the org's first month on;
    NextStartDate is the next month's start (none for the last)."""
    first, last = _month_index(_day(created_at)), _month_index(_day(until))
    records, number = [], 0
    for code in sorted(CURRENCIES):
        for month in range(first, last + 1):
            number += 1
            start = date(month // 12, month % 12 + 1, 1)
            following = date((month + 1) // 12, (month + 1) % 12 + 1, 1)
            records.append(
                {
                    "Id": make_id("04w", number),
                    "IsoCode": code,
                    "ConversionRate": rate_on(code, start),
                    "StartDate": _ts(start),
                    "NextStartDate": _ts(following) if month < last else None,
                    "CreatedDate": created_at,
                    "CreatedById": user_id,
                    "LastModifiedDate": created_at,
                    "LastModifiedById": user_id,
                    "SystemModstamp": created_at,
                }
            )
    return records


def _ts(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def _local(value, rate: float, decimals: int):
    if value is None:
        return None
    return round(float(value) * rate, decimals)


def localise(rows: dict[str, list[dict]], created_at: int, until: int) -> list[tuple]:
    """Write a block's records in their customers' currencies (in place); returns the expected
    amounts: (object, record id, currency, amount, rate, corporate amount = amount / rate, what
    the pipeline must compute). A date after the last dated rate's start takes that rate (it is
    still in force); one before the first takes the currency's own rate, the first month's."""
    first, last = _day(created_at).replace(day=1), _day(until).replace(day=1)

    def rate_of(currency: str, ts: int) -> float:
        return rate_on(currency, min(max(_day(ts), first), last))

    account_currency = {
        a["Id"]: COUNTRY_CURRENCY.get(a.get("BillingCountry"), CORPORATE)
        for a in rows.get("Account", [])
    }
    for account in rows.get("Account", []):
        account["CurrencyIsoCode"] = account_currency[account["Id"]]
    expected: list[tuple] = []

    def convert(record: dict, fields, currency: str, rate: float) -> None:
        decimals = CURRENCIES[currency][1]
        record["CurrencyIsoCode"] = currency
        for name in fields:
            if name in record:
                record[name] = _local(record[name], rate, decimals)

    # Opportunities and what belongs to them: the rate on the close date.
    deal_rate: dict[str, tuple[str, float]] = {}
    close_rate: dict[str, float] = {}  # what the deal's corporate amount is converted at
    for opp in rows.get("Opportunity", []):
        currency = account_currency.get(opp.get("AccountId"), CORPORATE)
        entered = rate_of(currency, opp["CreatedDate"])
        deal_rate[opp["Id"]] = (currency, entered)
        convert(opp, ("Amount", "ExpectedRevenue"), currency, entered)
        rate = close_rate[opp["Id"]] = rate_of(currency, opp["CloseDate"])
        expected.append(
            ("Opportunity", opp["Id"], currency, opp["Amount"], rate, opp["Amount"] / rate)
        )
    for name, (parent, fields) in _OPPORTUNITY_CHILDREN.items():
        for record in rows.get(name, []):
            if record.get(parent) in deal_rate:
                convert(record, fields, *deal_rate[record[parent]])
    for change in rows.get("OpportunityFieldHistory", []):
        if change.get("Field") == "Amount" and change["OpportunityId"] in deal_rate:
            currency, rate = deal_rate[change["OpportunityId"]]
            decimals = CURRENCIES[currency][1]
            for side in ("OldValue", "NewValue"):
                if change[side] not in (None, ""):
                    change[side] = f"{_local(change[side], rate, decimals):.{decimals}f}"
    quote_rate: dict[str, tuple[str, float]] = {}
    for quote in rows.get("SBQQ__Quote__c", []):
        if quote.get("SBQQ__Opportunity2__c") in deal_rate:
            currency, rate = quote_rate[quote["Id"]] = deal_rate[quote["SBQQ__Opportunity2__c"]]
            convert(quote, ("SBQQ__ListAmount__c", "SBQQ__NetAmount__c"), currency, rate)
            local = quote.get("SBQQ__NetAmount__c")
            if local is not None:
                # Entered at the deal's rate, reported at the rate the deal's amount takes (its
                # close date's), so a synced quote and its deal agree in the corporate currency.
                reported = close_rate[quote["SBQQ__Opportunity2__c"]]
                expected.append(
                    ("SBQQ__Quote__c", quote["Id"], currency, local, reported, local / reported)
                )
    for line in rows.get("SBQQ__QuoteLine__c", []):
        if line.get("SBQQ__Quote__c") in quote_rate:
            convert(
                line,
                ("SBQQ__ListPrice__c", "SBQQ__NetPrice__c"),
                *quote_rate[line["SBQQ__Quote__c"]],
            )
    # Orders: the rate on the day each was created.
    for order in rows.get("Order", []):
        currency = account_currency.get(order.get("AccountId"), CORPORATE)
        rate = rate_of(currency, order["CreatedDate"])
        convert(order, ("TotalAmount",), currency, rate)
        local = order["TotalAmount"]
        expected.append(("Order", order["Id"], currency, local, rate, local / rate))
    # Invoices: the rate on the invoice date; their allocations at the same rate.
    invoice_rate: dict[str, tuple[str, float]] = {}
    for invoice in rows.get("blng__Invoice__c", []):
        currency = account_currency.get(invoice.get("blng__Account__c"), CORPORATE)
        when = invoice.get("blng__InvoiceDate__c") or invoice["CreatedDate"]
        rate = rate_of(currency, when)
        invoice_rate[invoice["Id"]] = (currency, rate)
        convert(
            invoice,
            ("blng__TotalAmount__c", "blng__Payments__c", "blng__Balance__c"),
            currency,
            rate,
        )
        for what, local in (
            ("blng__Invoice__c", invoice["blng__TotalAmount__c"]),
            ("blng__Invoice__c.balance", invoice["blng__Balance__c"]),
        ):
            expected.append((what, invoice["Id"], currency, local, rate, local / rate))
    paid: dict[str, float] = {}
    for allocation in rows.get("blng__PaymentAllocationInvoice__c", []):
        if allocation.get("blng__Invoice__c") in invoice_rate:
            currency, rate = invoice_rate[allocation["blng__Invoice__c"]]
            convert(allocation, ("blng__Amount__c", "blng__ImpactAmount__c"), currency, rate)
            if allocation.get("blng__Type__c") == "Allocation":
                paid[allocation["blng__Payment__c"]] = (
                    paid.get(allocation["blng__Payment__c"], 0.0) + allocation["blng__Amount__c"]
                )
    for payment in rows.get("blng__Payment__c", []):
        currency = account_currency.get(payment.get("blng__Account__c"), CORPORATE)
        payment["CurrencyIsoCode"] = currency
        if payment["Id"] in paid:
            payment["blng__Amount__c"] = round(paid[payment["Id"]], CURRENCIES[currency][1])
        else:
            rate = rate_of(currency, payment["blng__PaymentDate__c"])
            payment["blng__Amount__c"] = _local(
                payment["blng__Amount__c"], rate, CURRENCIES[currency][1]
            )
    return expected
