-- Discount approval processes (ProcessInstance) that are not deleted, with the quote they approve.
-- columns:
-- approval_id: ProcessInstance Id (the object_id of the approval events)
-- quote_id: the quote submitted for approval
-- opportunity_id: the quote's opportunity (the case)
-- status: Pending, Approved, Rejected or Removed
-- submitted_at: when it was submitted (UTC)
-- completed_at: when the approver decided
SELECT
    p.Id AS approval_id,
    p.TargetObjectId AS quote_id,
    q.opportunity_id,
    p.Status AS status,
    p.CreatedDate AS submitted_at,
    p.CompletedDate AS completed_at
FROM raw.ProcessInstance AS p
JOIN staging.stg_quotes AS q ON q.quote_id = p.TargetObjectId
WHERE NOT p.IsDeleted
