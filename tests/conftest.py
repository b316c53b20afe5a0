"""Shared fixtures: generated demo orgs (session-scoped: generation is the slow part)."""

from __future__ import annotations

from pathlib import Path

import pytest

from l2c_pipeline.demo_org.generator import generate

# Large enough that every planted truth stands out of the sampling noise, small enough for CI.
TRUTH_ORG_LEADS = 8000


@pytest.fixture(scope="session")
def truth_org(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("truth-org")
    generate(folder, leads=TRUTH_ORG_LEADS, seed=11)
    return folder


@pytest.fixture(scope="session")
def small_org(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("small-org")
    generate(folder, leads=2000, seed=5)
    return folder


@pytest.fixture(scope="session")
def truth_warehouse(truth_org, tmp_path_factory) -> Path:
    """The truth org extracted over HTTPS and built through the whole mining stage; tests open
    it read-only (a test that changes tables builds its own)."""
    from .test_event_log import extract_and_build

    path = tmp_path_factory.mktemp("truth-warehouse") / "warehouse.duckdb"
    con, _ = extract_and_build(truth_org, path)
    con.close()
    return path
