-- Billing invoices that are not deleted, with their order's opportunity and customer.
-- columns:
-- invoice_id: blng__Invoice__c Id
-- opportunity_id: the opportunity of the invoiced order (the case)
-- order_id: the invoiced order
-- account_id: the customer
-- invoice_date: invoice (posting) date
-- due_date: payment due date
-- sent_at: when the invoice was sent to the customer
-- invoice_status: Draft or Posted
-- payment_status: Unpaid, Partially Paid or Paid
-- total_amount: invoice total
-- balance: amount still open
-- invoice_type: New Business or Existing Business
-- owner_id: invoice owner (billing)
SELECT
    i.Id AS invoice_id,
    o.opportunity_id,
    i.blng__Order__c AS order_id,
    i.blng__Account__c AS account_id,
    i.blng__InvoiceDate__c AS invoice_date,
    i.blng__DueDate__c AS due_date,
    i.Sent_Date__c AS sent_at,
    trim(i.blng__InvoiceStatus__c) AS invoice_status,
    trim(i.blng__PaymentStatus__c) AS payment_status,
    i.blng__TotalAmount__c AS total_amount,
    i.blng__Balance__c AS balance,
    trim(i.Invoice_Type__c) AS invoice_type,
    i.OwnerId AS owner_id
FROM raw.blng__Invoice__c AS i
LEFT JOIN staging.stg_orders AS o ON o.order_id = i.blng__Order__c
WHERE NOT i.IsDeleted
