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
--   hours (mining.business_calendar), holidays left out
WITH clocked_events AS MATERIALIZED (
    -- Each event with the business clock (business seconds since the calendar's start) at its end.
    SELECT e.case_id, e.event_order, e.activity, e.timestamp, e.started_at,
           coalesce(c.seconds_before + least(epoch(e.timestamp - c.interval_start), c.seconds), 0) AS clock_end
    FROM core.event_log AS e
    ASOF LEFT JOIN mining.business_calendar AS c ON e.timestamp >= c.interval_start
), started_clocks AS (
    -- The clock at the start, for the events that record one (none in most logs: no second lookup).
    SELECT e.case_id, e.event_order,
           coalesce(c.seconds_before + least(epoch(e.started_at - c.interval_start), c.seconds), 0) AS clock_start
    FROM core.event_log AS e
    ASOF LEFT JOIN mining.business_calendar AS c ON e.started_at >= c.interval_start
    WHERE e.started_at IS NOT NULL
)
SELECT
    e.case_id,
    e.activity AS from_activity,
    n.activity AS to_activity,
    e.timestamp AS from_timestamp,
    n.timestamp AS to_timestamp,
    -- An activity with a recorded start waits until it starts, not until it ends: its own
    -- processing time is its service time, not a wait (pm4py's performance DFG with start times).
    greatest(epoch(coalesce(n.started_at, n.timestamp) - e.timestamp), 0) AS wait_seconds,
    greatest(coalesce(s.clock_start, n.clock_end) - e.clock_end, 0) AS business_wait_seconds
FROM clocked_events AS e
JOIN clocked_events AS n ON n.case_id = e.case_id AND n.event_order = e.event_order + 1
LEFT JOIN started_clocks AS s ON s.case_id = n.case_id AND s.event_order = n.event_order
