-- Why deals are lost: the loss reasons of closed-lost opportunities (where the org records
-- one), overall and by rep, team, region, product family, lead source, segment, deal size and
-- discount band, each compared with the lost deals of every other value.
-- columns:
-- dimension: 'all', or the attribute the lost deals are grouped by
-- dimension_value: the attribute's value ('all' overall)
-- loss_reason: the reason given ('(none given)' for lost deals without one)
-- lost_deals: lost deals of the group with this reason
-- group_lost_deals: all lost deals of the group
-- share: lost_deals / group_lost_deals
-- rest_share: the same share among the lost deals of the dimension's other values
-- share_vs_rest: share / rest_share
WITH lost AS (
    SELECT case_id, coalesce(loss_reason, '(none given)') AS loss_reason
    FROM mining.case_facts
    WHERE is_lost
), grouped AS (
    SELECT l.case_id, l.loss_reason, 'all' AS dimension, 'all' AS dimension_value FROM lost AS l
    UNION ALL
    SELECT l.case_id, l.loss_reason, d.dimension, d.dimension_value
    FROM lost AS l JOIN mining.case_dimensions AS d USING (case_id)
    WHERE d.dimension_value IS NOT NULL
), counts AS (
    SELECT dimension, dimension_value, loss_reason, count(*) AS lost_deals
    FROM grouped GROUP BY ALL
), group_totals AS (
    SELECT dimension, dimension_value, sum(lost_deals)::BIGINT AS group_lost_deals FROM counts GROUP BY ALL
), dimension_totals AS (
    SELECT dimension, loss_reason, sum(lost_deals) AS lost_deals FROM counts GROUP BY ALL
), all_lost AS (
    SELECT dimension, sum(lost_deals) AS lost_deals FROM counts GROUP BY dimension
), reasons AS (
    -- Every reason in every group, so a reason the group never gives shows as 0.
    SELECT DISTINCT g.dimension, g.dimension_value, c.loss_reason
    FROM group_totals AS g JOIN counts AS c USING (dimension)
)
SELECT
    r.dimension, r.dimension_value, r.loss_reason,
    coalesce(c.lost_deals, 0) AS lost_deals,
    g.group_lost_deals,
    coalesce(c.lost_deals, 0) / g.group_lost_deals AS share,
    CASE WHEN r.dimension <> 'all' THEN (t.lost_deals - coalesce(c.lost_deals, 0)) / nullif(a.lost_deals - g.group_lost_deals, 0) END
        AS rest_share,
    CASE WHEN r.dimension <> 'all' THEN
        (coalesce(c.lost_deals, 0) / g.group_lost_deals)
        / nullif((t.lost_deals - coalesce(c.lost_deals, 0)) / nullif(a.lost_deals - g.group_lost_deals, 0), 0)
    END AS share_vs_rest
FROM reasons AS r
JOIN group_totals AS g USING (dimension, dimension_value)
JOIN dimension_totals AS t USING (dimension, loss_reason)
JOIN all_lost AS a USING (dimension)
LEFT JOIN counts AS c USING (dimension, dimension_value, loss_reason)
ORDER BY r.dimension <> 'all', r.dimension, r.dimension_value, share DESC, r.loss_reason
