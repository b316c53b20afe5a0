-- Each visit of an opportunity to a stage: from entering it to the next stage change or the
-- close. The first visit is the stage the opportunity was created in (Salesforce writes no
-- stage change for it), from Opportunity Created to the first stage change.
-- columns:
-- case_id: the case
-- stage: the opportunity stage
-- stage_order: the stage's place in the pipeline (1 = first): the order deals go through the
--   stages (a stage is after every stage that comes before it in more deals than after it),
--   stages with no order between them in Salesforce's standard order
-- entered_at: when the case entered the stage
-- days: days in the stage, calendar time (null while the case is still in it)
-- business_hours: business hours in the stage (mining.business_calendar: within the business
--   hours of the case's calendar, mining.case_calendars, holidays left out; null while the case
--   is still in it)
WITH RECURSIVE stage_events AS (
    SELECT case_id, activity, substr(activity, 8) AS stage, timestamp, event_order, activity_rank
    FROM core.event_log
    WHERE activity LIKE 'Stage: %' OR activity IN ('Opportunity Closed Won', 'Opportunity Closed Lost')
), openings AS (
    -- The opening stage, unless the org also wrote a stage change at the creation itself.
    SELECT c.case_id, 'Stage: ' || c.opening_stage AS activity, c.opening_stage AS stage, e.timestamp,
           e.event_order, coalesce(cat.activity_rank, 16) AS activity_rank
    FROM core.cases AS c
    JOIN core.event_log AS e ON e.case_id = c.case_id AND e.activity = 'Opportunity Created'
    LEFT JOIN core.activity_catalogue AS cat ON cat.activity = 'Stage: ' || c.opening_stage
    WHERE c.opening_stage IS NOT NULL
      AND NOT EXISTS (
          SELECT 1 FROM stage_events AS s
          WHERE s.case_id = c.case_id AND s.timestamp <= e.timestamp
      )
), clocked_changes AS (
    -- Each stage change with the business clock of the case's calendar (mining.business_clock_days).
    SELECT s.*, coalesce(c.clock + coalesce(list_sum(list_transform(c.pieces, lambda p: greatest(least(epoch(s.timestamp), p.e) - p.s, 0))), 0), 0) AS business_clock
    FROM (SELECT * FROM stage_events UNION ALL SELECT * FROM openings) AS s
    LEFT JOIN mining.case_calendars AS k ON k.case_id = s.case_id
    LEFT JOIN mining.business_clock_days AS c ON c.calendar_id = k.calendar_id AND c.utc_date = s.timestamp::DATE
), visits AS (
    SELECT case_id, activity, stage, activity_rank, timestamp AS entered_at,
           epoch(lead(timestamp) OVER w - timestamp) / 86400 AS days,
           (lead(business_clock) OVER w - business_clock) / 3600 AS business_hours,
           row_number() OVER w AS place
    FROM clocked_changes
    WINDOW w AS (PARTITION BY case_id ORDER BY event_order)
), first_visits AS (
    SELECT case_id, stage, min(place) AS place, min(activity_rank) AS activity_rank
    FROM visits WHERE activity LIKE 'Stage: %'
    GROUP BY case_id, stage
), stages AS (
    SELECT stage, min(activity_rank) AS activity_rank FROM first_visits GROUP BY stage
), precedence AS (
    -- For two stages, in how many deals the one came before the other.
    SELECT a.stage AS earlier, b.stage AS later, count(*) AS deals
    FROM first_visits AS a
    JOIN first_visits AS b ON b.case_id = a.case_id AND b.place > a.place
    GROUP BY a.stage, b.stage
), majority AS (
    -- A stage comes before another when it does so in more deals than the other way round.
    SELECT p.earlier, p.later
    FROM precedence AS p
    LEFT JOIN precedence AS q ON q.earlier = p.later AND q.later = p.earlier
    WHERE p.deals > coalesce(q.deals, 0)
), chains AS (
    -- How many stages come before each, one after the other (the longest such chain): a stage
    -- seen only in a few deals still falls between the stages those deals put around it. A
    -- circle (deals that disagree) stops at the number of stages.
    SELECT stage, 1 AS depth FROM stages
    UNION
    SELECT m.later, c.depth + 1
    FROM chains AS c JOIN majority AS m ON m.earlier = c.stage
    WHERE c.depth < (SELECT count(*) FROM stages)
), stage_places AS (
    -- By that depth; stages with no order between them in Salesforce's standard order
    -- (core.activity_catalogue; an org's own stages share one rank there), then by name.
    SELECT s.stage,
           row_number() OVER (ORDER BY max(c.depth), s.activity_rank, s.stage)::INTEGER AS stage_order
    FROM stages AS s JOIN chains AS c USING (stage)
    GROUP BY s.stage, s.activity_rank
)
SELECT v.case_id, v.stage, p.stage_order, v.entered_at, v.days, v.business_hours
FROM visits AS v JOIN stage_places AS p USING (stage)
WHERE v.activity LIKE 'Stage: %'
