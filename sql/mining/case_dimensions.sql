-- Each case once per attribute that reports cut by (long form): rep, team, region, product family,
-- lead source, segment, deal size, discount band, and any attribute of the org's own that the
-- mapping adds. Reports join it to break any figure down.
-- columns:
-- case_id: the case
-- dimension: the attribute: sales_rep, team, region, product_family, lead_source, segment, deal_size,
--   discount_band, or one the mapping adds
-- dimension_value: the case's value of it
WITH unpivoted AS (
    UNPIVOT (
        SELECT case_id, sales_rep, team, region, product_family, lead_source, segment, deal_size, discount_band
        FROM mining.case_facts
    )
    ON sales_rep, team, region, product_family, lead_source, segment, deal_size, discount_band
    INTO NAME dimension VALUE dimension_value
)
SELECT case_id, dimension, dimension_value FROM unpivoted
UNION ALL
-- An org's own attributes (a loss reason explains an outcome rather than cutting one, and the
-- industry stays in core.cases).
SELECT a.case_id, a.attribute, a.value
FROM core.case_attributes AS a
JOIN mining.case_facts AS f USING (case_id)
WHERE a.attribute NOT IN ('team', 'region', 'product_family', 'lead_source', 'segment', 'loss_reason', 'industry')
