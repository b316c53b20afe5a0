-- Process variants: every distinct sequence of activities, most frequent first, with its share
-- of cases, its typical cycle time and whether it follows the target process (process.yaml).
-- A view over mining.variant_paths: the variants' activity lists are stored there once, and
-- writing a second copy cost more than ranking them when the report is read.
-- materialized: view
-- columns:
-- variant_rank: 1 for the most frequent variant
-- activities: the variant's activities in order
-- variant: the same as text, activities joined by ' > '
-- cases: cases following exactly this variant
-- share: share of all cases
-- median_cycle_days: median throughput time of those cases, days
-- is_conformant: the variant follows the target process so far (pm4py alignment; null when
--   conformance was not computed, or not judged: none of the variant's activities is on the
--   target process's reference path, e.g. a public log of another process)
SELECT
    row_number() OVER (ORDER BY v.cases DESC, v.activities) AS variant_rank,
    v.activities,
    array_to_string(v.activities, ' > ') AS variant,
    v.cases,
    v.cases / sum(v.cases) OVER () AS share,
    v.median_throughput_seconds / 86400 AS median_cycle_days,
    cc.is_conformant
FROM mining.variant_paths AS v
-- A case's conformance depends only on its sequence of activities: the variant's is its example's.
LEFT JOIN mining.case_conformance AS cc ON cc.case_id = v.example_case_id
ORDER BY variant_rank
