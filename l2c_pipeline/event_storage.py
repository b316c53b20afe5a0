"""Dagster's SQLite event log, with its database connections kept open.

Dagster's own SQLite event log storage opens a new SQLAlchemy engine, and so a new SQLite
connection, for every event it stores; its statements are compiled afresh each time too, as the
compiled-statement cache lives with the engine. A run of this pipeline stores about a thousand
events (a step's start, output, materialization, checks, logs and end), and that bookkeeping
cost some 10 ms an event. This storage is the same class, with the same files, schema and
locking, but it keeps one engine per database file (the run's own and the cross-run index) and
so one connection, reused under the storage's lock. A few files stay open at most: the
least recently used engine is closed when a process touches more than MAX_OPEN_FILES of them
(the webserver reads many runs' files).

It is configured as any Dagster storage (dagster.yaml):

    event_log_storage:
      module: l2c_pipeline.event_storage
      class: KeptOpenSqliteEventLogStorage
      config:
        base_dir: .l2c/dagster/storage/history/runs
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

MAX_OPEN_FILES = 8


class KeptOpenSqliteEventLogStorage(SqliteEventLogStorage):
    """SqliteEventLogStorage that reuses one connection per database file."""

    def __init__(self, base_dir: str, inst_data=None) -> None:
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        super().__init__(base_dir, inst_data=inst_data)

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> KeptOpenSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Engine:
        engine = self._engines.get(shard)
        if engine is not None:
            self._engines.move_to_end(shard)
            return engine
        engine = create_engine(
            self.conn_string_for_shard(shard),
            # One connection, used by one thread at a time: every use holds self._db_lock.
            poolclass=StaticPool,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
        )
        if shard not in self._initialized_dbs:
            self._initdb(engine)
            self._initialized_dbs.add(shard)
        self._engines[shard] = engine
        while len(self._engines) > MAX_OPEN_FILES:
            _, oldest = self._engines.popitem(last=False)
            oldest.dispose()
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock, self._engine(shard).connect() as conn, conn.begin():
            yield conn

    def _close_engines(self) -> None:
        with self._db_lock:
            while self._engines:
                _, engine = self._engines.popitem()
                engine.dispose()

    def wipe(self) -> None:
        self._close_engines()  # before the files go
        super().wipe()

    def upgrade(self) -> None:
        self._close_engines()
        super().upgrade()
        self._close_engines()

    def dispose(self) -> None:
        self._close_engines()
        super().dispose()
