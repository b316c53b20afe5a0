-- Discount approvals: Discount Approval Requested (submission), Discount Approved, Discount Rejected.
SELECT
    'approval_step:' || s.Id AS event_id, q.opportunity_id AS case_id,
    CASE s.StepStatus WHEN 'Started' THEN 'Discount Approval Requested' WHEN 'Approved' THEN 'Discount Approved'
                      ELSE 'Discount Rejected' END AS activity,
    s.CreatedDate AS timestamp, s.CreatedById AS resource_id, 'ProcessInstance' AS object_type,
    s.ProcessInstanceId AS object_id, NULL::VARCHAR AS old_value, s.StepStatus AS new_value
FROM raw.ProcessInstanceStep AS s
JOIN raw.ProcessInstance AS p ON p.Id = s.ProcessInstanceId AND NOT p.IsDeleted
JOIN staging.stg_quotes AS q ON q.quote_id = p.TargetObjectId
WHERE NOT s.IsDeleted AND s.StepStatus IN ('Started', 'Approved', 'Rejected')
