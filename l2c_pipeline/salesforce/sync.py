"""Incremental extraction of one Salesforce object into raw.<object>, by the extraction rules (README).

- Cursor: SystemModstamp, else LastModifiedDate, else CreatedDate (field history has only that).
- Each run re-reads an overlap window behind the watermark (L2C_SYNC_OVERLAP_MINUTES) and
  upserts by Id, so late commits and timestamp ties are caught and re-reading is harmless; a
  re-read row that did not change is not counted as updated. Pages are ordered by cursor, Id.
- Reconciliation (every L2C_RECONCILE_EVERY_DAYS, or on demand) compares the org's record
  counts per month of CreatedDate with the warehouse's and re-reads the months the warehouse
  is short of: records committed later than any overlap are found and stored.
- queryAll: deleted records arrive with IsDeleted = true and stay, flagged. Rows are never
  deleted from raw, so history the org purges stays in the warehouse.
- Fields come from describe (only those that exist); a field or object the org lacks is a
  warning, not a crash.
- A COUNT() decides REST or Bulk API 2.0; if Bulk refuses the object, REST takes over.
- REST pages are committed one by one together with the watermark (pages are ordered, so
  the watermark is the last row's cursor); Bulk pages are committed as they arrive and the
  watermark moves once the job is fully stored. A killed or stopped sync therefore leaves
  every committed row and a watermark no later than them; the next run resumes.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import duckdb
import pandas as pd
from simple_salesforce.exceptions import SalesforceError, SalesforceMalformedRequest

from ..warehouse.duckdb_warehouse import (
    CHANGES_TABLE,
    SYNCED_AT,
    cast_sql,
    ensure_raw_table,
    quote,
    sql_literal,
    transaction,
)
from .catalogue import CURSOR_CANDIDATES, SKIPPED_FIELD_TYPES, ObjectSpec
from .client import (
    ApiLimitExceeded,
    BulkNotSupported,
    QueryLocatorExpired,
    SalesforceClient,
    ServerFailing,
    _error_code,
)

DEFAULT_OVERLAP_SECONDS = 600
DEFAULT_RECONCILE_EVERY_DAYS = 7.0
DEFAULT_BULK_THRESHOLD = 50_000
# Describe results are reused for a week; a configured field the cache lacks, or a query that
# names a field the org no longer has, triggers a fresh describe at once.
DEFAULT_DESCRIBE_MAX_AGE_HOURS = 168.0


@dataclass
class SyncResult:
    object_name: str
    status: str = "synced"  # synced, skipped, stopped
    method: str | None = None
    rows_read: int = 0
    expected_rows: int | None = None
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    api_calls: int = 0
    cursor_field: str | None = None
    watermark_before: datetime | None = None
    watermark_after: datetime | None = None
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)
    reconciled: Reconciliation | None = None


@dataclass
class Reconciliation:
    """What one reconciliation of an object found: months compared and re-read, records the
    warehouse lacked."""

    months_compared: int = 0
    months_reread: list[str] = field(default_factory=list)
    recovered: int = 0
    api_calls: int = 0


def _soql_datetime(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _as_text(value) -> str | None:
    if value is None:
        return None
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


def _rest_frame(records: list[dict], columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: [_as_text(r.get(c)) for r in records] for c in columns}, dtype=object)


def _bulk_frame(csv_text: str, columns: list[str]) -> pd.DataFrame:
    frame = pd.read_csv(io.StringIO(csv_text), dtype=str, keep_default_na=False)
    return frame.reindex(columns=columns).astype(object)


@dataclass
class ChangeCapture:
    """The pipeline's own field history for fields the org does not track: each page's values
    are compared with the stored ones, in the page's transaction, and every difference is kept
    in raw._l2c_field_changes (old value, new value, the record's LastModifiedDate). A record
    seen for the first time, or a field tracked for the first time, is recorded as a change
    from nothing, so its current value is in the history. Deleting or undeleting a record is a
    change of IsDeleted."""

    object_name: str
    fields: list[str]
    time_field: str | None
    changed_by_field: str | None
    run_id: str
    has_deleted: bool

    def _time(self, alias: str) -> str:
        return f"{alias}.{quote(self.time_field)}" if self.time_field else "NULL::TIMESTAMP"

    def _by(self, alias: str) -> str:
        return (
            f"{alias}.{quote(self.changed_by_field)}" if self.changed_by_field else "NULL::VARCHAR"
        )

    def _insert(self, con, select: str) -> None:
        con.execute(
            f"INSERT INTO {CHANGES_TABLE} BY NAME ({select}) ON CONFLICT DO NOTHING",
        )

    def _row(
        self, field_expr: str, old: str, new: str, record: str, observed: str, by: str, first: str
    ) -> str:
        name = sql_literal(self.object_name)
        return (
            f"SELECT md5(concat_ws('|', {name}, {record}, {field_expr}, CAST({observed} AS VARCHAR), "
            f"coalesce({new}, '(null)'))) AS change_id, {name} AS object_name, {record} AS record_id, "
            f"{field_expr} AS field, {old} AS old_value, {new} AS new_value, {observed} AS observed_at, "
            f"{by} AS changed_by, {first} AS first_seen, {sql_literal(self.run_id)} AS sync_run_id, "
            "now()::TIMESTAMP AS synced_at"
        )

    def start(self, con, table: str) -> None:
        """Fields tracked for the first time on a warehouse that already holds the object: their
        stored values become the history's starting point (timed by the stored record)."""
        known = {
            r[0]
            for r in con.execute(
                "SELECT field FROM meta.change_capture WHERE object_name = ?", [self.object_name]
            ).fetchall()
        }
        new_fields = [f for f in self.fields if f not in known]
        if not new_fields:
            return
        stored = con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'raw' "
            "AND table_name = ?",
            [self.object_name],
        ).fetchall()
        stored = {r[0] for r in stored}
        with transaction(con):
            for field_name in new_fields:
                if field_name in stored:
                    value = f"CAST(r.{quote(field_name)} AS VARCHAR)"
                    observed = self._time("r") if self.time_field in stored else "NULL::TIMESTAMP"
                    by = self._by("r") if self.changed_by_field in stored else "NULL::VARCHAR"
                    self._insert(
                        con,
                        self._row(
                            sql_literal(field_name),
                            "NULL::VARCHAR",
                            value,
                            "r.Id",
                            observed,
                            by,
                            "true",
                        )
                        + f" FROM {table} AS r WHERE r.{quote(field_name)} IS NOT NULL",
                    )
                con.execute(
                    "INSERT INTO meta.change_capture VALUES (?, ?, now()::TIMESTAMP) ON CONFLICT DO NOTHING",
                    [self.object_name, field_name],
                )

    def record_page(self, con, table: str) -> None:
        """Differences between the page (temp table l2c_page) and the stored rows."""
        for field_name in self.fields:
            column = quote(field_name)
            old, new = f"CAST(r.{column} AS VARCHAR)", f"CAST(p.{column} AS VARCHAR)"
            self._insert(
                con,
                self._row(
                    sql_literal(field_name),
                    old,
                    new,
                    "p.Id",
                    self._time("p"),
                    self._by("p"),
                    "r.Id IS NULL",
                )
                + f" FROM l2c_page AS p LEFT JOIN {table} AS r ON r.Id = p.Id "
                f"WHERE (r.Id IS NULL AND p.{column} IS NOT NULL) "
                f"OR (r.Id IS NOT NULL AND p.{column} IS DISTINCT FROM r.{column})",
            )
        if self.has_deleted:
            self._insert(
                con,
                self._row(
                    "'IsDeleted'",
                    "CASE WHEN r.Id IS NULL THEN NULL ELSE CAST(coalesce(r.IsDeleted, false) AS VARCHAR) END",
                    "CAST(p.IsDeleted AS VARCHAR)",
                    "p.Id",
                    self._time("p"),
                    self._by("p"),
                    "r.Id IS NULL",
                )
                + f" FROM l2c_page AS p LEFT JOIN {table} AS r ON r.Id = p.Id "
                "WHERE (p.IsDeleted AND (r.Id IS NULL OR NOT coalesce(r.IsDeleted, false))) "
                "OR (NOT p.IsDeleted AND coalesce(r.IsDeleted, false))",
            )


