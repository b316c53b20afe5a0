"""The event log storage that keeps its SQLite connections open: what it stores is what Dagster's
own SQLite storage stores, in the same files (each reads what the other wrote), across more
run files than it keeps open, and a whole run's events arrive through it."""

from __future__ import annotations

import time

from dagster import AssetMaterialization, DagsterInstance, asset, materialize
from dagster._core.events import DagsterEvent, StepMaterializationData
from dagster._core.events.log import EventLogEntry
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from l2c_pipeline.event_storage import MAX_OPEN_FILES, KeptOpenSqliteEventLogStorage


def entry(run_id: str, number: int) -> EventLogEntry:
    if number % 2:
        return EventLogEntry(
            error_info=None,
            level=20,
            user_message=f"message {number}",
            run_id=run_id,
            timestamp=time.time(),
            job_name="job",
        )
    event = DagsterEvent(
        event_type_value="ASSET_MATERIALIZATION",
        job_name="job",
        step_key="step",
        event_specific_data=StepMaterializationData(
            AssetMaterialization(asset_key=f"asset_{number % 3}", metadata={"n": number})
        ),
    )
    return EventLogEntry(
        error_info=None,
        level=20,
        user_message="",
        run_id=run_id,
        timestamp=time.time(),
        job_name="job",
        dagster_event=event,
    )


def logged(storage, run_id: str) -> list[tuple]:
    return [
        (
            e.user_message,
            e.dagster_event_type,
            e.asset_materialization and e.asset_materialization.metadata["n"].value,
        )
        for e in storage.get_logs_for_run(run_id)
    ]


def test_same_events_in_the_same_files_as_dagsters_own_storage(tmp_path):
    runs = [f"run{n}" for n in range(MAX_OPEN_FILES + 3)]  # more files than it keeps open
    kept = KeptOpenSqliteEventLogStorage(str(tmp_path / "kept"))
    stock = SqliteEventLogStorage(str(tmp_path / "stock"))
    for number in range(60):
        for storage in (kept, stock):
            storage.store_event(entry(runs[number % len(runs)], number))
    for run_id in runs:
        assert logged(kept, run_id) == logged(stock, run_id) != []
    keys = sorted(k.to_user_string() for k in kept.all_asset_keys())
    assert (
        keys
        == sorted(k.to_user_string() for k in stock.all_asset_keys())
        == [
            "asset_0",
            "asset_1",
            "asset_2",
        ]
    )
    assert len(kept._engines) == MAX_OPEN_FILES
    kept.dispose()
    # Dagster's own storage reads the files this one wrote, and the other way round.
    assert logged(SqliteEventLogStorage(str(tmp_path / "kept")), runs[0]) == logged(stock, runs[0])
    reopened = KeptOpenSqliteEventLogStorage(str(tmp_path / "stock"))
    assert logged(reopened, runs[-1]) == logged(stock, runs[-1])
    # Wiping closes the open files before removing them; the storage works on afterwards.
    reopened.wipe()
    assert reopened.get_logs_for_run(runs[-1]) == []
    reopened.store_event(entry("after", 1))
    assert logged(reopened, "after") == [("message 1", None, None)]
    reopened.dispose()


def test_a_run_stores_every_event_through_it(tmp_path):
    overrides = {
        "event_log_storage": {
            "module": "l2c_pipeline.event_storage",
            "class": "KeptOpenSqliteEventLogStorage",
            "config": {"base_dir": str(tmp_path / "history" / "runs")},
        }
    }

    @asset
    def numbers() -> int:
        return 3

    @asset
    def doubled(numbers: int) -> int:
        return numbers * 2

    ref = InstanceRef.from_dir(str(tmp_path), overrides=overrides)
    with DagsterInstance.from_ref(ref) as instance:
        assert isinstance(instance.event_log_storage, KeptOpenSqliteEventLogStorage)
        result = materialize([numbers, doubled], instance=instance)
        assert result.success and result.output_for_node("doubled") == 6
        stored = instance.all_logs(result.run_id)
        # Every event of the run is stored, in order (the storage holds a few more: the run's
        # planned materializations, its enqueueing).
        remaining = iter(e.dagster_event_type for e in stored if e.is_dagster_event)
        assert all(e.event_type in remaining for e in result.all_events)
        assert sum(e.dagster_event_type == "STEP_SUCCESS" for e in stored) == 2
        assert instance.get_latest_materialization_event(doubled.key) is not None
    # The files are Dagster's: its own storage reads the run back whole.
    with DagsterInstance.from_ref(InstanceRef.from_dir(str(tmp_path))) as instance:
        assert type(instance.event_log_storage) is SqliteEventLogStorage
        assert len(instance.all_logs(result.run_id)) == len(stored)
        assert instance.get_run_by_id(result.run_id).is_success
