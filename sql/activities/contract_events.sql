-- Contract activities: Contract Created; Contract Signed (a status change the org's values call
-- signed; without one, the customer's signature date); Contract Activated.
-- A date gives no time: the event takes the contract's creation time when it was created that
-- day, else the start of that day (UTC).
WITH signed_changes AS (
    SELECT h.change_id, h.record_id, h.changed_at, h.changed_by, h.old_value, h.new_value
    FROM mapped.field_changes AS h
    JOIN mapped.value_meanings AS m ON m.meaning = 'contract_signed' AND m.value = trim(h.new_value)
    WHERE h.entity = 'contracts' AND h.column_name = 'status'
)
SELECT
    'contract_created:' || c.contract_id AS event_id, c.opportunity_id AS case_id, 'Contract Created' AS activity,
    c.created_at AS timestamp, c.created_by AS resource_id, c.object_type, c.contract_id AS object_id,
    NULL::VARCHAR AS old_value, NULL::VARCHAR AS new_value
FROM staging.stg_contracts AS c
UNION ALL
SELECT 'contract_status:' || s.change_id, c.opportunity_id, 'Contract Signed', s.changed_at, s.changed_by,
       c.object_type, c.contract_id, s.old_value, s.new_value
FROM signed_changes AS s
JOIN staging.stg_contracts AS c ON c.contract_id = s.record_id
UNION ALL
SELECT 'contract_signed:' || c.contract_id, c.opportunity_id, 'Contract Signed',
       CASE WHEN c.customer_signed_on = c.created_at::DATE THEN c.created_at ELSE c.customer_signed_on::TIMESTAMP END,
       c.owner_id, c.object_type, c.contract_id, NULL, NULL
FROM staging.stg_contracts AS c
WHERE c.customer_signed_on IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM signed_changes AS s WHERE s.record_id = c.contract_id)
UNION ALL
SELECT 'contract_activated:' || c.contract_id, c.opportunity_id, 'Contract Activated', c.activated_at, c.activated_by,
       c.object_type, c.contract_id, NULL, NULL
FROM staging.stg_contracts AS c
WHERE c.activated_at IS NOT NULL
