-- Discount approval processes that are not deleted, with the quote they approve.
-- columns:
-- approval_id: the approval process's Id (the object_id of the approval events)
-- quote_id: the quote submitted for approval
-- opportunity_id: the quote's opportunity (the case)
-- status: Pending, Approved, Rejected or Removed
-- submitted_at: when it was submitted (UTC)
-- completed_at: when the approver decided
-- object_type: the Salesforce object of the approval (ProcessInstance)
SELECT
    p.approval_id,
    p.target_id AS quote_id,
    q.opportunity_id,
    trim(p.status) AS status,
    p.submitted_at,
    p.completed_at,
    p.object_type
FROM mapped.approvals AS p
JOIN staging.stg_quotes AS q ON q.quote_id = p.target_id
WHERE NOT p.is_deleted
