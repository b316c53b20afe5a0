-- The org's currencies (CurrencyType; none in a single-currency org): each one's rate against
-- the corporate currency, used for a record's date that no dated rate covers.
-- columns:
-- iso_code: the currency's ISO code
-- conversion_rate: units of the currency per unit of the corporate currency
-- decimal_places: the currency's decimals
-- is_corporate: the corporate currency, the one every report amount is in
SELECT iso_code, arg_max(conversion_rate, coalesce(is_active, true)) AS conversion_rate,
       any_value(decimal_places) AS decimal_places, bool_or(coalesce(is_corporate, false)) AS is_corporate
FROM mapped.currencies
WHERE NOT is_deleted AND iso_code IS NOT NULL AND conversion_rate > 0
GROUP BY iso_code
ORDER BY iso_code
