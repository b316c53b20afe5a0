"""Carrying unchanged cases over: a case-local model rebuilt only for the cases whose inputs
changed since it was last built.

A model whose header says `-- incremental: case_id` promises that its rows for a case depend
only on that case's rows in its case-keyed inputs (the tables it reads that have a `case_id`
column) and on its other inputs as a whole (its global inputs: the catalogue, the users, the
business calendars). Built incrementally, such a model:

* hashes each case's rows across its case-keyed inputs, in one pass (row count, sum and XOR of
  the rows' hashes, so the same rows in another order hash the same);
* compares them with the hashes stored when it was last built (`meta.incremental_cases`): the
  changed cases are the new, the removed and the different ones;
* deletes those cases and inserts them again from its own SQL, with their ids as a constant
  list, which DuckDB pushes through the views, joins and windows into the scans.

It builds the whole table instead the first time, when its SQL (or the shared macros) or a
global input changed, or an input's columns (`meta.incremental_models` keeps a digest of the
SQL and a fingerprint of the inputs' columns and of the global inputs' rows), when its table's
row count is not the one it was left with, or when more than MAX_CHANGED_SHARE of the cases
changed (a whole build is then as fast). Rows without a case count as one more case.

The state lives in the warehouse's file and the model in the models file, which one
transaction cannot both write. So the state is forgotten (and committed) before the model is
written and stored again after: a run killed in between leaves no state, and the next build
is a whole one. Every whole build of the table, by an incremental model or not (a SQL folder
of one's own without the header), forgets it too.

The hashes are 64-bit (DuckDB's `hash`), summed and XORed per case: two different versions of
a case's rows agreeing on both is a collision this accepts, as a fingerprint does.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import duckdb

KEY = "case_id"
# Above this share of changed cases, one whole build costs less than deleting and inserting.
MAX_CHANGED_SHARE = 0.2
# A constant list of ids is part of the statement's text: past this many, a whole build.
MAX_CHANGED_CASES = 50_000
STATE_DDL = (
    """CREATE TABLE IF NOT EXISTS meta.incremental_models (
        model VARCHAR PRIMARY KEY, sql_digest VARCHAR NOT NULL, inputs_fingerprint VARCHAR NOT NULL,
        row_count BIGINT NOT NULL, cases BIGINT NOT NULL, built_at TIMESTAMP NOT NULL
    )""",
    "COMMENT ON TABLE meta.incremental_models IS 'Per incremental model: the digest of its SQL, "
    "the fingerprint of its inputs'' columns and global inputs'' rows, and its row count when "
    "it was last built; any difference means a whole build.'",
    """CREATE TABLE IF NOT EXISTS meta.incremental_cases (
        model VARCHAR NOT NULL, case_id VARCHAR, n BIGINT NOT NULL, s HUGEINT NOT NULL,
        x UBIGINT NOT NULL
    )""",
    "COMMENT ON TABLE meta.incremental_cases IS 'Per incremental model and case: the count, sum "
    "and XOR of the hashes of the case''s rows in the model''s case-keyed inputs when the model "
    "was last built (case_id null: the rows without a case).'",
)


@dataclass(frozen=True)
class Plan:
    """What an incremental build does: `cases` None for a whole build (and why), else the
    cases to delete and insert again."""

    cases: list[str | None] | None
    reason: str


def input_columns(
    con: duckdb.DuckDBPyConnection, inputs: list[str]
) -> dict[str, list[tuple[str, str]]]:
    """Each input's (column, type) pairs, in order."""
    return {
        table: con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
            table.split("."),
        ).fetchall()
        for table in sorted(inputs)
    }


def inputs_fingerprint(
    con: duckdb.DuckDBPyConnection,
    columns: dict[str, list[tuple[str, str]]],
    global_inputs: tuple[str, ...],
) -> str:
    """Every input's columns (names and types: a renamed or widened column hashes its values
    alike) and the global inputs' rows."""
    digest = hashlib.sha256()
    for table, described in columns.items():
        digest.update(f"{table}:{described};".encode())
    for table in global_inputs:
        count, total, xor = con.execute(
            f"SELECT count(*), sum(hash(t)::HUGEINT), bit_xor(hash(t)) FROM {table} AS t"
        ).fetchone()
        digest.update(f"{table}:{count}:{total}:{xor};".encode())
    return digest.hexdigest()


def sql_digest(sql: str) -> str:
    return hashlib.sha256(sql.encode()).hexdigest()


def hash_cases(con: duckdb.DuckDBPyConnection, case_inputs: tuple[str, ...], into: str) -> None:
    """Each case's (count, sum, XOR) of row hashes across the inputs, into a temporary table;
    each input's name goes into its rows' hashes, so a row moving between inputs is a change."""
    parts = " UNION ALL ".join(
        f"SELECT {KEY}::VARCHAR AS {KEY}, hash('{table}', t) AS h FROM {table} AS t"
        for table in case_inputs
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {into} AS SELECT {KEY}, count(*) AS n, "
        f"sum(h::HUGEINT) AS s, bit_xor(h) AS x FROM ({parts}) GROUP BY {KEY}"
    )


def ensure_state(con: duckdb.DuckDBPyConnection) -> None:
    for statement in STATE_DDL:
        con.execute(statement)


