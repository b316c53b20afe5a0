-- Payment behaviour (question 4): how fast invoices are paid, how late, and what is still open,
-- overall and by customer, segment, invoice type and discount band. Posted invoices only.
-- columns:
-- dimension: 'all', 'customer', 'segment', 'invoice_type' or 'discount_band'
-- dimension_value: the value of the dimension ('all' overall)
-- invoices: posted invoices
-- paid_invoices: invoices fully paid
-- invoiced_amount: total invoiced
-- median_days_to_pay: median days from Invoice Sent (Invoice Posted where the org records no sending) to the day the customer paid it in full, paid invoices
-- avg_days_past_due: mean days paid after the due date (paid invoices; 0 when on time)
-- late_share: share of invoices paid after their due date or still open past it
-- open_amount: balance still open
-- open_not_due: open balance not yet due
-- open_1_30_days: open balance 1 to 30 days past due
-- open_31_60_days: open balance 31 to 60 days past due
-- open_61_90_days: open balance 61 to 90 days past due
-- open_over_90_days: open balance more than 90 days past due
-- dso_days: days sales outstanding: open balance / amount invoiced in the last 90 days x 90
WITH as_of AS (
    SELECT max(timestamp) AS as_of FROM core.event_log
), invoices AS (
    SELECT
        i.invoice_id, i.total_amount, i.balance, i.invoice_date, i.due_date, i.sent_at, p.paid_at,
        p.days_to_pay,
        CASE WHEN p.paid_at IS NOT NULL THEN greatest(date_diff('day', i.due_date, p.paid_at::DATE), 0) END AS days_paid_late,
        CASE WHEN p.paid_at IS NULL THEN date_diff('day', i.due_date, a.as_of::DATE) END AS days_open_past_due,
        i.invoice_date > a.as_of::DATE - 90 AS invoiced_last_90_days,
        coalesce(f.account_name, '(unknown)') AS customer, coalesce(f.segment, '(unknown)') AS segment,
        coalesce(i.invoice_type, '(unknown)') AS invoice_type, coalesce(f.discount_band, 'no quote') AS discount_band
    FROM staging.stg_invoices AS i
    CROSS JOIN as_of AS a
    LEFT JOIN mining.invoice_payments AS p ON p.invoice_id = i.invoice_id
    LEFT JOIN mining.case_facts AS f ON f.case_id = i.opportunity_id
    WHERE i.invoice_status = 'Posted'
), grouped AS (
    SELECT i.*, g.dimension, g.dimension_value
    FROM invoices AS i
    CROSS JOIN LATERAL (
        SELECT * FROM (VALUES ('all', 'all'), ('customer', i.customer), ('segment', i.segment),
                              ('invoice_type', i.invoice_type), ('discount_band', i.discount_band))
            AS v(dimension, dimension_value)
    ) AS g
)
SELECT
    dimension, dimension_value,
    count(*) AS invoices,
    count(paid_at) AS paid_invoices,
    exact_sum(total_amount) AS invoiced_amount,
    median(days_to_pay) AS median_days_to_pay,
    exact_avg(days_paid_late) AS avg_days_past_due,
    avg((coalesce(days_paid_late, 0) > 0 OR coalesce(days_open_past_due, 0) > 0)::INT) AS late_share,
    exact_sum(CASE WHEN paid_at IS NULL THEN balance END) AS open_amount,
    coalesce(exact_sum(CASE WHEN days_open_past_due <= 0 THEN balance END), 0) AS open_not_due,
    coalesce(exact_sum(CASE WHEN days_open_past_due BETWEEN 1 AND 30 THEN balance END), 0) AS open_1_30_days,
    coalesce(exact_sum(CASE WHEN days_open_past_due BETWEEN 31 AND 60 THEN balance END), 0) AS open_31_60_days,
    coalesce(exact_sum(CASE WHEN days_open_past_due BETWEEN 61 AND 90 THEN balance END), 0) AS open_61_90_days,
    coalesce(exact_sum(CASE WHEN days_open_past_due > 90 THEN balance END), 0) AS open_over_90_days,
    exact_sum(balance) / nullif(exact_sum(CASE WHEN invoiced_last_90_days THEN total_amount END), 0) * 90 AS dso_days
FROM grouped
GROUP BY dimension, dimension_value
ORDER BY dimension <> 'all', dimension, invoices DESC, dimension_value
