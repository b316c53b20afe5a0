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
-- total_amount: order total (negative for reductions)
-- is_reduction: a reduction (amendment) order
-- original_order_id: the order a reduction corrects
-- object_type: the Salesforce object of the order
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
    l.total_amount,
    coalesce(l.is_reduction, false) AS is_reduction,
    l.original_order_id,
    l.object_type
FROM linked AS l
LEFT JOIN staging.stg_opportunities AS o ON o.opportunity_id = l.linked_opportunity_id
