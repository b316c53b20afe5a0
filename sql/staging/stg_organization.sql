-- The org's own record: its name and default time zone (Organization.TimeZoneSidKey), the time
-- zone business time falls back to when the org has no business hours.
-- columns:
-- organization_id: the org's Id
-- organization_name: the org's name
-- time_zone: the org's default time zone (an IANA name, e.g. 'Europe/Berlin')
SELECT organization_id, organization_name, nullif(trim(time_zone), '') AS time_zone
FROM mapped.organization
WHERE NOT is_deleted
ORDER BY organization_id
LIMIT 1
