-- Each discount approval's wait for the approver's decision, from the event log.
-- columns:
-- approval_id: the approval process
-- case_id: its case
-- requested_at: Discount Approval Requested
-- decided_at: the final decision, Discount Approved or Discount Rejected of the last step that
--   decided (an approval of several steps waits for its last approver; null while pending)
-- decision: 'approved' or 'rejected' (the final decision; null while pending)
-- wait_hours: hours from the request to the decision, calendar time
-- business_wait_hours: the same wait in business hours (mining.business_calendar: within the
--   business hours of the case's calendar, mining.case_calendars, holidays left out)
WITH steps AS (
    SELECT object_id AS approval_id, any_value(case_id) AS case_id,
           min(timestamp) FILTER (WHERE activity = 'Discount Approval Requested') AS requested_at,
           max(timestamp) FILTER (WHERE activity IN ('Discount Approved', 'Discount Rejected')) AS last_decided_at,
           arg_max(activity, (timestamp, event_order)) FILTER (WHERE activity IN ('Discount Approved', 'Discount Rejected'))
               AS last_decision
    FROM core.event_log
    WHERE activity IN ('Discount Approval Requested', 'Discount Approved', 'Discount Rejected')
    GROUP BY object_id
), approvals AS (
    -- An approval whose process is still pending (a first approver said yes, the next has not
    -- decided) is not decided yet, whatever its steps so far.
    SELECT t.approval_id, t.case_id, t.requested_at,
           CASE WHEN coalesce(p.status, '') <> 'Pending' THEN t.last_decided_at END AS decided_at,
           CASE WHEN coalesce(p.status, '') = 'Pending' THEN NULL
                WHEN t.last_decision = 'Discount Approved' THEN 'approved'
                WHEN t.last_decision = 'Discount Rejected' THEN 'rejected' END AS decision
    FROM steps AS t
    LEFT JOIN staging.stg_approvals AS p ON p.approval_id = t.approval_id
)
SELECT a.approval_id, a.case_id, a.requested_at, a.decided_at, a.decision,
       epoch(a.decided_at - a.requested_at) / 3600 AS wait_hours,
       CASE WHEN a.decided_at IS NOT NULL AND a.requested_at IS NOT NULL
            THEN (coalesce(d.clock + coalesce(list_sum(list_transform(d.pieces, lambda p: greatest(least(epoch(a.decided_at), p.e) - p.s, 0))), 0), 0)
                  - coalesce(r.clock + coalesce(list_sum(list_transform(r.pieces, lambda p: greatest(least(epoch(a.requested_at), p.e) - p.s, 0))), 0), 0)) / 3600
       END AS business_wait_hours
FROM approvals AS a
LEFT JOIN mining.case_calendars AS k ON k.case_id = a.case_id
LEFT JOIN mining.business_clock_days AS r ON r.calendar_id = k.calendar_id AND r.utc_date = a.requested_at::DATE
LEFT JOIN mining.business_clock_days AS d ON d.calendar_id = k.calendar_id AND d.utc_date = a.decided_at::DATE
