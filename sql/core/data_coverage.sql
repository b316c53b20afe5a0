-- What the event log holds of each part of the process in this org, where it comes from, and
-- what is missing: one row per activity family. A part the org does not record (a Sales Cloud
-- org has no invoices) is empty here and in the reports built on it, and says so.
-- columns:
-- family: the activity family (lead, opportunity, stage, quote, approval, contract, order, billing, touch)
-- entities: the mapping's entities it is built from
-- objects: the Salesforce objects they are read from in this org
-- events: events of the family in core.event_log
-- cases: cases with such an event
-- status_history: where the family's status changes come from: the org's field history, the
--   pipeline's own change capture (and since when), or nothing
-- missing: what the mapping names that the org lacks, in words (null: nothing)
-- status: 'complete', 'partial' (something is missing) or 'missing' (no events and no source)
WITH family_entities AS (
    SELECT * FROM (VALUES
        ('lead', 'leads'), ('opportunity', 'opportunities'), ('stage', 'opportunities'),
        ('quote', 'quotes'), ('approval', 'approvals'), ('approval', 'approval_steps'),
        ('contract', 'contracts'), ('order', 'orders'), ('billing', 'invoices'),
        ('billing', 'payments'), ('billing', 'payment_allocations')
    ) AS f(family, entity)
), families AS (
    SELECT DISTINCT family FROM core.activity_catalogue
), entity_objects AS (
    SELECT f.family, f.entity, s.object, s.status, s.note
    FROM family_entities AS f
    LEFT JOIN mapped.sources AS s ON s.part = 'entity' AND s.name = f.entity AND s.column_name IS NULL
    UNION ALL
    SELECT 'touch', 'sales touches', s.object, s.status, s.note
    FROM mapped.sources AS s WHERE s.part = 'sales touch'
), problems AS (
    -- What the org lacks: whole objects, and the fields the mapping names on them.
    SELECT f.family, s.note
    FROM family_entities AS f
    JOIN mapped.sources AS s ON s.part IN ('entity', 'history') AND s.name = f.entity
    WHERE s.status IN ('object missing', 'field missing', 'not mapped') AND (s.status <> 'not mapped' OR s.column_name IS NULL)
    UNION ALL
    SELECT 'touch', note FROM mapped.sources WHERE part = 'sales touch' AND status <> 'ok'
), status_sources AS (
    -- Each list in alphabetical order: the same records give the same text on every run.
    SELECT family_sources.family, string_agg(DISTINCT source, '; ' ORDER BY source) AS status_history
    FROM (
        SELECT f.family,
               CASE
                   WHEN s.part = 'history' AND s.status = 'ok' THEN 'org field history (' || s.object || ')'
                   WHEN s.part = 'change capture' THEN 'change capture of ' || s.object || '.' || s.field
                       || coalesce(' since ' || strftime(cc.since, '%Y-%m-%d'), ' (from the next sync)')
               END AS source
        FROM family_entities AS f
        JOIN mapped.sources AS s ON s.name = f.entity AND s.part IN ('history', 'change capture')
        LEFT JOIN (SELECT object_name, min(tracked_since) AS since FROM meta.change_capture GROUP BY 1) AS cc
          ON cc.object_name = s.object
    ) AS family_sources
    GROUP BY family_sources.family
), family_events AS (
    SELECT c.family, count(*) AS events, count(DISTINCT e.case_id) AS cases
    FROM core.event_log AS e JOIN core.activity_catalogue AS c USING (activity)
    GROUP BY c.family
)
SELECT
    f.family,
    (SELECT string_agg(DISTINCT entity, ', ' ORDER BY entity) FROM entity_objects AS o WHERE o.family = f.family) AS entities,
    (SELECT string_agg(DISTINCT object, ', ' ORDER BY object) FROM entity_objects AS o WHERE o.family = f.family AND o.status = 'ok')
        AS objects,
    coalesce(e.events, 0) AS events,
    coalesce(e.cases, 0) AS cases,
    coalesce(h.status_history, CASE WHEN f.family IN ('touch', 'approval') THEN NULL ELSE 'none' END) AS status_history,
    (SELECT string_agg(DISTINCT note, '; ' ORDER BY note) FROM problems AS p WHERE p.family = f.family) AS missing,
    CASE
        WHEN coalesce(e.events, 0) = 0 AND NOT EXISTS (
            SELECT 1 FROM entity_objects AS o WHERE o.family = f.family AND o.status = 'ok'
        ) THEN 'missing'
        WHEN EXISTS (SELECT 1 FROM problems AS p WHERE p.family = f.family) THEN 'partial'
        ELSE 'complete'
    END AS status
FROM families AS f
LEFT JOIN family_events AS e USING (family)
LEFT JOIN status_sources AS h USING (family)
ORDER BY (SELECT min(activity_rank) FROM core.activity_catalogue AS c WHERE c.family = f.family)
