-- The days (or parts of days) the org's holidays take out of business time over the calendar
-- years of the event log: a one-off holiday on its date, a recurring one on every day its rule gives, in
-- set-based SQL over a spine of days (no loop). The rules read as Salesforce's: daily every n days
-- from the start; every weekday Monday to Friday; weekly every n weeks (weeks from Sunday, the
-- mask's first day) on the mask's weekdays; monthly every n months on a day of the month (a month
-- without that day has none: no 31 April); monthly Nth every n months on the first to fourth or
-- last of the mask's weekdays in the month; yearly and yearly Nth the same in one month of every n
-- years. Nothing before the recurrence's start or after its end.
-- columns:
-- holiday_id: the Holiday record
-- holiday_name: its name
-- holiday_date: the day, in the business hours' time zone
-- start_minute: minutes after local midnight the holiday starts (0 for a whole day)
-- end_minute: minutes after local midnight it ends (1440 for a whole day)
-- is_recurring: the day is an occurrence of a recurring holiday's rule
WITH span AS (
    -- Whole calendar years around the event log (two days more for the time zones): the table
    -- changes once a year, not with every night's newest event, so the models that read it can
    -- carry unchanged cases over.
    SELECT make_date(year(min(least(timestamp, coalesce(started_at, timestamp)))::DATE - 2), 1, 1) AS first_day,
           make_date(year(max(timestamp)::DATE + 2), 12, 31) AS last_day
    FROM core.event_log
), days AS (
    -- Whole months, so a day's rank among its month's matching weekdays is right at the edges.
    SELECT unnest(generate_series(date_trunc('month', first_day), last_day(last_day), INTERVAL 1 DAY))::DATE AS day
    FROM span
    WHERE first_day IS NOT NULL
), rules AS (
    SELECT * FROM mining.business_holidays WHERE recurrence_type IS NOT NULL
), matching_days AS (
    -- Each rule against the days from its start's month on (a yearly rule: its month only);
    -- the weekday, day of the month and period (every n) are checked next, the rank after.
    SELECT r.*, d.day,
           date_diff('month', date_trunc('month', r.recurrence_start_date), date_trunc('month', d.day)) AS months_in,
           ((r.recurrence_day_mask >> dayofweek(d.day)) & 1) = 1 AS in_mask
    FROM rules AS r
    JOIN days AS d
      ON d.day >= date_trunc('month', r.recurrence_start_date)
     AND (r.recurrence_month IS NULL OR month(d.day) = r.recurrence_month
          OR r.recurrence_type NOT IN ('RecursYearly', 'RecursYearlyNth'))
), candidate_days AS (
    SELECT *
    FROM matching_days
    WHERE CASE recurrence_type
        WHEN 'RecursDaily' THEN date_diff('day', recurrence_start_date, day) % recurrence_interval = 0
        WHEN 'RecursEveryWeekday' THEN isodow(day) <= 5
        WHEN 'RecursWeekly' THEN in_mask AND date_diff(
            'day', recurrence_start_date - dayofweek(recurrence_start_date)::INTEGER,
            day - dayofweek(day)::INTEGER) // 7 % recurrence_interval = 0
        WHEN 'RecursMonthly' THEN day(day) = recurrence_day_of_month AND months_in % recurrence_interval = 0
        WHEN 'RecursMonthlyNth' THEN in_mask AND months_in % recurrence_interval = 0
        WHEN 'RecursYearly' THEN month(day) = recurrence_month AND day(day) = recurrence_day_of_month
            AND months_in // 12 % recurrence_interval = 0
        WHEN 'RecursYearlyNth' THEN month(day) = recurrence_month AND in_mask
            AND months_in // 12 % recurrence_interval = 0
    END
), ranked_days AS (
    -- Each candidate's place among its month's candidates, from the start and from the end.
    SELECT *,
           row_number() OVER (PARTITION BY holiday_id, date_trunc('month', day) ORDER BY day) AS nth,
           row_number() OVER (PARTITION BY holiday_id, date_trunc('month', day) ORDER BY day DESC) AS nth_from_end
    FROM candidate_days
), occurrences AS (
    SELECT holiday_id, holiday_name, day AS holiday_date, start_minute, end_minute, true AS is_recurring
    FROM ranked_days
    WHERE day >= recurrence_start_date
      AND (recurrence_end_date IS NULL OR day <= recurrence_end_date)
      AND (recurrence_type NOT IN ('RecursMonthlyNth', 'RecursYearlyNth')
           OR nth = recurrence_instance OR (recurrence_instance = -1 AND nth_from_end = 1))
), one_off_days AS (
    SELECT holiday_id, holiday_name, holiday_date, start_minute, end_minute, false AS is_recurring
    FROM mining.business_holidays
    WHERE recurrence_type IS NULL AND holiday_date IS NOT NULL
)
SELECT * FROM occurrences
UNION ALL
SELECT * FROM one_off_days
ORDER BY holiday_date, holiday_id
