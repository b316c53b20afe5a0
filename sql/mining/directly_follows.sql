-- Directly-follows pairs: every event with the next event of its case (core.event_log order),
-- and the waiting time between them. The base of the process map. A view: it has a row per
-- event and only the process map reads it, so it is computed when read rather than stored.
-- materialized: view
-- columns:
-- case_id: the case
-- from_activity: the earlier activity
-- to_activity: the activity that directly follows it
-- from_timestamp: when the earlier activity happened
-- to_timestamp: when the following activity happened
-- wait_seconds: seconds between the two
SELECT * FROM (
    SELECT
        case_id,
        activity AS from_activity,
        lead(activity) OVER case_order AS to_activity,
        timestamp AS from_timestamp,
        lead(timestamp) OVER case_order AS to_timestamp,
        epoch(lead(timestamp) OVER case_order - timestamp) AS wait_seconds
    FROM core.event_log
    WINDOW case_order AS (PARTITION BY case_id ORDER BY event_order)
)
WHERE to_activity IS NOT NULL
