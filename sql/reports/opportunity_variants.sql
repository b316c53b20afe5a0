-- The variants of the opportunity cases through the milestones (sales touches left out, as in
-- reports.customer_journeys): every path from Opportunity Created on, how many cases take it,
-- how long they take, and how far it deviates from the target process. A log without
-- opportunities (e.g. a public log loaded from a file) gets the variants of all its cases.
-- columns:
-- variant_rank: 1 for the most common variant
-- variant: the milestone activities in order, joined by ' > '
-- cases: cases following exactly this path
-- share: cases / all opportunity cases
-- median_cycle_days: median days from Opportunity Created (the first milestone where there is none) to the last milestone event
-- conformant_share: share of its cases that follow the target process so far (null when conformance was not computed, or not judged: no event on the reference path)
-- mean_fitness: mean alignment fitness of its cases against the target process (1 = fits; null likewise)
-- example_case_id: one case with the variant
WITH opportunity_cases AS (
    SELECT case_id, is_conformant, fitness
    FROM mining.case_facts
    WHERE case_type = 'opportunity'
       OR NOT EXISTS (SELECT 1 FROM mining.case_facts WHERE case_type = 'opportunity')
), touch_codes AS (
    SELECT coalesce(list(c.activity_code), []) AS codes
    FROM mining.activity_codes AS c
    JOIN core.activity_catalogue AS a USING (activity)
    WHERE a.family = 'touch'
), opportunity_code AS (
    SELECT min(activity_code) AS code FROM mining.activity_codes WHERE activity = 'Opportunity Created'
), activity_names AS (
    SELECT list(activity ORDER BY activity_code) AS names FROM mining.activity_codes
), case_paths AS (
    -- As activity codes: far cheaper than joining each case's milestone names in order.
    SELECT v.case_id,
           list_filter(v.activity_codes, lambda c: NOT list_contains(t.codes, c)) AS milestones
    FROM mining.case_variants AS v
    CROSS JOIN touch_codes AS t
), opportunity_paths AS (
    -- From the (first) Opportunity Created on; the whole path where the case has none.
    SELECT p.case_id,
           p.milestones[coalesce(nullif(list_position(p.milestones, o.code), 0), 1):] AS milestone_codes
    FROM case_paths AS p
    CROSS JOIN opportunity_code AS o
), case_spans AS (
    SELECT case_id,
           epoch(max(timestamp) - coalesce(
               min(timestamp) FILTER (WHERE activity = 'Opportunity Created'), min(timestamp)
           )) / 86400 AS cycle_days
    FROM mining.milestone_events
    GROUP BY case_id
), variant_groups AS (
    SELECT p.milestone_codes, count(*) AS cases, median(s.cycle_days) AS median_cycle_days,
           avg(o.is_conformant::INT) AS conformant_share, exact_avg(o.fitness) AS mean_fitness,
           min(p.case_id) AS example_case_id
    FROM opportunity_paths AS p
    JOIN opportunity_cases AS o USING (case_id)
    JOIN case_spans AS s USING (case_id)
    WHERE len(p.milestone_codes) > 0
    GROUP BY p.milestone_codes
)
SELECT
    row_number() OVER (ORDER BY g.cases DESC, g.example_case_id) AS variant_rank,
    array_to_string(list_transform(g.milestone_codes, lambda c: n.names[c]), ' > ') AS variant,
    g.cases,
    g.cases / sum(g.cases) OVER () AS share,
    g.median_cycle_days,
    g.conformant_share,
    g.mean_fitness,
    g.example_case_id
FROM variant_groups AS g
CROSS JOIN activity_names AS n
ORDER BY variant_rank
