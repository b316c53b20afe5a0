"""The mapping step: raw tables seen through the mapping, as `mapped.*` views and tables.

- `mapped.<entity>`: one view per canonical entity (mapping/spec.py) with exactly its columns,
  plus `object_type` (the Salesforce object) and `is_deleted`; empty when the org lacks the
  object, NULL in a column the mapping leaves out or the org lacks.
- `mapped.field_changes`: every field change the warehouse knows: the org's field-history
  objects and the pipeline's own change capture (raw._l2c_field_changes), the org's history
  winning for a record and field it covers; each change tied to its entity and column.
- `mapped.attribute_values`: each attribute source's values per record (long form); the SQL
  models pick, per case, the first source with a value.
- `mapped.sales_touches`: the records the mapping names as sales touches.
- `mapped.value_meanings`, `mapped.deal_size_bands`, `mapped.entity_fields`: the mapping itself.
- `mapped.sources`: what each column, history object, attribute and touch comes from, and
  whether the org has it: what the event log lacks, in words.

Everything is replaced in one transaction, after every extraction.
"""

from __future__ import annotations

import duckdb

from ..warehouse.duckdb_warehouse import (
    CHANGES_TABLE,
    quote,
    session,
    sql_literal,
    transaction,
    write_comments,
)
from .load import Band, ColumnSource, Mapping, MappingError
from .spec import ANCHORS, ENTITIES

SCHEMA = "mapped"
MAPPED_TABLES = (
    *(f"{SCHEMA}.{name}" for name in ENTITIES),
    f"{SCHEMA}.field_changes",
    f"{SCHEMA}.attribute_values",
    f"{SCHEMA}.sales_touches",
    f"{SCHEMA}.value_meanings",
    f"{SCHEMA}.deal_size_bands",
    f"{SCHEMA}.entity_fields",
    f"{SCHEMA}.sources",
)
_SOURCE_STATUS = ("ok", "not mapped", "object missing", "field missing")


def _raw_columns(con) -> dict[str, set[str]]:
    """The raw tables and their columns, by lower-case name: Salesforce API names, like DuckDB's
    identifiers, ignore case (a mapping may write stagename for StageName)."""
    columns: dict[str, set[str]] = {}
    for table, column in con.execute(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'raw'"
    ).fetchall():
        columns.setdefault(table.lower(), set()).add(column.lower())
    return columns


