-- Billing activities: Invoice Posted and Invoice Paid (invoice history), Invoice Sent, Payment Received.
SELECT
    'invoice_history:' || h.Id AS event_id, i.opportunity_id AS case_id,
    CASE WHEN h.Field = 'blng__InvoiceStatus__c' THEN 'Invoice Posted' ELSE 'Invoice Paid' END AS activity,
    h.CreatedDate AS timestamp, h.CreatedById AS resource_id, 'blng__Invoice__c' AS object_type,
    h.ParentId AS object_id, h.OldValue AS old_value, h.NewValue AS new_value
FROM raw.blng__Invoice__History AS h
JOIN staging.stg_invoices AS i ON i.invoice_id = h.ParentId
WHERE NOT h.IsDeleted AND i.opportunity_id IS NOT NULL
  AND ((h.Field = 'blng__InvoiceStatus__c' AND h.NewValue = 'Posted')
       OR (h.Field = 'blng__PaymentStatus__c' AND h.NewValue = 'Paid'))
UNION ALL
SELECT 'invoice_sent:' || i.invoice_id, i.opportunity_id, 'Invoice Sent', i.sent_at, i.owner_id,
       'blng__Invoice__c', i.invoice_id, NULL, NULL
FROM staging.stg_invoices AS i
WHERE i.sent_at IS NOT NULL AND i.opportunity_id IS NOT NULL
UNION ALL
SELECT 'payment_received:' || p.Id, i.opportunity_id, 'Payment Received', p.CreatedDate, p.CreatedById,
       'blng__Payment__c', p.Id, NULL, CAST(p.blng__Amount__c AS VARCHAR)
FROM raw.blng__Payment__c AS p
JOIN staging.stg_invoices AS i ON i.invoice_id = p.blng__Invoice__c
WHERE NOT p.IsDeleted AND i.opportunity_id IS NOT NULL
