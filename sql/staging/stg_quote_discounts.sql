-- Each quote's discount as its lines give it: the lines' discounts weighted by their list amounts
-- (a line without a discount counts as 0). The discount of a quote that gives it on its lines
-- only (CPQ's line discounts, the header's customer discount left empty).
-- columns:
-- quote_id: the quote
-- line_discount_pct: the lines' discount %, weighted by list price times quantity
SELECT
    quote_id,
    (exact_sum(list_price * coalesce(quantity, 1) * coalesce(discount_pct, 0))
     / nullif(exact_sum(list_price * coalesce(quantity, 1)), 0))::DOUBLE AS line_discount_pct
FROM mapped.quote_lines
WHERE NOT is_deleted AND list_price > 0
GROUP BY quote_id
