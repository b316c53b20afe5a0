-- Leads that are not deleted, with the case their events belong to.
-- columns:
-- lead_id: Salesforce Lead Id
-- case_id: the converted opportunity's Id, or the lead's own Id while it is not converted
-- created_at: when the lead was captured (UTC)
-- created_by: who or what created it (web-to-lead runs as the integration user)
-- owner_id: the lead owner
-- lead_source: where the lead came from
-- status: current lead status
-- is_converted: converted into an account and opportunity
-- converted_opportunity_id: the opportunity made at conversion
-- converted_account_id: the account made or matched at conversion
-- industry: the lead's industry
-- country: the lead's country
SELECT
    Id AS lead_id,
    CASE WHEN IsConverted AND ConvertedOpportunityId IS NOT NULL THEN ConvertedOpportunityId ELSE Id END AS case_id,
    CreatedDate AS created_at,
    CreatedById AS created_by,
    OwnerId AS owner_id,
    trim(LeadSource) AS lead_source,
    trim(Status) AS status,
    coalesce(IsConverted, false) AS is_converted,
    ConvertedOpportunityId AS converted_opportunity_id,
    ConvertedAccountId AS converted_account_id,
    trim(Industry) AS industry,
    trim(Country) AS country
FROM raw.Lead
WHERE NOT IsDeleted
