"""Shared fixtures: generated demo orgs (session-scoped: generation is the slow part).

The suite runs in two processes (pytest-xdist, `-n 2` in pyproject.toml): what a session fixture
builds is built once, by the first process to ask, and read by both."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from filelock import FileLock

from l2c_pipeline.demo_org.generator import generate
from l2c_pipeline.warehouse.duckdb_warehouse import connect_read_only

# Large enough that every planted truth stands out of the sampling noise, small enough for CI.
TRUTH_ORG_LEADS = 8000
# The shape most tests read; the planted truths and the event log are proven on every shape.
MAIN_SHAPE = "cpq_billing"
SHAPES = ("cpq_billing", "custom", "standard")


def built_once(tmp_path_factory, name: str, build: Callable[[Path], None]) -> Path:
    """The folder `name`, filled by build(folder) once for the whole test run: under pytest-xdist
    the first worker to ask builds it (the others wait on a file lock), and a folder whose build
    did not finish is built again."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        folder = tmp_path_factory.mktemp(name)
        build(folder)
        return folder
    root = tmp_path_factory.getbasetemp().parent
    folder, done = root / name, root / f"{name}.done"
    with FileLock(str(root / f"{name}.lock")):
        if not done.exists():
            import shutil

            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            done.touch()
    return folder


@pytest.fixture(scope="session")
def truth_orgs(tmp_path_factory):
    """The truth org of a shape (seed 11, 8,000 leads), generated the first time it is asked for."""
    made: dict[str, Path] = {}

    def truth_org_of(shape: str) -> Path:
        if shape not in made:
            made[shape] = built_once(
                tmp_path_factory,
                f"truth-org-{shape}",
                lambda folder: generate(folder, leads=TRUTH_ORG_LEADS, seed=11, shape=shape),
            )
        return made[shape]

    return truth_org_of


@pytest.fixture(scope="session")
def truth_org(truth_orgs) -> Path:
    return truth_orgs(MAIN_SHAPE)


@pytest.fixture(scope="session")
def small_org(tmp_path_factory) -> Path:
    return built_once(
        tmp_path_factory,
        "small-org",
        lambda folder: generate(folder, leads=2000, seed=5, shape=MAIN_SHAPE),
    )


@pytest.fixture(scope="session")
def truth_warehouses(truth_orgs, tmp_path_factory):
    """The truth org of a shape extracted over HTTPS with the shape's mapping and built through
    the whole mining stage; tests open it read-only (a test that changes tables builds its own)."""
    from .test_event_log import extract_and_build

    built: dict[str, Path] = {}

    def build(folder: Path, shape: str) -> None:
        con, _ = extract_and_build(truth_orgs(shape), folder / "warehouse.duckdb")
        con.close()

    def truth_warehouse_of(shape: str) -> Path:
        if shape not in built:
            folder = built_once(
                tmp_path_factory, f"truth-warehouse-{shape}", lambda f: build(f, shape)
            )
            built[shape] = folder / "warehouse.duckdb"
        return built[shape]

    return truth_warehouse_of


@pytest.fixture(scope="session")
def truth_warehouse(truth_warehouses) -> Path:
    return truth_warehouses(MAIN_SHAPE)


@pytest.fixture(scope="module")
def tables(truth_warehouse):
    """The truth warehouse, read-only, for tests that only read its tables."""
    con = connect_read_only(truth_warehouse)
    yield con
    con.close()


def pytest_sessionfinish(session, exitstatus):
    """Destroy what is left of DuckDB connections and cursors while Python is still whole: a C++
    destructor that runs during interpreter teardown can abort the process after every test
    passed (seen as 'FATAL: exception not rethrown')."""
    import gc
    import threading
    import time

    gc.collect()
    # A daemon thread still inside DuckDB when Python tears down aborts the process the same
    # way: give any that are finishing their work a moment.
    others = [t for t in threading.enumerate() if t is not threading.main_thread()]
    deadline = time.monotonic() + 5
    for thread in others:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    busy = [t.name for t in others if t.is_alive()]
    if busy and os.environ.get("L2C_DEBUG_THREADS"):
        print(f"\nthreads still running at the end of the session: {', '.join(busy)}")
