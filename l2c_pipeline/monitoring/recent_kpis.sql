-- The monitored KPIs over a trailing window: the cases whose measured step ended in the
-- $recent_days days up to the event log's newest event (reports.kpi_history's recent_ columns;
-- README, Monitoring). Whole-period values (reports.kpi_summary) move little when a change is
-- only days old; these move with it. Read only from core.event_log.
-- columns:
-- kpi: the KPI's name, as in reports.kpi_summary
-- value: its value over the window (null when no case ended in it)
-- cases: the cases (approvals, for discount_approval_time) that ended in the window
-- standard_error: as in reports.kpi_summary (medians: half the spread of the order statistics
--   0.5 -/+ 0.5/sqrt(n); shares: binomial; means: sd/sqrt(n)); null below 2 cases
-- window_start, window_end: the window (exclusive start, inclusive end)
WITH span AS (
    SELECT max(timestamp) AS window_end,
           max(timestamp) - to_days(CAST($recent_days AS INTEGER)) AS window_start
    FROM core.event_log
), first_times AS (
    SELECT case_id,
           min(timestamp) FILTER (WHERE activity = 'Opportunity Created') AS created,
           min(timestamp) FILTER (WHERE activity = 'Opportunity Closed Won') AS won,
           min(timestamp) FILTER (WHERE activity = 'Opportunity Closed Lost') AS lost,
           min(timestamp) FILTER (WHERE activity = 'Quote Created') AS first_quote,
           min(timestamp) FILTER (WHERE activity = 'Contract Signed') AS signed
    FROM core.event_log
    WHERE activity IN ('Opportunity Created', 'Opportunity Closed Won', 'Opportunity Closed Lost',
                       'Quote Created', 'Contract Signed')
    GROUP BY case_id
), approvals AS (
    SELECT object_id,
           min(timestamp) FILTER (WHERE activity = 'Discount Approval Requested') AS requested,
           min(timestamp) FILTER (WHERE activity IN ('Discount Approved', 'Discount Rejected')) AS decided
    FROM core.event_log
    WHERE activity IN ('Discount Approval Requested', 'Discount Approved', 'Discount Rejected')
    GROUP BY object_id
), samples AS (
    -- One observation per case (per approval), dated by the end of its measured step.
    SELECT 'sales_cycle_time' AS kpi, epoch(won - created) / 86400 AS x, won AS ended
    FROM first_times WHERE won IS NOT NULL AND created IS NOT NULL
    UNION ALL
    SELECT 'quote_to_contract_time', epoch(signed - first_quote) / 86400, signed
    FROM first_times WHERE signed > first_quote
    UNION ALL
    SELECT 'discount_approval_time', epoch(decided - requested) / 86400, decided
    FROM approvals WHERE decided IS NOT NULL AND requested IS NOT NULL
    UNION ALL
    SELECT 'win_rate', CASE WHEN won IS NOT NULL THEN 1 ELSE 0 END, coalesce(won, lost)
    FROM first_times WHERE won IS NOT NULL OR lost IS NOT NULL
), recent AS (
    SELECT s.kpi, s.x FROM samples AS s CROSS JOIN span
    WHERE s.ended > span.window_start AND s.ended <= span.window_end
), ranked AS (
    SELECT kpi, x, row_number() OVER (PARTITION BY kpi ORDER BY x) - 1 AS rn,
           count(*) OVER (PARTITION BY kpi) AS n
    FROM recent WHERE kpi IN ('sales_cycle_time', 'quote_to_contract_time')
), medians AS (
    SELECT kpi, median(x) AS value, any_value(n) AS cases,
           median_standard_error(x, rn, n) AS standard_error  -- sql/macros.sql
    FROM ranked
    GROUP BY kpi
), others AS (
    -- The share (win_rate: its binomial error is the sd of the 0/1s over sqrt(n) up to n/(n-1))
    -- and the mean: sd/sqrt(n).
    -- exact_avg and the ordered stddev_samp give the same figure whatever DuckDB's threads do.
    SELECT kpi, exact_avg(x) AS value, count(*) AS cases,
           CASE WHEN count(*) >= 2 THEN
               CASE WHEN kpi = 'win_rate' THEN sqrt(exact_avg(x) * (1 - exact_avg(x)) / count(*))
                    ELSE stddev_samp(x ORDER BY x) / sqrt(count(*)) END
           END AS standard_error
    FROM recent WHERE kpi IN ('win_rate', 'discount_approval_time')
    GROUP BY kpi
), measured AS (
    SELECT * FROM medians UNION ALL SELECT * FROM others
), kpis AS (
    SELECT unnest(['sales_cycle_time', 'win_rate', 'quote_to_contract_time', 'discount_approval_time']) AS kpi
)
SELECT k.kpi, m.value, coalesce(m.cases, 0)::BIGINT AS cases, m.standard_error,
       span.window_start, span.window_end
FROM kpis AS k CROSS JOIN span LEFT JOIN measured AS m USING (kpi)
ORDER BY k.kpi
