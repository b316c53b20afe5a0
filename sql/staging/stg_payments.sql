-- Payments applied to invoices (and taken off them again), one row per allocation, with the
-- moment the customer paid. A payment's date is a date: the event takes the time the payment
-- was recorded when it was recorded that day, else the start of the payment's day (a payment
-- entered after it was received).
-- columns:
-- allocation_id: the allocation's Id (the payment's own Id where payments point at one invoice)
-- payment_id: the payment
-- invoice_id: the invoice it settles
-- opportunity_id: the invoice's opportunity (the case)
-- amount: amount allocated, in the corporate currency at the rate of the invoice it settles (the
--   customer pays the invoice's amount in its currency; the amount as it is in a single-currency org)
-- kind: 'allocation' (money applied to the invoice) or 'unallocation' (taken off it again)
-- received_at: when the customer paid (UTC; see above)
-- recorded_at: when the allocation was recorded
-- recorded_by: who recorded the payment
-- payment_object_type: the Salesforce object of the payment
-- original_amount: the amount allocated in its own currency
-- currency_code: its currency (null in a single-currency org)
WITH kinds AS (
    SELECT value, CASE meaning WHEN 'allocation' THEN 'allocation' ELSE 'unallocation' END AS kind
    FROM mapped.value_meanings WHERE meaning IN ('allocation', 'unallocation')
)
SELECT
    a.allocation_id,
    a.payment_id,
    a.invoice_id,
    i.opportunity_id,
    CASE WHEN a.currency_code IS NULL THEN a.amount
         WHEN a.currency_code = i.currency_code THEN a.amount / i.conversion_rate
         ELSE a.amount / cr.conversion_rate END AS amount,
    k.kind,
    CASE WHEN p.payment_date IS NULL OR p.payment_date = p.created_at::DATE THEN coalesce(p.created_at, a.created_at)
         ELSE p.payment_date::TIMESTAMP END AS received_at,
    a.created_at AS recorded_at,
    coalesce(p.created_by, a.created_by) AS recorded_by,
    coalesce(p.object_type, a.object_type) AS payment_object_type,
    a.amount AS original_amount,
    a.currency_code
FROM mapped.payment_allocations AS a
JOIN kinds AS k ON k.value = trim(a.allocation_type)
JOIN staging.stg_invoices AS i ON i.invoice_id = a.invoice_id
LEFT JOIN mapped.payments AS p ON p.payment_id = a.payment_id
LEFT JOIN staging.stg_currencies AS cr ON cr.iso_code = a.currency_code
WHERE NOT a.is_deleted AND NOT coalesce(p.is_deleted, false)