def _literal(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return sql_literal(str(value))


class _Builder:
    def __init__(self, con, mapping: Mapping) -> None:
        self.con, self.mapping = con, mapping
        self.raw = _raw_columns(con)
        self.sources: list[tuple] = []  # rows of mapped.sources

    def note(self, part, name, column, obj, field_name, status, note) -> None:
        assert status in _SOURCE_STATUS
        self.sources.append((part, name, column, obj, field_name, status, note))

    def has(self, obj: str, field_name: str | None = None) -> bool:
        columns = self.raw.get(obj.lower())
        if columns is None:
            return False
        return field_name is None or field_name.lower() in columns

    # ------------------------------------------------------------------ entities
    def entity_sql(self, name: str) -> str:
        spec = ENTITIES[name]
        entity = self.mapping.entities.get(name)
        empty = ", ".join(
            [f"NULL::{c.type} AS {c.name}" for c in spec.columns]
            + ["NULL::VARCHAR AS object_type", "NULL::BOOLEAN AS is_deleted"]
        )
        if entity is None:
            self.note(
                "entity",
                name,
                None,
                None,
                None,
                "not mapped",
                f"the mapping names no object for {name}",
            )
            return f"SELECT {empty} WHERE false"
        if not self.has(entity.object):
            if spec.absent_means:
                # Nothing is missing: e.g. a single-currency org has no CurrencyType.
                self.note(
                    "entity",
                    name,
                    None,
                    entity.object,
                    None,
                    "not mapped",
                    f"no {entity.object} in the warehouse: {spec.absent_means}",
                )
                return f"SELECT {empty} WHERE false"
            self.note(
                "entity",
                name,
                None,
                entity.object,
                None,
                "object missing",
                f"the warehouse has no {entity.object}: the org lacks the object, or it was not extracted",
            )
            return f"SELECT {empty} WHERE false"
        self.note("entity", name, None, entity.object, None, "ok", None)
        selects = []
        for column in spec.columns:
            selects.append(
                f"{self._column_expr(name, entity.object, column, entity.columns.get(column.name))} AS {column.name}"
            )
        selects.append(f"{sql_literal(entity.object)} AS object_type")
        deleted = (
            "coalesce(src.IsDeleted, false)" if self.has(entity.object, "IsDeleted") else "false"
        )
        selects.append(f"{deleted} AS is_deleted")
        return f"SELECT {', '.join(selects)} FROM raw.{quote(entity.object)} AS src"

    def _column_expr(self, entity: str, obj: str, column, source: ColumnSource | None) -> str:
        if source is None:
            self.note("entity", entity, column.name, obj, None, "not mapped", None)
            return f"NULL::{column.type}"
        if source.is_constant:
            self.note("entity", entity, column.name, obj, None, "ok", f"always {source.constant!r}")
            return f"CAST({_literal(source.constant)} AS {column.type})"
        present = [f for f in source.fields if self.has(obj, f)]
        if not present and column.absent_means:
            self.note(
                "entity",
                entity,
                column.name,
                obj,
                ", ".join(source.fields),
                "not mapped",
                f"{obj} has no {', '.join(source.fields)}: {column.absent_means}",
            )
            return f"NULL::{column.type}"
        for missing in (f for f in source.fields if f not in present):
            self.note(
                "entity",
                entity,
                column.name,
                obj,
                missing,
                "field missing",
                f"{obj} has no field {missing} in this org",
            )
        if not present:
            return f"NULL::{column.type}"
        for found in present:
            self.note("entity", entity, column.name, obj, found, "ok", None)
        casts = [f"TRY_CAST(src.{quote(f)} AS {column.type})" for f in present]
        return casts[0] if len(casts) == 1 else f"coalesce({', '.join(casts)})"

    def entity_of(self, obj: str) -> str | None:
        return next((e.entity for e in self.mapping.entities.values() if e.object == obj), None)

    # ------------------------------------------------------------------ field changes
    def field_changes_sql(self) -> str:
        history, captured_objects = [], []
        history_of: dict[str, list[str]] = {}  # entity -> its history selects
        for source in self.mapping.history:
            if not self.has(source.object):
                self.note(
                    "history",
                    source.entity,
                    source.field,
                    source.object,
                    None,
                    "object missing",
                    f"the org keeps no {source.object}: no field history of {source.entity} from the org",
                )
                continue
            history.append(self._history_select(source))
            history_of.setdefault(source.entity, []).append(history[-1])
        if self.has(CHANGES_TABLE.split(".")[1]):
            captured_objects = sorted(self.mapping.change_capture)
        for obj, fields in sorted(self.mapping.change_capture.items()):
            self.note(
                "change capture",
                self.entity_of(obj),
                None,
                obj,
                ", ".join(fields),
                "ok",
                "recorded by the pipeline between syncs (two changes between two syncs show as one)",
            )
        columns = (
            "change_id, source, source_object, entity, record_id, field, data_type, old_value, "
            "new_value, changed_at, changed_by"
        )
        empty = (
            "SELECT NULL::VARCHAR AS change_id, NULL::VARCHAR AS source, NULL::VARCHAR AS source_object, "
            "NULL::VARCHAR AS entity, NULL::VARCHAR AS record_id, NULL::VARCHAR AS field, "
            "NULL::VARCHAR AS data_type, NULL::VARCHAR AS old_value, NULL::VARCHAR AS new_value, "
            "NULL::TIMESTAMP AS changed_at, NULL::VARCHAR AS changed_by WHERE false"
        )
        org = " UNION ALL ".join(history) or empty
        entity_case = " ".join(
            f"WHEN {sql_literal(obj)} THEN {sql_literal(entity)}"
            for obj in captured_objects
            if (entity := self.entity_of(obj))
        )
        # Only the org's history of the tracked fields can cover a captured change: the check reads
        # those rows, not every history row of the org.
        covering = [
            f"SELECT entity, record_id, lower(field) AS field FROM ({select}) "
            f"WHERE lower(field) IN ({', '.join(sql_literal(f.lower()) for f in fields)})"
            for obj, fields in sorted(self.mapping.change_capture.items())
            if obj in captured_objects and (entity := self.entity_of(obj))
            for select in history_of.get(entity, [])
        ]
        snapshot_changes = self._snapshot_stage_changes_sql()
        snapshots, stage_fields = snapshot_changes or (empty, [""])
        # Salesforce's stage snapshots cover a deal's stage as well as its field history does.
        covering.append("SELECT entity, record_id, lower(field) AS field FROM snapshots")
        covered = " UNION ALL ".join(covering)
        if captured_objects:
            captured = f"""
                SELECT c.change_id, 'captured' AS source, c.object_name AS source_object,
                       CASE c.object_name {entity_case or "WHEN NULL THEN NULL"} END AS entity,
                       c.record_id, c.field, NULL::VARCHAR AS data_type, c.old_value, c.new_value,
                       c.observed_at AS changed_at, c.changed_by
                FROM {CHANGES_TABLE} AS c
                WHERE c.object_name IN ({", ".join(sql_literal(o) for o in captured_objects)})"""
        else:
            captured = empty
        # The org's history wins where it covers the record's field: a captured row then only
        # repeats what the org recorded (less precisely timed). Stage snapshots stand in for the
        # field history of a deal's stage before that history begins.
        return f"""
            WITH org_history AS ({org}),
            captured AS ({captured}),
            stage_history_starts AS (
                -- When the field history of each deal's stage begins (its first change with a value).
                SELECT record_id, min(changed_at) AS first_changed_at FROM org_history
                WHERE entity = 'opportunities'
                  AND lower(field) IN ({", ".join(sql_literal(f.lower()) for f in stage_fields)})
                  AND new_value IS NOT NULL
                GROUP BY record_id
            ),
            snapshots AS ({snapshots}),
            covered AS ({covered}),
            changes AS (
                SELECT {columns} FROM org_history
                UNION ALL
                SELECT {columns} FROM snapshots
                UNION ALL
                SELECT {columns} FROM captured AS c
                WHERE NOT EXISTS (
                    SELECT 1 FROM covered AS h
                    WHERE h.entity = c.entity AND h.record_id = c.record_id AND h.field = lower(c.field)
                )
            ),
            field_columns AS (
                -- API names ignore case: the history's and the mapping's spelling may differ.
                SELECT entity, lower(field) AS field, arg_min(column_name, position) AS column_name
                FROM {SCHEMA}.entity_fields GROUP BY entity, lower(field)
            )
            SELECT ch.*, coalesce(f.column_name, fid.column_name) AS column_name
            FROM changes AS ch
            LEFT JOIN field_columns AS f ON f.entity = ch.entity AND f.field = lower(ch.field)
            -- Lookup history names the relationship (Owner), not the field (OwnerId).
            LEFT JOIN field_columns AS fid ON fid.entity = ch.entity AND fid.field = lower(ch.field) || 'id'"""

    def _snapshot_stage_changes_sql(self) -> tuple[str, list[str]] | None:
        """A deal's stage changes read from Salesforce's own snapshots of it (OpportunityHistory,
        which every org keeps whether or not StageName's field history is tracked): each snapshot
        whose stage differs from the one before it, before the deal's field history of its stage
        begins (stage_history_starts: all of them for a deal without such history; an org that
        began to track StageName lately, or whose older history was purged, keeps its earlier
        changes). The first snapshot is the stage the deal opened in, not a move. Named by the
        opportunity's stage field, so that they read as its field history does. Returns the SQL
        and the stage's fields the org has; None without snapshots or a stage field."""
        snapshots = self.mapping.entities.get("opportunity_snapshots")
        opportunities = self.mapping.entities.get("opportunities")
        stage = opportunities.columns.get("stage") if opportunities else None
        if snapshots is None or not self.has(snapshots.object) or stage is None or not stage.fields:
            return None
        # The stage fields the org has (a column may name several, the first one set wins).
        stage_fields = [f for f in stage.fields if self.has(opportunities.object, f)]
        if not stage_fields:
            return None
        if snapshots.object == "OpportunityHistory" and (
            opportunities.object != "Opportunity" or stage_fields[0].lower() != "stagename"
        ):
            return None  # Salesforce's snapshots are of its Opportunity's StageName only
        mapped = snapshots.columns.get("stage")
        if mapped is None or not any(self.has(snapshots.object, f) for f in mapped.fields):
            return None
        self.note(
            "history",
            "opportunities",
            stage_fields[0],
            snapshots.object,
            None,
            "ok",
            f"stage changes from {snapshots.object} where the field history of the stage has none",
        )
        sql = f"""
            SELECT 'snapshot:' || snapshot_id AS change_id, 'snapshot' AS source,
                   {sql_literal(snapshots.object)} AS source_object, 'opportunities' AS entity,
                   opportunity_id AS record_id, {sql_literal(stage_fields[0])} AS field,
                   NULL::VARCHAR AS data_type, previous_stage AS old_value, stage AS new_value,
                   created_at AS changed_at, created_by AS changed_by
            FROM (
                SELECT *, lag(stage) OVER (
                    PARTITION BY opportunity_id ORDER BY created_at, snapshot_id
                ) AS previous_stage
                FROM (
                    -- Up to the history's first change, which the window needs before it.
                    SELECT s.snapshot_id, s.opportunity_id, s.created_at, s.created_by,
                           trim(s.stage) AS stage, h.first_changed_at
                    FROM {SCHEMA}.opportunity_snapshots AS s
                    LEFT JOIN stage_history_starts AS h ON h.record_id = s.opportunity_id
                    WHERE NOT s.is_deleted AND nullif(trim(s.stage), '') IS NOT NULL
                      AND (h.first_changed_at IS NULL OR s.created_at <= h.first_changed_at)
                )
            )
            WHERE previous_stage IS DISTINCT FROM stage AND previous_stage IS NOT NULL
              AND (first_changed_at IS NULL OR created_at < first_changed_at)"""
        return sql, stage_fields

    def _history_select(self, source) -> str:
        obj = source.object

        def col(field_name: str | None, type_: str = "VARCHAR") -> str:
            if field_name and self.has(obj, field_name):
                return f"CAST(h.{quote(field_name)} AS {type_})"
            return f"NULL::{type_}"

        if source.field is None:  # Salesforce's layout
            field_expr, data_type = col("Field"), col("DataType")
            old, new = col("OldValue"), col("NewValue")
        else:
            field_expr, data_type = sql_literal(source.field), "NULL::VARCHAR"
            old, new = col(source.old_value), col(source.new_value)
        values = ("Field", "OldValue", "NewValue") if source.field is None else (source.new_value,)
        for needed in (source.record_field, source.changed_at, *values):
            if needed and not self.has(obj, needed):
                self.note(
                    "history",
                    source.entity,
                    None,
                    obj,
                    needed,
                    "field missing",
                    f"{obj} has no field {needed}",
                )
        self.note("history", source.entity, source.field, obj, None, "ok", None)
        deleted = "WHERE NOT coalesce(h.IsDeleted, false)" if self.has(obj, "IsDeleted") else ""
        return (
            f"SELECT CAST(h.Id AS VARCHAR) AS change_id, 'history' AS source, {sql_literal(obj)} AS source_object, "
            f"{sql_literal(source.entity)} AS entity, {col(source.record_field)} AS record_id, "
            f"{field_expr} AS field, {data_type} AS data_type, {old} AS old_value, {new} AS new_value, "
            f"{col(source.changed_at, 'TIMESTAMP')} AS changed_at, {col(source.changed_by)} AS changed_by "
            f"FROM raw.{quote(obj)} AS h {deleted}"
        )

    # ------------------------------------------------------------------ attributes
    def attribute_values_sql(self) -> str:
        selects = []
        for attribute, sources in self.mapping.attributes.items():
            if not sources:
                self.note(
                    "attribute",
                    attribute,
                    None,
                    None,
                    None,
                    "not mapped",
                    f"the mapping names no source for {attribute}",
                )
            for priority, source in enumerate(sources, start=1):
                entity_name = ANCHORS[source.anchor][0]
                entity = self.mapping.entities[entity_name]
                key_field = entity.columns[ENTITIES[entity_name].key].fields[0]
                if not self.has(entity.object, source.field):
                    status = "object missing" if not self.has(entity.object) else "field missing"
                    self.note(
                        "attribute",
                        attribute,
                        source.anchor,
                        entity.object,
                        source.field,
                        status,
                        f"{entity.object} has no field {source.field} in this org",
                    )
                    continue
                self.note(
                    "attribute", attribute, source.anchor, entity.object, source.field, "ok", None
                )
                selects.append(
                    f"SELECT {sql_literal(attribute)} AS attribute, {sql_literal(source.anchor)} AS anchor, "
                    f"{priority} AS priority, CAST(src.{quote(key_field)} AS VARCHAR) AS record_id, "
                    f"{_attribute_value(source)} AS value FROM raw.{quote(entity.object)} AS src"
                )
        body = " UNION ALL ".join(selects) or (
            "SELECT NULL::VARCHAR AS attribute, NULL::VARCHAR AS anchor, NULL::INTEGER AS priority, "
            "NULL::VARCHAR AS record_id, NULL::VARCHAR AS value WHERE false"
        )
        return f"SELECT * FROM ({body}) WHERE value IS NOT NULL AND record_id IS NOT NULL"

    # ------------------------------------------------------------------ sales touches
    def sales_touches_sql(self) -> str:
        selects = []
        for touch in self.mapping.sales_touches:
            obj = touch.object
            if not self.has(obj):
                self.note(
                    "sales touch",
                    touch.activity or touch.activity_field,
                    None,
                    obj,
                    None,
                    "object missing",
                    f"the warehouse has no {obj}",
                )
                continue
            missing = [
                f
                for f in (
                    touch.timestamp,
                    touch.resource,
                    touch.activity_field,
                    touch.lead,
                    touch.opportunity,
                )
                if f and not self.has(obj, f)
            ]
            if missing:
                for f in missing:
                    self.note(
                        "sales touch",
                        touch.activity or touch.activity_field,
                        None,
                        obj,
                        f,
                        "field missing",
                        f"{obj} has no field {f}",
                    )
                if touch.timestamp in missing or touch.activity_field in missing:
                    continue
            self.note(
                "sales touch", touch.activity or touch.activity_field, None, obj, None, "ok", None
            )

            def col(f: str | None, type_: str = "VARCHAR", obj: str = obj) -> str:
                return (
                    f"CAST(src.{quote(f)} AS {type_})"
                    if f and self.has(obj, f)
                    else f"NULL::{type_}"
                )

            if touch.activity is not None:
                activity = sql_literal(touch.activity)
            else:
                cases = " ".join(
                    f"WHEN {sql_literal(k)} THEN {sql_literal(v)}"
                    for k, v in touch.activities.items()
                )
                activity = (
                    f"CASE trim(CAST(src.{quote(touch.activity_field)} AS VARCHAR)) {cases} END"
                )
            deleted = "coalesce(src.IsDeleted, false)" if self.has(obj, "IsDeleted") else "false"
            selects.append(
                f"SELECT CAST(src.Id AS VARCHAR) AS touch_id, {sql_literal(obj)} AS object_type, {activity} AS activity, "
                f"{col(touch.timestamp, 'TIMESTAMP')} AS timestamp, {col(touch.resource)} AS resource_id, "
                f"{col(touch.lead)} AS lead_id, {col(touch.opportunity)} AS opportunity_id, {deleted} AS is_deleted "
                f"FROM raw.{quote(obj)} AS src"
            )
        body = " UNION ALL ".join(selects) or (
            "SELECT NULL::VARCHAR AS touch_id, NULL::VARCHAR AS object_type, NULL::VARCHAR AS activity, "
            "NULL::TIMESTAMP AS timestamp, NULL::VARCHAR AS resource_id, NULL::VARCHAR AS lead_id, "
            "NULL::VARCHAR AS opportunity_id, NULL::BOOLEAN AS is_deleted WHERE false"
        )
        return f"SELECT * FROM ({body}) WHERE activity IS NOT NULL"


def _attribute_value(source) -> str:
    column = f"src.{quote(source.field)}"
    if source.bands:
        return _bands_sql(f"TRY_CAST({column} AS DOUBLE)", source.bands)
    value = f"nullif(trim(CAST({column} AS VARCHAR)), '')"
    if source.pattern:
        value = f"nullif(regexp_extract({value}, {sql_literal(source.pattern)}, 1), '')"
    if source.value_map:
        cases = " ".join(
            f"WHEN {sql_literal(k)} THEN {sql_literal(v)}" for k, v in source.value_map.items()
        )
        value = f"CASE {value} {cases} ELSE {value} END"
    return value


def _bands_sql(number: str, bands: tuple[Band, ...]) -> str:
    cases = " ".join(
        f"WHEN {number} < {band.below!r} THEN {sql_literal(band.label)}"
        for band in bands
        if band.below is not None
    )
    top = next((b.label for b in bands if b.below is None), None)
    otherwise = sql_literal(top) if top is not None else "NULL"
    return f"CASE WHEN {number} IS NULL THEN NULL {cases} ELSE {otherwise} END"


_DESCRIPTIONS = {
    "field_changes": (
        "Every field change the warehouse knows: the org's field-history objects and the "
        "pipeline's own change capture between syncs (the org's history wins for a record and "
        "field it covers).",
        {
            "change_id": "the history row's Id, or the captured change's id",
            "source": "'history' (the org's field history) or 'captured' (recorded by the pipeline)",
            "source_object": "the history object, or the tracked object for captured changes",
            "entity": "the canonical entity of the record",
            "record_id": "the record that changed",
            "field": "the API name of the field that changed (as the history names it)",
            "data_type": "the history's DataType (lookups are written twice: EntityId and Text)",
            "old_value": "the value before",
            "new_value": "the value after",
            "changed_at": "when it changed (captured: the record's SystemModstamp at the sync)",
            "changed_by": "who changed it (captured: the record's LastModifiedById)",
            "column_name": "the entity's column the field maps to (null for other fields)",
        },
    ),
    "attribute_values": (
        "Each mapped attribute source's value per record (long form): a case takes, per "
        "attribute, the value of the first source (lowest priority) that has one.",
        {
            "attribute": "the attribute, e.g. region",
            "anchor": "which record of a case it is read from (opportunity, owner, account, ...)",
            "priority": "the source's place in the mapping's list (1 = first choice)",
            "record_id": "the record it is read from",
            "value": "the attribute's value",
        },
    ),
    "sales_touches": (
        "The records the mapping names as sales touches (calls, e-mails, meetings, ...).",
        {
            "touch_id": "the record's Id",
            "object_type": "its Salesforce object",
            "activity": "the activity it is in the event log",
            "timestamp": "when it happened",
            "resource_id": "who did it",
            "lead_id": "the lead it was about (WhoId)",
            "opportunity_id": "the opportunity it was about (WhatId)",
            "is_deleted": "deleted in the org",
        },
    ),
}


def write_mapped(con: duckdb.DuckDBPyConnection, mapping: Mapping) -> dict[str, int | None]:
    """Replace every mapped.* view and table from the mapping and the raw tables that exist;
    returns rows per table (None for a view). A required entity whose object the warehouse
    lacks stops it with the mapping file, key and object named."""
    builder = _Builder(con, mapping)
    for name, spec in ENTITIES.items():
        entity = mapping.entities.get(name)
        if spec.required and (entity is None or not builder.has(entity.object)):
            raise MappingError(
                f"{mapping.path}: key 'entities.{name}.object' names "
                f"{entity.object if entity else '(nothing)'}, which the warehouse does not have: "
                "the org lacks the object, the login may not read it, or it was not extracted"
            )
    entity_sql = {name: builder.entity_sql(name) for name in ENTITIES}
    changes_sql = builder.field_changes_sql()
    attributes_sql = builder.attribute_values_sql()
    touches_sql = builder.sales_touches_sql()
    entity_fields = [
        (name, entity.object, column, field_name, position)
        for name, entity in mapping.entities.items()
        for position, (column, source) in enumerate(entity.columns.items())
        for field_name in source.fields
    ]
    meanings = [(m, v) for m, values in mapping.values.items() for v in values]
    bands = [
        (
            index,
            band.label,
            mapping.deal_size_bands[index - 2].below if index > 1 else None,
            band.below,
        )
        for index, band in enumerate(mapping.deal_size_bands, start=1)
    ]
    counts: dict[str, int | None] = {}
    cur = session(con.cursor())
    try:
        cur.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        with transaction(cur):
            _table(
                cur,
                "entity_fields",
                "(entity VARCHAR, object VARCHAR, column_name VARCHAR, field VARCHAR, position INTEGER)",
                entity_fields,
                "Which field of which object each mapped entity column reads (the mapping file).",
                {
                    "entity": "the canonical entity",
                    "object": "its Salesforce object",
                    "column_name": "the entity's column",
                    "field": "the field it reads",
                    "position": "the column's place in the mapping",
                },
            )
            _table(
                cur,
                "value_meanings",
                "(meaning VARCHAR, value VARCHAR)",
                meanings,
                "Which field values mean what in this org (the mapping file's values).",
                {
                    "meaning": "what the value means, e.g. quote_accepted",
                    "value": "the field value",
                },
            )
            _table(
                cur,
                "deal_size_bands",
                "(band_order INTEGER, band VARCHAR, lower_bound DOUBLE, upper_bound DOUBLE)",
                bands,
                "Deal-size bands over the opportunity amount (the mapping file).",
                {
                    "band_order": "1 = smallest",
                    "band": "the band's label",
                    "lower_bound": "amounts from this (null: no lower bound)",
                    "upper_bound": "amounts below this (null: no upper bound)",
                },
            )
            for name, sql in entity_sql.items():
                spec = ENTITIES[name]
                _view(
                    cur,
                    name,
                    sql,
                    f"{spec.description} As the mapping ({mapping.path.name}) reads them.",
                    {
                        **{c.name: c.description for c in spec.columns},
                        "object_type": "the Salesforce object the record comes from",
                        "is_deleted": "deleted in the org (kept with IsDeleted = true)",
                    },
                )
                counts[f"{SCHEMA}.{name}"] = None
            for name, sql in (
                ("field_changes", changes_sql),
                ("attribute_values", attributes_sql),
                ("sales_touches", touches_sql),
            ):
                description, columns = _DESCRIPTIONS[name]
                _view(cur, name, sql, description, columns)
                counts[f"{SCHEMA}.{name}"] = None
            _table(
                cur,
                "sources",
                "(part VARCHAR, name VARCHAR, column_name VARCHAR, object VARCHAR, field VARCHAR, "
                "status VARCHAR, note VARCHAR)",
                builder.sources,
                "Where each part of the event log comes from in this org, and what the org lacks.",
                {
                    "part": "entity, history, change capture, attribute or sales touch",
                    "name": "the entity, attribute or touch",
                    "column_name": "the entity column (or the attribute's anchor)",
                    "object": "the Salesforce object",
                    "field": "the field",
                    "status": "ok, not mapped, object missing or field missing",
                    "note": "what it means, in words",
                },
            )
        for table in ("entity_fields", "value_meanings", "deal_size_bands", "sources"):
            counts[f"{SCHEMA}.{table}"] = cur.execute(
                f"SELECT count(*) FROM {SCHEMA}.{table}"
            ).fetchone()[0]
    finally:
        cur.close()
    return counts


def _table(
    cur, name: str, columns_ddl: str, rows: list[tuple], description: str, comments: dict
) -> None:
    table = f"{SCHEMA}.{name}"
    cur.execute(f"CREATE OR REPLACE TABLE {table} {columns_ddl}")
    if rows:
        placeholders = ", ".join("?" for _ in rows[0])
        cur.executemany(f"INSERT INTO {table} VALUES ({placeholders})", rows)
    write_comments(cur, table, description, comments)


def _view(cur, name: str, sql: str, description: str, comments: dict) -> None:
    view = f"{SCHEMA}.{name}"
    cur.execute(f"CREATE OR REPLACE VIEW {view} AS {sql}")
    write_comments(cur, view, description, comments, kind="view")


def missing_parts(con: duckdb.DuckDBPyConnection) -> list[str]:
    """What the org lacks that the mapping names, one sentence each (for logs and `l2c run`)."""
    rows = con.execute(
        f"SELECT part, name, column_name, object, field, status, note FROM {SCHEMA}.sources "
        "WHERE status IN ('object missing', 'field missing') ORDER BY part, name, column_name"
    ).fetchall()
    sentences = []
    for part, name, column, _obj, _field, _status, note in rows:
        where = f"{name}.{column}" if column and part == "entity" else name
        sentences.append(f"{part} {where}: {note}")
    return sentences
