-- Salesforce users with their team (role) and region (the role's parent, or the user's Division).
-- columns:
-- user_id: Salesforce User Id
-- user_name: full name
-- title: job title
-- team: the user's role, e.g. 'EMEA Enterprise'
-- region: the user's region, e.g. 'EMEA'
-- manager_id: the user's manager (the discount approver)
SELECT
    u.Id AS user_id,
    trim(u.Name) AS user_name,
    u.Title AS title,
    trim(role.Name) AS team,
    coalesce(nullif(trim(u.Division), ''), replace(trim(parent_role.Name), ' Sales', '')) AS region,
    u.ManagerId AS manager_id
FROM raw."User" AS u
LEFT JOIN raw.UserRole AS role ON role.Id = u.UserRoleId
LEFT JOIN raw.UserRole AS parent_role ON parent_role.Id = role.ParentRoleId
