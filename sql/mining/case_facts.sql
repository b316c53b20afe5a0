-- One row per case with what the reports count and cut by: the case's attributes, its deal-size
-- and discount bands, its milestones, its rework and its conformance with the target process.
-- columns:
-- case_id: the case
-- case_type: 'opportunity' or 'lead'
-- sales_rep: the sales rep who owns the case
-- team: the rep's team
-- region: the rep's region
-- product_family: product family of the first product line
-- lead_source: where the lead came from
-- segment: the customer's segment
-- account_name: the customer
-- amount: opportunity amount
-- deal_size: the amount's band (core.cases, from the mapping's deal_size_bands)
-- discount_pct: discount % of the accepted (syncing) quote, else of the latest quote (what was offered), else 0
-- discount_band: 'no discount' (0%), '0-10%', '10-20%', '20-30%' or '>30%' (upper bounds included); null without a quote
-- list_deal_size: the band of the amount before the synced quote's discount (core.cases): the
--   deal's size before the negotiation's outcome changed it
-- first_discount_band: discount_band of the first quote's discount: what was offered before any
--   customer answer or approval decision changed it (a rejected quote is re-issued at a deeper
--   discount, a rejected approval at a shallower one); null without a quote
-- loss_reason: why a lost deal was lost (where the org records it)
-- is_won: closed won
-- is_lost: closed lost
-- is_closed: closed (won or lost; for a lead: disqualified)
-- opportunity_created_at: Opportunity Created
-- first_quote_at: first Quote Created
-- first_presented_at: first Quote Presented
-- contract_signed_at: first Contract Signed
-- won_at: Opportunity Closed Won
-- lost_at: Opportunity Closed Lost
-- first_payment_at: first Payment Received
-- reached_proposal: the case reached Stage: Proposal/Price Quote
-- cycle_days: days from Opportunity Created to Opportunity Closed Won (won cases)
-- quote_versions: quotes created
-- quotes_presented: quote presentations
-- quotes_rejected: quotes the customer rejected
-- approval_requests: discount approvals requested
-- stage_regressions: moves back to an earlier stage
-- orders: sales orders (not counting reduction orders)
-- order_amendments: reduction orders correcting the case's orders
-- is_conformant: follows the target process so far (mining.case_conformance; null when not judged:
--   no event on its reference path)
-- fitness: alignment fitness against the target process
WITH milestones AS (
    SELECT
        case_id,
        min(timestamp) FILTER (WHERE activity = 'Opportunity Created') AS opportunity_created_at,
        min(timestamp) FILTER (WHERE activity = 'Quote Created') AS first_quote_at,
        min(timestamp) FILTER (WHERE activity = 'Quote Presented') AS first_presented_at,
        min(timestamp) FILTER (WHERE activity = 'Contract Signed') AS contract_signed_at,
        min(timestamp) FILTER (WHERE activity = 'Opportunity Closed Won') AS won_at,
        min(timestamp) FILTER (WHERE activity = 'Opportunity Closed Lost') AS lost_at,
        min(timestamp) FILTER (WHERE activity = 'Payment Received') AS first_payment_at,
        bool_or(activity = 'Stage: Proposal/Price Quote') AS reached_proposal,
        count(*) FILTER (WHERE activity = 'Quote Created') AS quote_versions,
        count(*) FILTER (WHERE activity = 'Quote Presented') AS quotes_presented,
        count(*) FILTER (WHERE activity = 'Quote Rejected') AS quotes_rejected,
        count(*) FILTER (WHERE activity = 'Discount Approval Requested') AS approval_requests,
        count(*) FILTER (WHERE activity = 'Order Created') AS orders,
        count(*) FILTER (WHERE activity = 'Order Amended') AS order_amendments
    FROM core.event_log
    GROUP BY case_id
), offered_discount AS (
    -- A lost deal has no syncing quote: the discount offered is the latest quote's.
    SELECT o.opportunity_id AS case_id,
           coalesce(any_value(q.discount_pct) FILTER (WHERE q.quote_id = o.synced_quote_id),
                    arg_max(q.discount_pct, (q.created_at, q.quote_id)), 0) AS discount_pct
    FROM staging.stg_opportunities AS o
    JOIN staging.stg_quotes AS q ON q.opportunity_id = o.opportunity_id
    GROUP BY o.opportunity_id
), first_discount AS (
    SELECT opportunity_id AS case_id, arg_min(coalesce(discount_pct, 0), (created_at, quote_id)) AS discount_pct
    FROM staging.stg_quotes
    GROUP BY opportunity_id
), stage_orders AS (
    SELECT DISTINCT stage, stage_order FROM mining.stage_visits
), stage_regressions AS (
    -- A stage change back to a stage that comes before the one it left, in the order the org's
    -- deals go through its stages (mining.stage_visits: an org's own stages too).
    SELECT e.case_id, count(*) AS stage_regressions
    FROM core.event_log AS e
    JOIN stage_orders AS new_stage ON new_stage.stage = trim(e.new_value)
    JOIN stage_orders AS old_stage ON old_stage.stage = trim(e.old_value)
    WHERE e.activity LIKE 'Stage: %' AND new_stage.stage_order < old_stage.stage_order
    GROUP BY e.case_id
)
SELECT
    c.case_id, c.case_type, c.sales_rep, c.team, c.region, c.product_family, c.lead_source, c.segment,
    c.account_name, c.amount,
    c.deal_size,
    CASE WHEN c.case_type = 'opportunity' THEN coalesce(od.discount_pct, 0) END AS discount_pct,
    CASE WHEN od.discount_pct IS NULL THEN NULL WHEN od.discount_pct = 0 THEN 'no discount'
         WHEN od.discount_pct <= 10 THEN '0-10%' WHEN od.discount_pct <= 20 THEN '10-20%'
         WHEN od.discount_pct <= 30 THEN '20-30%' ELSE '>30%' END AS discount_band,
    c.list_deal_size,
    CASE WHEN fd.discount_pct IS NULL THEN NULL WHEN fd.discount_pct = 0 THEN 'no discount'
         WHEN fd.discount_pct <= 10 THEN '0-10%' WHEN fd.discount_pct <= 20 THEN '10-20%'
         WHEN fd.discount_pct <= 30 THEN '20-30%' ELSE '>30%' END AS first_discount_band,
    c.loss_reason, c.is_won, c.is_closed AND NOT c.is_won AND c.case_type = 'opportunity' AS is_lost, c.is_closed,
    m.opportunity_created_at, m.first_quote_at, m.first_presented_at, m.contract_signed_at, m.won_at, m.lost_at,
    m.first_payment_at, coalesce(m.reached_proposal, false) AS reached_proposal,
    epoch(m.won_at - m.opportunity_created_at) / 86400 AS cycle_days,
    coalesce(m.quote_versions, 0) AS quote_versions, coalesce(m.quotes_presented, 0) AS quotes_presented,
    coalesce(m.quotes_rejected, 0) AS quotes_rejected, coalesce(m.approval_requests, 0) AS approval_requests,
    coalesce(r.stage_regressions, 0) AS stage_regressions, coalesce(m.orders, 0) AS orders,
    coalesce(m.order_amendments, 0) AS order_amendments,
    cc.is_conformant, cc.fitness
FROM core.cases AS c
LEFT JOIN milestones AS m ON m.case_id = c.case_id
LEFT JOIN offered_discount AS od ON od.case_id = c.case_id
LEFT JOIN first_discount AS fd ON fd.case_id = c.case_id AND c.case_type = 'opportunity'
LEFT JOIN stage_regressions AS r ON r.case_id = c.case_id
LEFT JOIN mining.case_conformance AS cc ON cc.case_id = c.case_id
