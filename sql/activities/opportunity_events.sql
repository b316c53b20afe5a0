-- Opportunity activities: Opportunity Created; one per stage change ('Stage: <stage>', and
-- Opportunity Closed Won / Lost for the org's closing stages: those the mapping lists, and those
-- whose deals are all closed won or all closed lost); Close Date Pushed; Amount
-- Reduced (not when the amount only follows a quote of the deal: Salesforce copies the synced
-- quote's total onto the opportunity); Owner Changed.
WITH opportunity_changes AS (
    SELECT h.*, o.object_type
    FROM mapped.field_changes AS h
    JOIN staging.stg_opportunities AS o ON o.opportunity_id = h.record_id
    WHERE h.entity = 'opportunities' AND h.column_name IN ('stage', 'close_date', 'amount', 'owner_id')
), listed_closing AS (
    SELECT meaning, value FROM mapped.value_meanings WHERE meaning IN ('stage_won', 'stage_lost')
), closing AS (
    SELECT meaning, value FROM listed_closing
    UNION ALL
    -- A closing stage the mapping does not list: Salesforce closes a deal by its stage, so a
    -- stage every deal in which is closed, all won or all lost, is a closing one.
    SELECT CASE WHEN bool_and(is_won) THEN 'stage_won' ELSE 'stage_lost' END, stage
    FROM staging.stg_opportunities
    WHERE stage NOT IN (SELECT value FROM listed_closing WHERE value IS NOT NULL)
    GROUP BY stage
    HAVING bool_and(is_closed) AND (bool_and(is_won) OR NOT bool_or(is_won))
)
SELECT
    'opportunity_created:' || o.opportunity_id AS event_id, o.opportunity_id AS case_id,
    'Opportunity Created' AS activity, o.created_at AS timestamp, o.created_by AS resource_id,
    o.object_type, o.opportunity_id AS object_id, NULL::VARCHAR AS old_value, NULL::VARCHAR AS new_value
FROM staging.stg_opportunities AS o
UNION ALL
SELECT
    'opportunity_history:' || h.change_id, h.record_id,
    CASE
        WHEN h.column_name = 'stage' AND c.meaning = 'stage_won' THEN 'Opportunity Closed Won'
        WHEN h.column_name = 'stage' AND c.meaning = 'stage_lost' THEN 'Opportunity Closed Lost'
        WHEN h.column_name = 'stage' THEN 'Stage: ' || trim(h.new_value)
        WHEN h.column_name = 'close_date' THEN 'Close Date Pushed'
        WHEN h.column_name = 'amount' THEN 'Amount Reduced'
        ELSE 'Owner Changed'
    END,
    h.changed_at, h.changed_by, h.object_type, h.record_id, h.old_value, h.new_value
FROM opportunity_changes AS h
LEFT JOIN closing AS c ON h.column_name = 'stage' AND c.value = trim(h.new_value)
WHERE
    -- A stage first seen by the pipeline's own change capture is where the deal stood, not a move.
    (h.column_name = 'stage' AND h.new_value IS NOT NULL AND (h.source = 'history' OR h.old_value IS NOT NULL))
    OR (h.column_name = 'close_date' AND TRY_CAST(h.new_value AS DATE) > TRY_CAST(h.old_value AS DATE))
    OR (
        h.column_name = 'amount' AND TRY_CAST(h.new_value AS DOUBLE) < TRY_CAST(h.old_value AS DOUBLE)
        AND NOT EXISTS (
            SELECT 1 FROM staging.stg_quotes AS q
            WHERE q.opportunity_id = h.record_id AND q.created_at <= h.changed_at
              -- The history holds the deal's own currency, as the quote's original total does.
              AND round(q.original_grand_total, 2) = round(TRY_CAST(h.new_value AS DOUBLE), 2)
        )
    )
    -- Lookup history is written twice per change (ids and names): the id row is the event.
    OR (h.column_name = 'owner_id' AND h.old_value IS NOT NULL AND coalesce(h.data_type, 'EntityId') = 'EntityId')
