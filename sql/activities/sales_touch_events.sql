-- Sales touches: the records the mapping names as touches (calls and e-mails from tasks,
-- meetings from events, ...), on a lead or an opportunity, once they have happened.
SELECT
    lower(t.object_type) || ':' || t.touch_id AS event_id, coalesce(o.opportunity_id, l.case_id) AS case_id,
    t.activity, t.timestamp, t.resource_id, t.object_type, t.touch_id AS object_id,
    NULL::VARCHAR AS old_value, NULL::VARCHAR AS new_value
FROM mapped.sales_touches AS t
LEFT JOIN staging.stg_opportunities AS o ON o.opportunity_id = t.opportunity_id
LEFT JOIN staging.stg_leads AS l ON l.lead_id = t.lead_id
WHERE NOT t.is_deleted AND t.timestamp IS NOT NULL AND t.timestamp <= now()::TIMESTAMP
  AND coalesce(o.opportunity_id, l.case_id) IS NOT NULL
