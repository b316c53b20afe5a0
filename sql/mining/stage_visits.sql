-- Each visit of an opportunity to a stage: from entering it to the next stage change or the close.
-- columns:
-- case_id: the case
-- stage: the opportunity stage
-- stage_order: the stage's rank in core.activity_catalogue (pipeline order)
-- entered_at: when the case entered the stage
-- days: days in the stage (null while the case is still in it)
WITH stage_events AS (
    SELECT case_id, activity, timestamp, event_order, activity_rank
    FROM core.event_log
    WHERE activity LIKE 'Stage: %' OR activity IN ('Opportunity Closed Won', 'Opportunity Closed Lost')
), visits AS (
    SELECT case_id, activity, substr(activity, 8) AS stage, activity_rank AS stage_order, timestamp AS entered_at,
           epoch(lead(timestamp) OVER (PARTITION BY case_id ORDER BY event_order) - timestamp) / 86400 AS days
    FROM stage_events
)
SELECT case_id, stage, stage_order, entered_at, days FROM visits WHERE activity LIKE 'Stage: %'
