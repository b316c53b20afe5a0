-- Each case's attributes (long form): for every attribute of the mapping, the value of the
-- first source in the mapping's list that has one, read from the case's opportunity, lead,
-- account, owner, the owner's roles or its first product.
-- columns:
-- case_id: the case
-- attribute: the attribute, e.g. region, team, segment, product_family, lead_source, loss_reason
-- value: its value for the case
-- priority: the place of the source it came from in the mapping's list (1 = first choice)
WITH case_records AS (
    SELECT case_id, 'opportunity' AS anchor, opportunity_id AS record_id FROM staging.stg_cases WHERE opportunity_id IS NOT NULL
    UNION ALL
    SELECT case_id, 'lead', lead_id FROM staging.stg_cases WHERE lead_id IS NOT NULL
    UNION ALL
    SELECT case_id, 'account', account_id FROM staging.stg_cases WHERE account_id IS NOT NULL
    UNION ALL
    SELECT case_id, 'owner', owner_id FROM staging.stg_cases WHERE owner_id IS NOT NULL
    UNION ALL
    SELECT case_id, 'product', product_id FROM staging.stg_cases WHERE product_id IS NOT NULL
    UNION ALL
    SELECT c.case_id, 'owner_role', u.role_id
    FROM staging.stg_cases AS c JOIN mapped.users AS u ON u.user_id = c.owner_id
    WHERE u.role_id IS NOT NULL
    UNION ALL
    SELECT c.case_id, 'owner_parent_role', r.parent_role_id
    FROM staging.stg_cases AS c
    JOIN mapped.users AS u ON u.user_id = c.owner_id
    JOIN mapped.roles AS r ON r.role_id = u.role_id
    WHERE r.parent_role_id IS NOT NULL
)
SELECT c.case_id, v.attribute, arg_min(v.value, v.priority) AS value, min(v.priority) AS priority
FROM case_records AS c
JOIN mapped.attribute_values AS v ON v.anchor = c.anchor AND v.record_id = c.record_id
GROUP BY c.case_id, v.attribute
