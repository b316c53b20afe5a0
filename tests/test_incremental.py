"""Carrying unchanged cases over: after random changes to an org's records (values, times,
deletions, records moved to another parent, new records), every incremental model rebuilt for
its changed cases only holds exactly what a whole build of its SQL gives on the same inputs."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from l2c_pipeline.models.sql_models import ModelError, default_sql_dir, discover
from l2c_pipeline.pipeline import build_pipeline
from l2c_pipeline.warehouse.duckdb_warehouse import connect

from .test_event_log import copy_warehouse

# What every case shares (the users, the calendars, the currencies): a change to one of these is
# a global input's change, tried on its own below.
SHARED_OBJECTS = {
    "User",
    "UserRole",
    "BusinessHours",
    "Holiday",
    "CurrencyType",
    "DatedConversionRate",
    "Organization",
}


def raw_tables(con) -> dict[str, dict[str, str]]:
    tables: dict[str, dict[str, str]] = {}
    for table, column, kind in con.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'raw' AND table_name NOT LIKE '\\_l2c%' ESCAPE '\\' "
        "ORDER BY table_name, ordinal_position"
    ).fetchall():
        tables.setdefault(table, {})[column] = kind
    return tables


def mutate(con, seed: int, share: int = 1000) -> dict[str, int]:
    """About one record in `share` of every object not shared by all cases: a value changed,
    a time moved, deleted, moved to another parent (a reference column given another row's
    value), or copied as a new record. Returns the records touched per object."""
    touched = {}
    for table, columns in raw_tables(con).items():
        if table in SHARED_OBJECTS or "Id" not in columns:
            continue
        name = f'raw."{table}"'

        def picked(kind: int, alias: str = "") -> str:
            return f"hash({alias}Id, {seed}, {kind}) % {share} = 0"

        references = [
            c
            for c, t in columns.items()
            if t == "VARCHAR" and c != "Id" and c.endswith(("Id", "__c"))
        ]
        texts = [
            c for c, t in columns.items() if t == "VARCHAR" and c not in references and c != "Id"
        ]
        times = [c for c, t in columns.items() if t == "TIMESTAMP" and not c.startswith("_l2c")]
        for i, column in enumerate(references):
            # Another row's value: the record moves to another parent.
            con.execute(
                f'UPDATE {name} AS t SET "{column}" = o.other FROM ('
                f'SELECT Id, lead("{column}", 7) OVER (ORDER BY Id) AS other FROM {name}) AS o '
                f"WHERE o.Id = t.Id AND o.other IS NOT NULL AND {picked(10 + i, 't.')}"
            )
        for i, column in enumerate(texts[:3]):
            con.execute(
                f'UPDATE {name} AS t SET "{column}" = o.other FROM ('
                f'SELECT Id, lead("{column}", 3) OVER (ORDER BY Id) AS other FROM {name}) AS o '
                f"WHERE o.Id = t.Id AND {picked(20 + i, 't.')}"
            )
        for i, column in enumerate(times):
            con.execute(
                f'UPDATE {name} SET "{column}" = "{column}" - INTERVAL (hash(Id) % 200) HOUR '
                f"WHERE {picked(30 + i)}"
            )
        if "IsDeleted" in columns:
            con.execute(f"UPDATE {name} SET IsDeleted = true WHERE {picked(1)}")
        # New records: copies with new ids.
        con.execute(
            f"INSERT INTO {name} BY NAME SELECT * REPLACE (Id || 'n{seed}' AS Id) FROM {name} "
            f"WHERE {picked(2)}"
        )
        touched[table] = con.execute(
            f"SELECT count(*) FROM {name} WHERE Id LIKE '%n{seed}' OR {picked(1)}"
        ).fetchone()[0]
    return touched


def own_sql_folder(tmp_path) -> Path:
    """A copy of the shipped SQL folder, to change as an org's own."""
    sql = tmp_path / "sql"
    shutil.copytree(default_sql_dir(), sql)
    return sql


def incremental_models():
    return [m for m in discover().values() if m.incremental]


def assert_equal_to_whole_builds(con) -> None:
    """Every incremental table holds, row for row, what its SQL gives run whole now."""
    for model in incremental_models():
        whole = f"({model.sql}\n)"
        for first, second in ((model.table, whole), (whole, model.table)):
            extra = con.execute(
                f"SELECT count(*) FROM (SELECT * FROM {first} EXCEPT ALL SELECT * FROM {second})"
            ).fetchone()[0]
            assert extra == 0, (model.table, first == model.table, extra)


