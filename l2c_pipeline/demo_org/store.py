"""The demo org's data: a snapshot folder loaded into DuckDB, queried and changed like an org.

Any folder of Data Loader-style CSV files loads (one file per object, header = API field
names). Known objects get their catalogue types; other columns get types inferred from their
values. A bad file stops the load with one message naming the file, row and column, and
nothing is served half-loaded.
"""

from __future__ import annotations

import itertools
import json
import random
import re
import shutil
import tempfile
import threading
import zlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

from .catalogue import BY_NAME
from .ids import make_id
from .soql import Compiled, SoqlError, compile_query, parse

SKIPPED_FILES = {"expected_event_log.csv", "expected_amounts.csv"}
_SQL_TYPES = {
    "id": "VARCHAR",
    "reference": "VARCHAR",
    "string": "VARCHAR",
    "picklist": "VARCHAR",
    "textarea": "VARCHAR",
    "email": "VARCHAR",
    "boolean": "BOOLEAN",
    "datetime": "TIMESTAMP",
    "date": "DATE",
    "double": "DOUBLE",
    "currency": "DOUBLE",
    "percent": "DOUBLE",
    "int": "BIGINT",
}
_OBJECT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class SnapshotError(Exception):
    """A snapshot folder that cannot be served; the message says what and where."""


@dataclass
class ObjectMeta:
    name: str
    label: str
    key_prefix: str
    custom: bool
    fields: dict[str, str]  # canonical field name -> describe type, in file order
    references: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def is_field_history(self) -> bool:
        return {"Field", "OldValue", "NewValue"} <= set(
            self.fields
        ) and "SystemModstamp" not in self.fields


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _cast(column: str, field_type: str) -> str:
    """SQL turning a CSV text column into its typed value ('' is null)."""
    value = f"NULLIF({_quote(column)}, '')"
    if field_type == "datetime":
        return f"TRY_CAST({value} AS TIMESTAMPTZ)::TIMESTAMP"
    if field_type == "boolean":
        return f"TRY_CAST(lower({value}) AS BOOLEAN)"
    return f"TRY_CAST({value} AS {_SQL_TYPES.get(field_type, 'VARCHAR')})"


def rest_value_sql(column: str, field_type: str) -> str:
    """How the REST API writes a field: datetimes as 2025-03-01T14:05:00.000+0000."""
    if field_type == "datetime":
        return f"strftime({_quote(column)}, '%Y-%m-%dT%H:%M:%S.%g+0000')"
    if field_type == "date":
        return f"strftime({_quote(column)}, '%Y-%m-%d')"
    return _quote(column)


def bulk_value_sql(column: str, field_type: str) -> str:
    """How Bulk API 2.0 writes a CSV cell: datetimes as 2025-03-01T14:05:00.000Z."""
    if field_type == "datetime":
        return f"strftime({_quote(column)}, '%Y-%m-%dT%H:%M:%S.%gZ')"
    if field_type == "date":
        return f"strftime({_quote(column)}, '%Y-%m-%d')"
    if field_type == "boolean":
        return f"CASE WHEN {_quote(column)} THEN 'true' WHEN NOT {_quote(column)} THEN 'false' END"
    if field_type in ("double", "currency", "percent"):
        return f"CAST({_quote(column)} AS VARCHAR)"
    return f"CAST({_quote(column)} AS VARCHAR)"


