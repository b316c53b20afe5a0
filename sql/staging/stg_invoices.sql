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
-- total_amount: invoice total in the corporate currency, at the rate on the invoice date (the
--   amount as it is in a single-currency org)
-- balance: amount still open, in the corporate currency at the same rate
-- invoice_type: the invoice's type (the mapping's invoice_type: of the invoice, else of its deal)
-- owner_id: invoice owner (billing)
-- created_at: when the invoice record was created
-- object_type: the Salesforce object of the invoice
-- original_total_amount: the total in the invoice's own currency
-- original_balance: the open amount in the invoice's own currency
-- currency_code: the invoice's currency (null in a single-currency org)
-- conversion_rate: units of the invoice's currency per corporate unit on its invoice date (1 in a
--   single-currency org)
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
    CASE WHEN i.currency_code IS NULL THEN i.total_amount
         ELSE i.total_amount / CASE WHEN dr.iso_code IS NOT NULL AND (dr.next_start_date IS NULL OR coalesce(i.invoice_date, i.created_at::DATE) < dr.next_start_date) THEN dr.conversion_rate ELSE cr.conversion_rate END END AS total_amount,
    CASE WHEN i.currency_code IS NULL THEN i.balance
         ELSE i.balance / CASE WHEN dr.iso_code IS NOT NULL AND (dr.next_start_date IS NULL OR coalesce(i.invoice_date, i.created_at::DATE) < dr.next_start_date)
                            THEN dr.conversion_rate ELSE cr.conversion_rate END END AS balance,
    -- The source earlier in the mapping's list wins, whether it reads the invoice or the deal.
    CASE WHEN t.priority <= coalesce(d.priority, t.priority) THEN t.value ELSE coalesce(d.value, t.value) END
        AS invoice_type,
    i.owner_id,
    i.created_at,
    i.object_type,
    i.total_amount AS original_total_amount,
    i.balance AS original_balance,
    i.currency_code,
    CASE WHEN i.currency_code IS NULL THEN 1.0
         WHEN dr.iso_code IS NOT NULL AND (dr.next_start_date IS NULL OR coalesce(i.invoice_date, i.created_at::DATE) < dr.next_start_date) THEN dr.conversion_rate
         ELSE cr.conversion_rate END AS conversion_rate
FROM invoices AS i
LEFT JOIN invoice_own_type AS t ON t.invoice_id = i.invoice_id
LEFT JOIN staging.stg_case_attributes AS d ON d.case_id = i.case_opportunity_id AND d.attribute = 'invoice_type'
LEFT JOIN staging.stg_currencies AS cr ON cr.iso_code = i.currency_code
ASOF LEFT JOIN staging.stg_dated_rates AS dr ON dr.iso_code = i.currency_code AND coalesce(i.invoice_date, i.created_at::DATE) >= dr.start_date
