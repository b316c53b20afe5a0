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
SELECT
    from_activity,
    to_activity,
    count(*) AS transitions,
    count(DISTINCT case_id) AS cases,
    median(wait_seconds) / 3600 AS median_hours,
    avg(wait_seconds) / 3600 AS mean_hours,
    quantile_cont(wait_seconds, 0.9) / 3600 AS p90_hours,
    sum(wait_seconds) / 3600 AS total_wait_hours
FROM mining.directly_follows
GROUP BY from_activity, to_activity
ORDER BY transitions DESC, from_activity, to_activity
