-- Every distinct sequence of activities (variant) once, with how many cases follow it: the
-- grouping every variant figure starts from (process map counts, variants, discovery).
-- columns:
-- activity_codes: the variant's activities in order, as mining.activity_codes numbers
-- activities: the variant's activities in order
-- events: number of events in the variant
-- cases: cases following exactly this variant
-- median_throughput_seconds: median seconds from the first to the last event of those cases
-- example_case_id: one case that follows the variant (the smallest id)
WITH variants AS (
    SELECT
        activity_codes,
        count(*) AS cases,
        median(throughput_seconds) AS median_throughput_seconds,
        min(case_id) AS example_case_id
    FROM mining.case_variants
    GROUP BY activity_codes
),
activity_names AS (
    SELECT list(activity ORDER BY activity_code) AS names FROM mining.activity_codes
),
named_variants AS (
    SELECT v.*, list_transform(v.activity_codes, lambda code: n.names[code]) AS activities
    FROM variants AS v, activity_names AS n
)
SELECT
    activity_codes,
    activities,
    len(activities) AS events,
    cases,
    median_throughput_seconds,
    example_case_id
FROM named_variants
