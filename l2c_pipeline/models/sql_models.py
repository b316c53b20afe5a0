"""SQL models: each `sql/<schema>/<name>.sql` holds one SELECT and becomes the table <schema>.<name>.

Dependencies are the tables a model's SQL reads (found with sqlglot), so adding a model is
adding a file. The schema `activities` is special: every model in it yields the canonical event
columns, and the view `activities.all_events` (made by this module, not a file) is their
UNION ALL BY NAME, so a new activity file reaches core.event_log with no other change.

A model's leading `--` comment lines are its table comment; a `-- columns:` line followed by
`-- name: text` lines gives column comments (COMMENT ON), which core models must have. A
`-- materialized: view` line (dbt's word) makes the model a view instead of a table: for a
large intermediate that only one model reads, storing it costs more than computing it again.
An `-- incremental: case_id` line (dbt's word again) declares the model case-local: built
incrementally (the nightly Salesforce run), it rewrites only the cases whose inputs changed
(incremental.py says what the model's author promises by it, and how the changed cases are
found).
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import duckdb
import sqlglot
from sqlglot import exp

from ..warehouse.duckdb_warehouse import drop_other_kind, write_comments
from . import incremental as carry_over

ALL_EVENTS = ("activities", "all_events")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
EVENT_COLUMNS = (
    "event_id",
    "case_id",
    "activity",
    "timestamp",
    "resource_id",
    "object_type",
    "object_id",
    "old_value",
    "new_value",
)


class ModelError(Exception):
    """A model that cannot be read or built; the message names the file."""


@dataclass
class SqlModel:
    schema: str
    name: str
    path: Path
    sql: str
    description: str
    column_comments: dict[str, str]
    depends_on: set[tuple[str, str]] = field(default_factory=set)
    materialized: str = "table"
    incremental: str | None = None  # the case key of a case-local model

    @property
    def key(self) -> tuple[str, str]:
        return (self.schema, self.name)

    @property
    def table(self) -> str:
        return f"{self.schema}.{self.name}"


def default_sql_dir() -> Path:
    configured = os.environ.get("L2C_SQL_DIR")
    if not configured:
        return Path(__file__).resolve().parents[2] / "sql"
    folder = Path(configured)
    if not folder.is_dir() or not any(folder.glob("*/*.sql")):
        raise ValueError(
            f"L2C_SQL_DIR: {folder} is not a folder of SQL models (schema folders of .sql files, "
            "as the repository's sql/)"
        )
    return folder


MATERIALIZATIONS = ("table", "view")
# A schema's models are tables unless it says otherwise here (or the model's header does). The
# activity models are views: core.event_log is their one reader (whole to hash each case's
# events, then only the changed cases' on a nightly run), so storing every event of every
# activity cost more than computing them when read.
DEFAULT_MATERIALIZATION = {"activities": "view"}
INCREMENTAL_KEY = carry_over.KEY
MACROS_FILE = "macros.sql"  # beside the schema folders: not a model


def define_macros(con: duckdb.DuckDBPyConnection, sql_dir: Path | None = None) -> None:
    """The shared macros (sql/macros.sql) on this connection: temporary, so they cost nothing to
    define again and are never stored. The shipped macros come first, then those of a SQL folder
    of one's own, which may redefine them: the product's own SQL (the trailing-week KPIs) finds
    every macro it uses even with a folder copied from an older version."""
    con.execute(_macros_sql(Path(sql_dir or default_sql_dir())))


@functools.cache
def _macros_sql(sql_dir: Path) -> str:
    """The macros' text, read once per folder (every model's build defines them)."""
    shipped = Path(__file__).resolve().parents[2] / "sql" / MACROS_FILE
    text = shipped.read_text(encoding="utf-8")
    own = sql_dir / MACROS_FILE
    if own.exists() and own.resolve() != shipped.resolve():
        text += "\n" + own.read_text(encoding="utf-8")
    return text


def _comments(sql: str) -> tuple[str, dict[str, str], str | None, str | None]:
    description, columns, in_columns, materialized, incremental = [], {}, False, None, None
    for line in sql.splitlines():
        stripped = line.strip()
        if not stripped.startswith("--"):
            if stripped:
                break
            continue
        text = stripped[2:].strip()
        if not in_columns and text.lower().startswith("materialized:"):
            materialized = text.partition(":")[2].strip().lower()
        elif not in_columns and text.lower().startswith("incremental:"):
            incremental = text.partition(":")[2].strip().lower()
        elif text.lower() == "columns:":
            in_columns = True
        elif in_columns and columns and stripped[2:].startswith("  ") and text:
            # An indented line goes on with the column above: "--   more words".
            last = next(reversed(columns))
            columns[last] = f"{columns[last]} {text}"
        elif in_columns and ":" in text:
            name, _, comment = text.partition(":")
            columns[name.strip()] = comment.strip()
        elif not in_columns and text:
            description.append(text)
    return " ".join(description), columns, materialized, incremental


@functools.lru_cache(maxsize=1024)
def _table_references(model_sql: str, path: Path) -> frozenset[tuple[str, str]]:
    # Parsing is most of the cost of discovering the models, and a run discovers them several
    # times: the same text gives the same tables.
    try:
        tree = sqlglot.parse_one(model_sql, read="duckdb")
    except sqlglot.errors.ParseError as error:
        raise ModelError(f"{path}: not valid SQL ({str(error).splitlines()[0]})") from None
    if not isinstance(tree, (exp.Select, exp.Union, exp.Except, exp.Intersect)) and not tree.find(
        exp.Select
    ):
        raise ModelError(f"{path}: a model must be one SELECT")
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    references = set()
    for table in tree.find_all(exp.Table):
        schema = table.db
        if not schema and table.name.lower() in ctes:
            continue
        if schema:
            references.add((schema, table.name))
    return frozenset(references)


def discover(sql_dir: Path | None = None) -> dict[tuple[str, str], SqlModel]:
    """Every model under sql_dir, with its dependencies; ModelError names a bad file."""
    sql_dir = Path(sql_dir or default_sql_dir())
    models: dict[tuple[str, str], SqlModel] = {}
    for path in sorted(sql_dir.glob("*/*.sql")):
        schema, name = path.parent.name, path.stem
        for part in (schema, name):
            if not _NAME.match(part):
                raise ModelError(
                    f"{path}: '{part}' must be lower_snake_case (it names a schema or table)"
                )
        if schema in ("raw", "meta"):
            raise ModelError(f"{path}: models cannot write the {schema} schema")
        sql = path.read_text(encoding="utf-8").strip().rstrip(";")
        if not sql:
            raise ModelError(f"{path}: the file is empty (expected one SELECT)")
        description, columns, materialized, incremental = _comments(sql)
        if materialized not in (None, *MATERIALIZATIONS):
            raise ModelError(
                f"{path}: 'materialized: {materialized}' is not one of {', '.join(MATERIALIZATIONS)}"
            )
        if incremental not in (None, INCREMENTAL_KEY):
            raise ModelError(
                f"{path}: 'incremental: {incremental}' must name the case key, {INCREMENTAL_KEY}"
            )
        if incremental and (materialized == "view" or schema == "activities"):
            raise ModelError(f"{path}: only a table outside activities can be incremental")
        model = SqlModel(
            schema,
            name,
            path,
            sql,
            description,
            columns,
            materialized=materialized or DEFAULT_MATERIALIZATION.get(schema, "table"),
            incremental=incremental,
        )
        model.depends_on = set(_table_references(sql, path)) - {model.key}
        models[model.key] = model
    activity_keys = {key for key in models if key[0] == "activities"}
    for model in models.values():
        if ALL_EVENTS in model.depends_on:
            model.depends_on = (model.depends_on - {ALL_EVENTS}) | activity_keys
    return models


def build_order(
    models: dict[tuple[str, str], SqlModel], extra: dict[tuple[str, str], set] | None = None
) -> list[tuple[str, str]]:
    """Model keys (and the keys of `extra` steps, with their dependencies) in build order."""
    extra = extra or {}
    known = set(models) | set(extra)
    graph = {key: {d for d in m.depends_on if d in known} for key, m in models.items()}
    graph.update({key: {d for d in deps if d in known} for key, deps in extra.items()})
    try:
        return list(TopologicalSorter(graph).static_order())
    except CycleError as error:
        cycle = " -> ".join(".".join(k) for k in error.args[1])
        raise ModelError(f"SQL models depend on each other in a circle: {cycle}") from None


def build_model(
    con: duckdb.DuckDBPyConnection,
    model: SqlModel,
    models: dict | None = None,
    incremental: bool = False,
    notes: dict | None = None,
) -> int | None:
    """Create or replace the model's table or view (one transaction); returns the table's row
    count (None for a view: counting would compute it). With `incremental`, a case-local model
    rewrites only its changed cases where it can; `notes["incremental"]` then says what it did."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {model.schema}")
    define_macros(con, model.path.parent.parent)
    if incremental and model.incremental and model.materialized == "table":
        return _build_incremental(con, model, models, notes)
    # Any other build of the table (this model built whole, or a SQL folder of one's own whose
    # model has no header) leaves no incremental state that could describe other rows.
    carry_over.forget(con, model.table)
    return _build_whole(con, model, models)


