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
WITH waits AS (
    SELECT
        from_activity,
        to_activity,
        count(*) AS transitions,
        median(wait_seconds) / 3600 AS median_hours,
        avg(wait_seconds) / 3600 AS mean_hours,
        quantile_cont(wait_seconds, 0.9) / 3600 AS p90_hours,
        sum(wait_seconds) / 3600 AS total_wait_hours
    FROM mining.directly_follows
    GROUP BY from_activity, to_activity
),
-- Cases per pair from the variants, each pair once per variant: far cheaper than a distinct
-- count of case ids over every transition. list_distinct is much faster on text than on
-- structs, so a pair is keyed as text: the first activity's length, ':', then both names
-- (a key that decodes the same whatever characters the names hold).
variant_pairs AS (
    SELECT
        cases,
        unnest(list_distinct(list_transform(
            range(1, len(activities)),
            lambda i: length(activities[i]) || ':' || activities[i] || activities[i + 1]
        ))) AS pair_key
    FROM mining.variant_paths
),
pair_cases AS (
    SELECT pair_key, split_part(pair_key, ':', 1)::INTEGER AS from_length, sum(cases)::BIGINT AS cases
    FROM variant_pairs
    GROUP BY pair_key
),
decoded_pairs AS (
    SELECT
        substr(pair_key, length(from_length::VARCHAR) + 2, from_length) AS from_activity,
        substr(pair_key, length(from_length::VARCHAR) + 2 + from_length) AS to_activity,
        cases
    FROM pair_cases
)
SELECT
    w.from_activity,
    w.to_activity,
    w.transitions,
    c.cases,
    w.median_hours,
    w.mean_hours,
    w.p90_hours,
    w.total_wait_hours
FROM waits AS w
JOIN decoded_pairs AS c USING (from_activity, to_activity)
ORDER BY w.transitions DESC, w.from_activity, w.to_activity
