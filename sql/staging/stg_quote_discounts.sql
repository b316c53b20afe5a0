-- Each quote's discount: its own, or where it gives none (empty or 0), its lines' discounts
-- weighted by their list amounts (a line without a discount counts as 0): CPQ quotes often
-- leave the header's customer discount empty and discount each line. The one rule the quote,
-- its deal and the deal's case read.
-- columns:
-- quote_id: the quote
-- discount_pct: the quote's discount %
WITH line_discounts AS (
    SELECT
        quote_id,
        line_weighted_discount(list_price, quantity, discount_pct) AS discount_pct
    FROM mapped.quote_lines
    WHERE NOT is_deleted AND list_price > 0
    GROUP BY quote_id
)
SELECT q.quote_id, coalesce(nullif(q.discount_pct, 0), l.discount_pct, q.discount_pct) AS discount_pct
FROM mapped.quotes AS q
LEFT JOIN line_discounts AS l ON l.quote_id = q.quote_id
WHERE NOT q.is_deleted
