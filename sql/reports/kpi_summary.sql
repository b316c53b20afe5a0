-- The headline KPIs the users track, computed over the whole event log (the drift checks judge
-- some of them over a trailing window too: reports.kpi_history's recent_ columns).
-- columns:
-- kpi: the KPI's name
-- value: its value (null when the org records nothing it could be computed from; see note)
-- unit: days, share (0 to 1) or percent
-- period: the span of the event log the value covers
-- definition: how it is computed
-- note: why there is no value, when there is none
-- cases: how many cases (leads, opportunities, orders, invoices) the value is computed over
-- standard_error: how much the value moves by chance alone, in its unit (shares: binomial
--   sqrt(p(1-p)/n); medians: half the spread of the order statistics 0.5 -/+ 0.5/sqrt(n), which is
--   1.2533 sigma/sqrt(n) for a normal sample; the means (discount, approval time): sd/sqrt(n); days sales
--   outstanding: the ratio's delta-method error); null below 2 cases
WITH log_span AS (
    SELECT min(timestamp)::DATE || ' to ' || max(timestamp)::DATE AS period, max(timestamp) AS newest FROM core.event_log
), first_times AS (
    SELECT case_id,
           min(timestamp) FILTER (WHERE activity = 'Opportunity Created') AS created,
           min(timestamp) FILTER (WHERE activity = 'Opportunity Closed Won') AS won,
           min(timestamp) FILTER (WHERE activity = 'Quote Created') AS first_quote,
           min(timestamp) FILTER (WHERE activity = 'Contract Signed') AS signed
    FROM core.event_log
    GROUP BY case_id
), amended AS (
    SELECT DISTINCT original_order_id AS order_id FROM staging.stg_orders WHERE is_reduction
), receivables AS (
    -- Days sales outstanding over the last 90 days of the log: open balance / billed x 90.
    SELECT exact_sum(CASE WHEN invoice_status = 'Posted' THEN balance END) AS open_balance,
           exact_sum(CASE WHEN invoice_status = 'Posted'
                           AND invoice_date > (SELECT newest FROM log_span)::DATE - 90 THEN total_amount END) AS billed
    FROM staging.stg_invoices
), samples AS (
    -- The observations behind the median KPIs, for their standard errors.
    SELECT 'sales_cycle_time' AS kpi, epoch(won - created) / 86400 AS x FROM first_times WHERE won IS NOT NULL
    UNION ALL
    SELECT 'quote_to_contract_time', epoch(signed - first_quote) / 86400 FROM first_times
    WHERE signed > first_quote
    UNION ALL
    SELECT 'invoice_to_payment_time', days_to_pay FROM mining.invoice_payments WHERE days_to_pay IS NOT NULL
), ranked AS (
    SELECT kpi, x, row_number() OVER (PARTITION BY kpi ORDER BY x) - 1 AS rn,
           count(*) OVER (PARTITION BY kpi) AS n
    FROM samples
), median_errors AS (
    -- Half the spread of the interpolated quantiles at 0.5 -/+ 0.5/sqrt(n) (sql/macros.sql).
    SELECT kpi, any_value(n) AS cases, median_standard_error(x, rn, n) AS standard_error
    FROM ranked
    GROUP BY kpi
), shares AS (
    -- The share KPIs as (kpi, cases, successes): their binomial standard errors.
    SELECT 'lead_to_opportunity_conversion' AS kpi, count(*) AS n, count(opportunity_created_at) AS k
    FROM mining.lead_progress WHERE created_at IS NOT NULL
    UNION ALL
    SELECT 'win_rate', count(*) FILTER (WHERE is_closed), count(*) FILTER (WHERE is_closed AND is_won)
    FROM staging.stg_opportunities
    UNION ALL
    SELECT 'order_rework_rate', count(*), count(a.order_id) FROM staging.stg_orders o
    LEFT JOIN amended a ON a.order_id = o.order_id WHERE NOT o.is_reduction
    UNION ALL
    SELECT 'conformance_rate', count(*), count(*) FILTER (WHERE cc.is_conformant)
    FROM mining.case_conformance AS cc
    JOIN staging.stg_opportunities AS o ON o.opportunity_id = cc.case_id WHERE cc.trace <> ''
), dso_terms AS (
    SELECT coalesce(balance, 0) AS a,
           CASE WHEN invoice_date > (SELECT newest FROM log_span)::DATE - 90 THEN coalesce(total_amount, 0)
                ELSE 0 END AS b
    FROM staging.stg_invoices WHERE invoice_status = 'Posted'
), precision AS (
    SELECT kpi, cases, standard_error FROM median_errors
    UNION ALL
    SELECT kpi, n, CASE WHEN n >= 2 THEN sqrt((k / n) * (1 - k / n) / n) END FROM shares
    UNION ALL
    SELECT 'average_discount', count(discount_pct),
           CASE WHEN count(discount_pct) >= 2 THEN stddev_samp(discount_pct ORDER BY discount_pct) / sqrt(count(discount_pct)) END
    FROM staging.stg_opportunities WHERE is_won
    UNION ALL
    SELECT 'discount_approval_time', count(wait_hours),
           CASE WHEN count(wait_hours) >= 2 THEN stddev_samp(wait_hours / 24 ORDER BY wait_hours) / sqrt(count(wait_hours)) END
    FROM mining.approval_waits WHERE decided_at IS NOT NULL
    UNION ALL
    -- A ratio of two sums over the posted invoices, R = sum(a) / sum(b): its delta-method error is
    -- sqrt(sum((a - R b)^2)) / sum(b). The squares of amounts can pass exact_sum's range: they are
    -- added in their own order instead, which gives the same sum every time too.
    SELECT 'days_sales_outstanding', count(*),
           CASE WHEN count(*) >= 2 AND exact_sum(t.b) > 0
                THEN 90 * sqrt(sum(t.squared ORDER BY t.squared)) / exact_sum(t.b) END
    FROM (
        SELECT d.*, power(d.a - r.ratio * d.b, 2) AS squared
        FROM dso_terms AS d
        CROSS JOIN (SELECT exact_sum(a) / nullif(exact_sum(b), 0) AS ratio FROM dso_terms) AS r
    ) AS t
), kpis AS (
    SELECT 'sales_cycle_time' AS kpi,
           (SELECT median(epoch(won - created)) / 86400 FROM first_times WHERE won IS NOT NULL) AS value,
           'days' AS unit, 'median days (calendar time) from Opportunity Created to Opportunity Closed Won, won cases' AS definition
    UNION ALL
    SELECT 'lead_to_opportunity_conversion',
           (SELECT count(opportunity_created_at) / nullif(count(*), 0) FROM mining.lead_progress
            WHERE created_at IS NOT NULL), 'share',
           'leads whose case is an opportunity (converted into one that exists) / all leads: the '
           || 'lead funnel''s first step'
    UNION ALL
    SELECT 'win_rate',
           (SELECT avg(is_won::INT) FILTER (WHERE is_closed) FROM staging.stg_opportunities), 'share',
           'won / closed opportunities'
    UNION ALL
    SELECT 'quote_to_contract_time',
           (SELECT median(epoch(signed - first_quote)) / 86400 FROM first_times WHERE signed > first_quote),
           'days', 'median days (calendar time) from the first Quote Created to Contract Signed'
    UNION ALL
    SELECT 'invoice_to_payment_time',
           (SELECT median(days_to_pay) FROM mining.invoice_payments),
           'days', 'median days (calendar time) from Invoice Sent (Invoice Posted where the org records no sending) to the day the customer paid it in full (the payment''s own date), paid invoices'
    UNION ALL
    SELECT 'days_sales_outstanding', (SELECT open_balance / nullif(billed, 0) * 90 FROM receivables), 'days',
           'open balance of posted invoices / amount invoiced in the last 90 days x 90'
    UNION ALL
    SELECT 'order_rework_rate',
           (SELECT avg((a.order_id IS NOT NULL)::INT) FROM staging.stg_orders o
            LEFT JOIN amended a ON a.order_id = o.order_id WHERE NOT o.is_reduction), 'share',
           'orders corrected by at least one reduction order / orders'
    UNION ALL
    SELECT 'conformance_rate',
           (SELECT avg(cc.is_conformant::INT) FROM mining.case_conformance AS cc
            JOIN staging.stg_opportunities AS o ON o.opportunity_id = cc.case_id
            WHERE cc.trace <> ''), 'share',
           'opportunities following the target process (process.yaml) so far / opportunities with an event '
           || 'on its reference path (pm4py alignments)'
    UNION ALL
    SELECT 'average_discount',
           (SELECT exact_avg(discount_pct) FROM staging.stg_opportunities WHERE is_won), 'percent',
           'mean discount % of won opportunities (the synced quote''s, else the product lines''; 0 without either)'
    UNION ALL
    -- A mean, not a median: a wait that grows moves it at once, and the drift checks see it.
    SELECT 'discount_approval_time',
           (SELECT exact_avg(wait_hours) / 24 FROM mining.approval_waits WHERE decided_at IS NOT NULL),
           'days', 'mean days (calendar time) from Discount Approval Requested to the decision '
           || '(Discount Approved or Rejected), decided approvals'
), has AS (
    SELECT (SELECT count(*) FROM staging.stg_invoices) > 0 AS invoices,
           (SELECT count(*) FROM staging.stg_orders) > 0 AS orders,
           (SELECT count(*) FROM staging.stg_quotes) > 0 AS quotes,
           (SELECT count(*) FROM mining.approval_waits) > 0 AS approvals
)
SELECT k.kpi, k.value, k.unit, s.period, k.definition,
       CASE
           WHEN k.value IS NOT NULL THEN NULL
           WHEN k.kpi IN ('invoice_to_payment_time', 'days_sales_outstanding') AND NOT h.invoices
               THEN 'the org has no invoices (the mapping names no invoice object, or the org lacks it)'
           WHEN k.kpi = 'order_rework_rate' AND NOT h.orders THEN 'the org has no orders'
           WHEN k.kpi = 'quote_to_contract_time' AND NOT h.quotes THEN 'the org has no quotes'
           WHEN k.kpi = 'discount_approval_time' AND NOT h.approvals THEN 'the org records no discount approvals'
           ELSE 'no case has reached the milestones it is measured between yet'
       END AS note,
       coalesce(p.cases, 0)::BIGINT AS cases,
       CASE WHEN k.value IS NOT NULL THEN p.standard_error END AS standard_error
FROM kpis AS k CROSS JOIN log_span AS s CROSS JOIN has AS h LEFT JOIN precision AS p USING (kpi)
