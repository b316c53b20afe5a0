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
