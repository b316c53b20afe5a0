-- One row per case: every opportunity, and every lead whose events are its own (never
-- converted, converted without an opportunity, or whose opportunity was deleted), with the
-- attributes root-cause analysis cuts by (rep, team, region, product family, lead source,
-- deal size, discount), where the mapping reads them from, and the span of its events.
-- columns:
-- case_id: the opportunity Id, or the lead Id for a lead case
-- case_type: 'opportunity' or 'lead'
-- opportunity_id: the opportunity (null for lead cases)
-- lead_id: the lead it came from, if any
-- account_id: the customer account
-- account_name: the customer's name
-- segment: the customer's segment (e.g. Enterprise, Mid-Market, SMB)
-- industry: the customer's (or lead's) industry
-- owner_id: the sales rep who owns the case
-- sales_rep: the sales rep's name
-- team: the rep's team
-- region: the rep's region
-- product_family: product family of the first product line
-- lead_source: where the lead came from
-- amount: opportunity amount
-- deal_size: the amount's band (the mapping's deal_size_bands)
-- list_deal_size: the band of the amount before the synced quote's discount: what the deal was
--   worth before its price was negotiated (a won deal's amount is its accepted quote's
--   discounted total, a lost deal keeps its undiscounted amount, so deal_size differs by outcome)
-- discount_pct: discount % of the accepted (syncing) quote, 0 without one
-- is_won: closed won
-- is_closed: closed won or lost (for a lead: disqualified, or converted without an opportunity)
-- stage: current stage (for a lead: its status)
-- loss_reason: why a lost deal was lost (where the org records it)
-- opening_stage: the stage the opportunity was created in
-- created_at: when the case started (opportunity or lead creation, UTC)
-- closed_on: close date of a closed opportunity
-- first_event_at: first event of the case in core.event_log
-- last_event_at: last event of the case in core.event_log
-- events: number of events of the case in core.event_log
WITH attributes AS (
    SELECT
        case_id,
        any_value(value) FILTER (WHERE attribute = 'segment') AS segment,
        any_value(value) FILTER (WHERE attribute = 'industry') AS industry,
        any_value(value) FILTER (WHERE attribute = 'team') AS team,
        any_value(value) FILTER (WHERE attribute = 'region') AS region,
        any_value(value) FILTER (WHERE attribute = 'product_family') AS product_family,
        any_value(value) FILTER (WHERE attribute = 'lead_source') AS lead_source,
        any_value(value) FILTER (WHERE attribute = 'loss_reason') AS loss_reason
    FROM staging.stg_case_attributes
    GROUP BY case_id
), opening_stage AS (
    -- Salesforce's first snapshot of the deal holds the stage it opened in; without
    -- snapshots, the stage its first stage change left.
    SELECT opportunity_id AS case_id, arg_min(stage, (created_at, snapshot_id)) AS stage
    FROM mapped.opportunity_snapshots
    WHERE NOT is_deleted AND stage IS NOT NULL
    GROUP BY opportunity_id
), first_stage_change AS (
    SELECT record_id AS case_id, arg_min(old_value, (changed_at, change_id)) AS stage
    FROM mapped.field_changes
    WHERE entity = 'opportunities' AND column_name = 'stage' AND old_value IS NOT NULL
    GROUP BY record_id
), event_span AS (
    SELECT case_id, min(timestamp) AS first_event_at, max(timestamp) AS last_event_at, count(*) AS events
    FROM core.event_log
    GROUP BY case_id
), closing_lead_statuses AS (
    SELECT value FROM mapped.value_meanings WHERE meaning = 'lead_disqualified'
)
SELECT
    c.case_id, c.case_type, c.opportunity_id, c.lead_id,
    c.account_id, acc.account_name, a.segment, a.industry, c.owner_id, u.user_name AS sales_rep, a.team,
    a.region, a.product_family, a.lead_source, o.amount,
    ds.band AS deal_size,
    ls.band AS list_deal_size,
    o.discount_pct,
    coalesce(o.is_won, false) AS is_won,
    CASE WHEN c.case_type = 'opportunity' THEN o.is_closed
         ELSE l.status IN (SELECT value FROM closing_lead_statuses) OR l.is_converted END AS is_closed,
    CASE WHEN c.case_type = 'opportunity' THEN o.stage ELSE l.status END AS stage,
    CASE WHEN o.is_closed AND NOT o.is_won THEN a.loss_reason END AS loss_reason,
    CASE WHEN c.case_type = 'opportunity' THEN coalesce(os.stage, fs.stage, o.stage) END AS opening_stage,
    c.created_at,
    CASE WHEN o.is_closed THEN o.close_date END AS closed_on,
    es.first_event_at, es.last_event_at, coalesce(es.events, 0) AS events
FROM staging.stg_cases AS c
LEFT JOIN staging.stg_opportunities AS o ON o.opportunity_id = c.opportunity_id
LEFT JOIN staging.stg_leads AS l ON c.case_type = 'lead' AND l.lead_id = c.lead_id
LEFT JOIN attributes AS a ON a.case_id = c.case_id
LEFT JOIN mapped.accounts AS acc ON acc.account_id = c.account_id AND NOT acc.is_deleted
LEFT JOIN staging.stg_users AS u ON u.user_id = c.owner_id
LEFT JOIN opening_stage AS os ON os.case_id = c.opportunity_id
LEFT JOIN first_stage_change AS fs ON fs.case_id = c.opportunity_id
LEFT JOIN event_span AS es ON es.case_id = c.case_id
LEFT JOIN mapped.deal_size_bands AS ds
  ON o.amount >= coalesce(ds.lower_bound, '-infinity'::DOUBLE) AND o.amount < coalesce(ds.upper_bound, 'infinity'::DOUBLE)
LEFT JOIN mapped.deal_size_bands AS ls
  ON o.amount / nullif(1 - coalesce(o.discount_pct, 0) / 100, 0) >= coalesce(ls.lower_bound, '-infinity'::DOUBLE)
 AND o.amount / nullif(1 - coalesce(o.discount_pct, 0) / 100, 0) < coalesce(ls.upper_bound, 'infinity'::DOUBLE)
