-- Quotes (standard or CPQ) that are not deleted, with their opportunity (the case).
-- columns:
-- quote_id: the quote's Id
-- opportunity_id: the quote's opportunity
-- created_at: when the quote was created (UTC)
-- created_by: who created it
-- status: current quote status
-- discount_pct: the quote's discount %
-- grand_total: the quoted total
-- is_syncing: the quote synced to (primary on) the opportunity
-- object_type: the Salesforce object of the quote (Quote, SBQQ__Quote__c, ...)
SELECT
    q.quote_id,
    q.opportunity_id,
    q.created_at,
    q.created_by,
    trim(q.status) AS status,
    q.discount_pct,
    q.grand_total,
    coalesce(q.is_primary, false) AS is_syncing,
    q.object_type
FROM mapped.quotes AS q
JOIN staging.stg_opportunities AS o ON o.opportunity_id = q.opportunity_id
WHERE NOT q.is_deleted
