-- The lead funnel (question 2): how many leads reach each step from Lead Created to Payment
-- Received, how many move on to a later step, and how long that takes; overall and by lead
-- source and region. A step a lead skips (a deal won without a quote, as every deal of an org
-- that does not quote) is not a drop-out: the lead moved on to the next step it reached.
-- columns:
-- dimension: 'all', 'lead_source' or 'region' (the lead owner's region)
-- dimension_value: the value of the dimension ('all' for the whole funnel)
-- step_order: position of the step in the funnel (1 = Lead Created)
-- step: the funnel step, an activity of the event log
-- entered: leads that reached the step
-- converted: of those, leads that reached a later step
-- dropped: leads that stopped at this step (still open ones included)
-- conversion_rate: converted / entered
-- median_days: median days from this step to the next one reached, over the leads that made it
WITH steps AS (
    -- One row per lead and step reached (five plain scans: unnesting a list of structs per lead
    -- was ten times slower).
    SELECT * FROM (
        SELECT lead_id, lead_source, region, 1 AS step_order, 'Lead Created' AS step,
               created_at AS reached_at, opportunity_created_at AS next_at
        FROM mining.lead_progress
        UNION ALL
        SELECT lead_id, lead_source, region, 2, 'Opportunity Created', opportunity_created_at,
               coalesce(first_presented_at, won_at, first_payment_at)
        FROM mining.lead_progress
        UNION ALL
        SELECT lead_id, lead_source, region, 3, 'Quote Presented', first_presented_at,
               coalesce(won_at, first_payment_at)
        FROM mining.lead_progress
        UNION ALL
        SELECT lead_id, lead_source, region, 4, 'Opportunity Closed Won', won_at, first_payment_at
        FROM mining.lead_progress
        UNION ALL
        SELECT lead_id, lead_source, region, 5, 'Payment Received', first_payment_at, NULL::TIMESTAMP
        FROM mining.lead_progress
    )
    WHERE reached_at IS NOT NULL
), by_dimension AS (
    SELECT
        CASE WHEN grouping(lead_source) = 0 THEN 'lead_source' WHEN grouping(region) = 0 THEN 'region'
             ELSE 'all' END AS dimension,
        coalesce(CASE WHEN grouping(lead_source) = 0 THEN lead_source WHEN grouping(region) = 0 THEN region
                      ELSE 'all' END, '(none)') AS dimension_value,
        step_order, any_value(step) AS step,
        count(*) AS entered,
        count(next_at) AS converted,
        median(epoch(next_at - reached_at)) / 86400 AS median_days
    FROM steps
    GROUP BY GROUPING SETS ((step_order), (step_order, lead_source), (step_order, region))
)
SELECT dimension, dimension_value, step_order, step, entered,
       CASE WHEN step_order < 5 THEN converted END AS converted,
       CASE WHEN step_order < 5 THEN entered - converted END AS dropped,
       CASE WHEN step_order < 5 THEN converted / entered END AS conversion_rate,
       median_days
FROM by_dimension
ORDER BY dimension <> 'all', dimension, dimension_value, step_order
