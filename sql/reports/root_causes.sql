-- Root causes: which sales rep, team, region, product family, lead source, segment, deal size or
-- discount band over-indexes on lost, slow, non-compliant, off-path or reworked cases. Each
-- value is compared with the other cases of the KPI's population that have a value of the same
-- attribute (a deal without a quote has no discount band: it is neither in a band nor in the
-- rest of one) by a one-sided two-proportion z-test with continuity correction (does the group
-- have the outcome more often than the rest? only over-indexing can be a root cause). A cause
-- comes before its outcome, so every attribute is the case's before the outcome could change
-- it: the deal size is the band of the amount before the synced quote's discount (a won deal's
-- amount is its discounted quote total, a lost one keeps its full amount) and the discount band
-- is the first quote's (a rejected quote is re-issued at a deeper discount, a rejected approval
-- at a shallower one). Hundreds of groups are tested in one refresh, so a finding must also
-- survive Benjamini-Hochberg false discovery rate control at q = 0.05, split evenly over the
-- KPIs: BH at q / K within each KPI's tested groups, K the number of KPIs with a tested group.
-- Each KPI's own list of root causes then holds on average at most 5% / K false discoveries (a
-- KPI with many strong findings cannot make room for chance ones in another KPI's list), the
-- root causes of the whole refresh at most 5%, and with no real effect anywhere a refresh
-- reports none at least 95% of the time.
-- Named constants (the settings CTE): min_cases = 20 (a group with fewer cases is not tested:
-- its p-value is shown but it takes no part in the FDR control and is never a root cause),
-- min_hits = 5 (a root cause has at least 5 cases with the outcome), fdr_q = 0.05.
-- The normal tail is computed with the Chebyshev erfc approximation (fractional error < 1.2e-7).
-- columns:
-- kpi: lost_deal (closed deals lost), slow_cycle (won deals slower than 75% of won deals),
--   non_compliant (won deals breaking a high-severity rule), unapproved_discount (won deals
--   whose accepted quote is discounted above the discount_approval threshold without that
--   approval, one of the high-severity rules: pooled with the others, a rep who skips approvals
--   is lost among the deals won without a quote), off_target_process (opportunities not
--   following the reference path), stage_regression (deals that reached Proposal/Price Quote
--   and fell back), quote_rejection (deals with a presented quote that had one rejected),
--   order_rework (deals with an order that was corrected)
-- attribute: sales_rep, team, region, product_family, lead_source, segment, deal_size or discount_band
-- value: the attribute's value (deal_size and discount_band as the case started: see above)
-- cases: cases of the KPI's population with this value
-- hits: how many of them have the outcome
-- kpi_value: share of them with the outcome (hits / cases)
-- baseline: the same share over the population's other cases with a value of the attribute
-- lift: kpi_value / baseline
-- shrunk_lift: lift after pulling kpi_value towards the baseline by 20 pseudo-cases (small groups move most)
-- excess_cases: the group's impact, cases * (kpi_value - baseline): how many more of its cases
--   have the outcome than if it had the rest's rate (negative when it under-indexes)
-- z_score: two-proportion z-score of kpi_value against baseline (pooled variance), with Yates'
--   continuity correction (the difference shrunk towards 0 by 0.5 / cases + 0.5 / other cases)
-- p_value: one-sided p-value of z_score (chance of a z this high or higher with no real
--   difference); NULL when the attribute's cases have no variation (every case or none has the outcome)
-- q_value: K times the Benjamini-Hochberg adjusted p-value among the KPI's tested groups (K:
--   the KPIs with a tested group in this refresh; monotone in p_value within a KPI); NULL for a
--   group with fewer than min_cases cases (not tested)
-- survives_fdr: q_value <= 0.05
-- confidence: 'high' (a root cause with |z| >= 3.3 and at least 30 cases), 'medium' (any other
--   root cause), else 'low'; it never makes a group a root cause
-- is_root_cause: over-indexes (kpi_value > baseline), has at least min_cases cases and min_hits
--   hits, and survives_fdr
-- rank_in_kpi: rank within the KPI: root causes first, largest excess_cases first, then the rest
--   by excess_cases
WITH settings AS (
    -- The named constants of the header comment.
    SELECT 20 AS min_cases, 5 AS min_hits, 0.05 AS fdr_q
), slow_threshold AS (
    SELECT quantile_cont(cycle_days, 0.75) AS days FROM mining.case_facts WHERE is_won
), high_severity AS (
    SELECT DISTINCT case_id FROM reports.compliance_violations WHERE severity = 'high'
), unapproved AS (
    SELECT DISTINCT case_id FROM reports.compliance_violations WHERE rule = 'discount_approval'
), outcomes AS (
    SELECT f.case_id, o.kpi, o.hit
    FROM mining.case_facts AS f
    CROSS JOIN slow_threshold AS s
    CROSS JOIN LATERAL (
        SELECT * FROM (VALUES
            ('lost_deal', f.is_closed, f.is_lost),
            ('slow_cycle', f.is_won, f.cycle_days > s.days),
            ('non_compliant', f.is_won, f.case_id IN (SELECT case_id FROM high_severity)),
            ('unapproved_discount', f.is_won, f.case_id IN (SELECT case_id FROM unapproved)),
            ('off_target_process', f.is_conformant IS NOT NULL, NOT f.is_conformant),
            ('stage_regression', f.reached_proposal, f.stage_regressions > 0),
            ('quote_rejection', f.quotes_presented > 0, f.quotes_rejected > 0),
            ('order_rework', f.orders > 0, f.order_amendments > 0)
        ) AS v(kpi, in_population, hit)
        WHERE v.in_population
    ) AS o
    WHERE f.case_type = 'opportunity'
), dimensions AS (
    -- Each case's attributes before its outcome: deal size and discount band as the case started.
    SELECT case_id, dimension AS attribute, dimension_value AS value
    FROM mining.case_dimensions
    WHERE dimension NOT IN ('deal_size', 'discount_band')
    UNION ALL
    SELECT case_id, 'deal_size', list_deal_size FROM mining.case_facts WHERE list_deal_size IS NOT NULL
    UNION ALL
    SELECT case_id, 'discount_band', first_discount_band FROM mining.case_facts WHERE first_discount_band IS NOT NULL
), groups AS (
    SELECT o.kpi, d.attribute, d.value, count(*) AS cases, sum(o.hit::INT) AS hits
    FROM outcomes AS o
    JOIN dimensions AS d USING (case_id)
    GROUP BY ALL
), totals AS (
    -- The attribute's share of the population: only cases with a value of it.
    SELECT kpi, attribute, sum(cases) AS cases, sum(hits) AS hits FROM groups GROUP BY kpi, attribute
), scored AS (
    SELECT
        g.kpi, g.attribute, g.value, g.cases, g.hits,
        g.hits / g.cases AS kpi_value,
        (t.hits - g.hits) / (t.cases - g.cases) AS baseline,
        t.hits / t.cases AS pooled,
        t.cases - g.cases AS rest_cases
    FROM groups AS g JOIN totals AS t USING (kpi, attribute)
    WHERE t.cases > g.cases
), tested AS (
    SELECT
        kpi, attribute, value, cases, hits, kpi_value, baseline,
        kpi_value / nullif(baseline, 0) AS lift,
        ((kpi_value * cases + 20 * baseline) / (cases + 20)) / nullif(baseline, 0) AS shrunk_lift,
        cases * (kpi_value - baseline) AS excess_cases,
        -- Yates' continuity correction: the normal tail is too thin for a small group at a low rate.
        sign(kpi_value - baseline) * greatest(abs(kpi_value - baseline) - 0.5 * (1 / cases + 1 / rest_cases), 0)
            / nullif(sqrt(pooled * (1 - pooled) * (1 / cases + 1 / rest_cases)), 0) AS z_score
    FROM scored
), tails AS (
    -- Upper normal tail P(Z >= z) = erfc(z / sqrt 2) / 2; erfc by Numerical Recipes' erfcc.
    SELECT *, 1 / (1 + 0.5 * abs(z_score) / sqrt(2)) AS t FROM tested
), with_p AS (
    SELECT * EXCLUDE (t, erfc_abs),
           CASE WHEN z_score >= 0 THEN erfc_abs / 2 ELSE 1 - erfc_abs / 2 END AS p_value
    FROM (
        SELECT *,
               t * exp(-(z_score * z_score / 2) - 1.26551223 + t * (1.00002368 + t * (0.37409196
                   + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398
                   + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))))) AS erfc_abs
        FROM tails
    )
), bh_tested AS (
    SELECT kpi, attribute, value, p_value
    FROM with_p CROSS JOIN settings AS s
    WHERE p_value IS NOT NULL AND cases >= s.min_cases
), bh AS (
    -- Benjamini-Hochberg within each KPI at q / K, as a q-value scaled by K so that it compares
    -- with q: q = K * min over j >= i of p_j * m / j (i, j: ranks among the KPI's m tested groups).
    SELECT kpi, attribute, value,
           least(1, min(p_value * k * m / i) OVER (PARTITION BY kpi ORDER BY i DESC ROWS UNBOUNDED PRECEDING))
               AS q_value
    FROM (
        SELECT kpi, attribute, value, p_value,
               count(*) OVER (PARTITION BY kpi) AS m,
               (SELECT count(DISTINCT kpi) FROM bh_tested) AS k,
               row_number() OVER (PARTITION BY kpi ORDER BY p_value, attribute, value) AS i
        FROM bh_tested
    )
), judged AS (
    SELECT w.*, b.q_value, coalesce(b.q_value <= s.fdr_q, false) AS survives_fdr,
           coalesce(w.kpi_value > w.baseline AND w.cases >= s.min_cases AND w.hits >= s.min_hits
                    AND b.q_value <= s.fdr_q, false) AS is_root_cause
    FROM with_p AS w
    LEFT JOIN bh AS b USING (kpi, attribute, value)
    CROSS JOIN settings AS s
)
SELECT
    kpi, attribute, value, cases, hits, kpi_value, baseline, lift, shrunk_lift, excess_cases,
    z_score, p_value, q_value, survives_fdr,
    CASE WHEN is_root_cause AND abs(z_score) >= 3.3 AND cases >= 30 THEN 'high'
         WHEN is_root_cause THEN 'medium' ELSE 'low' END AS confidence,
    is_root_cause,
    row_number() OVER (PARTITION BY kpi ORDER BY is_root_cause DESC, excess_cases DESC NULLS LAST,
                       p_value NULLS LAST, attribute, value) AS rank_in_kpi
FROM judged
ORDER BY kpi, rank_in_kpi
