-- Each case's variant (its sequence of activities) and throughput time. Each case's events are
-- gathered in one hash aggregation and put in order inside their own short list (list_sort on
-- event_order), which is cheaper than sorting all events of the log by case.
-- columns:
-- case_id: the case
-- activities: the case's activities in order (join mining.variant_paths on it for the variant)
-- events: number of events
-- started_at: first event
-- ended_at: last event
-- throughput_seconds: seconds from the first to the last event
WITH case_events AS (
    SELECT
        case_id,
        list({'event_order': event_order, 'activity': activity}) AS unordered_events,
        count(*) AS events,
        min(timestamp) AS started_at,
        max(timestamp) AS ended_at
    FROM core.event_log
    GROUP BY case_id
)
SELECT
    case_id,
    list_transform(list_sort(unordered_events), lambda e: e.activity) AS activities,
    events,
    started_at,
    ended_at,
    epoch(ended_at - started_at) AS throughput_seconds
FROM case_events
