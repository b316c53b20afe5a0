-- The quote each discount approval approves, for the event objects view (core.event_objects):
-- an approval event relates to its quote. Kept apart from staging, which is not published.
-- columns:
-- approval_id: the approval process's Id (the object_id of the approval events)
-- quote_id: the quote submitted for approval
SELECT approval_id, min(quote_id) AS quote_id
FROM staging.stg_approvals
GROUP BY approval_id
