-- The process map's edges (directly-follows graph): how often each activity is directly
-- followed by another, in how many cases, and how long the wait between them is.
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
WITH waits AS (
    SELECT
        from_activity,
        to_activity,
        count(*) AS transitions,
        -- Both quantiles of each wait from one sort (the median is the 0.5 quantile).
        quantile_cont(wait_seconds, [0.5, 0.9]) AS wait_quantiles,
        exact_avg(wait_seconds) / 3600 AS mean_hours,
        exact_sum(wait_seconds) / 3600 AS total_wait_hours,
        quantile_cont(business_wait_seconds, [0.5, 0.9]) AS business_quantiles,
        exact_avg(business_wait_seconds) / 3600 AS mean_business_hours,
        exact_sum(business_wait_seconds) / 3600 AS total_business_hours
    FROM mining.directly_follows
    GROUP BY from_activity, to_activity
),
-- Cases per pair from the variants, each pair once per variant: far cheaper than a distinct
-- count of case ids over every transition. A pair of activity codes is one integer.
variant_pairs AS (
    SELECT
        cases,
        unnest(list_distinct(list_transform(
            range(1, len(activity_codes)),
            lambda i: activity_codes[i]::BIGINT * 65536 + activity_codes[i + 1]
        ))) AS pair_code
    FROM mining.variant_paths
),
pair_cases AS (
    SELECT pair_code // 65536 AS from_code, pair_code % 65536 AS to_code, sum(cases)::BIGINT AS cases
    FROM variant_pairs
    GROUP BY pair_code
),
decoded_pairs AS (
    SELECT f.activity AS from_activity, t.activity AS to_activity, p.cases
    FROM pair_cases AS p
    JOIN mining.activity_codes AS f ON f.activity_code = p.from_code
    JOIN mining.activity_codes AS t ON t.activity_code = p.to_code
)
SELECT
    w.from_activity,
    w.to_activity,
    w.transitions,
    c.cases,
    w.wait_quantiles[1] / 3600 AS median_hours,
    w.mean_hours,
    w.wait_quantiles[2] / 3600 AS p90_hours,
    w.total_wait_hours,
    w.business_quantiles[1] / 3600 AS median_business_hours,
    w.mean_business_hours,
    w.business_quantiles[2] / 3600 AS p90_business_hours,
    w.total_business_hours
FROM waits AS w
JOIN decoded_pairs AS c USING (from_activity, to_activity)
ORDER BY w.transitions DESC, w.from_activity, w.to_activity
