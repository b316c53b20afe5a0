"""Dagster resources: the Salesforce source (a real org or the built-in demo org) and the warehouse.

Settings come from the environment only (see the README's settings table); definitions.py
hands them over as `EnvVar`s, so Dagster shows where a value comes from and never stores it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path

import duckdb
from dagster import ConfigurableResource, InitResourceContext
from pydantic import PrivateAttr

from .preflight import setting_problems
from .salesforce.client import ExtractionError, SalesforceClient
from .salesforce.settings import ENV, SalesforceSettings, SettingsError
from .warehouse.duckdb_warehouse import attach_models, connect, models_path, session
from .warehouse.run_lock import RunLock, wait_minutes

SOURCES = ("demo", "salesforce")


def l2c_home() -> Path:
    return Path(os.environ.get("L2C_HOME", ".l2c")).resolve()


def demo_org_folder(shape: str, leads: int, seed: int, living: str | None = None) -> Path:
    """Where the demo org of that shape, size and seed is generated (once); a living one
    (`living`: the tag of its horizon and drift) is one folder whose snapshot moves with
    L2C_DEMO_AS_OF."""
    suffix = f"-living-{living}" if living else ""
    return l2c_home() / f"demo-org-{shape}-{leads}-{seed}{suffix}"


# A living demo org's default horizon: a year of nights after the default snapshot.
LIVING_HORIZON = "2027-10-31T18:00:00Z"


def living_demo(as_of: str, horizon: str, drift: str) -> dict | None:
    """The living demo org's settings (L2C_DEMO_AS_OF, L2C_DEMO_HORIZON, L2C_DEMO_DRIFT), checked,
    with the tag of its folder; None without L2C_DEMO_AS_OF (the fixed demo org)."""
    from .demo_org.generator import parse_as_of, parse_drift

    as_of, horizon, drift = as_of.strip(), horizon.strip(), drift.strip()
    if not as_of:
        for name, value in (("L2C_DEMO_HORIZON", horizon), ("L2C_DEMO_DRIFT", drift)):
            if value:
                raise ValueError(f"{name} needs L2C_DEMO_AS_OF (the living demo org's clock)")
        return None
    horizon = horizon or LIVING_HORIZON
    for name, value in (("L2C_DEMO_AS_OF", as_of), ("L2C_DEMO_HORIZON", horizon)):
        try:
            parse_as_of(value)
        except ValueError:
            raise ValueError(
                f"{name} must be a UTC time like 2026-11-01T23:00:00Z, got {value!r}"
            ) from None
    if parse_as_of(as_of) > parse_as_of(horizon):
        raise ValueError(f"L2C_DEMO_AS_OF ({as_of}) is after L2C_DEMO_HORIZON ({horizon})")
    if drift:
        try:
            parse_drift(drift)
        except ValueError as error:
            raise ValueError(str(error).replace("--drift", "L2C_DEMO_DRIFT")) from None
    tag = f"{zlib.crc32(f'{horizon}/{drift}'.encode()):08x}"
    return {"as_of": as_of, "horizon": horizon, "drift": drift or None, "tag": tag}


class SalesforceResource(ConfigurableResource):
    """Where records come from. source=demo starts the built-in demo org for the run."""

    source: str = "demo"
    instance_url: str | None = None
    access_token: str | None = None
    username: str | None = None
    password: str | None = None
    security_token: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    domain: str | None = None
    jwt_private_key_file: str | None = None
    ca_bundle: str | None = None
    api_version: str = "62.0"
    # Numbers arrive as text from the environment and are checked here, so a wrong value is one
    # line naming its variable rather than a configuration traceback.
    timeout_seconds: str = "120"
    max_retries: str = "5"
    demo_leads: str = "2000"
    demo_seed: str = "42"
    # A living demo org: its clock, its horizon and a planted drift (README, "A living demo org").
    demo_as_of: str = ""
    demo_horizon: str = ""
    demo_drift: str = ""
    demo_faults: str = ""
    demo_shape: str = "standard"

    _server = PrivateAttr(default=None)
    _client = PrivateAttr(default=None)
    _client_error = PrivateAttr(default=None)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        # One connection per run, never carried over from an earlier run.
        self._client, self._client_error = None, None
        if self.source not in SOURCES:
            raise ValueError(
                f"L2C_SOURCE must be one of {', '.join(SOURCES)} or file, got {self.source!r}"
            )
        if self.source == "demo":
            from .demo_org.catalogue import SHAPES
            from .demo_org.generator import generate

            if self.demo_shape not in SHAPES:
                raise ValueError(
                    f"L2C_ORG_SHAPE must be one of {', '.join(SHAPES)}, got {self.demo_shape!r}"
                )
            from .demo_org.faults import FaultSpecError
            from .demo_org.server import DemoOrgServer

            leads, seed = self._demo_size()
            living = living_demo(self.demo_as_of, self.demo_horizon, self.demo_drift)
            folder = demo_org_folder(self.demo_shape, leads, seed, living and living["tag"])
            if living is not None:
                self._advance_living(folder, leads, seed, living)
            elif not (folder / "org.json").exists():
                # Generated aside and renamed into place: a killed generation, or two runs
                # starting at once, never leave half an org that looks whole.
                partial = folder.with_name(f".{folder.name}.{os.getpid()}.partial")
                shutil.rmtree(partial, ignore_errors=True)
                generate(partial, leads=leads, seed=seed, shape=self.demo_shape)
                if folder.exists() and not (folder / "org.json").exists():
                    shutil.rmtree(folder, ignore_errors=True)
                try:
                    partial.rename(folder)
                except OSError:
                    shutil.rmtree(partial, ignore_errors=True)  # another run made it first
            try:
                self._server = DemoOrgServer(
                    folder, faults=self.demo_faults, work_dir=l2c_home() / "demo-org-tls"
                ).start()
            except FaultSpecError as error:
                raise FaultSpecError(f"L2C_DEMO_FAULTS: {error}") from None

    def _advance_living(self, folder: Path, leads: int, seed: int, living: dict) -> None:
        """The living org's snapshot at L2C_DEMO_AS_OF in `folder`: generated aside when the
        folder holds another time, then swapped in. It is the continuation of the earlier
        snapshot, so the run's extraction picks up exactly what changed since, by SystemModstamp."""
        from .demo_org.generator import generate

        manifest = folder / "org.json"
        if manifest.exists():
            held = json.loads(manifest.read_text(encoding="utf-8"))
            if held.get("as_of") == living["as_of"]:
                return
        partial = folder.with_name(f".{folder.name}.{os.getpid()}.partial")
        shutil.rmtree(partial, ignore_errors=True)
        generate(
            partial,
            leads=leads,
            seed=seed,
            shape=self.demo_shape,
            as_of=living["as_of"],
            horizon=living["horizon"],
            drift=living["drift"],
        )
        old = folder.with_name(f".{folder.name}.{os.getpid()}.old")
        if folder.exists():
            folder.rename(old)
        partial.rename(folder)
        shutil.rmtree(old, ignore_errors=True)

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        if self._client is not None:
            self._client.close()
        self._client, self._client_error = None, None
        if self._server is not None:
            self._server.stop()
            self._server = None

    def settings(self) -> SalesforceSettings:
        if self.source == "demo":
            if self._server is None:
                raise RuntimeError("the demo org is not running (the resource was not set up)")
            environment = self._server.environment()
            return SalesforceSettings.from_env(
                {
                    **environment,
                    "SF_API_VERSION": self.api_version,
                    "SF_TIMEOUT_SECONDS": str(self.timeout_seconds),
                    "SF_MAX_RETRIES": str(self.max_retries),
                }
            )
        # Every connection setting has a field of the same name here; read as the environment
        # would be, so each value is checked with its variable's name.
        return SalesforceSettings.from_env(
            {
                ENV[f.name]: str(getattr(self, f.name))
                for f in fields(SalesforceSettings)
                if getattr(self, f.name) not in (None, "")
            }
        )

    def client(self, on_retry=None) -> SalesforceClient:
        """One connection per run, shared by the run's assets (so a login happens once, and a
        refused one is not tried again by the next asset). `on_retry` receives the retry and
        re-login warnings of the asset that asks, so they are logged under its step."""
        if self._client_error is not None:
            raise self._client_error
        if self._client is None:
            try:
                self._client = SalesforceClient(self.settings(), on_retry=on_retry)
            except (ExtractionError, SettingsError) as error:
                self._client_error = error
                raise
        elif on_retry is not None:
            self._client.on_retry = on_retry
        return self._client

    @property
    def demo_server(self):
        return self._server

    @property
    def demo_folder(self) -> Path | None:
        """The demo org's folder (source=demo), else None."""
        if self.source != "demo":
            return None
        living = living_demo(self.demo_as_of, self.demo_horizon, self.demo_drift)
        return demo_org_folder(self.demo_shape, *self._demo_size(), living and living["tag"])

    def _demo_size(self) -> tuple[int, int]:
        from .demo_org.generator import MAX_LEADS

        leads, seed = self.demo_leads.strip(), self.demo_seed.strip()
        if not leads.isdigit() or not 1 <= int(leads) <= MAX_LEADS:
            raise ValueError(
                f"L2C_DEMO_LEADS must be a whole number from 1 to {MAX_LEADS:,}, got {leads!r}"
            )
        if not seed.lstrip("-").isdigit():
            raise ValueError(f"L2C_DEMO_SEED must be a whole number, got {seed!r}")
        return int(leads), int(seed)


