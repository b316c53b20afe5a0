"""Each planted truth computed from a snapshot's CSV files alone, with DuckDB.

Independent of the generator and of the pipeline's mapping: it reads the records the way an
analyst who knows the org's shape would, following the `measure` text in truths.json, and
never looks at the generator's parameters.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

# What each shape's records hold where (written by hand from the shapes' object layouts).
_QUOTES = {
    "custom": "SELECT Id AS quote_id, OpportunityId AS opportunity_id, Discount AS discount, "
    "IsSyncing AS synced FROM Quote WHERE IsDeleted = 'false'",
    "standard": "SELECT Id AS quote_id, OpportunityId AS opportunity_id, Discount AS discount, "
    "IsSyncing AS synced FROM Quote WHERE IsDeleted = 'false'",
    "cpq_billing": "SELECT Id AS quote_id, SBQQ__Opportunity2__c AS opportunity_id, "
    "SBQQ__CustomerDiscount__c AS discount, SBQQ__Primary__c AS synced FROM SBQQ__Quote__c "
    "WHERE IsDeleted = 'false'",
}
# Every status a quote reached, with when: the standard Quote keeps only its current one.
_QUOTE_STATUSES = {
    "custom": "SELECT Quote__c AS quote_id, New_Status__c AS status, CreatedDate AS changed_at "
    "FROM Quote_Status_History__c",
    "cpq_billing": "SELECT ParentId AS quote_id, NewValue AS status, CreatedDate AS changed_at "
    "FROM SBQQ__Quote__History WHERE Field = 'SBQQ__Status__c'",
    "standard": "SELECT Id AS quote_id, Status AS status, LastModifiedDate AS changed_at FROM Quote",
}
CUSTOMER_REJECTED = {"custom": "Denied", "standard": "Denied", "cpq_billing": "Rejected"}


def shape_of(org: Path) -> str:
    return json.loads((org / "org.json").read_text(encoding="utf-8")).get("shape", "custom")


def connect(org: Path) -> duckdb.DuckDBPyConnection:
    shape = shape_of(org)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for path in sorted(org.glob("*.csv")):
        if path.name == "expected_event_log.csv":
            continue
        literal = str(path).replace("'", "''")
        con.execute(
            f'CREATE VIEW "{path.stem}" AS '
            f"SELECT * FROM read_csv('{literal}', header = true, all_varchar = true)"
        )
    con.execute(f"CREATE VIEW quotes AS {_QUOTES[shape]}")
    con.execute(f"CREATE VIEW quote_statuses AS {_QUOTE_STATUSES[shape]}")
    con.execute(f"CREATE MACRO customer_rejected() AS '{CUSTOMER_REJECTED[shape]}'")
    snapshot = con.execute(
        "SELECT max(CAST(SystemModstamp AS TIMESTAMPTZ))::TIMESTAMP FROM Opportunity"
    ).fetchone()[0]
    con.execute(f"CREATE MACRO snapshot_ts() AS TIMESTAMP '{snapshot}'")
    con.execute("CREATE MACRO ts(x) AS CAST(x AS TIMESTAMPTZ)::TIMESTAMP")
    con.execute("CREATE MACRO hours_between(a, b) AS epoch(ts(b) - ts(a)) / 3600.0")
    # Attributes analysts cut by: the owner's region (Division, or in a standard org the role
    # above the team's) and team (role name), and the product family of the opportunity's first
    # line item.
    region = "parent.Name" if shape == "standard" else "u.Division"
    con.execute(f"""
        CREATE VIEW opp AS
        WITH first_item AS (
            SELECT OpportunityId, arg_min(Product2Id, Id) AS product_id
            FROM OpportunityLineItem WHERE IsDeleted = 'false' GROUP BY OpportunityId
        ), synced AS (
            SELECT opportunity_id, quote_id, CAST(discount AS DOUBLE) AS discount
            FROM quotes WHERE synced = 'true'
        )
        SELECT o.*, {region} AS region, r.Name AS team, p.Family AS family,
               s.quote_id AS synced_quote_id, coalesce(s.discount, 0) AS discount
        FROM Opportunity o
        JOIN "User" u ON u.Id = o.OwnerId
        JOIN UserRole r ON r.Id = u.UserRoleId
        LEFT JOIN UserRole parent ON parent.Id = r.ParentRoleId
        LEFT JOIN first_item fi ON fi.OpportunityId = o.Id
        LEFT JOIN Product2 p ON p.Id = fi.product_id
        LEFT JOIN synced s ON s.opportunity_id = o.Id
        WHERE o.IsDeleted = 'false'
    """)
    sent = (
        "SELECT Id AS invoice_id, ts(Sent_Date__c) AS sent_at FROM blng__Invoice__c WHERE Sent_Date__c <> ''"
        if shape == "custom"
        else "SELECT ParentId AS invoice_id, min(ts(CreatedDate)) AS sent_at FROM blng__Invoice__History "
        "WHERE Field = 'blng__InvoiceStatus__c' AND NewValue = 'Posted' GROUP BY ParentId"
    )
    if shape != "standard":
        con.execute(f"CREATE VIEW invoice_sent AS {sent}")
    return con


def _ratio(con, sql: str, params: list) -> tuple[float, float]:
    subject, others = con.execute(sql, params).fetchone()
    return subject, others


def slow_discount_approvals(con, truth: dict) -> tuple[float, float]:
    subject, others = _ratio(
        con,
        """
        WITH approvals AS (
            SELECT o.OwnerId, hours_between(pi.CreatedDate, pi.CompletedDate) AS hours
            FROM ProcessInstance pi
            JOIN quotes q ON q.quote_id = pi.TargetObjectId
            JOIN opp o ON o.Id = q.opportunity_id
            WHERE pi.CompletedDate IS NOT NULL AND pi.IsDeleted = 'false'
        )
        SELECT median(hours) FILTER (WHERE OwnerId = ?), median(hours) FILTER (WHERE OwnerId <> ?)
        FROM approvals
    """,
        [truth["subject"]["id"]] * 2,
    )
    return subject / others, 1.0


def low_converting_lead_source(con, truth: dict) -> tuple[float, float]:
    subject, others = _ratio(
        con,
        """
        SELECT avg((IsConverted = 'true')::INT) FILTER (WHERE LeadSource = ?),
               avg((IsConverted = 'true')::INT) FILTER (WHERE LeadSource <> ?)
        FROM Lead
        WHERE IsDeleted = 'false' AND ts(CreatedDate) <= snapshot_ts() - INTERVAL 120 DAY
    """,
        [truth["subject"]["value"]] * 2,
    )
    return subject / others, 1.0


def quote_rework_family(con, truth: dict) -> tuple[float, float]:
    return _ratio(
        con,
        """
        WITH presented AS (
            -- A quote the customer answered was presented first.
            SELECT quote_id, min(ts(changed_at)) AS at FROM quote_statuses
            WHERE status IN ('Presented', 'Accepted', customer_rejected()) GROUP BY quote_id
        ), denied AS (
            SELECT DISTINCT quote_id FROM quote_statuses WHERE status = customer_rejected()
        )
        SELECT avg((d.quote_id IS NOT NULL)::INT) FILTER (WHERE o.family = ?),
               avg((d.quote_id IS NOT NULL)::INT) FILTER (WHERE o.family <> ?)
        FROM presented p
        JOIN quotes q ON q.quote_id = p.quote_id
        JOIN opp o ON o.Id = q.opportunity_id
        LEFT JOIN denied d ON d.quote_id = p.quote_id
        WHERE p.at <= snapshot_ts() - INTERVAL 60 DAY
    """,
        [truth["subject"]["value"]] * 2,
    )


def deep_discounts_pay_later(con, truth: dict) -> tuple[float, float]:
    band = float(truth["subject"]["value"].strip(">%"))
    subject, others = _ratio(
        con,
        """
        WITH paid AS (
            SELECT ParentId AS invoice_id, min(ts(CreatedDate)) AS paid_at
            FROM blng__Invoice__History
            WHERE Field = 'blng__PaymentStatus__c' AND NewValue = 'Paid' GROUP BY ParentId
        ), invoices AS (
            SELECT epoch(p.paid_at - s.sent_at) / 86400.0 AS days, o.discount
            FROM blng__Invoice__c i
            JOIN invoice_sent s ON s.invoice_id = i.Id
            JOIN paid p ON p.invoice_id = i.Id
            JOIN "Order" ord ON ord.Id = i.blng__Order__c
            JOIN opp o ON o.Id = ord.OpportunityId
            WHERE s.sent_at <= snapshot_ts() - INTERVAL 150 DAY
        )
        SELECT median(days) FILTER (WHERE discount > ?), median(days) FILTER (WHERE discount <= ?)
        FROM invoices
    """,
        [band, band],
    )
    return subject - others, 0.0


def region_skips_quote_accepted(con, truth: dict) -> tuple[float, float]:
    return _ratio(
        con,
        """
        WITH quoted AS (
            SELECT q.opportunity_id,
                   bool_or(h.status = 'Accepted') AS accepted
            FROM quotes q
            LEFT JOIN quote_statuses h ON h.quote_id = q.quote_id
            GROUP BY q.opportunity_id
        )
        SELECT avg((NOT coalesce(accepted, false))::INT) FILTER (WHERE o.region = ?),
               avg((NOT coalesce(accepted, false))::INT) FILTER (WHERE o.region <> ?)
        FROM opp o JOIN quoted q ON q.opportunity_id = o.Id
        WHERE o.IsWon = 'true'
    """,
        [truth["subject"]["value"]] * 2,
    )


def order_rework_family(con, truth: dict) -> tuple[float, float]:
    return _ratio(
        con,
        """
        WITH amended AS (
            SELECT DISTINCT OriginalOrderId AS order_id FROM "Order"
            WHERE IsReductionOrder = 'true' AND IsDeleted = 'false'
        )
        SELECT avg((a.order_id IS NOT NULL)::INT) FILTER (WHERE o.family = ?),
               avg((a.order_id IS NOT NULL)::INT) FILTER (WHERE o.family <> ?)
        FROM "Order" ord
        JOIN opp o ON o.Id = ord.OpportunityId
        LEFT JOIN amended a ON a.order_id = ord.Id
        WHERE ord.IsReductionOrder = 'false' AND ord.ActivatedDate <> ''
          AND ts(ord.ActivatedDate) <= snapshot_ts() - INTERVAL 60 DAY
    """,
        [truth["subject"]["value"]] * 2,
    )


def low_win_rate_rep(con, truth: dict) -> tuple[float, float]:
    subject, others = _ratio(
        con,
        """
        SELECT avg((IsWon = 'true')::INT) FILTER (WHERE OwnerId = ?),
               avg((IsWon = 'true')::INT) FILTER (WHERE OwnerId <> ?)
        FROM opp
        WHERE IsClosed = 'true' AND ts(CreatedDate) <= snapshot_ts() - INTERVAL 180 DAY
    """,
        [truth["subject"]["id"]] * 2,
    )
    return subject / others, 1.0


def approvals_skipped_by_rep(con, truth: dict) -> tuple[float, float]:
    return _ratio(
        con,
        """
        WITH approved AS (
            SELECT DISTINCT TargetObjectId AS quote_id FROM ProcessInstance
            WHERE Status = 'Approved' AND IsDeleted = 'false'
        )
        SELECT avg((a.quote_id IS NULL)::INT) FILTER (WHERE o.OwnerId = ?),
               avg((a.quote_id IS NULL)::INT) FILTER (WHERE o.OwnerId <> ?)
        FROM opp o LEFT JOIN approved a ON a.quote_id = o.synced_quote_id
        WHERE o.IsWon = 'true' AND o.synced_quote_id IS NOT NULL AND o.discount > 20
    """,
        [truth["subject"]["id"]] * 2,
    )


def negotiation_stall_team(con, truth: dict) -> tuple[float, float]:
    subject, others = _ratio(
        con,
        """
        WITH presented AS (
            SELECT quote_id, min(ts(changed_at)) AS at FROM quote_statuses
            WHERE status = 'Presented' GROUP BY quote_id
        ), decided AS (
            SELECT quote_id, min(ts(changed_at)) AS at FROM quote_statuses
            WHERE status IN ('Accepted', customer_rejected()) GROUP BY quote_id
        )
        SELECT median(epoch(d.at - p.at) / 86400.0) FILTER (WHERE o.team = ?),
               median(epoch(d.at - p.at) / 86400.0) FILTER (WHERE o.team <> ?)
        FROM presented p JOIN decided d USING (quote_id)
        JOIN quotes q ON q.quote_id = p.quote_id JOIN opp o ON o.Id = q.opportunity_id
    """,
        [truth["subject"]["value"]] * 2,
    )
    return subject / others, 1.0


def stage_regression_region(con, truth: dict) -> tuple[float, float]:
    return _ratio(
        con,
        """
        WITH reached AS (
            SELECT DISTINCT OpportunityId FROM OpportunityFieldHistory
            WHERE Field = 'StageName' AND NewValue = 'Proposal/Price Quote'
        ), regressed AS (
            SELECT DISTINCT OpportunityId FROM OpportunityFieldHistory
            WHERE Field = 'StageName' AND OldValue = 'Proposal/Price Quote' AND NewValue = 'Needs Analysis'
        )
        SELECT avg((g.OpportunityId IS NOT NULL)::INT) FILTER (WHERE o.region = ?),
               avg((g.OpportunityId IS NOT NULL)::INT) FILTER (WHERE o.region <> ?)
        FROM reached r JOIN opp o ON o.Id = r.OpportunityId
        LEFT JOIN regressed g ON g.OpportunityId = r.OpportunityId
        WHERE ts(o.CreatedDate) <= snapshot_ts() - INTERVAL 90 DAY
    """,
        [truth["subject"]["value"]] * 2,
    )


def loss_reason_family(con, truth: dict) -> tuple[float, float]:
    return _ratio(
        con,
        """
        SELECT avg((Loss_Reason__c = 'Product Fit')::INT) FILTER (WHERE family = ?),
               avg((Loss_Reason__c = 'Product Fit')::INT) FILTER (WHERE family <> ?)
        FROM opp WHERE IsClosed = 'true' AND IsWon = 'false'
    """,
        [truth["subject"]["value"]] * 2,
    )


MEASURES = {
    "slow_discount_approvals": slow_discount_approvals,
    "low_converting_lead_source": low_converting_lead_source,
    "quote_rework_family": quote_rework_family,
    "deep_discounts_pay_later": deep_discounts_pay_later,
    "region_skips_quote_accepted": region_skips_quote_accepted,
    "order_rework_family": order_rework_family,
    "low_win_rate_rep": low_win_rate_rep,
    "approvals_skipped_by_rep": approvals_skipped_by_rep,
    "negotiation_stall_team": negotiation_stall_team,
    "stage_regression_region": stage_regression_region,
    "loss_reason_family": loss_reason_family,
}
