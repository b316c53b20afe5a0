-- Each case once per attribute that reports cut by (long form): rep, team, region, product family,
-- lead source, segment, deal size and discount band. Reports join it to break any figure down.
-- columns:
-- case_id: the case
-- dimension: the attribute: sales_rep, team, region, product_family, lead_source, segment, deal_size or discount_band
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