def plan(
    con: duckdb.DuckDBPyConnection,
    table: str,
    sql: str,
    inputs: list[str],
    hashes: str,
) -> tuple[Plan, str]:
    """Hash tonight's inputs into the temporary table `hashes` and decide: a whole build (with
    its reason) or the changed cases. Returns the plan and the global inputs' fingerprint."""
    columns = input_columns(con, inputs)
    # The inputs with a case_id column are case-keyed, the others global.
    case_inputs = tuple(t for t, cols in columns.items() if KEY in {c for c, _ in cols})
    global_inputs = tuple(t for t in columns if t not in case_inputs)
    fingerprint = inputs_fingerprint(con, columns, global_inputs)
    hash_cases(con, case_inputs, hashes)

    def whole(reason: str) -> tuple[Plan, str]:
        return Plan(None, reason), fingerprint

    if not case_inputs:
        return whole("no input has a case_id column")
    stored = con.execute(
        "SELECT sql_digest, inputs_fingerprint, row_count FROM meta.incremental_models "
        "WHERE model = ?",
        [table],
    ).fetchone()
    if stored is None:
        return whole("first build")
    if not con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND "
        "table_name = ? AND table_type = 'BASE TABLE'",
        table.split("."),
    ).fetchone()[0]:
        return whole("the table is missing")
    if stored[0] != sql_digest(sql):
        return whole("its SQL changed")
    if stored[1] != fingerprint:
        return whole(f"a global input or an input's columns changed ({', '.join(global_inputs)})")
    if con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] != stored[2]:
        return whole("the table's row count is not the one it was left with")
    changed = [
        row[0]
        for row in con.execute(
            f"""SELECT coalesce(new.{KEY}, old.{KEY}) AS {KEY}
            FROM {hashes} AS new
            FULL JOIN (SELECT * FROM meta.incremental_cases WHERE model = ?) AS old
              ON new.{KEY} IS NOT DISTINCT FROM old.{KEY}
            WHERE new.n IS DISTINCT FROM old.n OR new.s IS DISTINCT FROM old.s
               OR new.x IS DISTINCT FROM old.x
            ORDER BY 1 NULLS FIRST""",
            [table],
        ).fetchall()
    ]
    total = con.execute(f"SELECT count(*) FROM {hashes}").fetchone()[0]
    if len(changed) > MAX_CHANGED_CASES or len(changed) > MAX_CHANGED_SHARE * max(total, 1):
        return whole(f"{len(changed):,} of {total:,} cases changed")
    reason = f"{len(changed):,} of {total:,} cases changed"
    return Plan(changed, reason), fingerprint


def case_filter(cases: list[str | None]) -> str:
    """The SQL condition for these cases; None stands for the rows without a case (a model may
    yield some: they are rewritten as one more case)."""
    ids = [case for case in cases if case is not None]
    parts = [f"{KEY} IN ({case_list(ids)})"] if ids else []
    if len(ids) < len(cases):
        parts.append(f"{KEY} IS NULL")
    return f"({' OR '.join(parts)})" if parts else "false"


def case_list(cases: list[str]) -> str:
    return ", ".join("'" + case.replace("'", "''") + "'" for case in cases) or "NULL"


def rebuild_cases(
    con: duckdb.DuckDBPyConnection, table: str, sql: str, cases: list[str | None]
) -> None:
    """Delete the cases and insert them again from the model's SQL (inside the caller's
    transaction). Column by name: the SQL yields the table's columns."""
    chosen = case_filter(cases)
    con.execute(f"DELETE FROM {table} WHERE {chosen}")
    # A newline before the parenthesis: the SQL may end in a -- comment.
    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM ({sql}\n) AS model WHERE {chosen}")


def remember(
    con: duckdb.DuckDBPyConnection,
    table: str,
    sql: str,
    fingerprint: str,
    hashes: str,
    cases: list[str] | None = None,
) -> None:
    """Store tonight's hashes and the model's state (after the model itself is committed): of
    the rewritten `cases` only (the others' hashes are the same), or of every case."""
    rows = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    only = f" AND {case_filter(cases)}" if cases is not None else ""
    con.execute("BEGIN TRANSACTION")
    try:
        if cases is None or cases:
            con.execute(f"DELETE FROM meta.incremental_cases WHERE model = ?{only}", [table])
            where = f" WHERE {case_filter(cases)}" if cases is not None else ""
            con.execute(
                f"INSERT INTO meta.incremental_cases SELECT ?, {KEY}, n, s, x FROM {hashes}{where}",
                [table],
            )
        con.execute("DELETE FROM meta.incremental_models WHERE model = ?", [table])
        con.execute(
            "INSERT INTO meta.incremental_models VALUES (?, ?, ?, ?, "
            f"(SELECT count(*) FROM {hashes}), now()::TIMESTAMP)",
            [table, sql_digest(sql), fingerprint, rows],
        )
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def forget(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """The table is about to be written: until its state is stored again, its next incremental
    build is a whole one (a run killed in between cannot leave old hashes beside new rows)."""
    if con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'meta' "
        "AND table_name = 'incremental_models'"
    ).fetchone()[0]:
        con.execute("DELETE FROM meta.incremental_models WHERE model = ?", [table])
