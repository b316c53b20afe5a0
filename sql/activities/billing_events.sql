-- Invoice to cash: Invoice Posted, Invoice Sent and Invoice Paid (the invoice's status changes;
-- without a posting change, the invoice date; the sent date where the org has one), Payment
-- Received (each payment applied to an invoice, at the moment the customer paid) and Payment
-- Reversed (a payment taken off the invoice again: a refund, charge-back or correction).
WITH invoice_changes AS (
    SELECT h.change_id, h.record_id, h.changed_at, h.changed_by, h.old_value, h.new_value, m.meaning,
           i.opportunity_id, i.object_type
    FROM mapped.field_changes AS h
    JOIN staging.stg_invoices AS i ON i.invoice_id = h.record_id
    JOIN mapped.value_meanings AS m
      ON m.value = trim(h.new_value)
     AND ((h.column_name = 'invoice_status' AND m.meaning IN ('invoice_posted', 'invoice_sent'))
          OR (h.column_name = 'payment_status' AND m.meaning = 'invoice_paid'))
    WHERE h.entity = 'invoices' AND i.opportunity_id IS NOT NULL
)
SELECT
    'invoice_history:' || c.change_id AS event_id, c.opportunity_id AS case_id,
    CASE c.meaning WHEN 'invoice_posted' THEN 'Invoice Posted' WHEN 'invoice_sent' THEN 'Invoice Sent'
                   ELSE 'Invoice Paid' END AS activity,
    c.changed_at AS timestamp, c.changed_by AS resource_id, c.object_type, c.record_id AS object_id,
    c.old_value, c.new_value
FROM invoice_changes AS c
UNION ALL
SELECT 'invoice_posted:' || i.invoice_id, i.opportunity_id, 'Invoice Posted',
       CASE WHEN i.invoice_date = i.created_at::DATE THEN i.created_at ELSE i.invoice_date::TIMESTAMP END,
       i.owner_id, i.object_type, i.invoice_id, NULL, NULL
FROM staging.stg_invoices AS i
WHERE i.opportunity_id IS NOT NULL AND i.invoice_date IS NOT NULL
  AND i.invoice_status IN (SELECT value FROM mapped.value_meanings WHERE meaning = 'invoice_posted')
  AND NOT EXISTS (SELECT 1 FROM invoice_changes AS c WHERE c.record_id = i.invoice_id AND c.meaning = 'invoice_posted')
UNION ALL
SELECT 'invoice_sent:' || i.invoice_id, i.opportunity_id, 'Invoice Sent', i.sent_at, i.owner_id,
       i.object_type, i.invoice_id, NULL, NULL
FROM staging.stg_invoices AS i
WHERE i.sent_at IS NOT NULL AND i.opportunity_id IS NOT NULL
UNION ALL
SELECT CASE p.kind WHEN 'allocation' THEN 'payment_received:' ELSE 'payment_reversed:' END || p.allocation_id,
       p.opportunity_id,
       CASE p.kind WHEN 'allocation' THEN 'Payment Received' ELSE 'Payment Reversed' END,
       CASE p.kind WHEN 'allocation' THEN p.received_at ELSE p.recorded_at END,
       p.recorded_by, p.payment_object_type, p.payment_id, NULL, CAST(p.amount AS VARCHAR)
FROM staging.stg_payments AS p
WHERE p.opportunity_id IS NOT NULL
