-- Quotes that are not deleted, with their opportunity (the case).
-- columns:
-- quote_id: Salesforce Quote Id
-- opportunity_id: the quote's opportunity
-- created_at: when the quote was created (UTC)
-- created_by: who created it
-- status: current quote status
-- discount_pct: the quote's discount %
-- grand_total: the quoted total
-- is_syncing: the quote synced to the opportunity
SELECT
    q.Id AS quote_id,
    q.OpportunityId AS opportunity_id,
    q.CreatedDate AS created_at,
    q.CreatedById AS created_by,
    trim(q.Status) AS status,
    q.Discount AS discount_pct,
    q.GrandTotal AS grand_total,
    coalesce(q.IsSyncing, false) AS is_syncing
FROM raw.Quote AS q
JOIN staging.stg_opportunities AS o ON o.opportunity_id = q.OpportunityId
WHERE NOT q.IsDeleted
