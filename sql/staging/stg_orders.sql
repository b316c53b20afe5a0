-- Orders that are not deleted, tied to their opportunity: the order's own lookup, else its
-- quote's opportunity (CPQ), else that of the order a reduction corrects. An order whose
-- opportunity no longer exists has no case (opportunity_id is null).
-- columns:
-- order_id: Salesforce Order Id
-- opportunity_id: the order's opportunity (the case)
-- contract_id: the contract the order fulfils
-- quote_id: the quote it was ordered from (CPQ)
-- created_at: when the order was created (UTC)
-- created_by: who created it
-- activated_at: when it was activated
-- activated_by: who activated it
-- status: current status
-- total_amount: order total (negative for reductions) in the corporate currency, at the rate on
--   the day the order was created (the amount as it is in a single-currency org)
-- is_reduction: a reduction (amendment) order
-- original_order_id: the order a reduction corrects
-- object_type: the Salesforce object of the order
-- original_total_amount: the total in the order's own currency
-- currency_code: the order's currency (null in a single-currency org)
WITH linked AS (
    SELECT ord.*,
           coalesce(ord.opportunity_id, q.opportunity_id, original.opportunity_id, original_quote.opportunity_id)
               AS linked_opportunity_id
    FROM mapped.orders AS ord
    LEFT JOIN mapped.quotes AS q ON q.quote_id = ord.quote_id
    LEFT JOIN mapped.orders AS original ON original.order_id = ord.original_order_id
    LEFT JOIN mapped.quotes AS original_quote ON original_quote.quote_id = original.quote_id
    WHERE NOT ord.is_deleted
)
SELECT
    l.order_id,
    o.opportunity_id,
    l.contract_id,
    l.quote_id,
    l.created_at,
    l.created_by,
    l.activated_at,
    l.activated_by,
    trim(l.status) AS status,
    CASE WHEN l.currency_code IS NULL THEN l.total_amount
         ELSE l.total_amount / CASE WHEN dr.iso_code IS NOT NULL AND (dr.next_start_date IS NULL OR l.created_at::DATE < dr.next_start_date)
                            THEN dr.conversion_rate ELSE cr.conversion_rate END END AS total_amount,
    coalesce(l.is_reduction, false) AS is_reduction,
    l.original_order_id,
    l.object_type,
    l.total_amount AS original_total_amount,
    l.currency_code
FROM linked AS l
LEFT JOIN staging.stg_opportunities AS o ON o.opportunity_id = l.linked_opportunity_id
LEFT JOIN staging.stg_currencies AS cr ON cr.iso_code = l.currency_code
ASOF LEFT JOIN staging.stg_dated_rates AS dr ON dr.iso_code = l.currency_code AND l.created_at::DATE >= dr.start_date
