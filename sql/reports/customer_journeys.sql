-- Customer journeys (questions 5 and 11): the most common paths through the milestones (sales
-- touches left out), the detours (a step back to an earlier step of the reference path), the loops (an activity
-- repeated in a case) and the redundant steps (the same activity twice in a row).
-- columns:
-- journey_type: 'path', 'detour', 'loop' or 'redundant'
-- journey_rank: rank within the type, most cases first
-- pattern: the path, 'A > B' for a detour or a redundant step, the repeated activity for a loop
-- cases: cases with the pattern
-- share: cases / all cases (path) or / cases that had the pattern's first activity (detour, loop, redundant)
-- median_cycle_days: median days from first to last event of those cases
-- example_case_id: one case with the pattern
WITH case_span AS (
    SELECT case_id, epoch(max(timestamp) - min(timestamp)) / 86400 AS cycle_days
    FROM mining.milestone_events GROUP BY case_id
), case_activities AS (
    SELECT case_id, activity, count(*) AS occurrences
    FROM mining.milestone_events GROUP BY case_id, activity
), with_activity AS (
    SELECT activity, count(*) AS cases FROM case_activities GROUP BY activity
), touch_codes AS (
    SELECT coalesce(list(c.activity_code), []) AS codes
    FROM mining.activity_codes AS c
    JOIN core.activity_catalogue AS a USING (activity)
    WHERE a.family = 'touch'
), activity_names AS (
    SELECT list(activity ORDER BY activity_code) AS names FROM mining.activity_codes
), path_groups AS (
    -- A case's path through the milestones is its variant without the sales touches: grouped
    -- as activity codes, far cheaper than joining each case's milestone names in order.
    SELECT list_filter(v.activity_codes, lambda c: NOT list_contains(t.codes, c)) AS milestone_codes,
           count(*) AS cases, median(s.cycle_days) AS median_cycle_days, min(v.case_id) AS example_case_id
    FROM mining.case_variants AS v
    JOIN case_span AS s USING (case_id)
    CROSS JOIN touch_codes AS t
    GROUP BY milestone_codes
), path_rows AS (
    SELECT 'path' AS journey_type,
           array_to_string(list_transform(g.milestone_codes, lambda c: n.names[c]), ' > ') AS pattern,
           g.cases, g.cases / (SELECT count(*) FROM case_span) AS share, g.median_cycle_days,
           g.example_case_id
    FROM path_groups AS g CROSS JOIN activity_names AS n
), detours AS (
    -- A step back: to a reference-path step before the one the case stood at (the previous
    -- event's, or the furthest it had reached when that one is off the path). The steps that
    -- follow it forward again are no detour.
    SELECT DISTINCT case_id, previous_activity AS activity, previous_activity || ' > ' || activity AS pattern
    FROM mining.milestone_events
    WHERE path_step < coalesce(previous_path_step, furthest_path_step)
), redundant AS (
    SELECT DISTINCT case_id, activity, activity || ' > ' || next_activity AS pattern
    FROM mining.milestone_events
    WHERE next_activity = activity
), loops AS (
    SELECT case_id, activity, activity AS pattern FROM case_activities WHERE occurrences > 1
), step_rows AS (
    SELECT t.journey_type, t.pattern, count(*) AS cases, count(*) / any_value(w.cases) AS share,
           median(s.cycle_days) AS median_cycle_days, min(t.case_id) AS example_case_id
    FROM (SELECT 'detour' AS journey_type, * FROM detours
          UNION ALL SELECT 'redundant', * FROM redundant
          UNION ALL SELECT 'loop', * FROM loops) AS t
    JOIN with_activity AS w USING (activity)
    JOIN case_span AS s USING (case_id)
    GROUP BY t.journey_type, t.pattern
), ranked AS (
    SELECT *, row_number() OVER (PARTITION BY journey_type ORDER BY cases DESC, pattern) AS journey_rank
    FROM (SELECT * FROM path_rows UNION ALL SELECT * FROM step_rows)
)
SELECT journey_type, journey_rank, pattern, cases, share, median_cycle_days, example_case_id
FROM ranked
WHERE journey_type <> 'path' OR journey_rank <= 50
ORDER BY CASE journey_type WHEN 'path' THEN 1 WHEN 'detour' THEN 2 WHEN 'loop' THEN 3 ELSE 4 END, journey_rank
