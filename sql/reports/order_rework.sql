-- Order rework (question 6): how often sales orders are corrected by a reduction order, by product
-- family, how soon, for how much, and the order's typical path when it is reworked.
-- columns:
-- product_family: product family of the deal's first product line ('all' overall)
-- orders: sales orders (reduction orders not counted)
-- amended: orders corrected by at least one reduction order
-- rework_rate: amended / orders
-- amendments: reduction orders
-- amended_amount: total of the reductions (a negative amount)
-- median_days_to_amendment: median days from the order's activation to its first correction
-- typical_loop: the most common sequence of order events of the amended orders
WITH orders AS (
    SELECT o.order_id, o.activated_at, coalesce(f.product_family, '(unknown)') AS product_family
    FROM staging.stg_orders AS o
    LEFT JOIN mining.case_facts AS f ON f.case_id = o.opportunity_id
    WHERE NOT o.is_reduction
), corrections AS (
    SELECT original_order_id AS order_id, count(*) AS amendments, exact_sum(total_amount) AS amended_amount,
           min(created_at) AS first_amended_at
    FROM staging.stg_orders
    WHERE is_reduction
    GROUP BY original_order_id
), order_paths AS (
    -- An order's own events and those of the reduction orders correcting it, in time order.
    SELECT coalesce(o.original_order_id, o.order_id) AS order_id,
           string_agg(e.activity, ' > ' ORDER BY e.timestamp, e.activity_rank) AS path
    FROM core.event_log AS e
    JOIN staging.stg_orders AS o ON o.order_id = e.object_id
    WHERE e.activity IN ('Order Created', 'Order Activated', 'Order Amended', 'Order Fulfilled')
    GROUP BY 1
), per_order AS (
    SELECT o.order_id, o.product_family, c.order_id IS NOT NULL AS is_amended, coalesce(c.amendments, 0) AS amendments,
           coalesce(c.amended_amount, 0) AS amended_amount,
           epoch(c.first_amended_at - o.activated_at) / 86400 AS days_to_amendment,
           CASE WHEN c.order_id IS NOT NULL THEN p.path END AS amended_path
    FROM orders AS o
    LEFT JOIN corrections AS c USING (order_id)
    LEFT JOIN order_paths AS p USING (order_id)
), loops AS (
    SELECT coalesce(product_family, 'all') AS product_family, amended_path, count(*) AS n
    FROM per_order WHERE amended_path IS NOT NULL
    GROUP BY GROUPING SETS ((amended_path), (product_family, amended_path))
), typical AS (
    -- The most common sequence; a tie goes to the first in text order, so the same orders give
    -- the same answer on every run (mode() picks any of the tied ones).
    SELECT product_family, amended_path AS typical_loop
    FROM (SELECT product_family, amended_path,
                 row_number() OVER (PARTITION BY product_family ORDER BY n DESC, amended_path) AS rank
          FROM loops)
    WHERE rank = 1
), summary AS (
    SELECT
        coalesce(product_family, 'all') AS product_family,
        grouping(product_family) AS is_total,
        count(*) AS orders,
        count(*) FILTER (WHERE is_amended) AS amended,
        count(*) FILTER (WHERE is_amended) / nullif(count(*), 0) AS rework_rate,
        sum(amendments) AS amendments,
        exact_sum(amended_amount) AS amended_amount,
        median(days_to_amendment) AS median_days_to_amendment
    FROM per_order
    GROUP BY GROUPING SETS ((), (product_family))
    HAVING count(*) > 0  -- no orders, no total row of zeros
)
SELECT s.product_family, s.orders, s.amended, s.rework_rate, s.amendments, s.amended_amount,
       s.median_days_to_amendment, t.typical_loop
FROM summary AS s LEFT JOIN typical AS t USING (product_family)
ORDER BY s.is_total DESC, s.rework_rate DESC
