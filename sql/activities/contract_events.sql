-- Contract activities: Contract Created, Contract Signed (status history), Contract Activated.
WITH contracts AS (
    SELECT c.*, o.opportunity_id
    FROM raw.Contract AS c
    JOIN staging.stg_opportunities AS o ON o.opportunity_id = c.Opportunity__c
    WHERE NOT c.IsDeleted
)
SELECT
    'contract_created:' || c.Id AS event_id, c.opportunity_id AS case_id, 'Contract Created' AS activity,
    c.CreatedDate AS timestamp, c.CreatedById AS resource_id, 'Contract' AS object_type, c.Id AS object_id,
    NULL::VARCHAR AS old_value, NULL::VARCHAR AS new_value
FROM contracts AS c
UNION ALL
SELECT 'contract_status:' || h.Id, c.opportunity_id, 'Contract Signed', h.CreatedDate, h.CreatedById,
       'Contract', h.ContractId, h.OldValue, h.NewValue
FROM raw.ContractHistory AS h
JOIN contracts AS c ON c.Id = h.ContractId
WHERE NOT h.IsDeleted AND h.Field = 'Status' AND h.NewValue = 'Signed'
UNION ALL
SELECT 'contract_activated:' || c.Id, c.opportunity_id, 'Contract Activated', c.ActivatedDate, c.ActivatedById,
       'Contract', c.Id, NULL, NULL
FROM contracts AS c
WHERE c.ActivatedDate IS NOT NULL
