-- Salesforce users with their team and region: the mapping's attribute sources that read the
-- user or their roles (e.g. the role's name, the user's Division, the role above).
-- columns:
-- user_id: Salesforce User Id
-- user_name: full name
-- title: job title
-- team: the user's team, e.g. 'EMEA Enterprise'
-- region: the user's region, e.g. 'EMEA'
-- manager_id: the user's manager (the discount approver)
-- time_zone: the user's time zone (User.TimeZoneSidKey, an IANA name): a case's business calendar by default
WITH user_records AS (
    SELECT u.user_id, 'owner' AS anchor, u.user_id AS record_id FROM mapped.users AS u
    UNION ALL
    SELECT u.user_id, 'owner_role', u.role_id FROM mapped.users AS u WHERE u.role_id IS NOT NULL
    UNION ALL
    SELECT u.user_id, 'owner_parent_role', r.parent_role_id
    FROM mapped.users AS u JOIN mapped.roles AS r ON r.role_id = u.role_id
    WHERE r.parent_role_id IS NOT NULL
), user_attributes AS (
    -- Per attribute, the first source of the mapping's list that has a value for the user.
    SELECT ur.user_id, v.attribute, arg_min(v.value, v.priority) AS value
    FROM user_records AS ur
    JOIN mapped.attribute_values AS v ON v.anchor = ur.anchor AND v.record_id = ur.record_id
    WHERE v.attribute IN ('team', 'region')
    GROUP BY ur.user_id, v.attribute
)
SELECT
    u.user_id,
    trim(u.user_name) AS user_name,
    u.title,
    any_value(a.value) FILTER (WHERE a.attribute = 'team') AS team,
    any_value(a.value) FILTER (WHERE a.attribute = 'region') AS region,
    u.manager_id,
    nullif(trim(u.time_zone), '') AS time_zone
FROM mapped.users AS u
LEFT JOIN user_attributes AS a USING (user_id)
GROUP BY u.user_id, u.user_name, u.title, u.manager_id, u.time_zone
