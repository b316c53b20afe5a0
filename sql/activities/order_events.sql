-- Order activities: Order Created, Order Activated, Order Fulfilled (status history), and
-- Order Amended (a reduction order correcting an order).
SELECT
    CASE WHEN o.is_reduction THEN 'order_amended:' ELSE 'order_created:' END || o.order_id AS event_id,
    o.opportunity_id AS case_id,
    CASE WHEN o.is_reduction THEN 'Order Amended' ELSE 'Order Created' END AS activity,
    o.created_at AS timestamp, o.created_by AS resource_id, 'Order' AS object_type, o.order_id AS object_id,
    NULL::VARCHAR AS old_value, NULL::VARCHAR AS new_value
FROM staging.stg_orders AS o
WHERE o.opportunity_id IS NOT NULL
UNION ALL
SELECT 'order_activated:' || o.order_id, o.opportunity_id, 'Order Activated', o.activated_at, o.activated_by,
       'Order', o.order_id, NULL, NULL
FROM staging.stg_orders AS o
WHERE NOT o.is_reduction AND o.activated_at IS NOT NULL AND o.opportunity_id IS NOT NULL
UNION ALL
SELECT 'order_status:' || h.Id, o.opportunity_id, 'Order Fulfilled', h.CreatedDate, h.CreatedById,
       'Order', h.OrderId, h.OldValue, h.NewValue
FROM raw.OrderHistory AS h
JOIN staging.stg_orders AS o ON o.order_id = h.OrderId
WHERE NOT h.IsDeleted AND h.Field = 'Status' AND h.NewValue = 'Fulfilled' AND o.opportunity_id IS NOT NULL
