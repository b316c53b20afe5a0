-- Contracts that are not deleted, tied to their opportunity: the contract's own lookup, else
-- the opportunity that points at the contract, else an order that names both.
-- columns:
-- contract_id: the contract's Id
-- opportunity_id: its opportunity (the case)
-- account_id: the customer
-- owner_id: the contract owner
-- status: current status
-- created_at: when it was drafted (UTC)
-- created_by: who drafted it
-- customer_signed_on: the day the customer signed
-- activated_at: when it was activated
-- activated_by: who activated it
-- object_type: the Salesforce object of the contract
WITH pointed_at AS (
    SELECT contract_id, arg_min(opportunity_id, created_at) AS opportunity_id
    FROM staging.stg_opportunities WHERE contract_id IS NOT NULL GROUP BY contract_id
), ordered AS (
    SELECT contract_id, arg_min(opportunity_id, created_at) AS opportunity_id
    FROM mapped.orders WHERE NOT is_deleted AND contract_id IS NOT NULL AND opportunity_id IS NOT NULL
    GROUP BY contract_id
)
SELECT
    c.contract_id,
    o.opportunity_id,
    c.account_id,
    c.owner_id,
    trim(c.status) AS status,
    c.created_at,
    c.created_by,
    c.customer_signed_on,
    c.activated_at,
    c.activated_by,
    c.object_type
FROM mapped.contracts AS c
LEFT JOIN pointed_at AS p ON p.contract_id = c.contract_id
LEFT JOIN ordered AS ord ON ord.contract_id = c.contract_id
JOIN staging.stg_opportunities AS o ON o.opportunity_id = coalesce(c.opportunity_id, p.opportunity_id, ord.opportunity_id)
WHERE NOT c.is_deleted
