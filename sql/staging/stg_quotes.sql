-- Quotes (standard or CPQ) that are not deleted, with their opportunity (the case).
-- columns:
-- quote_id: the quote's Id
-- opportunity_id: the quote's opportunity
-- created_at: when the quote was created (UTC)
-- created_by: who created it
-- status: current quote status
-- discount_pct: the quote's discount %; where the quote has none (or 0), its lines'
--   (staging.stg_quote_discounts)
-- grand_total: the quoted total in the corporate currency, at the rate its opportunity's amount
--   takes (the dated rate in force on the opportunity's close date, else the currency's rate;
--   null for a currency the org has no rate of), so a synced quote and its deal agree; in a
--   single-currency org the total as it is
-- is_syncing: the quote synced to (primary on) the opportunity
-- object_type: the Salesforce object of the quote (Quote, SBQQ__Quote__c, ...)
-- original_grand_total: the quoted total in the quote's own currency
-- currency_code: the quote's currency (null in a single-currency org)
SELECT
    q.quote_id,
    q.opportunity_id,
    q.created_at,
    q.created_by,
    trim(q.status) AS status,
    d.discount_pct,
    CASE WHEN q.currency_code IS NULL THEN q.grand_total
         ELSE q.grand_total / CASE WHEN dr.iso_code IS NOT NULL AND (dr.next_start_date IS NULL OR o.close_date < dr.next_start_date)
                                THEN dr.conversion_rate ELSE cr.conversion_rate END END AS grand_total,
    coalesce(q.is_primary, false) AS is_syncing,
    q.object_type,
    q.grand_total AS original_grand_total,
    q.currency_code
FROM mapped.quotes AS q
JOIN staging.stg_opportunities AS o ON o.opportunity_id = q.opportunity_id
LEFT JOIN staging.stg_quote_discounts AS d ON d.quote_id = q.quote_id
LEFT JOIN staging.stg_currencies AS cr ON cr.iso_code = q.currency_code
ASOF LEFT JOIN staging.stg_dated_rates AS dr ON dr.iso_code = q.currency_code AND o.close_date >= dr.start_date
WHERE NOT q.is_deleted
