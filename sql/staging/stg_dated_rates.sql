-- Dated exchange rates (DatedConversionRate, where advanced currency management is on): the rate
-- in force from each start date until the next one. An amount is converted at the rate in force
-- on its record's date (close date, invoice date, ...), found by an ASOF JOIN on the start date.
-- columns:
-- iso_code: the currency's ISO code
-- conversion_rate: units of the currency per unit of the corporate currency
-- start_date: the first day the rate applies
-- next_start_date: the day the next rate starts (null: still in force)
SELECT iso_code, start_date, any_value(conversion_rate) AS conversion_rate, any_value(next_start_date) AS next_start_date
FROM mapped.dated_rates
WHERE NOT is_deleted AND iso_code IS NOT NULL AND start_date IS NOT NULL AND conversion_rate > 0
GROUP BY iso_code, start_date
ORDER BY iso_code, start_date
