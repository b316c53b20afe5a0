"""Which source a warehouse holds (meta.source), so one org's records never mix with another's.

A warehouse belongs to the first Salesforce org synced into it. Every later sync first checks
that its connection reaches the same org (by the org's id); another org is refused before a
record is written, with the way out named. The keys are plain facts (what was loaded last, the
org's kind, id and name, instance URL, demo-org folder, event-log file), never secrets.
"""

from __future__ import annotations

from datetime import UTC, datetime

from .duckdb_warehouse import transaction


class WarehouseHoldsAnotherSource(Exception):
    """The warehouse was loaded from another source (org or event-log file) than this run's."""


RESET_HINT = "run `l2c reset` to empty it and load this source afresh"


def held_source(con) -> dict[str, str]:
    """meta.source as a dict (empty for a new warehouse)."""
    return dict(con.execute("SELECT key, value FROM meta.source").fetchall())


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _org_label(name: str | None, org_id: str) -> str:
    return f"'{name}' ({org_id})" if name else org_id


def _has_raw_rows(con) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'raw' "
            "AND estimated_size > 0 AND table_name NOT LIKE '\\_l2c%' ESCAPE '\\'"
        ).fetchone()[0]
    )


def claim_for_org(
    con,
    warehouse_path: str,
    *,
    kind: str,
    org_id: str,
    org_name: str | None,
    details: dict[str, str | None],
    run_id: str | None = None,
) -> str | None:
    """Record that the warehouse holds org `org_id` (kind: salesforce or demo), or raise
    WarehouseHoldsAnotherSource when it holds another org's records, or an event log loaded
    from a file. Ids compare on their first
    15 characters (the case-sensitive id; the 18-character form only adds a suffix). Returns a
    warning for a warehouse that holds records but no org yet (written before the pipeline
    recorded one): it is taken to be this org's."""
    held = held_source(con)
    held_id = held.get("org_id")
    if held_id and held_id[:15] != org_id[:15]:
        raise WarehouseHoldsAnotherSource(
            f"the warehouse {warehouse_path} holds the records of "
            f"{held.get('org_kind', 'salesforce')} org {_org_label(held.get('org_name'), held_id)}, but "
            f"this run reaches org {_org_label(org_name, org_id)}: syncing would mix two orgs' "
            "records. Point L2C_WAREHOUSE (or L2C_HOME) at another file for this org, or "
            f"{RESET_HINT}"
        )
    if not held_id and held.get("event_log_file"):
        raise WarehouseHoldsAnotherSource(
            f"the warehouse {warehouse_path} holds the event log loaded from the file "
            f"{held['event_log_file']}, but this run reaches org {_org_label(org_name, org_id)}: "
            "the two would mix in the KPI history. Point L2C_WAREHOUSE (or L2C_HOME) at another "
            f"file for this org, or {RESET_HINT}"
        )
    warning = None
    if not held_id and _has_raw_rows(con):
        warning = (
            f"the warehouse {warehouse_path} holds records but did not record their org; they "
            f"are taken to be org {_org_label(org_name, org_id)}'s"
        )
    values = {
        "loaded_from": kind,
        "org_kind": kind,
        # The 18-character id and the name are kept once known (a session may only tell the 15).
        "org_id": held_id if held_id and len(held_id) > len(org_id) else org_id,
        "org_name": org_name or held.get("org_name"),
        "first_synced_at": held.get("first_synced_at") or _now(),
        "checked_at": _now(),
        "checked_by_run": run_id,
        **details,
    }
    with transaction(con):
        con.executemany(
            "INSERT OR REPLACE INTO meta.source VALUES (?, ?)",
            [(key, value) for key, value in values.items() if value is not None],
        )
        stale = [key for key, value in values.items() if value is None]
        for key in stale:
            con.execute("DELETE FROM meta.source WHERE key = ?", [key])
    return warning


def check_file_source(con, warehouse_path: str, file: str) -> None:
    """Raise WarehouseHoldsAnotherSource unless the warehouse is new or holds the event log of
    this same file (a file refreshed in place is the same source)."""
    held = held_source(con)
    if held.get("org_id"):
        raise WarehouseHoldsAnotherSource(
            f"the warehouse {warehouse_path} holds the records of "
            f"{held.get('org_kind', 'salesforce')} org "
            f"{_org_label(held.get('org_name'), held['org_id'])}; loading the event-log file "
            f"{file} would mix the two in the KPI history. Point L2C_WAREHOUSE (or L2C_HOME) at "
            f"another file for the event-log file, or {RESET_HINT}"
        )
    if held.get("event_log_file") not in (None, file):
        raise WarehouseHoldsAnotherSource(
            f"the warehouse {warehouse_path} holds the event log loaded from "
            f"{held['event_log_file']}, not {file}; the two would mix in the KPI history. Point "
            f"L2C_WAREHOUSE (or L2C_HOME) at another file for this log, or {RESET_HINT}"
        )


def record_file_source(con, file: str) -> None:
    """Record that the event log was loaded from `file` (the file source replaces the whole
    event log, so nothing can mix; an org recorded earlier stays recorded for its raw tables)."""
    with transaction(con):
        con.executemany(
            "INSERT OR REPLACE INTO meta.source VALUES (?, ?)",
            [("loaded_from", "file"), ("event_log_file", file), ("event_log_loaded_at", _now())],
        )
