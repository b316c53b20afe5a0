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
-- wait_hours: hours until the next milestone event
-- path_step: the activity's step on the reference path (null when it is not on the path)
-- furthest_path_step: the furthest reference-path step the case had reached before this event
WITH milestones AS (
    SELECT e.case_id, e.activity, e.timestamp, e.event_order, p.step AS path_step
    FROM core.event_log AS e
    LEFT JOIN core.activity_catalogue AS c ON c.activity = e.activity
    LEFT JOIN mining.reference_path AS p ON p.activity = e.activity
    WHERE coalesce(c.family, '') <> 'touch'
)
SELECT
    case_id, activity, timestamp,
    row_number() OVER w AS step,
    lag(activity) OVER w AS previous_activity,
    lead(activity) OVER w AS next_activity,
    epoch(lead(timestamp) OVER w - timestamp) / 3600 AS wait_hours,
    path_step,
    max(path_step) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS furthest_path_step
FROM milestones
WINDOW w AS (PARTITION BY case_id ORDER BY event_order)