class WarehouseResource(ConfigurableResource):
    """The DuckDB file the pipeline writes (L2C_WAREHOUSE). Analysts read the published copy.

    A run holds the warehouse's run lock from its start to its end: a second run on the same
    warehouse waits for it (L2C_RUN_WAIT_MINUTES) instead of failing each other's steps."""

    path: str = ".l2c/warehouse.duckdb"

    _run_lock = PrivateAttr(default=None)
    _log = PrivateAttr(default=None)
    _database = PrivateAttr(default=None)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        self._log = context.log
        self._database = None
        # Every setting a step reads, checked before the first step: a typo in one read late
        # (the exports, the freshness checks) would cost a night's extraction, or fail the run
        # after the analytics file was published.
        problems = setting_problems(Path(self.path))
        if problems:
            raise ValueError("; ".join(problems))
        lock = RunLock(Path(self.path))
        lock.acquire(
            context.run.run_id if context.run else "unknown",
            wait_seconds=wait_minutes() * 60,
            say=context.log.warning if context.log else (lambda message: None),
        )
        self._run_lock = lock

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        try:
            if self._database is not None:
                self._database.close()  # checkpoints what the run wrote into the file
        finally:
            self._database = None
            if self._run_lock is not None:
                self._run_lock.release()
                self._run_lock = None

    @contextmanager
    def connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for one step. Within a run the file is opened once and each step gets
        a cursor of its own (its own session and transactions, the same database): opening the
        file and checkpointing it for every one of a hundred steps cost more than some steps."""
        say = self._log.warning if self._log else (lambda message: None)
        if self._run_lock is None:  # used outside a run: a connection of its own
            con = connect(Path(self.path), on_wait=say)
            try:
                yield con
            finally:
                con.close()
            return
        if self._database is None:
            self._database = connect(Path(self.path), on_wait=say)
        # Attached again if a step left it detached (publishing detaches it to copy it, and
        # attaching it again can fail: another process opened the file in between).
        attach_models(self._database, models_path(Path(self.path)), on_wait=say)
        cursor = session(self._database.cursor())
        try:
            yield cursor
        except duckdb.FatalException:
            # DuckDB invalidates a database after a fatal error: the next step opens it afresh.
            database, self._database = self._database, None
            with contextlib.suppress(duckdb.Error):
                database.close()
            raise
        finally:
            with contextlib.suppress(duckdb.Error):
                cursor.close()
