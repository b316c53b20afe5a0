-- The org's active business hours, one row per business hours and working weekday: when work
-- starts and ends that day, in minutes after midnight in the hours' own time zone. A day without
-- a start or an end has no hours (no row); an end at midnight (00:00) is the end of the day, as
-- Salesforce writes a day of 24 hours.
-- columns:
-- business_hours_id: the BusinessHours record
-- business_hours_name: its name
-- is_default: the org's default business hours
-- time_zone: the time zone the hours are in (an IANA name)
-- iso_weekday: the weekday, 1 Monday to 7 Sunday
-- start_minute: minutes after local midnight that work starts
-- end_minute: minutes after local midnight that work ends (1440: the day's end)
WITH active_hours AS (
    SELECT * FROM mapped.business_hours WHERE NOT is_deleted AND coalesce(is_active, true)
), weekday_times AS (
    SELECT business_hours_id, business_hours_name, coalesce(is_default, false) AS is_default,
           nullif(trim(time_zone), '') AS time_zone,
           unnest([1, 2, 3, 4, 5, 6, 7]) AS iso_weekday,
           unnest([monday_start, tuesday_start, wednesday_start, thursday_start, friday_start,
                   saturday_start, sunday_start]) AS start_text,
           unnest([monday_end, tuesday_end, wednesday_end, thursday_end, friday_end,
                   saturday_end, sunday_end]) AS end_text
    FROM active_hours
), weekday_minutes AS (
    -- Salesforce's time values read 'HH:MM:SS.sssZ'.
    SELECT *,
           TRY_CAST(substr(start_text, 1, 2) AS INTEGER) * 60 + TRY_CAST(substr(start_text, 4, 2) AS INTEGER)
               AS start_minute,
           TRY_CAST(substr(end_text, 1, 2) AS INTEGER) * 60 + TRY_CAST(substr(end_text, 4, 2) AS INTEGER)
               AS end_minute_read
    FROM weekday_times
)
SELECT business_hours_id, business_hours_name, is_default, time_zone, iso_weekday, start_minute,
       CASE WHEN end_minute_read = 0 THEN 1440 ELSE end_minute_read END AS end_minute
FROM weekday_minutes
WHERE start_minute IS NOT NULL AND end_minute_read IS NOT NULL
  AND CASE WHEN end_minute_read = 0 THEN 1440 ELSE end_minute_read END > start_minute
ORDER BY business_hours_id, iso_weekday