@pytest.fixture(scope="module")
def warehouse(truth_warehouse, tmp_path_factory):
    copy = copy_warehouse(truth_warehouse, tmp_path_factory.mktemp("incremental") / "w.duckdb")
    con = connect(copy)
    notes: dict[str, str] = {}
    build_pipeline(con, incremental=True, notes=notes)  # the first night: whole, hashes kept
    assert {t: n for t, n in notes.items()} == {
        m.table: "built whole: first build" for m in incremental_models()
    }
    yield con
    con.close()


def test_the_shipped_incremental_models():
    # The two largest case-level tables; on smaller ones hashing the inputs costs as much as
    # building them.
    assert sorted(m.table for m in incremental_models()) == [
        "core.event_log",
        "mining.milestone_events",
    ]


def test_nothing_changed_rewrites_nothing(warehouse):
    notes: dict[str, str] = {}
    build_pipeline(warehouse, incremental=True, notes=notes)
    for model in incremental_models():
        assert notes[model.table].startswith("rewrote the changed cases only: 0 of "), notes


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_after_random_changes_the_changed_cases_rewritten_equal_a_whole_build(warehouse, seed):
    con = warehouse
    before = con.execute("SELECT count(*) FROM core.event_log").fetchone()[0]
    touched = mutate(con, seed)
    assert sum(touched.values()) > 20, touched
    notes: dict[str, str] = {}
    build_pipeline(con, incremental=True, notes=notes)
    # The event log carried most cases over and rewrote some...
    said = notes["core.event_log"]
    assert said.startswith("rewrote the changed cases only: ") and not said.startswith(
        "rewrote the changed cases only: 0 of"
    ), said
    for model in incremental_models():
        assert notes[model.table].startswith("rewrote the changed cases only"), notes
    # ...and every incremental model holds what its SQL gives on tonight's inputs.
    assert_equal_to_whole_builds(con)
    assert con.execute("SELECT count(*) FROM core.event_log").fetchone()[0] != before


def test_a_change_every_case_shares_builds_whole_and_equal(warehouse):
    con = warehouse
    con.execute(
        'UPDATE raw."User" SET Name = Name || \' Jr.\' WHERE Id = (SELECT min(Id) FROM raw."User")'
    )
    notes: dict[str, str] = {}
    build_pipeline(con, incremental=True, notes=notes)
    assert notes["core.event_log"].startswith(
        "built whole: a global input or an input's columns changed ("
    ), notes
    assert "staging.stg_users" in notes["core.event_log"]
    assert_equal_to_whole_builds(con)
    # The next night, with nothing changed, carries everything over again.
    build_pipeline(con, incremental=True, notes=notes)
    assert notes["core.event_log"].startswith("rewrote the changed cases only: 0 of "), notes


def test_a_table_changed_behind_its_back_is_built_whole(warehouse):
    con = warehouse
    con.execute(
        "DELETE FROM core.event_log WHERE case_id = (SELECT min(case_id) FROM core.event_log)"
    )
    notes: dict[str, str] = {}
    build_pipeline(con, incremental=True, notes=notes)
    assert notes["core.event_log"] == (
        "built whole: the table's row count is not the one it was left with"
    )
    assert_equal_to_whole_builds(con)


def test_a_run_killed_between_the_model_and_its_hashes_builds_whole_next(warehouse, monkeypatch):
    """Night A rewrites a case and dies before storing its hashes; night B puts the case's
    records back as they were before A (the same hashes as stored before A, the same row count):
    B must not carry A's rows over."""
    from l2c_pipeline.models import incremental

    con = warehouse
    build_pipeline(con, incremental=True)  # a clean state to start from
    task = con.execute(
        'SELECT t.Id, t.CompletedDateTime FROM raw."Task" AS t '
        "JOIN core.event_log AS e ON e.object_id = t.Id "
        "WHERE t.CompletedDateTime IS NOT NULL ORDER BY t.Id LIMIT 1"
    ).fetchone()
    assert task is not None
    moved = 'UPDATE raw."Task" SET CompletedDateTime = ? WHERE Id = ?'
    con.execute(moved, [task[1] - timedelta(days=3), task[0]])  # the same rows, another time
    when = "SELECT list(timestamp ORDER BY timestamp) FROM core.event_log WHERE object_id = ?"
    before = con.execute(when, [task[0]]).fetchone()[0]

    def killed(*args, **kwargs):
        raise duckdb.IOException("killed between the model and its hashes")

    monkeypatch.setattr(incremental, "remember", killed)
    with pytest.raises(ModelError, match="killed between the model and its hashes"):
        build_pipeline(con, incremental=True)  # dies at the first incremental model
    monkeypatch.undo()
    assert con.execute(when, [task[0]]).fetchone()[0] != before  # night A rewrote the case
    con.execute(moved, [task[1], task[0]])  # back as it was
    notes: dict[str, str] = {}
    build_pipeline(con, incremental=True, notes=notes)
    assert notes["core.event_log"] == "built whole: first build", notes
    assert_equal_to_whole_builds(con)


