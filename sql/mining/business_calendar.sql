-- The working intervals that business time is counted in, per calendar (mining.business_hours:
-- one per active BusinessHours of the org, or the one of L2C_BUSINESS_HOURS or the fallback week):
-- for every local day of the calendar years the event log spans, the day's business hours less the
-- org's holidays (mining.business_holiday_dates: a recurring one on every day it falls; every
-- holiday applies to every calendar, on its date in the calendar's own time zone), as instants in
-- UTC. Local times are turned into instants in the calendar's own time zone, so a day on which the
-- clocks change is as long as it was. Each interval carries the business seconds of all of its
-- calendar's intervals before it: a running business clock per calendar.
-- mining.business_clock_days reads it into one row per calendar and UTC day, the form the
-- durations use.
-- columns:
-- calendar_id: the calendar (mining.business_hours)
-- local_date: the day in the calendar's time zone
-- interval_start: when the working interval starts (UTC)
-- interval_end: when it ends (UTC)
-- seconds: its length in seconds
-- seconds_before: business seconds of all the calendar's earlier intervals (its clock at interval_start)
WITH zones AS (
    SELECT calendar_id, any_value(time_zone) AS time_zone FROM mining.business_hours GROUP BY calendar_id
), span AS (
    -- Whole calendar years around the event log (two days more for the time zones): the table
    -- changes once a year, not with every night's newest event, so the models that read it can
    -- carry unchanged cases over.
    SELECT make_date(year(min(least(timestamp, coalesce(started_at, timestamp)))::DATE - 2), 1, 1) AS first_day,
           make_date(year(max(timestamp)::DATE + 2), 12, 31) AS last_day
    FROM core.event_log
), days AS (
    SELECT unnest(generate_series(first_day, last_day, INTERVAL 1 DAY))::DATE AS local_date
    FROM span
    WHERE first_day IS NOT NULL
), working_days AS (
    SELECT h.calendar_id, d.local_date, h.start_minute, h.end_minute
    FROM days AS d
    JOIN mining.business_hours AS h ON h.iso_weekday = isodow(d.local_date)
), holiday_cuts AS (
    -- Each holiday clipped to the day's hours.
    SELECT w.calendar_id, w.local_date, greatest(h.start_minute, w.start_minute) AS start_minute,
           least(h.end_minute, w.end_minute) AS end_minute
    FROM mining.business_holiday_dates AS h
    JOIN working_days AS w ON w.local_date = h.holiday_date
    WHERE h.end_minute > w.start_minute AND h.start_minute < w.end_minute
), boundaries AS (
    SELECT calendar_id, local_date, start_minute AS minute FROM working_days
    UNION SELECT calendar_id, local_date, end_minute FROM working_days
    UNION SELECT calendar_id, local_date, start_minute FROM holiday_cuts
    UNION SELECT calendar_id, local_date, end_minute FROM holiday_cuts
), pieces AS (
    -- The day cut at every boundary; a piece is worked unless a holiday covers it.
    SELECT calendar_id, local_date, minute AS from_minute,
           lead(minute) OVER (PARTITION BY calendar_id, local_date ORDER BY minute) AS to_minute
    FROM boundaries
), worked_pieces AS (
    SELECT p.calendar_id, p.local_date, p.from_minute, p.to_minute
    FROM pieces AS p
    WHERE p.to_minute IS NOT NULL
      AND NOT EXISTS (
          SELECT 1 FROM holiday_cuts AS h
          WHERE h.calendar_id = p.calendar_id AND h.local_date = p.local_date
            AND h.start_minute <= p.from_minute AND h.end_minute >= p.to_minute
      )
), intervals AS (
    SELECT p.calendar_id, p.local_date,
           timezone('UTC', timezone(z.time_zone, p.local_date + p.from_minute * INTERVAL 1 MINUTE)) AS interval_start,
           timezone('UTC', timezone(z.time_zone, p.local_date + p.to_minute * INTERVAL 1 MINUTE)) AS interval_end
    FROM worked_pieces AS p
    JOIN zones AS z USING (calendar_id)
)
SELECT calendar_id, local_date, interval_start, interval_end, epoch(interval_end - interval_start) AS seconds,
       coalesce(sum(epoch(interval_end - interval_start)) OVER (
           PARTITION BY calendar_id ORDER BY interval_start ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
       ), 0) AS seconds_before
FROM intervals
WHERE interval_end > interval_start
ORDER BY calendar_id, interval_start
