-- Each discount approval's wait for the approver's decision, from the event log.
-- columns:
-- approval_id: the approval process
-- case_id: its case
-- requested_at: Discount Approval Requested
-- decided_at: Discount Approved or Discount Rejected (null while pending)
-- wait_hours: hours from the request to the decision
WITH approvals AS (
    SELECT object_id AS approval_id, any_value(case_id) AS case_id,
           min(timestamp) FILTER (WHERE activity = 'Discount Approval Requested') AS requested_at,
           min(timestamp) FILTER (WHERE activity IN ('Discount Approved', 'Discount Rejected')) AS decided_at
    FROM core.event_log
    WHERE activity IN ('Discount Approval Requested', 'Discount Approved', 'Discount Rejected')
    GROUP BY object_id
)
SELECT approval_id, case_id, requested_at, decided_at, epoch(decided_at - requested_at) / 3600 AS wait_hours
FROM approvals
