-- Sales touches: Call and Email (completed tasks), Meeting (events), on a lead or an opportunity.
WITH touches AS (
    SELECT 'task:' || t.Id AS event_id, t.Type AS activity, t.CompletedDateTime AS timestamp, t.OwnerId AS resource_id,
           'Task' AS object_type, t.Id AS object_id, t.WhoId AS who_id, t.WhatId AS what_id
    FROM raw.Task AS t
    WHERE NOT t.IsDeleted AND t.Type IN ('Call', 'Email') AND t.CompletedDateTime IS NOT NULL
    UNION ALL
    SELECT 'event:' || e.Id, 'Meeting', e.StartDateTime, e.OwnerId, 'Event', e.Id, e.WhoId, e.WhatId
    FROM raw.Event AS e
    WHERE NOT e.IsDeleted AND e.StartDateTime <= now()::TIMESTAMP
)
SELECT
    t.event_id, coalesce(o.opportunity_id, l.case_id) AS case_id, t.activity, t.timestamp, t.resource_id,
    t.object_type, t.object_id, NULL::VARCHAR AS old_value, NULL::VARCHAR AS new_value
FROM touches AS t
LEFT JOIN staging.stg_opportunities AS o ON o.opportunity_id = t.what_id
LEFT JOIN staging.stg_leads AS l ON l.lead_id = t.who_id
WHERE coalesce(o.opportunity_id, l.case_id) IS NOT NULL
