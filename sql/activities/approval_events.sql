-- Discount approvals: Discount Approval Requested (submission), Discount Approved, Discount
-- Rejected, from the steps of the quotes' approval processes.
SELECT
    'approval_step:' || s.step_id AS event_id, a.opportunity_id AS case_id,
    CASE m.meaning WHEN 'approval_submitted' THEN 'Discount Approval Requested'
                   WHEN 'approval_approved' THEN 'Discount Approved' ELSE 'Discount Rejected' END AS activity,
    s.created_at AS timestamp, s.created_by AS resource_id, a.object_type, s.approval_id AS object_id,
    NULL::VARCHAR AS old_value, s.step_status AS new_value
FROM mapped.approval_steps AS s
JOIN staging.stg_approvals AS a ON a.approval_id = s.approval_id
JOIN mapped.value_meanings AS m
  ON m.meaning IN ('approval_submitted', 'approval_approved', 'approval_rejected') AND m.value = trim(s.step_status)
WHERE NOT s.is_deleted
