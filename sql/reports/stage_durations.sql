-- Time spent in each opportunity stage (questions 1 and 8): from entering the stage to the next
-- stage change or the close, overall and by team and region; in calendar days and in business
-- hours.
-- columns:
-- stage: the opportunity stage
-- stage_order: the stage's place in the pipeline (1 = first; mining.stage_visits)
-- dimension: 'all', 'team' or 'region'
-- dimension_value: the value of the dimension ('all' overall)
-- cases: cases that entered the stage
-- visits: times the stage was entered (a case that falls back enters again)
-- open_visits: visits still in the stage (no later stage change or close yet)
-- median_days: median days in the stage, finished visits
-- mean_days: mean days in the stage, finished visits
-- p90_days: 90th percentile of days in the stage, finished visits
-- median_business_hours: median business hours in the stage (within the business hours of
--   each case's own calendar, mining.case_calendars, holidays left out), finished visits
-- mean_business_hours: mean business hours in the stage, finished visits
-- p90_business_hours: 90th percentile of business hours in the stage, finished visits
WITH stage_visits AS (
    SELECT v.*, f.team, f.region FROM mining.stage_visits AS v JOIN mining.case_facts AS f USING (case_id)
)
SELECT
    stage, any_value(stage_order) AS stage_order,
    CASE WHEN grouping(team) = 0 THEN 'team' WHEN grouping(region) = 0 THEN 'region' ELSE 'all' END AS dimension,
    coalesce(CASE WHEN grouping(team) = 0 THEN team WHEN grouping(region) = 0 THEN region ELSE 'all' END, '(none)')
        AS dimension_value,
    count(DISTINCT case_id) AS cases,
    count(*) AS visits,
    count(*) FILTER (WHERE days IS NULL) AS open_visits,
    median(days) AS median_days,
    exact_avg(days) AS mean_days,
    quantile_cont(days, 0.9) AS p90_days,
    median(business_hours) AS median_business_hours,
    exact_avg(business_hours) AS mean_business_hours,
    quantile_cont(business_hours, 0.9) AS p90_business_hours
FROM stage_visits
GROUP BY GROUPING SETS ((stage), (stage, team), (stage, region))
ORDER BY dimension <> 'all', dimension, dimension_value, stage_order
