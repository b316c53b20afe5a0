-- The org's holidays: the part of a day (all of it, or from a start to an end minute) when the
-- business hours do not apply, in the business hours' own time zone. A recurring holiday counts
-- on its own date only (its later occurrences are not expanded).
-- columns:
-- holiday_id: the Holiday record
-- holiday_name: its name
-- holiday_date: the day
-- start_minute: minutes after local midnight the holiday starts (0 for a whole day)
-- end_minute: minutes after local midnight it ends (1440 for a whole day)
-- is_recurring: a recurring holiday (only this date is counted)
SELECT holiday_id, holiday_name, activity_date AS holiday_date,
       CASE WHEN coalesce(is_all_day, true) OR start_minutes IS NULL THEN 0 ELSE start_minutes END AS start_minute,
       CASE WHEN coalesce(is_all_day, true) OR end_minutes IS NULL THEN 1440 ELSE end_minutes END AS end_minute,
       coalesce(is_recurring, false) AS is_recurring
FROM mapped.holidays
WHERE NOT is_deleted AND activity_date IS NOT NULL
ORDER BY holiday_date, holiday_id
