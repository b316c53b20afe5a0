-- Discounting (question 7): by discount band of the accepted quote, how often deals are won, how
-- long they take, how fast they are paid and how much revenue the discounts give away.
-- columns:
-- discount_band: 'no quote', 'no discount' (0%), '0-10%', '10-20%', '20-30%' or '>30%' (upper bounds included)
-- band_order: the bands in order of depth (0 = no quote, 1 = no discount)
-- opportunities: opportunities in the band
-- closed: of those, closed
-- won: of those, won
-- win_rate: won / closed
-- avg_discount_pct: mean discount % of the won deals
-- median_cycle_days: median days from Opportunity Created to Closed Won
-- paid_invoices: invoices of the band's deals paid in full
-- median_days_to_pay: median days from Invoice Sent (Invoice Posted where the org records no sending) to the day the customer paid it in full
-- days_to_pay_vs_rest: median_days_to_pay minus the same median over the invoices of every other band
-- won_amount: amount of the won deals (after discount)
-- revenue_given_away: list price minus amount of the won deals: what the discounts cost
-- given_away_share: revenue_given_away / (won_amount + revenue_given_away)
WITH deals AS (
    SELECT case_id, coalesce(discount_band, 'no quote') AS discount_band, discount_pct, is_closed, is_won, cycle_days, amount
    FROM mining.case_facts
    WHERE case_type = 'opportunity'
), invoice_days AS (
    SELECT d.discount_band, p.days_to_pay
    FROM mining.invoice_payments AS p
    JOIN deals AS d USING (case_id)
    WHERE p.days_to_pay IS NOT NULL
), bands AS (
    SELECT
        discount_band,
        count(*) AS opportunities,
        count(*) FILTER (WHERE is_closed) AS closed,
        count(*) FILTER (WHERE is_won) AS won,
        exact_avg(CASE WHEN is_won THEN discount_pct END) AS avg_discount_pct,
        median(cycle_days) AS median_cycle_days,
        coalesce(exact_sum(CASE WHEN is_won THEN amount END), 0) AS won_amount,
        coalesce(exact_sum(CASE WHEN is_won AND discount_pct < 100 THEN amount * discount_pct / (100 - discount_pct) END), 0)
            AS revenue_given_away
    FROM deals
    GROUP BY discount_band
), payment AS (
    SELECT b.discount_band,
           count(*) FILTER (WHERE i.discount_band = b.discount_band) AS paid_invoices,
           median(i.days_to_pay) FILTER (WHERE i.discount_band = b.discount_band) AS median_days_to_pay,
           median(i.days_to_pay) FILTER (WHERE i.discount_band <> b.discount_band) AS rest_days_to_pay
    FROM bands AS b CROSS JOIN invoice_days AS i
    GROUP BY b.discount_band
)
SELECT
    b.discount_band,
    CASE b.discount_band WHEN 'no quote' THEN 0 WHEN 'no discount' THEN 1 WHEN '0-10%' THEN 2 WHEN '10-20%' THEN 3 WHEN '20-30%' THEN 4 ELSE 5 END
        AS band_order,
    b.opportunities, b.closed, b.won, b.won / nullif(b.closed, 0) AS win_rate, b.avg_discount_pct,
    b.median_cycle_days, coalesce(p.paid_invoices, 0) AS paid_invoices, p.median_days_to_pay,
    p.median_days_to_pay - p.rest_days_to_pay AS days_to_pay_vs_rest,
    b.won_amount, b.revenue_given_away,
    b.revenue_given_away / nullif(b.won_amount + b.revenue_given_away, 0) AS given_away_share
FROM bands AS b
LEFT JOIN payment AS p USING (discount_band)
ORDER BY band_order
