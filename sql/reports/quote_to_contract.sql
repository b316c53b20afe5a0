-- Quote to contract (questions 1, 3 and 9): cycle times, quote versions, discount-approval waits,
-- the customer's decision time and rework loops (rejected quotes re-issued, re-approvals);
-- overall and by sales rep, team, region and product family. Cases with at least one quote.
-- columns:
-- dimension: 'all', 'sales_rep', 'team', 'region' or 'product_family'
-- dimension_value: the value of the dimension ('all' overall)
-- cases: cases with at least one quote
-- quote_versions: quotes created
-- avg_quote_versions: quotes created per case
-- median_quote_to_contract_days: median days from the first Quote Created to Contract Signed
-- presented_quotes: quotes presented to (or answered by) the customer whose outcome is known (answered, or the deal closed)
-- rejected_quotes: of those, quotes the customer rejected
-- rejection_share: rejected_quotes / presented_quotes: the quote rework loop
-- median_decision_days: median days from Quote Presented to the customer's answer (Accepted or Rejected)
-- decision_days_vs_rest: median_decision_days / the same median over all other values of the dimension
-- approvals: discount approvals completed (approved or rejected)
-- median_approval_hours: median hours from Discount Approval Requested to the approver's decision
-- p90_approval_hours: 90th percentile of the same
-- median_approval_business_hours: median business hours from the request to the decision (within
--   the business hours of each case's own calendar, mining.case_calendars, holidays left out)
-- p90_approval_business_hours: 90th percentile of the same
-- approval_hours_vs_rest: median_approval_hours / the same median over all other values of the dimension
-- re_approval_cases: cases that needed more than one discount approval
-- rework_cases: cases with more than one quote version
-- rework_share: rework_cases / cases
WITH quotes AS (
    SELECT
        e.case_id, e.object_id AS quote_id,
        min(e.timestamp) FILTER (WHERE e.activity = 'Quote Created') AS created_at,
        min(e.timestamp) FILTER (WHERE e.activity = 'Quote Presented') AS presented_at,
        min(e.timestamp) FILTER (WHERE e.activity IN ('Quote Accepted', 'Quote Rejected')) AS answered_at,
        bool_or(e.activity = 'Quote Rejected') AS rejected
    FROM core.event_log AS e
    WHERE e.activity IN ('Quote Created', 'Quote Presented', 'Quote Accepted', 'Quote Rejected')
    GROUP BY e.case_id, e.object_id
), quoted_cases AS (
    SELECT f.case_id, f.is_closed, f.quote_versions, f.approval_requests,
           epoch(f.contract_signed_at - f.first_quote_at) / 86400 AS quote_to_contract_days
    FROM mining.case_facts AS f
    WHERE f.quote_versions > 0
), case_groups AS (
    -- Each quoted case once overall and once per dimension value.
    SELECT case_id, 'all' AS dimension, 'all' AS dimension_value FROM quoted_cases
    UNION ALL
    SELECT d.case_id, d.dimension, d.dimension_value
    FROM mining.case_dimensions AS d
    JOIN quoted_cases USING (case_id)
    WHERE d.dimension IN ('sales_rep', 'team', 'region', 'product_family')
), case_figures AS (
    SELECT g.dimension, g.dimension_value, count(*) AS cases, sum(q.quote_versions) AS quote_versions,
           median(q.quote_to_contract_days) FILTER (WHERE q.quote_to_contract_days >= 0) AS median_quote_to_contract_days,
           count(*) FILTER (WHERE q.approval_requests > 1) AS re_approval_cases,
           count(*) FILTER (WHERE q.quote_versions > 1) AS rework_cases
    FROM case_groups AS g JOIN quoted_cases AS q USING (case_id)
    GROUP BY g.dimension, g.dimension_value
), quote_figures AS (
    SELECT g.dimension, g.dimension_value,
           -- A quote the customer answered was presented, whether or not the org recorded when.
           count(*) FILTER (WHERE (qu.presented_at IS NOT NULL OR qu.answered_at IS NOT NULL)
                            AND (qu.answered_at IS NOT NULL OR q.is_closed)) AS presented_quotes,
           count(*) FILTER (WHERE qu.rejected) AS rejected_quotes,
           median(epoch(qu.answered_at - qu.presented_at)) / 86400 AS median_decision_days
    FROM case_groups AS g JOIN quoted_cases AS q USING (case_id) JOIN quotes AS qu USING (case_id)
    GROUP BY g.dimension, g.dimension_value
), approval_figures AS (
    SELECT g.dimension, g.dimension_value, count(a.decided_at) AS approvals,
           median(a.wait_hours) AS median_approval_hours,
           quantile_cont(a.wait_hours, 0.9) AS p90_approval_hours,
           median(a.business_wait_hours) AS median_approval_business_hours,
           quantile_cont(a.business_wait_hours, 0.9) AS p90_approval_business_hours
    FROM case_groups AS g JOIN mining.approval_waits AS a USING (case_id)
    GROUP BY g.dimension, g.dimension_value
), groups AS (
    SELECT DISTINCT dimension, dimension_value FROM case_groups WHERE dimension <> 'all'
), samples AS (
    -- Every approval wait and every decision time, under each dimension value of its case.
    SELECT g.dimension, g.dimension_value, 'approval_hours' AS measure, a.wait_hours AS value
    FROM case_groups AS g JOIN mining.approval_waits AS a USING (case_id)
    WHERE g.dimension <> 'all' AND a.wait_hours IS NOT NULL
    UNION ALL
    SELECT g.dimension, g.dimension_value, 'decision_days', epoch(qu.answered_at - qu.presented_at) / 86400
    FROM case_groups AS g JOIN quotes AS qu USING (case_id)
    WHERE g.dimension <> 'all' AND qu.answered_at IS NOT NULL AND qu.presented_at IS NOT NULL
), ranked_samples AS (
    SELECT *, row_number() OVER (PARTITION BY dimension, measure ORDER BY value) AS overall_rank
    FROM samples
), group_samples AS (
    SELECT *, row_number() OVER (PARTITION BY dimension, measure, dimension_value ORDER BY overall_rank) AS group_rank
    FROM ranked_samples
), rest_sizes AS (
    SELECT g.dimension, g.dimension_value, m.measure, m.samples - coalesce(n.samples, 0) AS rest
    FROM groups AS g
    JOIN (SELECT dimension, measure, count(*) AS samples FROM samples GROUP BY ALL) AS m USING (dimension)
    LEFT JOIN (
        SELECT dimension, dimension_value, measure, count(*) AS samples FROM samples GROUP BY ALL
    ) AS n USING (dimension, dimension_value, measure)
), rest_positions AS (
    -- The middle of the rest (every other value of the dimension): one position when the rest
    -- is odd, the two to average when it is even; the same figure as median() over the rest.
    SELECT dimension, dimension_value, measure, unnest(list_distinct([(rest + 1) // 2, rest // 2 + 1])) AS k
    FROM rest_sizes
    WHERE rest > 0
), rest_ranks AS (
    -- The k-th of the rest, in the order of all the dimension's samples, comes after k - 1 of
    -- the rest and after those of the group's own samples that have fewer than k of the rest
    -- before them (overall_rank - group_rank): one pass over the group's samples, where a
    -- median over the rest of each group would read every other group's samples again.
    SELECT p.dimension, p.dimension_value, p.measure, p.k + count(s.group_rank) AS overall_rank
    FROM rest_positions AS p
    LEFT JOIN group_samples AS s
      ON s.dimension = p.dimension AND s.dimension_value = p.dimension_value AND s.measure = p.measure
     AND s.overall_rank - s.group_rank < p.k
    GROUP BY p.dimension, p.dimension_value, p.measure, p.k
), rest_medians AS (
    SELECT r.dimension, r.dimension_value, r.measure, avg(s.value) AS rest_median
    FROM rest_ranks AS r
    JOIN ranked_samples AS s
      ON s.dimension = r.dimension AND s.measure = r.measure AND s.overall_rank = r.overall_rank
    GROUP BY r.dimension, r.dimension_value, r.measure
), rest_figures AS (
    SELECT dimension, dimension_value,
           any_value(rest_median) FILTER (WHERE measure = 'approval_hours') AS rest_approval_hours,
           any_value(rest_median) FILTER (WHERE measure = 'decision_days') AS rest_decision_days
    FROM rest_medians
    GROUP BY dimension, dimension_value
)
SELECT
    c.dimension, c.dimension_value, c.cases, c.quote_versions, c.quote_versions / c.cases AS avg_quote_versions,
    c.median_quote_to_contract_days, coalesce(qf.presented_quotes, 0) AS presented_quotes,
    coalesce(qf.rejected_quotes, 0) AS rejected_quotes,
    qf.rejected_quotes / nullif(qf.presented_quotes, 0) AS rejection_share, qf.median_decision_days,
    qf.median_decision_days / nullif(r.rest_decision_days, 0) AS decision_days_vs_rest,
    coalesce(af.approvals, 0) AS approvals, af.median_approval_hours, af.p90_approval_hours,
    af.median_approval_hours / nullif(r.rest_approval_hours, 0) AS approval_hours_vs_rest,
    af.median_approval_business_hours, af.p90_approval_business_hours,
    c.re_approval_cases, c.rework_cases, c.rework_cases / c.cases AS rework_share
FROM case_figures AS c
LEFT JOIN quote_figures AS qf USING (dimension, dimension_value)
LEFT JOIN approval_figures AS af USING (dimension, dimension_value)
LEFT JOIN rest_figures AS r USING (dimension, dimension_value)
ORDER BY c.dimension <> 'all', c.dimension, c.dimension_value
