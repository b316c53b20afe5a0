-- The event log without sales touches (calls, emails, meetings run alongside the process rather
-- than as steps of it), each event with its neighbours in the case and its place on the target
-- process's reference path: the basis of journeys and bottlenecks.
-- incremental: case_id
-- columns:
-- case_id: the case
-- activity: the activity
-- timestamp: when it happened
-- step: position among the case's milestone events (1 = first)
-- previous_activity: the case's previous milestone activity (null for the first)
-- next_activity: the case's next milestone activity (null for the last)
-- wait_hours: hours from this event to the start of the next milestone event (0 when that started earlier)
-- business_wait_hours: the same wait in business hours (mining.business_calendar: within the
--   business hours of the case's calendar, mining.case_calendars, holidays left out)
-- service_hours: hours the activity took, from its start to its end (null when only its end is recorded)
-- path_step: the activity's step on the reference path (null when it is not on the path)
-- previous_path_step: the previous milestone event's step on the reference path (null: none, or off the path)
-- furthest_path_step: the furthest reference-path step the case had reached before this event
WITH milestones AS (
    SELECT e.case_id, e.activity, e.timestamp, e.started_at, e.event_order, p.step AS path_step
    FROM core.event_log AS e
    LEFT JOIN core.activity_catalogue AS c ON c.activity = e.activity
    LEFT JOIN mining.reference_path AS p ON p.activity = e.activity
    WHERE coalesce(c.family, '') <> 'touch'
), clocked AS (
    -- The business clock of the case's calendar (mining.case_calendars, mining.business_clock_days:
    -- business seconds since the calendar's start) at each event's end and start.
    SELECT m.*,
           coalesce(ce.clock + coalesce(list_sum(list_transform(ce.pieces, lambda p: greatest(least(epoch(m.timestamp), p.e) - p.s, 0))), 0), 0) AS business_clock,
           coalesce(cs.clock + coalesce(list_sum(list_transform(cs.pieces, lambda p: greatest(least(epoch(coalesce(m.started_at, m.timestamp)), p.e) - p.s, 0))), 0), 0) AS business_clock_started
    FROM milestones AS m
    LEFT JOIN mining.case_calendars AS k ON k.case_id = m.case_id
    LEFT JOIN mining.business_clock_days AS ce ON ce.calendar_id = k.calendar_id AND ce.utc_date = m.timestamp::DATE
    LEFT JOIN mining.business_clock_days AS cs
      ON cs.calendar_id = k.calendar_id AND cs.utc_date = coalesce(m.started_at, m.timestamp)::DATE
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
    max(path_step) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS furthest_path_step,
    lag(path_step) OVER w AS previous_path_step
FROM clocked
WINDOW w AS (PARTITION BY case_id ORDER BY event_order)
