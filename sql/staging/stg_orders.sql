-- Orders that are not deleted, with their opportunity; reduction orders point at the order they correct.
-- columns:
-- order_id: Salesforce Order Id
-- opportunity_id: the order's opportunity (the case), through the original order for reductions
-- contract_id: the contract the order fulfils
-- created_at: when the order was created (UTC)
-- created_by: who created it
-- activated_at: when it was activated
-- activated_by: who activated it
-- status: current status
-- total_amount: order total (negative for reductions)
-- is_reduction: a reduction (amendment) order
-- original_order_id: the order a reduction corrects
SELECT
    ord.Id AS order_id,
    coalesce(ord.OpportunityId, original.OpportunityId) AS opportunity_id,
    ord.ContractId AS contract_id,
    ord.CreatedDate AS created_at,
    ord.CreatedById AS created_by,
    ord.ActivatedDate AS activated_at,
    ord.ActivatedById AS activated_by,
    trim(ord.Status) AS status,
    ord.TotalAmount AS total_amount,
    coalesce(ord.IsReductionOrder, false) AS is_reduction,
    ord.OriginalOrderId AS original_order_id
FROM raw."Order" AS ord
LEFT JOIN raw."Order" AS original ON original.Id = ord.OriginalOrderId
WHERE NOT ord.IsDeleted
