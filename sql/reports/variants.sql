-- Process variants: every distinct sequence of activities, most frequent first, with its share
-- of cases and its typical cycle time.
-- columns:
-- variant_rank: 1 for the most frequent variant
-- activities: the variant's activities in order
-- variant: the same as text, activities joined by ' > '
-- cases: cases following exactly this variant
-- share: share of all cases
-- median_cycle_days: median throughput time of those cases, days
SELECT
    row_number() OVER (ORDER BY count(*) DESC, variant) AS variant_rank,
    any_value(activities) AS activities,
    variant,
    count(*) AS cases,
    count(*) / sum(count(*)) OVER () AS share,
    median(throughput_seconds) / 86400 AS median_cycle_days
FROM mining.case_variants
GROUP BY variant
ORDER BY variant_rank
