-- Opportunity activities: Opportunity Created; one per stage change ('Stage: <stage>', and
-- Opportunity Closed Won / Lost); Close Date Pushed; Amount Reduced; Owner Changed.
SELECT
    'opportunity_created:' || o.opportunity_id AS event_id, o.opportunity_id AS case_id,
    'Opportunity Created' AS activity, o.created_at AS timestamp, o.created_by AS resource_id,
    'Opportunity' AS object_type, o.opportunity_id AS object_id, NULL::VARCHAR AS old_value, NULL::VARCHAR AS new_value
FROM staging.stg_opportunities AS o
UNION ALL
SELECT
    'opportunity_history:' || h.Id, h.OpportunityId,
    CASE
        WHEN h.Field = 'StageName' AND h.NewValue = 'Closed Won' THEN 'Opportunity Closed Won'
        WHEN h.Field = 'StageName' AND h.NewValue = 'Closed Lost' THEN 'Opportunity Closed Lost'
        WHEN h.Field = 'StageName' THEN 'Stage: ' || h.NewValue
        WHEN h.Field = 'CloseDate' THEN 'Close Date Pushed'
        WHEN h.Field = 'Amount' THEN 'Amount Reduced'
        ELSE 'Owner Changed'
    END,
    h.CreatedDate, h.CreatedById, 'Opportunity', h.OpportunityId, h.OldValue, h.NewValue
FROM raw.OpportunityFieldHistory AS h
JOIN staging.stg_opportunities AS o ON o.opportunity_id = h.OpportunityId
WHERE NOT h.IsDeleted
  AND (
    h.Field = 'StageName'
    OR (h.Field = 'CloseDate' AND TRY_CAST(h.NewValue AS DATE) > TRY_CAST(h.OldValue AS DATE))
    OR (h.Field = 'Amount' AND TRY_CAST(h.NewValue AS DOUBLE) < TRY_CAST(h.OldValue AS DOUBLE))
    -- Lookup history is written twice per change (ids and names): the id row is the event.
    OR (h.Field = 'Owner' AND h.DataType = 'EntityId')
  )
