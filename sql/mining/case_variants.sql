-- Each case's variant (its sequence of activities, as activity codes) and throughput time. Each
-- case's events are gathered in one hash aggregation as numbers (position * 65536 + activity
-- code) and sorted inside their own short list, which is cheaper than sorting all events of the
-- log by case; core.event_log numbers each case's events 1, 2, 3, ... (event_order).
-- columns:
-- case_id: the case
-- activity_codes: the case's activities in order, as mining.activity_codes numbers (join
--   mining.variant_paths on it for the activity names)
-- events: number of events
-- started_at: first event
-- ended_at: last event
-- throughput_seconds: seconds from the first to the last event
WITH case_events AS (
    SELECT
        e.case_id,
        list(e.event_order * 65536 + c.activity_code) AS unordered_events,
        count(*) AS events,
        min(e.timestamp) AS started_at,
        max(e.timestamp) AS ended_at
    FROM core.event_log AS e
    JOIN mining.activity_codes AS c USING (activity)
    GROUP BY e.case_id
)
SELECT
    case_id,
    list_transform(list_sort(unordered_events), lambda e: (e % 65536)::USMALLINT) AS activity_codes,
    events,
    started_at,
    ended_at,
    epoch(ended_at - started_at) AS throughput_seconds
FROM case_events
