-- Bottlenecks (questions 1 and 8): the transitions between milestones and the opportunity stages
-- ranked by the waiting time they add, i.e. the hours by which each occurrence exceeds the
-- typical (median) wait of that transition or stage, summed; with the attribute value that
-- concentrates the added wait most beyond its share of the occurrences.
-- columns:
-- bottleneck_rank: 1 for the transition or stage adding the most waiting time
-- kind: 'transition' (milestone to next milestone) or 'stage' (time in an opportunity stage)
-- from_activity: the transition's first activity, or the stage ('Stage: ...')
-- to_activity: the transition's next activity (null for a stage)
-- occurrences: times it happened (finished ones)
-- cases: cases it happened in
-- median_hours: typical wait
-- p90_hours: 90th percentile of the wait
-- total_wait_hours: all waiting time spent in it
-- added_wait_hours: waiting beyond the typical wait, summed over occurrences
-- share_of_added_wait: added_wait_hours / the added wait of all transitions or all stages (same kind)
-- concentrated_in: the attribute (sales_rep, team, region, ...) whose value concentrates the added wait (top 20 bottlenecks)
-- concentrated_value: that value
-- value_share_of_added_wait: the value's share of the added wait
-- value_share_of_occurrences: the value's share of the occurrences
-- median_business_hours: typical wait in business hours (within the business hours of
--   each case's own calendar, mining.case_calendars, holidays left out)
-- p90_business_hours: 90th percentile of the wait, business hours
-- total_business_hours: all waiting time spent in it, business hours
-- added_business_hours: business hours beyond the typical business-hours wait, summed over
--   occurrences (the ranking is by calendar time, added_wait_hours)
WITH occurrences AS (
    SELECT 'transition' AS kind, activity AS from_activity, next_activity AS to_activity, case_id,
           wait_hours AS hours, business_wait_hours AS business_hours
    FROM mining.milestone_events
    WHERE next_activity IS NOT NULL
    UNION ALL
    SELECT 'stage', 'Stage: ' || stage, '', case_id, days * 24, business_hours
    FROM mining.stage_visits
    WHERE days IS NOT NULL
), typical AS (
    -- One row per transition or stage with a small number, so the millions of occurrences are
    -- keyed by an integer below rather than by three names.
    SELECT * EXCLUDE (wait_quantiles), wait_quantiles[1] AS median_hours, wait_quantiles[2] AS p90_hours
    FROM (
        SELECT row_number() OVER (ORDER BY kind, from_activity, to_activity) AS bottleneck_id,
               kind, from_activity, nullif(to_activity, '') AS to_activity, count(*) AS occurrences,
               -- Both quantiles of each wait from one sort (the median is the 0.5 quantile).
               quantile_cont(hours, [0.5, 0.9]) AS wait_quantiles,
               exact_sum(hours) AS total_wait_hours,
               quantile_cont(business_hours, [0.5, 0.9]) AS business_quantiles,
               exact_sum(business_hours) AS total_business_hours
        FROM occurrences
        GROUP BY kind, from_activity, to_activity
    )
), per_case AS (
    -- Each bottleneck's occurrences summed per case: the cases it happened in, and the rows the
    -- attribute breakdown needs.
    SELECT t.bottleneck_id, o.case_id, count(*) AS occurrences,
           exact_sum(greatest(o.hours - t.median_hours, 0)) AS excess_hours,
           exact_sum(greatest(o.business_hours - t.business_quantiles[1], 0)) AS excess_business_hours
    FROM occurrences AS o
    JOIN typical AS t
      ON t.kind = o.kind AND t.from_activity = o.from_activity
     AND coalesce(t.to_activity, '') = o.to_activity
    GROUP BY t.bottleneck_id, o.case_id
), summary AS (
    SELECT t.*, p.cases, p.added_wait_hours, p.added_business_hours
    FROM typical AS t
    JOIN (
        SELECT bottleneck_id, count(*) AS cases, exact_sum(excess_hours) AS added_wait_hours,
               exact_sum(excess_business_hours) AS added_business_hours
        FROM per_case GROUP BY bottleneck_id
    ) AS p USING (bottleneck_id)
), ranked AS (
    SELECT *, row_number() OVER (ORDER BY added_wait_hours DESC, kind, from_activity, to_activity) AS bottleneck_rank,
           added_wait_hours / nullif(sum(added_wait_hours::DECIMAL(38, 12)) OVER (PARTITION BY kind), 0) AS share_of_added_wait
    FROM summary
), top_per_case AS (
    -- Only for the 20 biggest bottlenecks: the breakdown multiplies rows by the attributes.
    SELECT r.bottleneck_rank, p.case_id, p.excess_hours, p.occurrences
    FROM per_case AS p
    JOIN ranked AS r USING (bottleneck_id)
    WHERE r.bottleneck_rank <= 20
), concentration AS (
    SELECT p.bottleneck_rank, d.dimension, d.dimension_value,
           exact_sum(p.excess_hours) / nullif(any_value(r.added_wait_hours), 0) AS value_share_of_added_wait,
           sum(p.occurrences) / any_value(r.occurrences) AS value_share_of_occurrences
    FROM top_per_case AS p
    JOIN mining.case_dimensions AS d USING (case_id)
    JOIN ranked AS r USING (bottleneck_rank)
    GROUP BY p.bottleneck_rank, d.dimension, d.dimension_value
), concentration_ranked AS (
    -- The value whose share of the added wait most exceeds its share of the occurrences; ties
    -- (to 1e-9) go to the first in text order, so the same records always name the same value.
    SELECT *, row_number() OVER (
        PARTITION BY bottleneck_rank
        ORDER BY round(value_share_of_added_wait - value_share_of_occurrences, 9) DESC, dimension, dimension_value
    ) AS concentration_rank
    FROM concentration
), top_concentration AS (
    SELECT bottleneck_rank, dimension AS concentrated_in, dimension_value AS concentrated_value,
           value_share_of_added_wait, value_share_of_occurrences
    FROM concentration_ranked
    WHERE concentration_rank = 1
)
SELECT r.bottleneck_rank, r.kind, r.from_activity, r.to_activity, r.occurrences, r.cases, r.median_hours,
       r.p90_hours, r.total_wait_hours, r.added_wait_hours, r.share_of_added_wait, t.concentrated_in,
       t.concentrated_value, t.value_share_of_added_wait, t.value_share_of_occurrences,
       r.business_quantiles[1] AS median_business_hours, r.business_quantiles[2] AS p90_business_hours,
       r.total_business_hours, r.added_business_hours
FROM ranked AS r
LEFT JOIN top_concentration AS t USING (bottleneck_rank)
ORDER BY r.bottleneck_rank