def _build_incremental(
    con: duckdb.DuckDBPyConnection, model: SqlModel, models: dict | None, notes: dict | None
) -> int:
    hashes = f"_l2c_case_hashes_{model.schema}_{model.name}"
    inputs = [".".join(key) for key in sorted(model.depends_on)]
    # The macros the SQL may call are part of what it computes.
    versioned = f"{model.sql}\n-- {MACROS_FILE}:\n{_macros_sql(model.path.parent.parent)}"
    try:
        carry_over.ensure_state(con)
        plan, fingerprint = carry_over.plan(con, model.table, versioned, inputs, hashes)
        carry_over.forget(con, model.table)  # committed before the table is written
    except duckdb.Error as error:
        raise ModelError(f"{model.path}: {_first_line(error)}") from None
    if plan.cases is None:
        rows = _build_whole(con, model, models)
        done = f"built whole: {plan.reason}"
    else:
        con.execute("BEGIN TRANSACTION")
        try:
            carry_over.rebuild_cases(con, model.table, model.sql, plan.cases)
        except duckdb.Error as error:
            con.execute("ROLLBACK")
            raise ModelError(f"{model.path}: {_first_line(error)}") from None
        con.execute("COMMIT")
        rows = con.execute(f"SELECT count(*) FROM {model.table}").fetchall()[0][0]
        done = f"rewrote the changed cases only: {plan.reason}"
    try:
        carry_over.remember(con, model.table, versioned, fingerprint, hashes, plan.cases)
        con.execute(f"DROP TABLE IF EXISTS {hashes}")
    except duckdb.Error as error:
        raise ModelError(
            f"{model.path}: storing its incremental state: {_first_line(error)}"
        ) from None
    if notes is not None:
        notes["incremental"] = done
    return rows


