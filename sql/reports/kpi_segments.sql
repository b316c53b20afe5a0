-- The headline KPIs that belong to one case each, per region and per team (of the rep who owns
-- the case, or the lead), with the same definitions, case counts and standard errors as
-- reports.kpi_summary: what the segment drift checks compare night after night. Days sales
-- outstanding (a ratio over all invoices) and the order rework rate (per order) are left out.
-- columns:
-- dimension: region or team
-- segment: the region or team
-- kpi: the KPI's name, as in reports.kpi_summary
-- value: its value over the segment's cases
-- unit: days, share (0 to 1) or percent
-- cases: how many cases (leads, opportunities, invoices) of the segment the value is computed over
-- standard_error: how much the value moves by chance alone, in its unit (as in
--   reports.kpi_summary); null below 2 cases
WITH case_segments AS (
    SELECT case_id, 'region' AS dimension, region AS segment FROM core.cases WHERE region IS NOT NULL
    UNION ALL
    SELECT case_id, 'team', team FROM core.cases WHERE team IS NOT NULL
), lead_segments AS (
    SELECT l.lead_id, 'region' AS dimension, u.region AS segment
    FROM staging.stg_leads AS l JOIN staging.stg_users AS u ON u.user_id = l.owner_id
    WHERE u.region IS NOT NULL
    UNION ALL
    SELECT l.lead_id, 'team', u.team
    FROM staging.stg_leads AS l JOIN staging.stg_users AS u ON u.user_id = l.owner_id
    WHERE u.team IS NOT NULL
), first_times AS (
    SELECT case_id,
           min(timestamp) FILTER (WHERE activity = 'Opportunity Created') AS created,
           min(timestamp) FILTER (WHERE activity = 'Opportunity Closed Won') AS won,
           min(timestamp) FILTER (WHERE activity = 'Quote Created') AS first_quote,
           min(timestamp) FILTER (WHERE activity = 'Contract Signed') AS signed
    FROM core.event_log
    WHERE activity IN ('Opportunity Created', 'Opportunity Closed Won', 'Quote Created', 'Contract Signed')
    GROUP BY case_id
), samples AS (
    -- The observations behind the median KPIs, a row per case (per invoice for payments).
    SELECT 'sales_cycle_time' AS kpi, case_id, epoch(won - created) / 86400 AS x
    FROM first_times WHERE won IS NOT NULL
    UNION ALL
    SELECT 'quote_to_contract_time', case_id, epoch(signed - first_quote) / 86400
    FROM first_times WHERE signed > first_quote
    UNION ALL
    SELECT 'invoice_to_payment_time', case_id, days_to_pay
    FROM mining.invoice_payments WHERE days_to_pay IS NOT NULL
), segment_samples AS (
    SELECT s.kpi, c.dimension, c.segment, s.x
    FROM samples AS s JOIN case_segments AS c USING (case_id)
), ranked AS (
    SELECT kpi, dimension, segment, x,
           row_number() OVER (PARTITION BY kpi, dimension, segment ORDER BY x) - 1 AS rn,
           count(*) OVER (PARTITION BY kpi, dimension, segment) AS n
    FROM segment_samples
), medians AS (
    SELECT kpi, dimension, segment, 'days' AS unit,
           quantile_cont(x, 0.5) AS value,
           any_value(n) AS cases,
           median_standard_error(x, rn, n) AS standard_error  -- sql/macros.sql
    FROM ranked
    GROUP BY kpi, dimension, segment
), shares AS (
    -- The share KPIs as (cases, successes) per segment.
    SELECT 'lead_to_opportunity_conversion' AS kpi, s.dimension, s.segment,
           count(*) AS n, count(p.opportunity_created_at) AS k
    FROM mining.lead_progress AS p JOIN lead_segments AS s ON s.lead_id = p.lead_id
    WHERE p.created_at IS NOT NULL
    GROUP BY s.dimension, s.segment
    UNION ALL
    SELECT 'win_rate', s.dimension, s.segment,
           count(*) FILTER (WHERE o.is_closed), count(*) FILTER (WHERE o.is_closed AND o.is_won)
    FROM staging.stg_opportunities AS o JOIN case_segments AS s ON s.case_id = o.opportunity_id
    GROUP BY s.dimension, s.segment
    UNION ALL
    SELECT 'conformance_rate', s.dimension, s.segment, count(*), count(*) FILTER (WHERE cc.is_conformant)
    FROM mining.case_conformance AS cc
    JOIN staging.stg_opportunities AS o ON o.opportunity_id = cc.case_id
    JOIN case_segments AS s ON s.case_id = cc.case_id
    WHERE cc.trace <> ''
    GROUP BY s.dimension, s.segment
), discounts AS (
    SELECT 'average_discount' AS kpi, s.dimension, s.segment, 'percent' AS unit,
           exact_avg(o.discount_pct) AS value, count(o.discount_pct) AS cases,
           CASE WHEN count(o.discount_pct) >= 2
                THEN stddev_samp(o.discount_pct ORDER BY o.discount_pct) / sqrt(count(o.discount_pct)) END AS standard_error
    FROM staging.stg_opportunities AS o JOIN case_segments AS s ON s.case_id = o.opportunity_id
    WHERE o.is_won
    GROUP BY s.dimension, s.segment
), every_kpi AS (
    SELECT kpi, dimension, segment, unit, value, cases, standard_error FROM medians
    UNION ALL
    SELECT kpi, dimension, segment, 'share', k / nullif(n, 0), n,
           CASE WHEN n >= 2 THEN sqrt((k / n) * (1 - k / n) / n) END
    FROM shares
    UNION ALL
    SELECT kpi, dimension, segment, unit, value, cases, standard_error FROM discounts
)
SELECT dimension, segment, kpi, value, unit, cases::BIGINT AS cases, standard_error
FROM every_kpi
WHERE cases > 0
ORDER BY dimension, segment, kpi
