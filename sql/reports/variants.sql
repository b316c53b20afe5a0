-- Process variants: every distinct sequence of activities, most frequent first, with its share
-- of cases, its typical cycle time and whether it follows the target process (process.yaml).
-- columns:
-- variant_rank: 1 for the most frequent variant
-- activities: the variant's activities in order
-- variant: the same as text, activities joined by ' > '
-- cases: cases following exactly this variant
-- share: share of all cases
-- median_cycle_days: median throughput time of those cases, days
-- is_conformant: the variant follows the target process so far (pm4py alignment; null when
--   conformance was not computed, e.g. for a public log without a target process)
SELECT
    row_number() OVER (ORDER BY count(*) DESC, variant) AS variant_rank,
    any_value(activities) AS activities,
    variant,
    count(*) AS cases,
    count(*) / sum(count(*)) OVER () AS share,
    median(throughput_seconds) / 86400 AS median_cycle_days,
    bool_and(cc.is_conformant) AS is_conformant
FROM mining.case_variants AS v
LEFT JOIN mining.case_conformance AS cc USING (case_id)
GROUP BY variant
ORDER BY variant_rank
