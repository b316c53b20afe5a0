-- The canonical Lead-to-Cash event log: one row per event, every activity model stacked
-- (activities.all_events), in a deterministic order within each case: timestamp, then the
-- activity's rank in core.activity_catalogue, then event_id.
-- incremental: case_id
-- columns:
-- event_id: stable id of the event (source table and record id)
-- case_id: the case: the opportunity Id, or the lead Id for a lead that never converted
-- activity: what happened, e.g. 'Quote Accepted'
-- timestamp: when it happened (UTC)
-- resource_id: the Salesforce user who did it
-- resource_name: that user's name
-- object_type: the Salesforce object the event comes from
-- object_id: the record it comes from
-- old_value: the value before, for field changes
-- new_value: the value after, for field changes
-- activity_rank: tie-break rank from core.activity_catalogue (999: not in the catalogue)
-- event_order: position of the event in its case (1 = first)
-- started_at: when the activity instance started, for one recorded with a start and a complete (a file's lifecycle transitions or start_timestamp); null for an instantaneous event
SELECT
    e.event_id,
    e.case_id,
    e.activity,
    e.timestamp,
    e.resource_id,
    u.user_name AS resource_name,
    e.object_type,
    e.object_id,
    e.old_value,
    e.new_value,
    coalesce(c.activity_rank, CASE WHEN e.activity LIKE 'Stage: %' THEN 16 ELSE 999 END) AS activity_rank,
    row_number() OVER (
        PARTITION BY e.case_id
        ORDER BY e.timestamp, coalesce(c.activity_rank, CASE WHEN e.activity LIKE 'Stage: %' THEN 16 ELSE 999 END), e.event_id
    ) AS event_order,
    -- Salesforce records when things happened, not how long they took.
    NULL::TIMESTAMP AS started_at
FROM activities.all_events AS e
LEFT JOIN core.activity_catalogue AS c ON c.activity = e.activity
LEFT JOIN staging.stg_users AS u ON u.user_id = e.resource_id
WHERE e.case_id IS NOT NULL AND e.timestamp IS NOT NULL
ORDER BY e.case_id, event_order
