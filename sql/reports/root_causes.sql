-- Root causes: which sales rep, team, region, product family, lead source, segment, deal size or
-- discount band over-indexes on lost, slow, non-compliant, off-path or reworked cases. Each
-- value is compared with all other cases; small groups are not over-trusted: the ranking uses
-- a rate shrunk towards the baseline and a two-proportion z-score.
-- columns:
-- kpi: lost_deal (closed deals lost), slow_cycle (won deals slower than 75% of won deals),
--   non_compliant (won deals breaking a high-severity rule), off_target_process (opportunities
--   not following the reference path), stage_regression (deals that reached Proposal/Price Quote
--   and fell back), quote_rejection (deals with a presented quote that had one rejected),
--   order_rework (deals with an order that was corrected)
-- attribute: sales_rep, team, region, product_family, lead_source, segment, deal_size or discount_band
-- value: the attribute's value
-- cases: cases of the KPI's population with this value
-- kpi_value: share of them with the outcome
-- baseline: the same share over all other cases of the population
-- lift: kpi_value / baseline
-- shrunk_lift: lift after pulling kpi_value towards the baseline by 20 pseudo-cases (small groups move most)
-- z_score: two-proportion z-score of kpi_value against baseline
-- confidence: 'high' (|z| >= 3.3 and at least 30 cases), 'medium' (|z| >= 2), else 'low'
-- is_root_cause: over-indexes (lift > 1) with high or medium confidence
-- rank_in_kpi: rank within the KPI, strongest over-indexing first
WITH slow_threshold AS (
    SELECT quantile_cont(cycle_days, 0.75) AS days FROM mining.case_facts WHERE is_won
), high_severity AS (
    SELECT DISTINCT case_id FROM reports.compliance_violations WHERE severity = 'high'
), outcomes AS (
    SELECT f.case_id, o.kpi, o.hit
    FROM mining.case_facts AS f
    CROSS JOIN slow_threshold AS s
    CROSS JOIN LATERAL (
        SELECT * FROM (VALUES
            ('lost_deal', f.is_closed, f.is_lost),
            ('slow_cycle', f.is_won, f.cycle_days > s.days),
            ('non_compliant', f.is_won, f.case_id IN (SELECT case_id FROM high_severity)),
            ('off_target_process', true, NOT f.is_conformant),
            ('stage_regression', f.reached_proposal, f.stage_regressions > 0),
            ('quote_rejection', f.quotes_presented > 0, f.quotes_rejected > 0),
            ('order_rework', f.orders > 0, f.order_amendments > 0)
        ) AS v(kpi, in_population, hit)
        WHERE v.in_population
    ) AS o
    WHERE f.case_type = 'opportunity'
), totals AS (
    SELECT kpi, count(*) AS cases, sum(hit::INT) AS hits FROM outcomes GROUP BY kpi
), groups AS (
    SELECT o.kpi, d.dimension AS attribute, d.dimension_value AS value, count(*) AS cases, sum(o.hit::INT) AS hits
    FROM outcomes AS o
    JOIN mining.case_dimensions AS d USING (case_id)
    GROUP BY ALL
), scored AS (
    SELECT
        g.kpi, g.attribute, g.value, g.cases,
        g.hits / g.cases AS kpi_value,
        (t.hits - g.hits) / (t.cases - g.cases) AS baseline,
        t.hits / t.cases AS pooled,
        t.cases - g.cases AS rest_cases
    FROM groups AS g JOIN totals AS t USING (kpi)
    WHERE t.cases > g.cases
), tested AS (
    SELECT
        kpi, attribute, value, cases, kpi_value, baseline,
        kpi_value / nullif(baseline, 0) AS lift,
        ((kpi_value * cases + 20 * baseline) / (cases + 20)) / nullif(baseline, 0) AS shrunk_lift,
        (kpi_value - baseline) / nullif(sqrt(pooled * (1 - pooled) * (1 / cases + 1 / rest_cases)), 0) AS z_score
    FROM scored
), judged AS (
    SELECT *,
           CASE WHEN abs(z_score) >= 3.3 AND cases >= 30 THEN 'high' WHEN abs(z_score) >= 2 THEN 'medium' ELSE 'low' END
               AS confidence
    FROM tested
)
SELECT
    kpi, attribute, value, cases, kpi_value, baseline, lift, shrunk_lift, z_score, confidence,
    coalesce(lift > 1 AND confidence IN ('high', 'medium'), false) AS is_root_cause,
    row_number() OVER (PARTITION BY kpi ORDER BY (lift > 1 AND confidence <> 'low') DESC, shrunk_lift DESC NULLS LAST,
                       z_score DESC, attribute, value) AS rank_in_kpi
FROM judged
ORDER BY kpi, rank_in_kpi
