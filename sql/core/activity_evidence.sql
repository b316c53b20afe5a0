-- How well the org records each activity: from a record's own fields, from the org's field
-- history, only from the pipeline's own change capture (the current status, and changes seen
-- between syncs: a status passed between two syncs is not seen), or not at all. Conformance
-- does not count the missing step against a case where the evidence cannot show it.
-- columns:
-- activity: the activity (core.activity_catalogue)
-- events: its events in core.event_log
-- evidence: 'record' (a field of the record), 'org history', 'change capture' or 'none' (no event)
WITH status_evidence AS (
    SELECT entity || '.' || column_name AS status_column,
           bool_or(source = 'history') AS org_history, bool_or(source = 'captured') AS captured
    FROM mapped.field_changes
    WHERE column_name IS NOT NULL
    GROUP BY ALL
), counts AS (
    SELECT activity, count(*) AS events FROM core.event_log GROUP BY activity
)
SELECT
    c.activity,
    coalesce(n.events, 0) AS events,
    CASE
        WHEN coalesce(n.events, 0) = 0 THEN 'none'
        WHEN c.status_column IS NULL THEN 'record'
        WHEN s.org_history THEN 'org history'
        WHEN s.captured THEN 'change capture'
        ELSE 'record'
    END AS evidence
FROM core.activity_catalogue AS c
LEFT JOIN counts AS n USING (activity)
LEFT JOIN status_evidence AS s USING (status_column)
