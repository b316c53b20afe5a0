-- Every distinct sequence of activities (variant) once, with how many cases follow it: the
-- grouping every variant figure starts from (process map counts, variants, discovery).
-- columns:
-- activities: the variant's activities in order
-- variant: the same as text, activities joined by ' > '
-- events: number of events in the variant
-- cases: cases following exactly this variant
-- median_throughput_seconds: median seconds from the first to the last event of those cases
-- example_case_id: one case that follows the variant (the smallest id)
SELECT
    activities,
    array_to_string(activities, ' > ') AS variant,
    len(activities) AS events,
    count(*) AS cases,
    median(throughput_seconds) AS median_throughput_seconds,
    min(case_id) AS example_case_id
FROM mining.case_variants
GROUP BY activities
