-- Opportunities that are not deleted, with their first product and their discount: the synced
-- (primary) quote's, else their own product lines'.
-- columns:
-- opportunity_id: Salesforce Opportunity Id (the case id)
-- account_id: the customer account
-- owner_id: the current owner (sales rep)
-- created_at: when the opportunity was created (UTC)
-- created_by: who created it
-- stage: current stage
-- amount: current amount in the corporate currency, at the rate on the close date (the dated
--   rate in force then, else the currency's rate; null for a currency the org has no rate of);
--   in a single-currency org the amount as it is
-- close_date: current close date
-- is_closed: closed won or lost
-- is_won: closed won
-- opportunity_type: New Business or Existing Business
-- lead_source: lead source carried from the lead
-- product_id: the product of the opportunity's first product line (else of its quote's first line)
-- discount_pct: discount % of the synced (primary) quote; without one, the product lines'
--   discounts weighted by their list amounts; 0 without either
-- synced_quote_id: the quote synced to (primary on) the opportunity
-- contract_id: the contract the opportunity points at, where the org links them that way
-- object_type: the Salesforce object of the opportunity
-- original_amount: the amount in the opportunity's own currency
-- currency_code: the opportunity's currency (null in a single-currency org)
WITH first_line AS (
    SELECT opportunity_id, arg_min(product_id, line_id) AS product_id
    FROM mapped.opportunity_lines
    WHERE NOT is_deleted
    GROUP BY opportunity_id
), line_discount AS (
    -- A deal quoted without a synced quote (an org without quotes, or one not synced) still
    -- discounts its product lines; a synced quote's lines are copied onto them, so the two agree
    -- where both exist.
    SELECT
        opportunity_id,
        line_weighted_discount(list_price, quantity, discount_pct) AS discount
    FROM mapped.opportunity_lines
    WHERE NOT is_deleted AND list_price > 0
    GROUP BY opportunity_id
), synced_quote AS (
    SELECT q.opportunity_id, arg_max(q.quote_id, (q.created_at, q.quote_id)) AS quote_id,
           arg_max(d.discount_pct, (q.created_at, q.quote_id)) AS discount  -- the same quote, even on a tie
    FROM mapped.quotes AS q
    LEFT JOIN staging.stg_quote_discounts AS d ON d.quote_id = q.quote_id
    WHERE NOT q.is_deleted AND q.is_primary
    GROUP BY q.opportunity_id
), quoted_product AS (
    -- A deal without product lines of its own: the first line of its primary (else latest) quote.
    SELECT q.opportunity_id, arg_max(l.product_id, (coalesce(q.is_primary, false), q.created_at, -rank_in_quote))
        AS product_id
    FROM mapped.quotes AS q
    JOIN (
        SELECT quote_id, product_id, row_number() OVER (PARTITION BY quote_id ORDER BY quote_line_id) AS rank_in_quote
        FROM mapped.quote_lines WHERE NOT is_deleted
    ) AS l USING (quote_id)
    WHERE NOT q.is_deleted
    GROUP BY q.opportunity_id
), stage_meanings AS (
    SELECT list(value) FILTER (WHERE meaning = 'stage_won') AS won,
           list(value) FILTER (WHERE meaning IN ('stage_won', 'stage_lost')) AS closed
    FROM mapped.value_meanings
)
SELECT
    o.opportunity_id,
    o.account_id,
    o.owner_id,
    o.created_at,
    o.created_by,
    trim(o.stage) AS stage,
    CASE WHEN o.currency_code IS NULL THEN o.amount
         ELSE o.amount / CASE WHEN dr.iso_code IS NOT NULL AND (dr.next_start_date IS NULL OR o.close_date < dr.next_start_date)
                            THEN dr.conversion_rate ELSE cr.conversion_rate END END AS amount,
    o.close_date,
    -- An org without IsClosed / IsWon still says it through its closing stages.
    coalesce(o.is_closed, list_contains(m.closed, trim(o.stage)), false) AS is_closed,
    coalesce(o.is_won, list_contains(m.won, trim(o.stage)), false) AS is_won,
    trim(o.opportunity_type) AS opportunity_type,
    trim(o.lead_source) AS lead_source,
    coalesce(fl.product_id, qp.product_id) AS product_id,
    coalesce(sq.discount, ld.discount, 0) AS discount_pct,
    sq.quote_id AS synced_quote_id,
    o.contract_id,
    o.object_type,
    o.amount AS original_amount,
    o.currency_code
FROM mapped.opportunities AS o
CROSS JOIN stage_meanings AS m
LEFT JOIN first_line AS fl ON fl.opportunity_id = o.opportunity_id
LEFT JOIN synced_quote AS sq ON sq.opportunity_id = o.opportunity_id
LEFT JOIN line_discount AS ld ON ld.opportunity_id = o.opportunity_id
LEFT JOIN quoted_product AS qp ON qp.opportunity_id = o.opportunity_id
LEFT JOIN staging.stg_currencies AS cr ON cr.iso_code = o.currency_code
ASOF LEFT JOIN staging.stg_dated_rates AS dr ON dr.iso_code = o.currency_code AND o.close_date >= dr.start_date
WHERE NOT o.is_deleted
