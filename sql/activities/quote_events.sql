-- Quote activities: Quote Created; Quote Presented, Quote Accepted and Quote Rejected (the
-- customer's 'Denied') from the org's quote status history.
SELECT
    'quote_created:' || q.quote_id AS event_id, q.opportunity_id AS case_id, 'Quote Created' AS activity,
    q.created_at AS timestamp, q.created_by AS resource_id, 'Quote' AS object_type, q.quote_id AS object_id,
    NULL::VARCHAR AS old_value, NULL::VARCHAR AS new_value
FROM staging.stg_quotes AS q
UNION ALL
SELECT
    'quote_status:' || h.Id, q.opportunity_id,
    CASE h.New_Status__c WHEN 'Presented' THEN 'Quote Presented' WHEN 'Accepted' THEN 'Quote Accepted'
                         ELSE 'Quote Rejected' END,
    h.CreatedDate, h.CreatedById, 'Quote', h.Quote__c, h.Old_Status__c, h.New_Status__c
FROM raw.Quote_Status_History__c AS h
JOIN staging.stg_quotes AS q ON q.quote_id = h.Quote__c
WHERE NOT h.IsDeleted AND h.New_Status__c IN ('Presented', 'Accepted', 'Denied')
