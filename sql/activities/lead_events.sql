-- Lead activities: Lead Created, Lead Status Changed, Lead Disqualified, Lead Converted (the
-- lead's field history; without a 'leadConverted' row, the conversion day of the lead).
WITH lead_changes AS (
    SELECT h.*, l.case_id, l.object_type
    FROM mapped.field_changes AS h
    JOIN staging.stg_leads AS l ON l.lead_id = h.record_id
    WHERE h.entity = 'leads' AND (h.field = 'leadConverted' OR h.column_name = 'status')
), disqualified AS (
    SELECT value FROM mapped.value_meanings WHERE meaning = 'lead_disqualified'
)
SELECT
    'lead_created:' || l.lead_id AS event_id, l.case_id, 'Lead Created' AS activity, l.created_at AS timestamp,
    l.created_by AS resource_id, l.object_type, l.lead_id AS object_id,
    NULL::VARCHAR AS old_value, NULL::VARCHAR AS new_value
FROM staging.stg_leads AS l
UNION ALL
SELECT
    'lead_history:' || h.change_id, h.case_id,
    CASE
        WHEN h.field = 'leadConverted' THEN 'Lead Converted'
        WHEN trim(h.new_value) IN (SELECT value FROM disqualified) THEN 'Lead Disqualified'
        ELSE 'Lead Status Changed'
    END,
    h.changed_at, h.changed_by, h.object_type, h.record_id, h.old_value, h.new_value
FROM lead_changes AS h
-- A status first seen by the pipeline's own change capture is where the lead stood, not a
-- change; it counts only when it disqualifies the lead.
WHERE h.field = 'leadConverted' OR h.source = 'history' OR h.old_value IS NOT NULL
   OR trim(h.new_value) IN (SELECT value FROM disqualified)
UNION ALL
-- An org that keeps no lead history still says when a lead was converted: its opportunity was
-- created at that moment, or, without one, the conversion day.
SELECT
    'lead_converted:' || l.lead_id, l.case_id, 'Lead Converted',
    CASE WHEN o.created_at::DATE = l.converted_on OR l.converted_on IS NULL THEN o.created_at
         ELSE l.converted_on::TIMESTAMP END,
    coalesce(o.created_by, l.owner_id), l.object_type, l.lead_id, NULL, NULL
FROM staging.stg_leads AS l
LEFT JOIN staging.stg_opportunities AS o ON o.opportunity_id = l.case_id AND l.case_id <> l.lead_id
WHERE l.is_converted AND (o.created_at IS NOT NULL OR l.converted_on IS NOT NULL)
  AND NOT EXISTS (SELECT 1 FROM lead_changes AS h WHERE h.record_id = l.lead_id AND h.field = 'leadConverted')
