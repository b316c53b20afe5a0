"""The run's pre-flight: every setting a step reads, checked before the first step runs.

Each setting is read where it is used (the freshness checks, the miner, the exports...), and a
wrong one fails that step with one line. Some of those steps run late, after hours of
extraction on a big org, or after the analytics file is published (a run then fails with the
analytics file new and the outputs old). So the run checks them all at its start, with the same
parsers and messages as the steps: a typo costs seconds, not a night.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import duckdb


def setting_problems(warehouse: Path) -> list[str]:
    """One line per wrong setting (empty when all are right), for a run on `warehouse`."""
    from .mining.assets import discovery_coverage, discovery_max_variants
    from .mining.business_hours import SETTING as BUSINESS_HOURS
    from .mining.business_hours import known_zone, parse_business_hours
    from .mining.kpi_history import snapshot_date
    from .monitoring.alerts import AlertSettings
    from .monitoring.freshness import event_log_lag_hours, freshness_hours
    from .outputs.assets import export_formats
    from .warehouse.duckdb_warehouse import lock_wait_seconds, set_memory_limit
    from .warehouse.publish import default_analytics_path, default_output_dir

    def business_hours() -> None:
        setting = os.environ.get(BUSINESS_HOURS, "").strip()
        if setting:
            zone, _ = parse_business_hours(setting)
            if zone is not None:
                with duckdb.connect() as con:
                    if not known_zone(con, zone):
                        raise ValueError(
                            f"{BUSINESS_HOURS}: unknown time zone {zone!r} (a name of the time "
                            "zone database, e.g. Europe/Berlin, or UTC)"
                        )

    def memory_limit() -> None:
        with duckdb.connect() as con:
            set_memory_limit(con)

    warehouse = Path(warehouse)
    checks: list[Callable[[], object]] = [
        freshness_hours,
        event_log_lag_hours,
        snapshot_date,
        discovery_coverage,
        discovery_max_variants,
        business_hours,
        export_formats,
        memory_limit,
        lock_wait_seconds,
        AlertSettings.from_env,
        lambda: file_path_problem("L2C_WAREHOUSE", warehouse),
        lambda: file_path_problem("L2C_ANALYTICS", default_analytics_path(warehouse)),
        lambda: folder_path_problem("L2C_OUTPUT_DIR", default_output_dir(warehouse)),
    ]
    problems = []
    for check in checks:
        try:
            check()
        except Exception as error:  # each parser raises its own kind, all with one line
            problems.append(" ".join(str(error).split()))
    return problems


def _file_under(path: Path) -> Path | None:
    """The existing file among `path`'s parent folders, if one of them is a file."""
    for parent in path.absolute().parents:
        if parent.exists():
            return None if parent.is_dir() else parent
    return None


def file_path_problem(setting: str, path: Path) -> None:
    """A file the run writes: not a folder, not under a file, in a folder it may write."""
    if path.is_dir():
        raise ValueError(f"{setting}: {path} is a folder; name a file")
    blocking = _file_under(path)
    if blocking:
        raise ValueError(f"{setting}: {path} lies under {blocking}, which is a file, not a folder")
    _writable(setting, path.absolute().parent)


def folder_path_problem(setting: str, path: Path) -> None:
    """A folder the run writes into: not a file, not under a file, writable."""
    if path.exists() and not path.is_dir():
        raise ValueError(f"{setting}: {path} is a file; name a folder")
    blocking = _file_under(path)
    if blocking:
        raise ValueError(f"{setting}: {path} lies under {blocking}, which is a file, not a folder")
    _writable(setting, path)


def _writable(setting: str, folder: Path) -> None:
    existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"{setting}: cannot write in {existing} (permission denied)")
