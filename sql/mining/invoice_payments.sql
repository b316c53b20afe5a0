-- Each invoice's sending and full payment: the basis of the payment figures. An org that
-- records no sending counts from the posting; the invoice is paid when the payment that
-- settled it was received (the payment's own date), which can be before the payment was
-- entered and the invoice marked paid.
-- columns:
-- invoice_id: the invoice
-- case_id: its case
-- sent_at: Invoice Sent (Invoice Posted where the org records no sending)
-- paid_at: when the customer paid it in full: the payment that settled it (null while not paid in
--   full, and once a payment is taken off it again until it is paid once more)
-- days_to_pay: days from sent_at to paid_at
WITH invoices AS (
    SELECT object_id AS invoice_id, any_value(case_id) AS case_id,
           min(timestamp) FILTER (WHERE activity = 'Invoice Sent') AS sent_at,
           min(timestamp) FILTER (WHERE activity = 'Invoice Posted') AS posted_at,
           -- The last time it was marked paid: a payment taken off again leaves it unpaid until
           -- it is marked paid once more.
           max(timestamp) FILTER (WHERE activity = 'Invoice Paid') AS marked_paid_at
    FROM core.event_log
    WHERE activity IN ('Invoice Sent', 'Invoice Posted', 'Invoice Paid')
    GROUP BY object_id
), paid_now AS (
    -- Paid in full as the invoice stands today: nothing left open on it, where the org keeps its
    -- balance; else no payment taken off it after it was last marked paid.
    SELECT i.invoice_id,
           CASE WHEN s.original_balance IS NOT NULL THEN s.original_balance < 0.005
                ELSE i.marked_paid_at IS NOT NULL AND NOT EXISTS (
                    SELECT 1 FROM staging.stg_payments AS p
                    WHERE p.invoice_id = i.invoice_id AND p.kind <> 'allocation'
                      AND p.recorded_at > i.marked_paid_at)
           END AS is_paid
    FROM invoices AS i
    LEFT JOIN staging.stg_invoices AS s USING (invoice_id)
), settled AS (
    -- The last payment applied to the invoice up to the moment it was last marked paid (any
    -- time, where the org keeps no mark of it).
    SELECT p.invoice_id, max(p.received_at) AS paid_at
    FROM staging.stg_payments AS p
    JOIN invoices AS i USING (invoice_id)
    WHERE p.kind = 'allocation' AND (i.marked_paid_at IS NULL OR p.recorded_at <= i.marked_paid_at)
    GROUP BY p.invoice_id
), paid AS (
    SELECT i.invoice_id,
           CASE WHEN n.is_paid THEN coalesce(s.paid_at, i.marked_paid_at) END AS paid_at
    FROM invoices AS i
    JOIN paid_now AS n USING (invoice_id)
    LEFT JOIN settled AS s USING (invoice_id)
)
SELECT i.invoice_id, i.case_id, coalesce(i.sent_at, i.posted_at) AS sent_at, p.paid_at,
       epoch(p.paid_at - coalesce(i.sent_at, i.posted_at)) / 86400 AS days_to_pay
FROM invoices AS i
JOIN paid AS p USING (invoice_id)
