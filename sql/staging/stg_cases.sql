-- One row per case, before its events: every opportunity that exists, and every lead whose
-- events are its own (see stg_leads), with the records its attributes are read from.
-- columns:
-- case_id: the opportunity Id, or the lead Id for a lead case
-- case_type: 'opportunity' or 'lead'
-- opportunity_id: the opportunity (null for lead cases)
-- lead_id: the lead it came from, if any (the first one converted into it)
-- account_id: the customer (for a lead case: the account it was converted into, if any)
-- owner_id: the owner (sales rep) of the opportunity, or of the lead
-- product_id: the product of the opportunity's first product line
-- created_at: when the case started (opportunity or lead creation, UTC)
WITH lead_of_opportunity AS (
    SELECT case_id AS opportunity_id, arg_min(lead_id, created_at) AS lead_id
    FROM staging.stg_leads
    WHERE case_id <> lead_id
    GROUP BY case_id
)
SELECT o.opportunity_id AS case_id, 'opportunity' AS case_type, o.opportunity_id, lo.lead_id, o.account_id,
       o.owner_id, o.product_id, o.created_at
FROM staging.stg_opportunities AS o
LEFT JOIN lead_of_opportunity AS lo USING (opportunity_id)
UNION ALL
SELECT l.lead_id, 'lead', NULL, l.lead_id, l.converted_account_id, l.owner_id, NULL, l.created_at
FROM staging.stg_leads AS l
WHERE l.case_id = l.lead_id
