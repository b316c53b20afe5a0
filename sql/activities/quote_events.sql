-- Quote activities: Quote Created; Quote Presented, Quote Accepted and Quote Rejected (the
-- customer's answer) from the quote's status changes, in whichever history the org keeps them
-- (field history, a custom history object, or the pipeline's own change capture).
SELECT
    'quote_created:' || q.quote_id AS event_id, q.opportunity_id AS case_id, 'Quote Created' AS activity,
    q.created_at AS timestamp, q.created_by AS resource_id, q.object_type, q.quote_id AS object_id,
    NULL::VARCHAR AS old_value, NULL::VARCHAR AS new_value
FROM staging.stg_quotes AS q
UNION ALL
SELECT
    'quote_status:' || h.change_id, q.opportunity_id,
    CASE m.meaning WHEN 'quote_presented' THEN 'Quote Presented' WHEN 'quote_accepted' THEN 'Quote Accepted'
                   ELSE 'Quote Rejected' END,
    h.changed_at, h.changed_by, q.object_type, h.record_id, h.old_value, h.new_value
FROM mapped.field_changes AS h
JOIN staging.stg_quotes AS q ON q.quote_id = h.record_id
JOIN mapped.value_meanings AS m
  ON m.meaning IN ('quote_presented', 'quote_accepted', 'quote_rejected') AND m.value = trim(h.new_value)
WHERE h.entity = 'quotes' AND h.column_name = 'status'
