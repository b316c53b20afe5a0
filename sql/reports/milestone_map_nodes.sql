-- The milestone map's nodes: each activity of the log without sales touches
-- (mining.milestone_events), how often it happens, in how many cases, and how many cases start
-- or end with it among their milestones. Same columns as reports.process_map_nodes, which
-- counts the whole log.
-- columns:
-- activity: the activity
-- events: how many times it happens
-- cases: in how many cases
-- start_cases: cases whose first event it is
-- end_cases: cases whose last event it is
-- median_service_hours: median time the activity takes, start to end, hours (null when the log records only its ends)
-- mean_service_hours: mean time the activity takes, hours (null likewise)
SELECT
    activity,
    count(*) AS events,
    count(DISTINCT case_id) AS cases,
    count(*) FILTER (WHERE step = 1) AS start_cases,
    count(*) FILTER (WHERE next_activity IS NULL) AS end_cases,
    median(service_hours) AS median_service_hours,
    exact_avg(service_hours) AS mean_service_hours
FROM mining.milestone_events
GROUP BY activity
ORDER BY events DESC, activity
