-- Lead activities: Lead Created, Lead Status Changed, Lead Disqualified, Lead Converted (the
-- lead's field history; without a 'leadConverted' row, its opportunity's creation or the
-- conversion day of the lead).
WITH lead_changes AS (
    SELECT h.*, l.case_id, l.object_type
    FROM mapped.field_changes AS h
    JOIN staging.stg_leads AS l ON l.lead_id = h.record_id
    WHERE h.entity = 'leads' AND (h.field = 'leadConverted' OR h.column_name = 'status')
), disqualified AS (
    SELECT value FROM mapped.value_meanings WHERE meaning = 'lead_disqualified'
), org_zone AS (
    -- The org's time zone, in which a conversion day is a day (UTC where it is not known).
    SELECT coalesce(
        any_value(time_zone) FILTER (WHERE time_zone IN (SELECT name FROM pg_timezone_names())), 'UTC'
    ) AS time_zone
    FROM staging.stg_organization
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
-- created at that moment, when it was created on the conversion day. That day is a day where
-- the converting user was, so in UTC it lies between 14 hours before its midnight and 12 hours
-- after its end. Without such an opportunity (converted into an older one, or none): the start
-- of the conversion day in the org's time zone, not before the lead was created.
SELECT
    'lead_converted:' || l.lead_id, l.case_id, 'Lead Converted',
    CASE WHEN l.converted_on IS NULL
              OR (o.created_at >= l.converted_on::TIMESTAMP - INTERVAL 14 HOUR
                  AND o.created_at < l.converted_on::TIMESTAMP + INTERVAL 36 HOUR)
         THEN o.created_at
         ELSE greatest(l.created_at, timezone('UTC', timezone(z.time_zone, l.converted_on::TIMESTAMP)))
    END,
    coalesce(o.created_by, l.owner_id), l.object_type, l.lead_id, NULL, NULL
FROM staging.stg_leads AS l
CROSS JOIN org_zone AS z
-- The deal made at the conversion, deleted since or not: its creation is the conversion's moment.
LEFT JOIN mapped.opportunities AS o ON o.opportunity_id = l.converted_opportunity_id
WHERE l.is_converted AND (o.created_at IS NOT NULL OR l.converted_on IS NOT NULL)
  AND NOT EXISTS (SELECT 1 FROM lead_changes AS h WHERE h.record_id = l.lead_id AND h.field = 'leadConverted')
