-- One row per case: every opportunity, and every lead that never converted, with the
-- attributes root-cause analysis cuts by (rep, team, region, product family, lead source,
-- deal size, discount) and the span of its events.
-- columns:
-- case_id: the opportunity Id, or the lead Id for a lead that never converted
-- case_type: 'opportunity' or 'lead'
-- opportunity_id: the opportunity (null for lead cases)
-- lead_id: the lead it came from, if any
-- account_id: the customer account
-- account_name: the customer's name
-- segment: the customer's segment (Enterprise, Mid-Market, SMB)
-- industry: the customer's (or lead's) industry
-- owner_id: the sales rep who owns the case
-- sales_rep: the sales rep's name
-- team: the rep's team (role)
-- region: the rep's region
-- product_family: product family of the first product line
-- lead_source: where the lead came from
-- amount: opportunity amount
-- discount_pct: discount % of the accepted (syncing) quote, 0 without one
-- is_won: closed won
-- is_closed: closed won or lost (for a lead: disqualified)
-- stage: current stage (for a lead: its status)
-- created_at: when the case started (opportunity or lead creation, UTC)
-- closed_on: close date of a closed opportunity
-- first_event_at: first event of the case
-- last_event_at: last event of the case
-- events: number of events of the case
WITH lead_of_opportunity AS (
    SELECT converted_opportunity_id AS opportunity_id, arg_min(lead_id, created_at) AS lead_id,
           arg_min(lead_source, created_at) AS lead_source
    FROM staging.stg_leads
    WHERE is_converted
    GROUP BY converted_opportunity_id
), event_span AS (
    SELECT case_id, min(timestamp) AS first_event_at, max(timestamp) AS last_event_at, count(*) AS events
    FROM activities.all_events
    GROUP BY case_id
)
SELECT
    o.opportunity_id AS case_id, 'opportunity' AS case_type, o.opportunity_id, lo.lead_id, o.account_id,
    a.Name AS account_name, a.Segment__c AS segment, a.Industry AS industry, o.owner_id, u.user_name AS sales_rep,
    u.team, u.region, o.product_family, coalesce(o.lead_source, lo.lead_source) AS lead_source, o.amount,
    o.discount_pct, o.is_won, o.is_closed, o.stage, o.created_at,
    CASE WHEN o.is_closed THEN o.close_date END AS closed_on,
    es.first_event_at, es.last_event_at, coalesce(es.events, 0) AS events
FROM staging.stg_opportunities AS o
LEFT JOIN lead_of_opportunity AS lo ON lo.opportunity_id = o.opportunity_id
LEFT JOIN raw.Account AS a ON a.Id = o.account_id AND NOT a.IsDeleted
LEFT JOIN staging.stg_users AS u ON u.user_id = o.owner_id
LEFT JOIN event_span AS es ON es.case_id = o.opportunity_id
UNION ALL
SELECT
    l.lead_id, 'lead', NULL, l.lead_id, NULL, NULL, NULL, l.industry, l.owner_id, u.user_name, u.team, u.region,
    NULL, l.lead_source, NULL, NULL, false, l.status = 'Closed - Not Converted', l.status, l.created_at, NULL,
    es.first_event_at, es.last_event_at, coalesce(es.events, 0)
FROM staging.stg_leads AS l
LEFT JOIN staging.stg_users AS u ON u.user_id = l.owner_id
LEFT JOIN event_span AS es ON es.case_id = l.lead_id
WHERE l.case_id = l.lead_id
