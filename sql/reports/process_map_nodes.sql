-- The process map's nodes: each activity, how often it happens, in how many cases, and how
-- many cases start or end with it.
-- columns:
-- activity: the activity
-- events: how many times it happens
-- cases: in how many cases
-- start_cases: cases whose first event it is
-- end_cases: cases whose last event it is
-- median_service_hours: median time the activity takes, start to end, hours (null when the log records only its ends)
-- mean_service_hours: mean time the activity takes, hours (null likewise)
WITH activity_events AS (
    SELECT activity, count(*) AS events,
           median(epoch("timestamp" - started_at)) / 3600 AS median_service_hours,
           exact_avg(epoch("timestamp" - started_at)) / 3600 AS mean_service_hours
    FROM core.event_log
    GROUP BY activity
),
-- Cases, starts and ends from the variants (as activity codes): each variant counts its cases
-- once per activity.
variant_activities AS (
    SELECT cases, unnest(list_distinct(activity_codes)) AS activity_code FROM mining.variant_paths
),
code_cases AS (
    SELECT activity_code, sum(cases)::BIGINT AS cases FROM variant_activities GROUP BY 1
),
code_starts AS (
    SELECT activity_codes[1] AS activity_code, sum(cases)::BIGINT AS start_cases
    FROM mining.variant_paths GROUP BY 1
),
code_ends AS (
    SELECT activity_codes[-1] AS activity_code, sum(cases)::BIGINT AS end_cases
    FROM mining.variant_paths GROUP BY 1
),
activity_cases AS (
    SELECT
        a.activity,
        c.cases,
        coalesce(s.start_cases, 0) AS start_cases,
        coalesce(x.end_cases, 0) AS end_cases
    FROM mining.activity_codes AS a
    JOIN code_cases AS c USING (activity_code)
    LEFT JOIN code_starts AS s USING (activity_code)
    LEFT JOIN code_ends AS x USING (activity_code)
)
SELECT e.activity, e.events, c.cases, c.start_cases, c.end_cases, e.median_service_hours, e.mean_service_hours
FROM activity_events AS e
JOIN activity_cases AS c USING (activity)
ORDER BY e.events DESC, e.activity
