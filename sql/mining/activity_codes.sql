-- Every activity of the event log with a small number (its place in alphabetical order). Case
-- paths are kept and compared as lists of these numbers: sorting, grouping and pairing short
-- integers is several times cheaper than doing the same with activity names.
-- columns:
-- activity: the activity
-- activity_code: its number (1 = first in alphabetical order); the same run's tables agree
SELECT activity, row_number() OVER (ORDER BY activity)::USMALLINT AS activity_code
FROM (SELECT DISTINCT activity FROM core.event_log)
