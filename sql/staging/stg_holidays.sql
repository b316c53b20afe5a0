-- The org's holidays, one row per Holiday record: the part of a day (all of it, or from a start
-- to an end minute) when the business hours do not apply, in the business hours' own time zone,
-- and for a recurring holiday its rule (mining.business_holiday_dates expands it into days). A
-- recurring holiday whose rule the org does not give (an older API, a profile that may not read
-- the recurrence fields) counts on its own date, ActivityDate.
-- columns:
-- holiday_id: the Holiday record
-- holiday_name: its name
-- holiday_date: its own date (ActivityDate; for a recurring holiday the recurrence's start when it has no date)
-- start_minute: minutes after local midnight the holiday starts (0 for a whole day)
-- end_minute: minutes after local midnight it ends (1440 for a whole day)
-- is_recurring: a recurring holiday
-- recurrence_type: the rule (RecursDaily, RecursEveryWeekday, RecursWeekly, RecursMonthly, RecursMonthlyNth, RecursYearly, RecursYearlyNth); null for a one-off holiday or an unknown rule
-- recurrence_interval: every how many days, weeks, months or years (1 when not given)
-- recurrence_start_date: the first day the rule may fall on
-- recurrence_end_date: the last day it may fall on (null: open)
-- recurrence_day_of_month: the day of the month (RecursMonthly, RecursYearly)
-- recurrence_month: the month, 1 January to 12 December (RecursYearly, RecursYearlyNth)
-- recurrence_instance: which of the month's matching weekdays, 1 to 4, or -1 the last (the Nth rules)
-- recurrence_day_mask: the weekdays, a bit mask: Sunday 1, Monday 2, Tuesday 4, ... Saturday 64
WITH holiday_records AS (
    SELECT *,
           coalesce(is_recurring, false)
               AND recurrence_type IN ('RecursDaily', 'RecursEveryWeekday', 'RecursWeekly', 'RecursMonthly',
                                       'RecursMonthlyNth', 'RecursYearly', 'RecursYearlyNth')
               AND coalesce(recurrence_start_date, activity_date) IS NOT NULL AS has_rule
    FROM mapped.holidays
    WHERE NOT is_deleted
)
SELECT holiday_id, holiday_name,
       CASE WHEN has_rule THEN coalesce(activity_date, recurrence_start_date) ELSE activity_date END AS holiday_date,
       CASE WHEN coalesce(is_all_day, true) OR start_minutes IS NULL THEN 0 ELSE start_minutes END AS start_minute,
       CASE WHEN coalesce(is_all_day, true) OR end_minutes IS NULL THEN 1440 ELSE end_minutes END AS end_minute,
       coalesce(is_recurring, false) AS is_recurring,
       CASE WHEN has_rule THEN recurrence_type END AS recurrence_type,
       CASE WHEN has_rule THEN greatest(coalesce(recurrence_interval, 1), 1)::INTEGER END AS recurrence_interval,
       CASE WHEN has_rule THEN coalesce(recurrence_start_date, activity_date) END AS recurrence_start_date,
       CASE WHEN has_rule THEN recurrence_end_date END AS recurrence_end_date,
       CASE WHEN has_rule THEN recurrence_day_of_month::INTEGER END AS recurrence_day_of_month,
       CASE WHEN has_rule THEN nullif(list_position(
           ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september',
            'october', 'november', 'december'], lower(trim(recurrence_month_of_year))), 0) END AS recurrence_month,
       CASE WHEN has_rule THEN CASE lower(trim(recurrence_instance))
           WHEN 'first' THEN 1 WHEN 'second' THEN 2 WHEN 'third' THEN 3 WHEN 'fourth' THEN 4 WHEN 'last' THEN -1
       END END AS recurrence_instance,
       CASE WHEN has_rule THEN recurrence_day_of_week_mask::INTEGER END AS recurrence_day_mask
FROM holiday_records
WHERE holiday_date IS NOT NULL
ORDER BY holiday_date, holiday_id
