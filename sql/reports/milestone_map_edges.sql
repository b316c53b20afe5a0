-- The milestone map's edges: the directly-follows graph of the log without sales touches
-- (mining.milestone_events), so each milestone is followed by the next milestone of its case,
-- however many calls, emails and meetings came between them. Same columns as
-- reports.process_map_edges, which draws the whole log.
-- columns:
-- from_activity: the earlier activity
-- to_activity: the activity that directly follows it
-- transitions: how many times the pair occurs
-- cases: in how many cases
-- median_hours: median wait between the two, hours
-- mean_hours: mean wait, hours
-- p90_hours: 90th percentile wait, hours
-- total_wait_hours: all the waiting this transition adds up to, hours
-- median_business_hours: median wait in business hours (within the business hours of
--   each case's own calendar, mining.case_calendars, holidays left out)
-- mean_business_hours: mean wait, business hours
-- p90_business_hours: 90th percentile wait, business hours
-- total_business_hours: all the waiting this transition adds up to, business hours
WITH transitions AS (
    SELECT
        activity AS from_activity,
        next_activity AS to_activity,
        count(*) AS transitions,
        count(DISTINCT case_id) AS cases,
        -- Both quantiles of each wait from one sort (the median is the 0.5 quantile).
        quantile_cont(wait_hours, [0.5, 0.9]) AS wait_quantiles,
        exact_avg(wait_hours) AS mean_hours,
        exact_sum(wait_hours) AS total_wait_hours,
        quantile_cont(business_wait_hours, [0.5, 0.9]) AS business_quantiles,
        exact_avg(business_wait_hours) AS mean_business_hours,
        exact_sum(business_wait_hours) AS total_business_hours
    FROM mining.milestone_events
    WHERE next_activity IS NOT NULL
    GROUP BY activity, next_activity
)
SELECT from_activity, to_activity, transitions, cases, wait_quantiles[1] AS median_hours, mean_hours,
       wait_quantiles[2] AS p90_hours, total_wait_hours,
       business_quantiles[1] AS median_business_hours, mean_business_hours,
       business_quantiles[2] AS p90_business_hours, total_business_hours
FROM transitions
ORDER BY transitions DESC, from_activity, to_activity