def _infer_type(con, table: str, column: str) -> str:
    if column == "Id":
        return "id"
    checks = {
        "datetime": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$",
        "date": r"^\d{4}-\d{2}-\d{2}$",
        "boolean": r"^(?i)(true|false)$",
        "double": r"^-?\d+(\.\d+)?$",
        "reference": r"^[a-zA-Z0-9]{15}([A-Z0-5]{3})?$",
    }
    selects = ", ".join(
        f"count_if(v <> '' AND NOT regexp_full_match(v, '{pattern}'))"
        for pattern in checks.values()
    )
    row = con.execute(
        f"SELECT count_if(v <> ''), {selects} FROM (SELECT {_quote(column)} AS v FROM {table})"
    ).fetchone()
    non_empty, misses = row[0], dict(zip(checks, row[1:]))
    if non_empty == 0:
        return "string"
    for kind in ("datetime", "date", "boolean", "double"):
        if misses[kind] == 0:
            return kind
    if misses["reference"] == 0 and (column.endswith("Id") or column.endswith("__c")):
        return "reference"
    return "string"


class OrgStore:
    """An org held in DuckDB. Thread-safe: one lock around every statement."""

    def __init__(
        self, folder: Path, *, database: str = ":memory:", memory_limit: str = "3GB"
    ) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise SnapshotError(f"snapshot folder {self.folder} does not exist")
        self.con = duckdb.connect(database)
        # A big org spills to disk: into a temporary folder of its own, never the working directory.
        self._spill_dir = tempfile.mkdtemp(prefix="l2c-demo-org-duckdb-")
        self.lock = threading.RLock()
        self.objects: dict[str, ObjectMeta] = {}
        self._lookup: dict[str, str] = {}
        self._pending_late: list[tuple[str, dict]] = []
        self._cursor_numbers = itertools.count(1)
        self._organization_meta: ObjectMeta | None = None
        try:
            self.con.execute(f"SET temp_directory = '{self._spill_dir}'")
            self.con.execute("SET TimeZone = 'UTC'")
            self.con.execute(f"SET memory_limit = '{memory_limit}'")
            self.con.execute("SET preserve_insertion_order = true")
            self._load()
            self.organization = self._organization()
            self.clock = self._initial_clock()
            self.default_actor = self._first_user()
        except BaseException:  # a snapshot that cannot be served leaves nothing behind
            self.close()
            raise

    def close(self) -> None:
        """Release DuckDB now, not during interpreter shutdown (where its teardown can abort)."""
        with self.lock:
            self.con.close()
        shutil.rmtree(self._spill_dir, ignore_errors=True)

    # ---------------------------------------------------------------- loading
    def _load(self) -> None:
        files = sorted(p for p in self.folder.glob("*.csv") if p.name not in SKIPPED_FILES)
        if not files:
            raise SnapshotError(f"{self.folder} holds no object CSV files (expected e.g. Lead.csv)")
        for path in files:
            self._load_object(path)

    def _load_object(self, path: Path) -> None:
        name = path.stem
        if not _OBJECT_NAME.match(name):
            raise SnapshotError(f"{path.name}: '{name}' is not a Salesforce object API name")
        staging = f"staging_{len(self.objects)}"
        literal = str(path).replace("'", "''")
        try:
            self.con.execute(
                f"CREATE TEMP TABLE {staging} AS SELECT * FROM read_csv('{literal}', header = true, "
                f"all_varchar = true, quote = '\"', escape = '\"', strict_mode = true, "
                f"null_padding = false, sample_size = -1)"
            )
        except duckdb.Error as error:
            first_line = str(error).strip().splitlines()[0]
            detail = re.sub(r"^[A-Za-z ]*Error: ", "", first_line)
            raise SnapshotError(f"{path.name}: not a readable CSV file ({detail})") from None
        try:
            columns = [row[0] for row in self.con.execute(f"DESCRIBE {staging}").fetchall()]
            if "Id" not in columns:
                raise SnapshotError(
                    f"{path.name}: no Id column (the header must use API field names)"
                )
            catalogue = BY_NAME.get(name)
            known = {f.name: f for f in catalogue.fields} if catalogue else {}
            fields = {
                c: (known[c].type if c in known else _infer_type(self.con, staging, c))
                for c in columns
            }
            self._check_values(path, staging, fields)
            duplicate = self.con.execute(
                f"SELECT Id, count(*) FROM {staging} GROUP BY Id HAVING count(*) > 1 LIMIT 1"
            ).fetchone()
            if duplicate:
                raise SnapshotError(f"{path.name}: Id {duplicate[0]} appears {duplicate[1]} times")
            casts = ", ".join(f"{_cast(c, t)} AS {_quote(c)}" for c, t in fields.items())
            self.con.execute(f"CREATE TABLE {_quote(name)} AS SELECT {casts} FROM {staging}")
        finally:
            self.con.execute(f"DROP TABLE IF EXISTS {staging}")
        first_id = self.con.execute(f"SELECT min(Id) FROM {_quote(name)}").fetchone()[0]
        prefix = catalogue.key_prefix if catalogue else (first_id[:3] if first_id else "a0Z")
        references = (
            {f.name: f.reference_to for f in catalogue.fields if f.reference_to}
            if catalogue
            else {}
        )
        self.objects[name] = ObjectMeta(
            name=name,
            label=catalogue.label if catalogue else name.replace("__c", "").replace("_", " "),
            key_prefix=prefix,
            custom=catalogue.custom if catalogue else name.endswith("__c"),
            fields=fields,
            references=references,
        )
        self._lookup[name.lower()] = name

    def _check_values(self, path: Path, staging: str, fields: dict[str, str]) -> None:
        typed = [(c, t) for c, t in fields.items() if _SQL_TYPES.get(t, "VARCHAR") != "VARCHAR"]
        if not typed:
            return
        bad = ", ".join(f"count_if({_quote(c)} <> '' AND {_cast(c, t)} IS NULL)" for c, t in typed)
        counts = self.con.execute(f"SELECT {bad} FROM {staging}").fetchone()
        for (column, field_type), count in zip(typed, counts):
            if count:
                row, value = self.con.execute(
                    f"SELECT rn, v FROM (SELECT row_number() OVER () AS rn, {_quote(column)} AS v, "
                    f"{_cast(column, field_type)} AS typed FROM {staging}) "
                    f"WHERE v <> '' AND typed IS NULL ORDER BY rn LIMIT 1"
                ).fetchone()
                raise SnapshotError(
                    f"{path.name}: row {row} (line {row + 1}), column {column}: {value!r} is not a "
                    f"valid {field_type}" + (f" ({count} such values)" if count > 1 else "")
                )

    def _initial_clock(self) -> datetime:
        manifest = self.folder / "org.json"
        if manifest.exists():
            as_of = json.loads(manifest.read_text(encoding="utf-8")).get("as_of")
            if as_of:
                return (
                    datetime.fromisoformat(as_of.replace("Z", "+00:00"))
                    .astimezone(UTC)
                    .replace(tzinfo=None)
                )
        newest = []
        for meta in self.objects.values():
            for column in ("SystemModstamp", "CreatedDate"):
                if meta.fields.get(column) == "datetime":
                    value = self.con.execute(
                        f"SELECT max({_quote(column)}) FROM {_quote(meta.name)}"
                    ).fetchone()[0]
                    if value:
                        newest.append(value)
        return max(newest) if newest else datetime.now(UTC).replace(tzinfo=None, microsecond=0)

    def _organization(self) -> dict:
        """The org's own record (every org has one Organization row): from Organization.csv,
        else from org.json, else made up from the folder, so each snapshot is a different org.
        It is answered to queries but is not one of the snapshot's objects."""
        if "Organization" in self.objects:
            row = self.con.execute('SELECT Id, Name FROM "Organization" LIMIT 1').fetchone()
            return {"Id": row[0], "Name": row[1]}
        manifest = self.folder / "org.json"
        declared = (
            json.loads(manifest.read_text(encoding="utf-8")).get("organization")
            if manifest.exists()
            else None
        )
        identity = declared or {
            "Id": make_id("00D", zlib.crc32(str(self.folder.resolve()).encode())),
            "Name": self.folder.name,
        }
        organization = {
            "Id": identity["Id"],
            "Name": identity["Name"],
            "OrganizationType": "Developer Edition",
            "IsSandbox": False,
            "InstanceName": "DEMO1",
        }
        fields = {
            "Id": "id",
            "Name": "string",
            "OrganizationType": "picklist",
            "IsSandbox": "boolean",
            "InstanceName": "string",
        }
        columns = ", ".join(f"{_quote(name)} {_SQL_TYPES[kind]}" for name, kind in fields.items())
        self.con.execute(f'CREATE TEMP TABLE "Organization" ({columns})')
        self.con.execute(
            'INSERT INTO "Organization" VALUES (?, ?, ?, ?, ?)', list(organization.values())
        )
        self._organization_meta = ObjectMeta(
            name="Organization", label="Organization", key_prefix="00D", custom=False, fields=fields
        )
        return organization

    def _first_user(self) -> str | None:
        if "User" not in self.objects:
            return None
        return self.con.execute('SELECT min(Id) FROM "User"').fetchone()[0]

    # ---------------------------------------------------------------- reading
    def resolve_object(self, name: str) -> ObjectMeta | None:
        canonical = self._lookup.get(name.lower())
        return self.objects.get(canonical) if canonical else None

    def compile(self, soql: str, *, include_deleted: bool) -> Compiled:
        query = parse(soql)
        meta = self.resolve_object(query.object_name)
        if meta is None and query.object_name.lower() == "organization":
            meta = self._organization_meta
        if meta is None:
            raise SoqlError(
                "INVALID_TYPE",
                f"\n{soql}\n^\nERROR at Row:1:Column:1\nsObject type '{query.object_name}' is not "
                "supported. If you are attempting to use a custom object, be sure to append the '__c' "
                "after the entity name. Please reference your WSDL or the describe call for the "
                "appropriate names.",
            )
        return compile_query(
            query, meta.name, meta.fields, include_deleted=include_deleted, today=self.clock.date()
        )

    def aggregate(self, compiled: Compiled) -> list[dict]:
        """An aggregate query's rows, with values as JSON carries them."""
        with self.lock:
            rows = self.con.execute(compiled.sql, compiled.params).fetchall()
        shown = []
        for row in rows:
            shown.append(
                {
                    name: value.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
                    if isinstance(value, datetime)
                    else value.isoformat()
                    if isinstance(value, date)
                    else value
                    for name, value in zip(compiled.columns, row)
                }
            )
        return shown

    def count(self, compiled: Compiled) -> int:
        with self.lock:
            return self.con.execute(compiled.sql, compiled.params).fetchone()[0]

    def open_cursor(self, compiled: Compiled) -> tuple[str, int]:
        """Materialise a query's result (a snapshot, like Salesforce's query locator)."""
        with self.lock:
            table = f"cursor_{next(self._cursor_numbers)}"
            self.con.execute(f"CREATE TEMP TABLE {table} AS {compiled.sql}", compiled.params)
            total = self.con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            return table, total

    def read_cursor(
        self,
        table: str,
        object_name: str,
        columns: list[str],
        offset: int,
        size: int,
        *,
        bulk: bool = False,
    ) -> list[tuple]:
        meta = self.objects.get(object_name) or self._organization_meta
        types = meta.fields
        render = bulk_value_sql if bulk else rest_value_sql
        select = ", ".join(render(c, types[c]) for c in columns)
        with self.lock:
            return self.con.execute(
                f"SELECT {select} FROM {table} LIMIT {int(size)} OFFSET {int(offset)}"
            ).fetchall()

    def newest(self, object_name: str, column: str):
        with self.lock:
            return self.con.execute(
                f"SELECT max({_quote(column)}) FROM {_quote(object_name)}"
            ).fetchone()[0]

    def close_cursor(self, table: str) -> None:
        with self.lock:
            self.con.execute(f"DROP TABLE IF EXISTS {table}")

    def after_query(self, object_name: str) -> None:
        """Records committed late become visible once a query on their object has been served."""
        with self.lock:
            ready = [(o, r) for o, r in self._pending_late if o == object_name]
            self._pending_late = [(o, r) for o, r in self._pending_late if o != object_name]
            for name, record in ready:
                self._insert_rows(name, [record])

    def row_counts(self, *, include_deleted: bool = False) -> dict[str, int]:
        counts = {}
        with self.lock:
            for meta in self.objects.values():
                where = (
                    ""
                    if include_deleted or "IsDeleted" not in meta.fields
                    else " WHERE NOT IsDeleted"
                )
                counts[meta.name] = self.con.execute(
                    f"SELECT count(*) FROM {_quote(meta.name)}{where}"
                ).fetchone()[0]
        return counts

    # ---------------------------------------------------------------- changing
    def advance(self, seconds: float) -> datetime:
        with self.lock:
            self.clock += timedelta(seconds=seconds)
            return self.clock

    def _meta(self, object_name: str) -> ObjectMeta:
        meta = self.resolve_object(object_name)
        if meta is None:
            raise KeyError(f"the demo org has no object {object_name!r}")
        return meta

    def _new_id(self, meta: ObjectMeta) -> str:
        # Ids for new records: past every existing one, as Salesforce's are.
        number = 10**12 + next(self._cursor_numbers) * 1000 + random.randrange(1000)
        return make_id(meta.key_prefix, number)

    def _insert_rows(self, object_name: str, records: list[dict]) -> None:
        meta = self._meta(object_name)
        for record in records:
            unknown = set(record) - set(meta.fields)
            if unknown:
                raise KeyError(f"{meta.name} has no field(s) {', '.join(sorted(unknown))}")
            columns = list(record)
            values = ", ".join(_typed_param(meta.fields[c]) for c in columns)
            self.con.execute(
                f"INSERT INTO {_quote(meta.name)} ({', '.join(_quote(c) for c in columns)}) VALUES ({values})",
                [_param_value(record[c]) for c in columns],
            )

    def _stamp(self, meta: ObjectMeta, record: dict, moment: datetime, *, created: bool) -> dict:
        stamped = dict(record)
        actor = stamped.get("LastModifiedById") or stamped.get("CreatedById") or self.default_actor
        for name, value in (
            ("SystemModstamp", moment),
            ("LastModifiedDate", moment),
            ("LastModifiedById", actor),
        ):
            if name in meta.fields:
                stamped[name] = value
        if created:
            for name, value in (
                ("Id", stamped.get("Id") or self._new_id(meta)),
                ("CreatedDate", moment),
                ("CreatedById", actor),
                ("IsDeleted", False),
            ):
                if name in meta.fields:
                    stamped.setdefault(name, value)
            if "CreatedDate" in meta.fields:
                stamped["CreatedDate"] = moment
        return stamped

    def insert(self, object_name: str, records: list[dict]) -> list[str]:
        """New records, created now on the org clock. Returns their ids."""
        with self.lock:
            meta = self._meta(object_name)
            stamped = [self._stamp(meta, r, self.clock, created=True) for r in records]
            self._insert_rows(meta.name, stamped)
            return [r["Id"] for r in stamped]

    def update(self, object_name: str, changes: list[dict]) -> int:
        """Field changes by Id; the records get a new SystemModstamp (the org clock)."""
        with self.lock:
            meta = self._meta(object_name)
            for change in changes:
                if "Id" not in change:
                    raise KeyError(f"an update of {meta.name} needs the record's Id")
                stamped = self._stamp(
                    meta, {k: v for k, v in change.items() if k != "Id"}, self.clock, created=False
                )
                unknown = set(stamped) - set(meta.fields)
                if unknown:
                    raise KeyError(f"{meta.name} has no field(s) {', '.join(sorted(unknown))}")
                assignments = ", ".join(
                    f"{_quote(c)} = {_typed_param(meta.fields[c])}" for c in stamped
                )
                updated = self.con.execute(
                    f"UPDATE {_quote(meta.name)} SET {assignments} WHERE Id = ?",
                    [*(_param_value(v) for v in stamped.values()), change["Id"]],
                ).fetchone()[0]
                if not updated:
                    raise KeyError(f"{meta.name} has no record {change['Id']}")
            return len(changes)

    def delete(self, object_name: str, ids: list[str]) -> int:
        """Soft delete (IsDeleted = true, to the recycle bin), as Salesforce does."""
        with self.lock:
            meta = self._meta(object_name)
            if "IsDeleted" not in meta.fields:
                raise KeyError(f"{meta.name} records cannot be deleted (no IsDeleted field)")
            return self.update(meta.name, [{"Id": i, "IsDeleted": True} for i in ids])

    def purge_history(self, older_than_months: int) -> dict[str, int]:
        """Drop field-history rows older than N months for good, as Salesforce's retention does."""
        with self.lock:
            cutoff = self.clock - timedelta(days=round(older_than_months * 30.44))
            purged = {}
            for meta in self.objects.values():
                if meta.is_field_history and meta.fields.get("CreatedDate") == "datetime":
                    purged[meta.name] = self.con.execute(
                        f"DELETE FROM {_quote(meta.name)} WHERE CreatedDate < ?", [cutoff]
                    ).fetchone()[0]
            return purged

    def late_commit(self, object_name: str, record: dict, behind_seconds: float) -> str:
        """A record stamped `behind_seconds` in the past that becomes visible only after the next
        query on its object: the long-running transaction every connector must survive."""
        with self.lock:
            meta = self._meta(object_name)
            moment = self.clock - timedelta(seconds=behind_seconds)
            stamped = self._stamp(meta, record, moment, created=True)
            self._pending_late.append((meta.name, stamped))
            return stamped["Id"]

    def late_copy(
        self, object_name: str, newest_served: datetime, behind_seconds: float
    ) -> str | None:
        """Fault helper: a copy of an existing record, committed late behind what was just served."""
        with self.lock:
            meta = self._meta(object_name)
            row = self.con.execute(
                f"SELECT * FROM {_quote(meta.name)} ORDER BY Id LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            record = dict(zip(meta.fields, row))
            record["Id"] = self._new_id(meta)
            moment = newest_served - timedelta(seconds=behind_seconds)
            stamped = self._stamp(meta, record, moment, created=True)
            self._pending_late.append((meta.name, stamped))
            return stamped["Id"]

    def touch_random(self, fraction: float, seed: int) -> dict[str, int]:
        """Give a random `fraction` of every object's records a new SystemModstamp (a bulk edit)."""
        with self.lock:
            touched = {}
            threshold = int(fraction * 1_000_000)
            for meta in self.objects.values():
                if meta.fields.get("SystemModstamp") != "datetime":
                    continue
                touched[meta.name] = self.con.execute(
                    f"UPDATE {_quote(meta.name)} SET SystemModstamp = ? "
                    f"{', LastModifiedDate = ?' if 'LastModifiedDate' in meta.fields else ''} "
                    f"WHERE hash(Id || ?) % 1000000 < ?",
                    [
                        self.clock,
                        *([self.clock] if "LastModifiedDate" in meta.fields else []),
                        str(seed),
                        threshold,
                    ],
                ).fetchone()[0]
            return touched


def _typed_param(field_type: str) -> str:
    if field_type == "datetime":
        return "CAST(CAST(? AS TIMESTAMPTZ) AS TIMESTAMP)"
    return f"CAST(? AS {_SQL_TYPES.get(field_type, 'VARCHAR')})"


def _param_value(value):
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC).isoformat() if value.tzinfo is None else value.isoformat()
    return value
