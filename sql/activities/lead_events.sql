-- Lead activities: Lead Created, Lead Status Changed, Lead Disqualified, Lead Converted.
SELECT
    'lead_created:' || l.lead_id AS event_id, l.case_id, 'Lead Created' AS activity, l.created_at AS timestamp,
    l.created_by AS resource_id, 'Lead' AS object_type, l.lead_id AS object_id,
    NULL::VARCHAR AS old_value, NULL::VARCHAR AS new_value
FROM staging.stg_leads AS l
UNION ALL
SELECT
    'lead_history:' || h.Id, l.case_id,
    CASE
        WHEN h.Field = 'leadConverted' THEN 'Lead Converted'
        WHEN h.NewValue = 'Closed - Not Converted' THEN 'Lead Disqualified'
        ELSE 'Lead Status Changed'
    END,
    h.CreatedDate, h.CreatedById, 'Lead', h.LeadId, h.OldValue, h.NewValue
FROM raw.LeadHistory AS h
JOIN staging.stg_leads AS l ON l.lead_id = h.LeadId
WHERE NOT h.IsDeleted AND (h.Field = 'leadConverted' OR h.Field = 'Status')
