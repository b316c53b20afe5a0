-- Order activities: Order Created, Order Activated, Order Fulfilled (a status change the org's
-- values call fulfilled), and Order Amended (a reduction order correcting an order).
SELECT
    CASE WHEN o.is_reduction THEN 'order_amended:' ELSE 'order_created:' END || o.order_id AS event_id,
    o.opportunity_id AS case_id,
    CASE WHEN o.is_reduction THEN 'Order Amended' ELSE 'Order Created' END AS activity,
    o.created_at AS timestamp, o.created_by AS resource_id, o.object_type, o.order_id AS object_id,
    NULL::VARCHAR AS old_value, NULL::VARCHAR AS new_value
FROM staging.stg_orders AS o
WHERE o.opportunity_id IS NOT NULL
UNION ALL
SELECT 'order_activated:' || o.order_id, o.opportunity_id, 'Order Activated', o.activated_at, o.activated_by,
       o.object_type, o.order_id, NULL, NULL
FROM staging.stg_orders AS o
WHERE NOT o.is_reduction AND o.activated_at IS NOT NULL AND o.opportunity_id IS NOT NULL
UNION ALL
SELECT 'order_status:' || h.change_id, o.opportunity_id, 'Order Fulfilled', h.changed_at, h.changed_by,
       o.object_type, h.record_id, h.old_value, h.new_value
FROM mapped.field_changes AS h
JOIN mapped.value_meanings AS m ON m.meaning = 'order_fulfilled' AND m.value = trim(h.new_value)
JOIN staging.stg_orders AS o ON o.order_id = h.record_id
WHERE h.entity = 'orders' AND h.column_name = 'status' AND o.opportunity_id IS NOT NULL
