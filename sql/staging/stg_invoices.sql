-- Invoices that are not deleted, with their opportunity (through the invoiced order, or the
-- invoice's own lookup), customer and invoice type.
-- columns:
-- invoice_id: the invoice's Id
-- opportunity_id: the opportunity of the invoice (the case)
-- order_id: the invoiced order
-- account_id: the customer
-- invoice_date: invoice (posting) date
-- due_date: payment due date
-- sent_at: when the invoice was sent to the customer
-- invoice_status: Draft or Posted
-- payment_status: Unpaid, Partially Paid or Paid
-- total_amount: invoice total
-- balance: amount still open
-- invoice_type: the invoice's type (the mapping's invoice_type: of the invoice, else of its deal)
-- owner_id: invoice owner (billing)
-- created_at: when the invoice record was created
-- object_type: the Salesforce object of the invoice
WITH invoice_own_type AS (
    SELECT record_id AS invoice_id, arg_min(value, priority) AS value, min(priority) AS priority
    FROM mapped.attribute_values
    WHERE attribute = 'invoice_type' AND anchor = 'invoice'
    GROUP BY record_id
), invoices AS (
    SELECT i.*, coalesce(ord.opportunity_id, own.opportunity_id) AS case_opportunity_id
    FROM mapped.invoices AS i
    LEFT JOIN staging.stg_orders AS ord ON ord.order_id = i.order_id
    LEFT JOIN staging.stg_opportunities AS own ON own.opportunity_id = i.opportunity_id
    WHERE NOT i.is_deleted
)
SELECT
    i.invoice_id,
    i.case_opportunity_id AS opportunity_id,
    i.order_id,
    i.account_id,
    i.invoice_date,
    i.due_date,
    i.sent_at,
    trim(i.invoice_status) AS invoice_status,
    trim(i.payment_status) AS payment_status,
    i.total_amount,
    i.balance,
    -- The source earlier in the mapping's list wins, whether it reads the invoice or the deal.
    CASE WHEN t.priority <= coalesce(d.priority, t.priority) THEN t.value ELSE coalesce(d.value, t.value) END
        AS invoice_type,
    i.owner_id,
    i.created_at,
    i.object_type
FROM invoices AS i
LEFT JOIN invoice_own_type AS t ON t.invoice_id = i.invoice_id
LEFT JOIN staging.stg_case_attributes AS d ON d.case_id = i.case_opportunity_id AND d.attribute = 'invoice_type'