def _build_whole(
    con: duckdb.DuckDBPyConnection, model: SqlModel, models: dict | None = None
) -> int | None:
    con.execute("BEGIN TRANSACTION")
    try:
        # A model that changed between table and view: drop what it was.
        drop_other_kind(con, model.table, model.materialized)
        con.execute(f"CREATE OR REPLACE {model.materialized.upper()} {model.table} AS {model.sql}")
        write_comments(
            con, model.table, model.description, model.column_comments, kind=model.materialized
        )
        if model.schema == "activities":
            _check_event_columns(con, model)
            _refresh_all_events(con, models)
    except duckdb.Error as error:
        con.execute("ROLLBACK")
        raise ModelError(f"{model.path}: {_first_line(error)}") from None
    except ModelError:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
    if model.materialized == "view":
        return None
    return con.execute(f"SELECT count(*) FROM {model.table}").fetchall()[0][0]


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0]


def _check_event_columns(con, model: SqlModel) -> None:
    columns = [r[0] for r in con.execute(f"DESCRIBE {model.table}").fetchall()]
    missing = [c for c in EVENT_COLUMNS if c not in columns]
    if missing:
        raise ModelError(
            f"{model.path}: an activity model must yield {', '.join(EVENT_COLUMNS)}; "
            f"missing {', '.join(missing)}"
        )


def _refresh_all_events(con, models: dict | None) -> None:
    """activities.all_events: every activity table that exists, stacked by column name."""
    tables = [
        r[0]
        for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'activities' "
            f"AND table_name <> '{ALL_EVENTS[1]}' ORDER BY table_name"
        ).fetchall()
    ]
    if models is not None:
        tables = [t for t in tables if ("activities", t) in models]
    columns = ", ".join(EVENT_COLUMNS)
    body = (
        " UNION ALL ".join(f"SELECT {columns} FROM activities.{t}" for t in tables)
        or f"SELECT {', '.join(f'NULL AS {c}' for c in EVENT_COLUMNS)} WHERE false"
    )
    con.execute(f"CREATE OR REPLACE VIEW activities.all_events AS {body}")


def build_all(
    con: duckdb.DuckDBPyConnection,
    sql_dir: Path | None = None,
    schemas: tuple[str, ...] | None = None,
    tables: set[str] | None = None,
    extra_steps: dict[tuple[str, str], tuple[set, Callable]] | None = None,
    incremental: bool = False,
    notes: dict[str, str] | None = None,
) -> dict[str, int]:
    """Build every model in dependency order, or only those of the given schemas or tables.
    `extra_steps` adds steps that are not SQL files (key -> (dependencies, build(con) -> rows)),
    ordered among the models by their dependencies. With `incremental`, the case-local models
    rewrite only their changed cases where they can, and `notes` gets what each one did."""
    models = discover(sql_dir)
    extra_steps = extra_steps or {}
    built = {}
    for key in build_order(models, {k: deps for k, (deps, _) in extra_steps.items()}):
        table = ".".join(key)
        if (schemas is not None and key[0] not in schemas) or (
            tables is not None and table not in tables
        ):
            continue
        if key in models:
            said: dict[str, str] = {}
            built[table] = build_model(
                con, models[key], models, incremental=incremental, notes=said
            )
            if notes is not None and said:
                notes[table] = said["incremental"]
        elif key in extra_steps:
            built[table] = extra_steps[key][1](con)
    return built


def catalogue_rows(sql_dir: Path | None = None) -> list[tuple[str, str, int, str]]:
    """(activity, family, rank, description) of core.activity_catalogue's model, run in a
    throwaway DuckDB: the activities every part of the pipeline knows."""
    with duckdb.connect() as con:
        sql = discover(sql_dir)[("core", "activity_catalogue")].sql
        return con.execute(
            f"SELECT activity, family, activity_rank, description FROM ({sql})"
        ).fetchall()


def catalogue_activities(sql_dir: Path | None = None) -> set[str]:
    return {row[0] for row in catalogue_rows(sql_dir)}
