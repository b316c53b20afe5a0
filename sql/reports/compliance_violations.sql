-- Compliance (question 10): every case that breaks a rule of the target process (process.yaml,
-- loaded into mining.process_rules), one row per case, rule broken and activity it is about (two
-- missing mandatory steps: two rows), with each case's deviation from the reference path found
-- by pm4py conformance. Deviations on the allowlist (mining.compliance_allowlist) are left out.
-- A step of a part of the process the log holds no event of at all (quotes in an org that does
-- not quote, approvals in one without approval processes) is not asked of any case: the org
-- does not record it, and every won deal would break the rule.
-- columns:
-- case_id: the case
-- rule: the rule broken: mandatory_activities, max_occurrences, ordering_rules, discount_approval,
--   won_without_quote, contract_before_quote_acceptance or target_process_fitness
-- deviation_type: what happened, in words
-- severity: high, medium or low
-- activity: the activity the deviation is about
-- detail: the facts of the case behind it
-- fitness: the case's alignment fitness against the target process (1 = fits)
-- sales_rep: the case's sales rep
-- team: the rep's team
-- region: the rep's region
WITH ruled_activities AS (
    -- The activities some rule below looks at: only their events need counting.
    SELECT activity FROM mining.process_rules WHERE activity IS NOT NULL
    UNION SELECT other_activity FROM mining.process_rules WHERE other_activity IS NOT NULL
    UNION SELECT unnest(['Quote Created', 'Quote Accepted', 'Contract Signed'])
), counts AS (
    SELECT case_id, activity, count(*) AS occurrences, min(timestamp) AS first_at
    FROM core.event_log
    WHERE activity IN (SELECT activity FROM ruled_activities)
    GROUP BY case_id, activity
), recorded_families AS (
    -- The activity families the log holds any event of.
    SELECT DISTINCT c.family
    FROM (SELECT DISTINCT activity FROM core.event_log) AS e
    JOIN core.activity_catalogue AS c USING (activity)
), judged_activities AS (
    -- The ruled activities a case can be asked for: those of a recorded family, and those the
    -- catalogue does not know (a target process of another process: nothing says they are not
    -- recorded).
    SELECT r.activity
    FROM ruled_activities AS r
    LEFT JOIN core.activity_catalogue AS c USING (activity)
    WHERE c.activity IS NULL OR c.family IN (SELECT family FROM recorded_families)
), opportunities AS (
    SELECT f.case_id, f.is_won, f.discount_pct, o.synced_quote_id
    FROM mining.case_facts AS f
    JOIN staging.stg_opportunities AS o ON o.opportunity_id = f.case_id
), missing_mandatory AS (
    SELECT o.case_id, 'mandatory_activities' AS rule, 'missing mandatory step' AS deviation_type, 'high' AS severity,
           r.activity, 'won without ' || r.activity AS detail
    FROM opportunities AS o
    JOIN mining.process_rules AS r ON r.rule = 'mandatory_activities'
    WHERE o.is_won AND r.activity IN (SELECT activity FROM judged_activities) AND NOT EXISTS (SELECT 1 FROM counts AS c WHERE c.case_id = o.case_id AND c.activity = r.activity)
), too_often AS (
    SELECT c.case_id, 'max_occurrences', 'step occurring too often', 'medium', r.activity,
           c.occurrences || ' times (at most ' || r.number::INT || ' allowed)'
    FROM counts AS c
    JOIN mining.process_rules AS r ON r.rule = 'max_occurrences' AND r.activity = c.activity
    WHERE c.occurrences > r.number
), out_of_sequence AS (
    SELECT f.case_id, 'ordering_rules', 'out of sequence', 'high', t.activity,
           t.activity || ' at ' || strftime(t.first_at, '%Y-%m-%d %H:%M') || ' before ' || f.activity || ' at '
               || strftime(f.first_at, '%Y-%m-%d %H:%M')
    FROM mining.process_rules AS r
    JOIN counts AS f ON f.activity = r.activity
    JOIN counts AS t ON t.case_id = f.case_id AND t.activity = r.other_activity
    WHERE r.rule = 'ordering_rules' AND t.first_at < f.first_at
), approval_missing AS (
    SELECT o.case_id, 'discount_approval', 'approval missing above the discount threshold', 'high', r.activity,
           'won at ' || round(o.discount_pct, 1) || '% discount (threshold ' || r.number
               || '%) without ' || r.activity || ' of the accepted quote ' || coalesce(o.synced_quote_id, '(none)')
    FROM opportunities AS o
    JOIN mining.process_rules AS r ON r.rule = 'discount_approval'
    WHERE o.is_won AND o.discount_pct > r.number AND r.activity IN (SELECT activity FROM judged_activities)
      AND NOT CASE WHEN r.activity = 'Discount Approved' THEN EXISTS (
          -- An approval of the quote the customer accepted (not of an earlier version), finally
          -- approved (every step of it: a later approver may reject), and decided before the
          -- customer accepted the quote, where the log says when that was.
          SELECT 1
          FROM mining.approval_waits AS w
          JOIN staging.stg_approvals AS a ON a.approval_id = w.approval_id
          WHERE w.case_id = o.case_id AND a.quote_id = o.synced_quote_id AND w.decision = 'approved'
            AND w.decided_at <= coalesce(
                (SELECT min(e.timestamp) FROM core.event_log AS e
                 WHERE e.case_id = o.case_id AND e.object_id = o.synced_quote_id AND e.activity = 'Quote Accepted'),
                w.decided_at)
      ) ELSE EXISTS (
          -- Another approval activity (process.yaml): one of the accepted quote's approvals.
          SELECT 1
          FROM core.event_log AS e
          JOIN staging.stg_approvals AS a ON a.approval_id = e.object_id
          WHERE e.case_id = o.case_id AND e.activity = r.activity AND a.quote_id = o.synced_quote_id
      ) END
), won_without_quote AS (
    SELECT o.case_id, 'won_without_quote', 'won without a quote', 'high', 'Quote Created',
           'Opportunity Closed Won with no Quote Created'
    FROM opportunities AS o
    WHERE o.is_won AND 'Quote Created' IN (SELECT activity FROM judged_activities)
      AND NOT EXISTS (SELECT 1 FROM counts AS c WHERE c.case_id = o.case_id AND c.activity = 'Quote Created')
), contract_before_acceptance AS (
    SELECT s.case_id, 'contract_before_quote_acceptance', 'contract before quote acceptance', 'medium',
           'Contract Signed',
           'Contract Signed at ' || strftime(s.first_at, '%Y-%m-%d %H:%M') || ', first Quote Accepted at '
               || strftime(a.first_at, '%Y-%m-%d %H:%M')
    FROM counts AS s
    JOIN counts AS a ON a.case_id = s.case_id AND a.activity = 'Quote Accepted'
    WHERE s.activity = 'Contract Signed' AND s.first_at < a.first_at
), off_the_path AS (
    SELECT c.case_id, 'target_process_fitness', 'deviates from the reference path', 'low',
           coalesce(c.skipped_steps[1], c.unexpected_steps[1]), c.detail
    FROM mining.case_conformance AS c
    JOIN opportunities AS o USING (case_id)
    WHERE NOT c.is_conformant
), violations AS (
    SELECT * FROM missing_mandatory
    UNION ALL SELECT * FROM too_often
    UNION ALL SELECT * FROM out_of_sequence
    UNION ALL SELECT * FROM approval_missing
    UNION ALL SELECT * FROM won_without_quote
    UNION ALL SELECT * FROM contract_before_acceptance
    UNION ALL SELECT * FROM off_the_path
)
SELECT v.case_id, v.rule, v.deviation_type, v.severity, v.activity, v.detail, f.fitness, f.sales_rep, f.team, f.region
FROM violations AS v
JOIN mining.case_facts AS f USING (case_id)
WHERE NOT EXISTS (
    SELECT 1 FROM mining.compliance_allowlist AS a
    WHERE a.rule = v.rule AND (a.case_id IS NULL OR a.case_id = v.case_id)
)
ORDER BY CASE v.severity WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END, v.rule, v.case_id, v.activity
