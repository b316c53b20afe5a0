-- Each lead's way through the funnel: when it was captured, and when its case reached the next
-- milestones. A lead counts as converted when its case is an opportunity (one that exists):
-- the one definition behind the lead funnel and the conversion KPI.
-- columns:
-- lead_id: the lead
-- lead_source: where it came from
-- region: the lead owner's region
-- created_at: Lead Created
-- opportunity_created_at: Opportunity Created of its case (null: not converted into an opportunity)
-- first_presented_at: first Quote Presented of its case
-- won_at: Opportunity Closed Won of its case
-- first_payment_at: first Payment Received of its case
SELECT
    l.lead_id, l.lead_source, u.region, l.created_at,
    f.opportunity_created_at, f.first_presented_at, f.won_at, f.first_payment_at
FROM staging.stg_leads AS l
LEFT JOIN staging.stg_users AS u ON u.user_id = l.owner_id
LEFT JOIN mining.case_facts AS f ON f.case_id = l.case_id AND f.case_type = 'opportunity'
