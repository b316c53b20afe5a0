-- The DuckDB macros the models share. Each connection that builds a model (and the trailing-week
-- KPIs of reports.kpi_history) defines them first, as temporary macros: nothing of them is stored
-- in the warehouse or published.
--
-- order_statistic_weight(rn, h): the weight of the order statistic of rank rn (0-based) in the
-- linearly interpolated quantile at position h = (n - 1) p between two order statistics
-- (numpy's default, DuckDB's quantile_cont): 1 - frac(h) for rank floor(h), frac(h) for the next.
CREATE OR REPLACE TEMP MACRO order_statistic_weight(rn, h) AS
    CASE WHEN rn = floor(h) THEN 1 - (h - floor(h))
         WHEN rn = floor(h) + 1 THEN h - floor(h)
         ELSE 0 END;

-- median_standard_error(x, rn, n): an aggregate over a group of n values x, each with its rank rn
-- (0-based, row_number() - 1 in the group's order of x): the median's standard error, half the
-- spread of the quantiles at 0.5 -/+ 0.5/sqrt(n) (1.2533 sigma/sqrt(n) for a normal sample; no
-- assumption about the distribution); null below 2 values. The quantile positions depend on n,
-- so quantile_cont (which takes a constant fraction) cannot give them.
CREATE OR REPLACE TEMP MACRO median_standard_error(x, rn, n) AS
    CASE WHEN any_value(n) >= 2 THEN (
        sum(x * order_statistic_weight(rn, (n - 1) * (0.5 + 0.5 / sqrt(n))))
        - sum(x * order_statistic_weight(rn, (n - 1) * (0.5 - 0.5 / sqrt(n))))
    ) / 2 END;

-- exact_sum(x), exact_avg(x): the sum and the mean of DOUBLE values, each taken to 1e-12 and added
-- as DECIMAL(38, 12) (integer arithmetic, up to 1e26). DuckDB adds DOUBLE values in whatever order
-- its threads meet the rows, so on a large table sum() and avg() of the same rows differ in their
-- last bits from one build to the next: a ranking by them could swap two equal rows, and a table
-- rebuilt from unchanged inputs would not be equal to itself (the outputs drawn from it would be
-- written again for nothing). A filtered sum: exact_sum(CASE WHEN ... THEN x END). Integers need
-- neither (their sums are exact); a standard deviation takes its values in order instead:
-- stddev_samp(x ORDER BY x).
CREATE OR REPLACE TEMP MACRO exact_sum(x) AS sum(x::DECIMAL(38, 12))::DOUBLE;

CREATE OR REPLACE TEMP MACRO exact_avg(x) AS (sum(x::DECIMAL(38, 12)) / count(x))::DOUBLE;

-- line_weighted_discount(list_price, quantity, discount_pct): an aggregate over a quote's or a
-- deal's product lines: their discounts weighted by their list amounts (list price times
-- quantity, 1 where none is given), a line without a discount counting as 0; null where the lines
-- list nothing. The one rule stg_quote_discounts and stg_opportunities read lines by.
CREATE OR REPLACE TEMP MACRO line_weighted_discount(list_price, quantity, discount_pct) AS
    (exact_sum(list_price * coalesce(quantity, 1) * coalesce(discount_pct, 0))
     / nullif(exact_sum(list_price * coalesce(quantity, 1)), 0))::DOUBLE;
