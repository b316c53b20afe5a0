-- Each invoice's sending and full payment, from the event log: the basis of the payment figures.
-- columns:
-- invoice_id: the invoice (blng__Invoice__c)
-- case_id: its case
-- sent_at: Invoice Sent
-- paid_at: Invoice Paid (null while it is not paid in full)
-- days_to_pay: days from Invoice Sent to Invoice Paid
WITH invoices AS (
    SELECT object_id AS invoice_id, any_value(case_id) AS case_id,
           min(timestamp) FILTER (WHERE activity = 'Invoice Sent') AS sent_at,
           min(timestamp) FILTER (WHERE activity = 'Invoice Paid') AS paid_at
    FROM core.event_log
    WHERE object_type = 'blng__Invoice__c'
    GROUP BY object_id
)
SELECT invoice_id, case_id, sent_at, paid_at, epoch(paid_at - sent_at) / 86400 AS days_to_pay FROM invoices