def test_a_model_whose_sql_ends_in_a_comment_is_rewritten_too(warehouse, tmp_path):
    sql = own_sql_folder(tmp_path)
    path = sql / "core" / "event_log.sql"
    path.write_text(path.read_text(encoding="utf-8") + "\n-- the end\n", encoding="utf-8")
    con = warehouse
    notes: dict[str, str] = {}
    build_pipeline(con, sql_dir=sql, incremental=True, notes=notes)  # its SQL changed: whole
    assert notes["core.event_log"].startswith("built whole: its SQL changed"), notes
    mutate(con, seed=7)
    build_pipeline(con, sql_dir=sql, incremental=True, notes=notes)
    assert notes["core.event_log"].startswith("rewrote the changed cases only"), notes
    build_pipeline(con, incremental=True, notes=notes)  # the shipped SQL again: whole
    assert notes["core.event_log"].startswith("built whole: its SQL changed"), notes
    assert_equal_to_whole_builds(con)


def test_a_whole_build_without_the_header_forgets_the_state(warehouse, tmp_path):
    """A SQL folder of one's own whose event log is not incremental writes the table whole;
    going back to the shipped SQL must not carry that table's rows over."""
    sql = own_sql_folder(tmp_path)
    path = sql / "core" / "event_log.sql"
    text = path.read_text(encoding="utf-8").replace("-- incremental: case_id\n", "")
    path.write_text(
        text.replace("u.user_name AS resource_name", "upper(u.user_name) AS resource_name"),
        encoding="utf-8",
    )
    con = warehouse
    build_pipeline(con, incremental=True)
    notes: dict[str, str] = {}
    build_pipeline(con, sql_dir=sql, incremental=True, notes=notes)
    assert "core.event_log" not in notes  # built whole, not incrementally
    build_pipeline(con, incremental=True, notes=notes)
    assert notes["core.event_log"] == "built whole: first build", notes
    assert_equal_to_whole_builds(con)


def test_rows_without_a_case_are_rewritten_as_one_more_case(warehouse, tmp_path):
    """An activity model of one's own yields rows without a case (the event log leaves them
    out): when they change, the build stays incremental and exact."""
    sql = own_sql_folder(tmp_path)
    (sql / "activities" / "unlinked_touches.sql").write_text(
        "SELECT 'unlinked:' || touch_id AS event_id, NULL::VARCHAR AS case_id, activity, timestamp,\n"
        "       resource_id, object_type, touch_id AS object_id, NULL::VARCHAR AS old_value,\n"
        "       NULL::VARCHAR AS new_value\n"
        "FROM mapped.sales_touches WHERE hash(touch_id) % 50 = 0\n",
        encoding="utf-8",
    )
    con = warehouse
    notes: dict[str, str] = {}
    build_pipeline(con, sql_dir=sql, incremental=True, notes=notes)  # a new input: whole
    assert notes["core.event_log"].startswith("built whole: "), notes
    unlinked = con.execute(
        "SELECT count(*) FROM activities.unlinked_touches WHERE case_id IS NULL"
    ).fetchone()[0]
    assert unlinked > 10
    con.execute(
        'UPDATE raw."Task" SET CompletedDateTime = CompletedDateTime - INTERVAL 1 HOUR '
        "WHERE hash(Id) % 50 = 0"
    )
    build_pipeline(con, sql_dir=sql, incremental=True, notes=notes)
    assert notes["core.event_log"].startswith("rewrote the changed cases only"), notes
    assert_equal_to_whole_builds(con)
    build_pipeline(con, incremental=True)  # the shipped models again, for the tests after
