"""Engine construction for SQLite (embedded default) and PostgreSQL (scale-out)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url


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


def is_sqlite(engine_or_conn: Engine | Connection) -> bool:
    return engine_or_conn.dialect.name == "sqlite"


def make_engine(url: str, *, busy_timeout_ms: int = 30_000, pool_size: int = 10) -> Engine:
    sa_url = normalise_url(url)
    if sa_url.startswith("sqlite"):
        engine = create_engine(
            sa_url,
            pool_size=pool_size,
            max_overflow=pool_size,
            connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
        )
        _configure_sqlite(engine, busy_timeout_ms)
        return engine
    return create_engine(sa_url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    """WAL, a busy timeout, foreign keys, and BEGIN IMMEDIATE for write transactions.

    pysqlite's own transaction handling is switched off so that a write transaction takes
    the write lock when it starts (no deadlocking lock upgrades under concurrency); see
    SQLAlchemy's "Serializable isolation / Savepoints / Transactional DDL" recipe.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA cache_size=-65536")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = "IMMEDIATE" if conn.get_execution_options().get("write") else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")


@contextmanager
def write_tx(engine: Engine) -> Iterator[Connection]:
    """A write transaction: BEGIN IMMEDIATE on SQLite, a normal transaction elsewhere."""
    with engine.connect().execution_options(write=True) as conn, conn.begin():
        yield conn


@contextmanager
def read_tx(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn, conn.begin():
        yield conn
