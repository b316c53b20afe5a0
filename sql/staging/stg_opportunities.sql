-- Opportunities that are not deleted, with owner, team, region, product family and discount.
-- columns:
-- opportunity_id: Salesforce Opportunity Id (the case id)
-- account_id: the customer account
-- owner_id: the current owner (sales rep)
-- created_at: when the opportunity was created (UTC)
-- created_by: who created it
-- stage: current stage
-- amount: current amount
-- close_date: current close date
-- is_closed: closed won or lost
-- is_won: closed won
-- opportunity_type: New Business or Existing Business
-- lead_source: lead source carried from the lead
-- product_family: family of the opportunity's first product line
-- discount_pct: discount % of the syncing (accepted) quote, 0 without one
-- synced_quote_id: the quote synced to the opportunity
WITH first_line AS (
    SELECT OpportunityId AS opportunity_id, arg_min(Product2Id, Id) AS product_id
    FROM raw.OpportunityLineItem
    WHERE NOT IsDeleted
    GROUP BY OpportunityId
), synced_quote AS (
    SELECT OpportunityId AS opportunity_id, arg_max(Id, LastModifiedDate) AS quote_id,
           arg_max(Discount, LastModifiedDate) AS discount
    FROM raw.Quote
    WHERE NOT IsDeleted AND IsSyncing
    GROUP BY OpportunityId
)
SELECT
    o.Id AS opportunity_id,
    o.AccountId AS account_id,
    o.OwnerId AS owner_id,
    o.CreatedDate AS created_at,
    o.CreatedById AS created_by,
    trim(o.StageName) AS stage,
    o.Amount AS amount,
    o.CloseDate AS close_date,
    coalesce(o.IsClosed, false) AS is_closed,
    coalesce(o.IsWon, false) AS is_won,
    trim(o.Type) AS opportunity_type,
    trim(o.LeadSource) AS lead_source,
    trim(product.Family) AS product_family,
    coalesce(sq.discount, 0) AS discount_pct,
    sq.quote_id AS synced_quote_id
FROM raw.Opportunity AS o
LEFT JOIN first_line AS fl ON fl.opportunity_id = o.Id
LEFT JOIN raw.Product2 AS product ON product.Id = fl.product_id
LEFT JOIN synced_quote AS sq ON sq.opportunity_id = o.Id
WHERE NOT o.IsDeleted
