-- The process map's nodes: each activity, how often it happens, in how many cases, and how
-- many cases start or end with it.
-- columns:
-- activity: the activity
-- events: how many times it happens
-- cases: in how many cases
-- start_cases: cases whose first event it is
-- end_cases: cases whose last event it is
WITH activity_events AS (
    SELECT activity, count(*) AS events
    FROM core.event_log
    GROUP BY activity
),
-- Cases, starts and ends from the variants: each variant counts its cases once per activity.
variant_activities AS (
    SELECT cases, unnest(list_distinct(activities)) AS activity FROM mining.variant_paths
),
activity_cases AS (
    SELECT activity, sum(cases)::BIGINT AS cases FROM variant_activities GROUP BY activity
),
starts AS (
    SELECT activities[1] AS activity, sum(cases)::BIGINT AS start_cases
    FROM mining.variant_paths GROUP BY 1
),
ends AS (
    SELECT activities[-1] AS activity, sum(cases)::BIGINT AS end_cases
    FROM mining.variant_paths GROUP BY 1
)
SELECT
    e.activity,
    e.events,
    c.cases,
    coalesce(s.start_cases, 0) AS start_cases,
    coalesce(x.end_cases, 0) AS end_cases
FROM activity_events AS e
JOIN activity_cases AS c USING (activity)
LEFT JOIN starts AS s USING (activity)
LEFT JOIN ends AS x USING (activity)
ORDER BY e.events DESC, e.activity
