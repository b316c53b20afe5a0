-- The process map's nodes: each activity, how often it happens, in how many cases, and how
-- many cases start or end with it.
-- columns:
-- activity: the activity
-- events: how many times it happens
-- cases: in how many cases
-- start_cases: cases whose first event it is
-- end_cases: cases whose last event it is
WITH bounds AS (
    SELECT activities[1] AS first_activity, activities[-1] AS last_activity FROM mining.case_variants
)
SELECT
    e.activity,
    count(*) AS events,
    count(DISTINCT e.case_id) AS cases,
    (SELECT count(*) FROM bounds WHERE first_activity = e.activity) AS start_cases,
    (SELECT count(*) FROM bounds WHERE last_activity = e.activity) AS end_cases
FROM core.event_log AS e
GROUP BY e.activity
ORDER BY events DESC, e.activity
