-- Directly-follows pairs: every event with the next event of its case (core.event_log order),
-- and the waiting time between them. The base of the process map. A view: it has a row per
-- event and only the process map reads it, so it is computed when read rather than stored.
-- core.event_log numbers each case's events 1, 2, 3, ... (event_order), so an event's successor
-- is found by a hash join on (case, number + 1): cheaper than a window, which sorts every event.
-- materialized: view
-- columns:
-- case_id: the case
-- from_activity: the earlier activity
-- to_activity: the activity that directly follows it
-- from_timestamp: when the earlier activity happened
-- to_timestamp: when the following activity happened
-- wait_seconds: seconds from the end of the earlier activity to the start of the following one
--   (0 when the following one started before the earlier one ended)
-- business_wait_seconds: the same wait in business time: the seconds of it within the business
--   hours of the case's calendar (mining.case_calendars, mining.business_calendar), holidays left out
SELECT
    e.case_id,
    e.activity AS from_activity,
    n.activity AS to_activity,
    e.timestamp AS from_timestamp,
    n.timestamp AS to_timestamp,
    -- An activity with a recorded start waits until it starts, not until it ends: its own
    -- processing time is its service time, not a wait (pm4py's performance DFG with start times).
    greatest(epoch(n.waited_until - e.timestamp), 0) AS wait_seconds,
    -- The business clock of the case's calendar (mining.business_clock_days) at each end of the wait.
    greatest(
        coalesce(cn.clock + coalesce(list_sum(list_transform(cn.pieces, lambda p: greatest(least(epoch(n.waited_until), p.e) - p.s, 0))), 0), 0)
        - coalesce(ce.clock + coalesce(list_sum(list_transform(ce.pieces, lambda p: greatest(least(epoch(e.timestamp), p.e) - p.s, 0))), 0), 0),
        0
    ) AS business_wait_seconds
FROM core.event_log AS e
JOIN (
    SELECT case_id, event_order - 1 AS previous_order, activity, timestamp,
           coalesce(started_at, timestamp) AS waited_until
    FROM core.event_log
    WHERE event_order > 1
) AS n ON n.case_id = e.case_id AND n.previous_order = e.event_order
LEFT JOIN mining.case_calendars AS k ON k.case_id = e.case_id
LEFT JOIN mining.business_clock_days AS ce ON ce.calendar_id = k.calendar_id AND ce.utc_date = e.timestamp::DATE
LEFT JOIN mining.business_clock_days AS cn ON cn.calendar_id = k.calendar_id AND cn.utc_date = n.waited_until::DATE
