-- Each case's variant (its sequence of activities) and throughput time.
-- columns:
-- case_id: the case
-- activities: the case's activities in order
-- variant: the same sequence as text, activities joined by ' > '
-- events: number of events
-- started_at: first event
-- ended_at: last event
-- throughput_seconds: seconds from the first to the last event
WITH ordered AS (
    SELECT
        case_id,
        list(activity ORDER BY event_order) AS activities,
        count(*) AS events,
        min(timestamp) AS started_at,
        max(timestamp) AS ended_at
    FROM core.event_log
    GROUP BY case_id
)
SELECT
    case_id,
    activities,
    array_to_string(activities, ' > ') AS variant,
    events,
    started_at,
    ended_at,
    epoch(ended_at - started_at) AS throughput_seconds
FROM ordered
