-- Leads that are not deleted, with the case their events belong to: the opportunity the lead
-- was converted into, while that opportunity exists; else the lead itself (never converted,
-- converted without an opportunity, or its opportunity deleted).
-- columns:
-- lead_id: Salesforce Lead Id
-- case_id: the converted opportunity's Id, or the lead's own Id (see above)
-- created_at: when the lead was captured (UTC)
-- created_by: who or what created it (web-to-lead runs as the integration user)
-- owner_id: the lead owner
-- lead_source: where the lead came from
-- status: current lead status
-- is_converted: converted (into an account, and an opportunity unless the rep chose none)
-- converted_on: the day it was converted
-- converted_opportunity_id: the opportunity made at conversion (it may since have been deleted)
-- converted_account_id: the account made or matched at conversion
-- industry: the lead's industry
-- country: the lead's country
-- object_type: the Salesforce object of the lead
SELECT
    l.lead_id,
    CASE WHEN coalesce(l.is_converted, false) AND o.opportunity_id IS NOT NULL THEN o.opportunity_id
         ELSE l.lead_id END AS case_id,
    l.created_at,
    l.created_by,
    l.owner_id,
    trim(l.lead_source) AS lead_source,
    trim(l.status) AS status,
    coalesce(l.is_converted, false) AS is_converted,
    l.converted_on,
    l.converted_opportunity_id,
    l.converted_account_id,
    trim(l.industry) AS industry,
    trim(l.country) AS country,
    l.object_type
FROM mapped.leads AS l
LEFT JOIN mapped.opportunities AS o ON o.opportunity_id = l.converted_opportunity_id AND NOT o.is_deleted
WHERE NOT l.is_deleted
