-- The business clock by calendar and UTC day, the form every business duration reads: for each
-- calendar (mining.business_hours) and day of mining.business_calendar's span, the calendar's clock
-- at midnight UTC (business seconds since the calendar's start) and the day's working pieces (its
-- intervals cut at the day's bounds, as epoch seconds). The clock at an instant t of a case is the
-- row of the case's calendar (mining.case_calendars) and t's day, found by a hash join on the two
-- against a few hundred rows a calendar (no sort of the events):
--   clock + the sum over the pieces of greatest(least(epoch(t), end) - start, 0).
-- Business time between two instants is the clock at the later less the clock at the earlier.
-- columns:
-- calendar_id: the calendar
-- utc_date: the day (UTC)
-- clock: the calendar's business seconds before midnight UTC that day
-- pieces: the day's working intervals within the day, as {s, e} epoch seconds (empty: none)
WITH span AS (
    SELECT min(interval_start)::DATE - 1 AS first_day, max(interval_end)::DATE + 1 AS last_day
    FROM mining.business_calendar
), days AS (
    SELECT h.calendar_id, d.utc_date
    FROM (
        SELECT unnest(generate_series(first_day, last_day, INTERVAL 1 DAY))::DATE AS utc_date
        FROM span
        WHERE first_day IS NOT NULL
    ) AS d
    CROSS JOIN (SELECT DISTINCT calendar_id FROM mining.business_hours) AS h
), pieces AS (
    -- Each interval cut at the UTC days it touches (an interval lies within one local day, so
    -- in two or three UTC days), listed by unnesting them: a range join of every day with every
    -- interval took minutes on a log whose years span centuries.
    SELECT calendar_id, utc_date,
           epoch(greatest(interval_start, utc_date::TIMESTAMP)) AS s,
           epoch(least(interval_end, utc_date + INTERVAL 1 DAY)) AS e
    FROM (
        SELECT calendar_id, interval_start, interval_end,
               unnest(generate_series(interval_start::DATE, (interval_end - INTERVAL 1 MICROSECOND)::DATE,
                                      INTERVAL 1 DAY))::DATE AS utc_date
        FROM mining.business_calendar
        WHERE interval_end > interval_start
    )
), midnight AS (
    SELECT d.calendar_id, d.utc_date,
           coalesce(c.seconds_before + least(greatest(epoch(d.utc_date::TIMESTAMP - c.interval_start), 0), c.seconds), 0)
               AS clock
    FROM days AS d
    ASOF LEFT JOIN mining.business_calendar AS c
      ON c.calendar_id = d.calendar_id AND d.utc_date::TIMESTAMP >= c.interval_start
)
SELECT m.calendar_id, m.utc_date, m.clock,
       coalesce(list({'s': p.s, 'e': p.e} ORDER BY p.s) FILTER (WHERE p.s IS NOT NULL), []) AS pieces
FROM midnight AS m
LEFT JOIN pieces AS p USING (calendar_id, utc_date)
GROUP BY m.calendar_id, m.utc_date, m.clock
ORDER BY m.calendar_id, m.utc_date
