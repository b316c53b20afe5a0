-- Every attribute of every case, in long form: the mapping's attributes (team, region, segment,
-- product family, lead source, loss reason and any the org adds), where they have a value.
-- Extra attributes of an org's own reach mining.case_dimensions, so every breakdown and
-- root-cause ranking covers them.
-- columns:
-- case_id: the case
-- attribute: the attribute's name
-- value: its value for the case
SELECT case_id, attribute, value
FROM staging.stg_case_attributes
WHERE attribute <> 'invoice_type'
