-- Each case's variant (its sequence of activities) and throughput time.
-- columns:
-- case_id: the case
-- activities: the case's activities in order
-- variant: the same sequence as text, activities joined by ' > '
-- events: number of events
-- started_at: first event
-- ended_at: last event
-- throughput_seconds: seconds from the first to the last event
SELECT
    case_id,
    list(activity ORDER BY event_order) AS activities,
    string_agg(activity, ' > ' ORDER BY event_order) AS variant,
    count(*) AS events,
    min(timestamp) AS started_at,
    max(timestamp) AS ended_at,
    epoch(max(timestamp) - min(timestamp)) AS throughput_seconds
FROM core.event_log
GROUP BY case_id
