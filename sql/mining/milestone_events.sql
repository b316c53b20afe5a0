-- The event log without sales touches (calls, emails, meetings run alongside the process rather
-- than as steps of it), each event with its neighbours in the case and its place on the target
-- process's reference path: the basis of journeys and bottlenecks.
-- columns:
-- case_id: the case
-- activity: the activity
-- timestamp: when it happened
-- step: position among the case's milestone events (1 = first)
-- previous_activity: the case's previous milestone activity (null for the first)
-- next_activity: the case's next milestone activity (null for the last)
-- wait_hours: hours from this event to the start of the next milestone event (0 when that started earlier)
-- business_wait_hours: the same wait in business hours (mining.business_calendar: within the
--   business hours, holidays left out)
-- service_hours: hours the activity took, from its start to its end (null when only its end is recorded)
-- path_step: the activity's step on the reference path (null when it is not on the path)
-- furthest_path_step: the furthest reference-path step the case had reached before this event
WITH milestones AS (
    SELECT e.case_id, e.activity, e.timestamp, e.started_at, e.event_order, p.step AS path_step
    FROM core.event_log AS e
    LEFT JOIN core.activity_catalogue AS c ON c.activity = e.activity
    LEFT JOIN mining.reference_path AS p ON p.activity = e.activity
    WHERE coalesce(c.family, '') <> 'touch'
), clocked_milestones AS (
    -- The business clock (business seconds since the calendar's start) at each event's end, and
    -- at its start for the events that record one (none in most logs: no second lookup).
    SELECT m.*,
           coalesce(ce.seconds_before + least(epoch(m.timestamp - ce.interval_start), ce.seconds), 0)
               AS business_clock
    FROM milestones AS m
    ASOF LEFT JOIN mining.business_calendar AS ce ON m.timestamp >= ce.interval_start
), started_clocks AS (
    SELECT m.case_id, m.event_order,
           coalesce(cs.seconds_before + least(epoch(m.started_at - cs.interval_start), cs.seconds), 0)
               AS business_clock_started
    FROM milestones AS m
    ASOF LEFT JOIN mining.business_calendar AS cs ON m.started_at >= cs.interval_start
    WHERE m.started_at IS NOT NULL
), clocked AS (
    SELECT c.*, coalesce(s.business_clock_started, c.business_clock) AS business_clock_started
    FROM clocked_milestones AS c
    LEFT JOIN started_clocks AS s USING (case_id, event_order)
)
SELECT
    case_id, activity, timestamp,
    row_number() OVER w AS step,
    lag(activity) OVER w AS previous_activity,
    lead(activity) OVER w AS next_activity,
    CASE WHEN lead(timestamp) OVER w IS NOT NULL
         THEN greatest(epoch(coalesce(lead(started_at) OVER w, lead(timestamp) OVER w) - timestamp), 0) / 3600
    END AS wait_hours,
    CASE WHEN lead(timestamp) OVER w IS NOT NULL
         THEN greatest(lead(business_clock_started) OVER w - business_clock, 0) / 3600
    END AS business_wait_hours,
    epoch(timestamp - started_at) / 3600 AS service_hours,
    path_step,
    max(path_step) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS furthest_path_step
FROM clocked
WINDOW w AS (PARTITION BY case_id ORDER BY event_order)
