"""Engine construction for SQLite (embedded default) and PostgreSQL (scale-out)."""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Collection, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

from runhub.background import BackgroundThread

log = logging.getLogger("runhub.db")


class DatabaseUrlError(ValueError):
    """The database URL is not a SQLite or PostgreSQL URL runhub understands."""


def normalise_url(url: str) -> str:
    """Map user-facing URLs to SQLAlchemy URLs with the driver runhub ships."""
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError with a long message
        raise DatabaseUrlError(f"not a database URL: {url!r}") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return str(parsed.set(drivername="sqlite+pysqlite"))
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    raise DatabaseUrlError(f"unsupported database {backend!r}: use sqlite:/// or postgresql://")


_SYNCHRONOUS = {"NORMAL": "NORMAL", "FULL": "FULL", "EXTRA": "EXTRA"}  # never raw text in SQL


def is_sqlite(engine_or_conn: Engine | Connection) -> bool:
    return engine_or_conn.dialect.name == "sqlite"


def make_engine(
    url: str,
    *,
    busy_timeout_ms: int = 30_000,
    pool_size: int = 10,
    auto_checkpoint: bool = True,
    sqlite_synchronous: str = "NORMAL",
) -> Engine:
    """An engine for the URL. `auto_checkpoint=False` (SQLite) leaves WAL checkpoints to a
    WalCheckpointer, off the request path. `sqlite_synchronous` is NORMAL, FULL or EXTRA."""
    sa_url = normalise_url(url)
    if sa_url.startswith("sqlite"):
        engine = create_engine(
            sa_url,
            pool_size=pool_size,
            max_overflow=pool_size,
            connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
        )
        _configure_sqlite(engine, busy_timeout_ms, auto_checkpoint, sqlite_synchronous)
        return engine
    return create_engine(sa_url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def _configure_sqlite(
    engine: Engine, busy_timeout_ms: int, auto_checkpoint: bool, synchronous: str
) -> None:
    """WAL, a busy timeout, foreign keys, and BEGIN IMMEDIATE for write transactions.

    pysqlite's own transaction handling is switched off so that a write transaction takes
    the write lock when it starts (no deadlocking lock upgrades under concurrency); see
    SQLAlchemy's "Serializable isolation / Savepoints / Transactional DDL" recipe.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        # A new database file gives freed pages back with `PRAGMA incremental_vacuum`
        # (services.prune); on an existing one this changes nothing until a VACUUM.
        cur.execute("PRAGMA auto_vacuum=INCREMENTAL")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={_SYNCHRONOUS[synchronous]}")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA cache_size=-65536")
        if not auto_checkpoint:
            cur.execute("PRAGMA wal_autocheckpoint=0")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = "IMMEDIATE" if conn.get_execution_options().get("write") else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")


class WalCheckpointer(BackgroundThread):
    """Runs SQLite WAL checkpoints in a background thread.

    With synchronous=NORMAL a checkpoint is the only fsync SQLite does; run inside a commit
    (SQLite's default every 1,000 WAL pages) it cost ingest about 40% of its time
    (bench/README.md). Here it runs every `interval_s` in PASSIVE mode, which never blocks
    readers or writers, and a page written by several commits is copied back once.
    """

    thread_name = "wal-checkpoint"

    def __init__(self, engine: Engine, interval_s: float = 1.0) -> None:
        super().__init__()
        self.engine = engine
        self.interval_s = interval_s

    def stop(self) -> None:
        super().stop()
        self.checkpoint("TRUNCATE")

    def checkpoint(self, mode: str = "PASSIVE") -> None:
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql(f"PRAGMA wal_checkpoint({mode})")
        except Exception:  # a failed checkpoint is retried on the next tick
            log.warning("WAL checkpoint failed", exc_info=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.checkpoint()


class WriteGate:
    """SQLite has one writer at a time. Writers of one process queue here for it instead of
    in SQLite's busy handler, which polls with sleeps of up to 100 ms (a writer would wait
    for a lock freed long ago); `background` writers (the expansion stage) let waiting
    request writers go first. Writers in other processes still meet the busy handler."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._waiting = 0
        self._count_lock = threading.Lock()

    @contextmanager
    def held(self, background: bool = False) -> Iterator[None]:
        if background:
            deadline = time.monotonic() + BACKGROUND_YIELD_S
            while self._waiting and time.monotonic() < deadline:
                time.sleep(0.0005)
        else:
            with self._count_lock:
                self._waiting += 1
        try:
            self._lock.acquire()
        finally:
            if not background:
                with self._count_lock:
                    self._waiting -= 1
        try:
            yield
        finally:
            self._lock.release()


BACKGROUND_YIELD_S = 0.25  # a background writer waits at most this long for request writers
_gates: weakref.WeakKeyDictionary[Engine, WriteGate] = weakref.WeakKeyDictionary()
_gates_lock = threading.Lock()


def _gate(engine: Engine) -> WriteGate | None:
    if not is_sqlite(engine):
        return None
    with _gates_lock:
        gate = _gates.get(engine)
        if gate is None:
            gate = _gates[engine] = WriteGate()
        return gate


@contextmanager
def write_tx(engine: Engine, *, background: bool = False) -> Iterator[Connection]:
    """A write transaction: BEGIN IMMEDIATE on SQLite (through the process's WriteGate),
    a normal transaction elsewhere. `background` work gives way to request writers."""
    gate = _gate(engine)
    held = gate.held(background) if gate is not None else nullcontext()
    with held, engine.connect().execution_options(write=True) as conn, conn.begin():
        yield conn


@contextmanager
def read_tx(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn, conn.begin():
        yield conn


ID_CHUNK = 900  # ids per IN list (SQLite allows 32,766 variables; stay well below)


def id_chunks(ids: Collection[int], size: int = ID_CHUNK) -> Iterator[list[int]]:
    """`ids` in increasing order, in lists of at most `size` (for `IN (...)` queries)."""
    ordered = sorted(ids)
    for start in range(0, len(ordered), size):
        yield ordered[start : start + size]