class _Writer:
    """Upserts pages into raw.<object> and moves the watermark in the same transaction."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        result: SyncResult,
        types: dict[str, str],
        capture: ChangeCapture | None = None,
    ) -> None:
        self.con, self.result, self.types, self.capture = con, result, types, capture
        self.table = f"raw.{quote(result.object_name)}"
        self.newest: datetime | None = None

    def write(self, frame: pd.DataFrame, *, move_watermark: bool) -> None:
        if frame.empty:
            return
        result, con = self.result, self.con
        cursor = result.cursor_field
        columns = list(self.types)
        casts = ", ".join(f"{cast_sql(c, self.types[c])} AS {quote(c)}" for c in columns)
        has_deleted = "IsDeleted" in self.types
        with transaction(con):
            con.register("l2c_page_frame", frame)
            try:
                con.execute(
                    f"CREATE OR REPLACE TEMP TABLE l2c_page AS SELECT {casts} FROM l2c_page_frame"
                )
            finally:
                con.unregister("l2c_page_frame")
            deleted_sql = (
                "count(*) FILTER (WHERE p.IsDeleted AND (r.Id IS NULL OR NOT coalesce(r.IsDeleted, false)))"
                if has_deleted
                else "0"
            )
            # A row re-read in the overlap with every value as stored is not an update.
            differs = " OR ".join(f"p.{quote(c)} IS DISTINCT FROM r.{quote(c)}" for c in columns)
            inserted, updated, deleted, newest = con.execute(
                f"SELECT count(*) FILTER (WHERE r.Id IS NULL), "
                f"count(*) FILTER (WHERE r.Id IS NOT NULL AND ({differs})), "
                f"{deleted_sql}, max(p.{quote(cursor)}) "
                f"FROM l2c_page p LEFT JOIN {self.table} r ON r.Id = p.Id"
            ).fetchone()
            if self.capture is not None:
                # Before the upsert: the stored values are the ones the page changes.
                self.capture.record_page(con, self.table)
            names = ", ".join(quote(c) for c in columns)
            # Upsert by Id, touching only the columns this sync reads: a narrower field list
            # (config) never blanks columns an earlier, wider sync stored.
            updates = ", ".join(
                f"{quote(c)} = excluded.{quote(c)}" for c in [*columns, SYNCED_AT] if c != "Id"
            )
            con.execute(
                f"INSERT INTO {self.table} ({names}, {SYNCED_AT}) "
                f"SELECT {names}, now()::TIMESTAMP FROM l2c_page "
                f"ON CONFLICT (Id) DO UPDATE SET {updates}"
            )
            if newest is not None and (self.newest is None or newest > self.newest):
                self.newest = newest
            if move_watermark:
                self._save_watermark(self.newest, len(frame))
            else:
                self._save_watermark(None, len(frame))
        result.rows_read += len(frame)
        result.inserted += inserted
        result.updated += updated
        result.deleted += deleted

    def _save_watermark(self, watermark: datetime | None, rows: int) -> None:
        result = self.result
        self.con.execute(
            "INSERT INTO meta.sync_state (object_name, cursor_field, watermark, rows_synced, last_method, last_synced_at) "
            "VALUES (?, ?, ?, ?, ?, now()::TIMESTAMP) ON CONFLICT (object_name) DO UPDATE SET "
            "cursor_field = excluded.cursor_field, "
            "watermark = CASE WHEN excluded.watermark IS NULL THEN meta.sync_state.watermark "
            "ELSE greatest(coalesce(meta.sync_state.watermark, excluded.watermark), excluded.watermark) END, "
            "rows_synced = meta.sync_state.rows_synced + excluded.rows_synced, "
            "last_method = excluded.last_method, last_synced_at = excluded.last_synced_at",
            [result.object_name, result.cursor_field, watermark, rows, result.method],
        )
        if watermark is not None:
            result.watermark_after = max(filter(None, (result.watermark_after, watermark)))

    def finish_bulk(self) -> None:
        with transaction(self.con):
            self._save_watermark(self.newest, 0)


def sync_object(
    client: SalesforceClient,
    con: duckdb.DuckDBPyConnection,
    spec: ObjectSpec,
    *,
    run_id: str = "",
    overlap_seconds: int = DEFAULT_OVERLAP_SECONDS,
    bulk_threshold: int = DEFAULT_BULK_THRESHOLD,
    describe_max_age_hours: float = DEFAULT_DESCRIBE_MAX_AGE_HOURS,
    reconcile_every_days: float | None = DEFAULT_RECONCILE_EVERY_DAYS,
    reconcile_now: bool = False,
    progress: Callable[[str], None] | None = None,
) -> SyncResult:
    """Bring raw.<object> up to date with the org, and reconcile it when it is due
    (`reconcile_every_days` since the last time, None: never unless `reconcile_now`). Raises
    ApiLimitExceeded after storing what it read."""
    say = progress or (lambda message: None)
    started, calls_before = time.monotonic(), client.api_calls
    started_at = datetime.now(UTC).replace(tzinfo=None)
    result = SyncResult(spec.name)
    options = {
        "run_id": run_id,
        "overlap_seconds": overlap_seconds,
        "bulk_threshold": bulk_threshold,
        "describe_max_age_hours": describe_max_age_hours,
        "reconcile_every_days": reconcile_every_days,
        "reconcile_now": reconcile_now,
    }
    try:
        _sync(client, con, spec, result, options, say)
    except ApiLimitExceeded as error:
        result.status = "stopped"
        _log(con, run_id, result, started_at, client.api_calls - calls_before, str(error))
        raise
    result.seconds = time.monotonic() - started
    result.api_calls = client.api_calls - calls_before
    _log(con, run_id, result, started_at, result.api_calls, "; ".join(result.warnings) or None)
    return result


def _object_fields(
    client, con, name: str, max_age_hours: float, *, refresh: bool
) -> dict[str, str] | None:
    """The object's fields and types from describe, cached in meta.describe_cache (one API call
    saved per object per run); None when the org has no such object."""
    if not refresh:
        row = con.execute(
            "SELECT fields FROM meta.describe_cache WHERE object_name = ? "
            "AND fetched_at > now()::TIMESTAMP - to_seconds(CAST(? AS BIGINT))",
            [name, int(max_age_hours * 3600)],
        ).fetchone()
        if row:
            return json.loads(row[0])
    describe = client.describe(name)
    if describe is None:
        con.execute("DELETE FROM meta.describe_cache WHERE object_name = ?", [name])
        return None
    available = {
        f["name"]: f["type"] for f in describe["fields"] if f["type"] not in SKIPPED_FIELD_TYPES
    }
    con.execute(
        "INSERT OR REPLACE INTO meta.describe_cache VALUES (?, ?, now()::TIMESTAMP)",
        [name, json.dumps(available)],
    )
    return available


def _sync(client, con, spec, result: SyncResult, options: dict, say) -> None:
    refresh = False
    while True:
        available = _object_fields(
            client, con, spec.name, options["describe_max_age_hours"], refresh=refresh
        )
        if (
            available is not None
            and not refresh
            and spec.fields
            and set(spec.fields) - set(available)
        ):
            refresh = True  # a configured field the cached describe lacks: the org may have it now
            continue
        if available is None:
            result.status = "skipped"
            result.warnings.append(f"the org has no object {spec.name}; skipped")
            return
        try:
            _sync_fields(client, con, spec, result, available, options, say)
            return
        except SalesforceMalformedRequest as error:
            if refresh or _error_code(error) not in ("INVALID_FIELD", "INVALID_TYPE"):
                raise
            # The org changed since the cached describe: describe again and retry once.
            result.warnings.append(f"{spec.name} changed in the org since it was last described")
            refresh = True


def _sync_fields(
    client, con, spec, result: SyncResult, available: dict[str, str], options: dict, say
) -> None:
    wanted = list(spec.fields) if spec.fields else list(available)
    result.cursor_field = next(
        (c for c in CURSOR_CANDIDATES if available.get(c) == "datetime"), None
    )
    if result.cursor_field is None:
        result.status = "skipped"
        result.warnings.append(
            f"{spec.name} has none of {', '.join(CURSOR_CANDIDATES)} to sync on; skipped"
        )
        return
    time_field = next(
        (c for c in ("LastModifiedDate", "SystemModstamp") if available.get(c) == "datetime"),
        result.cursor_field,
    )
    changed_by = "LastModifiedById" if "LastModifiedById" in available else None
    tracked = [f for f in spec.track if f in available]
    for untracked in (f for f in spec.track if f not in available):
        result.warnings.append(
            f"change capture: {spec.name} has no field {untracked} in this org; not tracked"
        )
    capture_fields = (time_field, changed_by) if tracked else ()
    # CreatedDate: what the reconciliation counts by.
    for always in (
        "Id",
        "IsDeleted",
        "CreatedDate",
        result.cursor_field,
        *tracked,
        *capture_fields,
    ):
        if always and always in available and always not in wanted:
            wanted.insert(0, always)
    missing = [f for f in wanted if f not in available]
    if missing:
        result.warnings.append(
            f"{spec.name} has no field(s) {', '.join(missing)} in this org; skipped them"
        )
    fields = [f for f in wanted if f in available]
    result.fields = fields
    types = {f: available[f] for f in fields}

    row = con.execute(
        "SELECT watermark FROM meta.sync_state WHERE object_name = ?", [spec.name]
    ).fetchone()
    result.watermark_before = row[0] if row else None
    overlap = timedelta(seconds=options["overlap_seconds"])

    def select_after(watermark: datetime | None) -> str:
        conditions = [f"({spec.where})"] if spec.where else []
        if watermark is not None:
            conditions.append(f"{result.cursor_field} >= {_soql_datetime(watermark - overlap)}")
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        return (
            f"SELECT {', '.join(fields)} FROM {spec.name}{where} ORDER BY {result.cursor_field}, Id"
        )

    def report() -> None:
        if result.expected_rows:
            say(f"{spec.name}: {result.rows_read:,} / {result.expected_rows:,} records stored")

    soql = select_after(result.watermark_before)
    # The first REST page says how many records there are (totalSize): no separate COUNT() call.
    pages = client.query_pages(soql)
    first_page, result.expected_rows = next(pages)
    # Only now, with the org having accepted every field, may the raw table change.
    added = ensure_raw_table(con, spec.name, types)
    if added and len(added) < len(fields):
        result.warnings.append(f"new column(s) {', '.join(added)} added to raw.{spec.name}")
    capture = None
    if tracked:
        capture = ChangeCapture(
            spec.name, tracked, time_field, changed_by, options["run_id"], "IsDeleted" in types
        )
        capture.start(con, f"raw.{quote(spec.name)}")
    writer = _Writer(con, result, types, capture)
    result.method = "bulk" if result.expected_rows >= options["bulk_threshold"] else "rest"
    say(f"{spec.name}: {result.expected_rows:,} records to read by {result.method.upper()}")
    if result.method == "bulk":
        pages.close()  # leave the REST cursor; Bulk API 2.0 reads large pulls in far fewer calls
        try:
            for page in client.bulk_pages(spec.name, soql):
                writer.write(_bulk_frame(page, fields), move_watermark=False)
                report()
            writer.finish_bulk()
            _reconcile_when_due(client, con, spec, result, fields, writer, options, say)
            return
        except BulkNotSupported as error:
            result.warnings.append(f"{error}; read by REST instead")
            result.method = "rest"
            pages = client.query_pages(soql)
            first_page, _ = next(pages)
    for restart in range(4):
        try:
            writer.write(_rest_frame(first_page, fields), move_watermark=True)
            report()
            for records, _ in pages:
                writer.write(_rest_frame(records, fields), move_watermark=True)
                report()
            break
        except QueryLocatorExpired as error:
            if restart == 3:
                raise
            # Pages so far are stored with their watermark: ask again from there.
            result.warnings.append(f"{error}; queried again from the stored watermark")
            pages = client.query_pages(select_after(writer.newest or result.watermark_before))
            first_page, _ = next(pages)
    if result.rows_read == 0:
        with transaction(con):
            writer._save_watermark(None, 0)
    _reconcile_when_due(client, con, spec, result, fields, writer, options, say)


def _reconcile_when_due(client, con, spec, result, fields, writer, options, say) -> None:
    if _reconciliation_due(con, spec.name, result, options):
        bound = result.watermark_before - timedelta(seconds=options["overlap_seconds"])
        result.reconciled = _reconcile(client, con, spec, result, fields, writer, bound, say)


def _reconciliation_due(con, name: str, result: SyncResult, options: dict) -> bool:
    if result.watermark_before is None:
        # A first, full read: it is the reconciliation's starting point.
        _save_reconciliation(con, name, Reconciliation())
        return False
    if options["reconcile_now"]:
        return True
    every = options["reconcile_every_days"]
    if every is None:
        return False
    row = con.execute(
        "SELECT reconciled_at FROM meta.reconcile_state WHERE object_name = ?", [name]
    ).fetchone()
    if row is None:
        return True
    return row[0] <= datetime.now(UTC).replace(tzinfo=None) - timedelta(days=every)


def _save_reconciliation(con, name: str, found: Reconciliation) -> None:
    con.execute(
        "INSERT OR REPLACE INTO meta.reconcile_state VALUES (?, now()::TIMESTAMP, ?, ?, ?)",
        [name, found.months_compared, len(found.months_reread), found.recovered],
    )


def _reconcile(
    client, con, spec, result: SyncResult, fields, writer, bound: datetime, say
) -> Reconciliation | None:
    """Compare the org's records per month of CreatedDate with the warehouse's and re-read the
    months whose counts differ: what arrived later than the overlap. Only records created
    before `bound` (where the incremental read started) are counted, so records made during the
    run are not taken for missing ones. One aggregate query per object, plus one query per month
    re-read. Counts cannot see a month where a missing record and one the warehouse keeps but
    the org no longer returns (a hard delete, a record that left the filter) cancel out."""
    found, calls_before = Reconciliation(), client.api_calls
    if "CreatedDate" not in result.fields:
        result.warnings.append(f"reconciliation: {spec.name} has no CreatedDate; not reconciled")
        _save_reconciliation(con, spec.name, found)  # not tried again until it is due
        return None
    before = f"CreatedDate < {_soql_datetime(bound)}"
    where = f" WHERE ({spec.where}) AND {before}" if spec.where else f" WHERE {before}"
    month = "CALENDAR_YEAR(CreatedDate), CALENDAR_MONTH(CreatedDate)"
    try:
        rows = client.aggregate(
            f"SELECT {month}, COUNT(Id) FROM {spec.name}{where} GROUP BY {month}"
        )
    except (SalesforceError, ServerFailing) as error:
        # Some objects take no aggregate query (or the count failed on Salesforce's side); the
        # incremental sync has still happened.
        code = _error_code(error) or type(error).__name__
        result.warnings.append(
            f"reconciliation: Salesforce refused the count of {spec.name} ({code})"
        )
        _save_reconciliation(con, spec.name, found)
        return None
    in_org = {(int(r["expr0"]), int(r["expr1"])): int(r["expr2"]) for r in rows}
    alive = " AND NOT coalesce(IsDeleted, false)" if "IsDeleted" in result.fields else ""
    stored = {
        (int(y), int(m)): int(n)
        for y, m, n in con.execute(
            f"SELECT year(CreatedDate), month(CreatedDate), count(*) FROM raw.{quote(spec.name)} "
            f"WHERE CreatedDate < ?{alive} GROUP BY 1, 2",
            [bound],
        ).fetchall()
    }
    found.months_compared = len(in_org)
    differing = sorted(
        key for key in in_org.keys() | stored.keys() if in_org.get(key, 0) != stored.get(key, 0)
    )
    inserted_before = result.inserted
    for year, month_number in differing:
        start = datetime(year, month_number, 1)
        end = datetime(year + month_number // 12, month_number % 12 + 1, 1)
        condition = (
            f"CreatedDate >= {_soql_datetime(start)} AND CreatedDate < {_soql_datetime(end)}"
        )
        soql = (
            f"SELECT {', '.join(fields)} FROM {spec.name} WHERE "
            + (f"({spec.where}) AND " if spec.where else "")
            + f"{condition} ORDER BY {result.cursor_field}, Id"
        )
        say(
            f"{spec.name}: the org's count of records created in {year}-{month_number:02d} "
            "differs from the warehouse's; re-reading them"
        )
        for records, _ in client.query_pages(soql):
            # The watermark stays: these records are older than it.
            writer.write(_rest_frame(records, fields), move_watermark=False)
        found.months_reread.append(f"{year}-{month_number:02d}")
    found.recovered = result.inserted - inserted_before
    found.api_calls = client.api_calls - calls_before
    if found.recovered:
        result.warnings.append(
            f"reconciliation: {found.recovered:,} {spec.name} record(s) committed later than the "
            f"sync overlap were found and stored (months {', '.join(found.months_reread)}); "
            "a longer L2C_SYNC_OVERLAP_MINUTES would catch them sooner"
        )
    _save_reconciliation(con, spec.name, found)
    return found


def _log(
    con, run_id: str, result: SyncResult, started_at: datetime, calls: int, message: str | None
) -> None:
    con.execute(
        "INSERT INTO meta.sync_log VALUES (?, ?, ?, now()::TIMESTAMP, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            run_id,
            result.object_name,
            started_at,
            result.method,
            result.rows_read,
            result.inserted,
            result.updated,
            result.deleted,
            calls,
            result.watermark_before,
            result.watermark_after,
            result.status,
            message,
        ],
    )
