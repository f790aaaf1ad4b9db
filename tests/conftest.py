"""Fixtures: a fresh database per test on SQLite and on PostgreSQL, an in-process client,
users with each role, and a real server process for end-to-end tests."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from starlette.testclient import TestClient

from runhub.app import create_app
from runhub.db.engine import make_engine, normalise_url, write_tx
from runhub.db.migrate import upgrade
from runhub.db.schema import metadata
from runhub.db.seed import insert_default_statuses
from runhub.services import admin
from runhub.settings import Settings

from .helpers import Api

PG_ADMIN_URL = os.environ.get("RUNHUB_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
BACKENDS = ("sqlite", "postgresql")


def _pg_url(dbname: str) -> str:
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    return f"{base}/{dbname}"


def _pg_admin() -> Engine:
    return create_engine(normalise_url(PG_ADMIN_URL), isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A uniquely named PostgreSQL database for this test session, dropped afterwards."""
    name = f"runhub_test_{uuid.uuid4().hex[:10]}"
    admin_engine = _pg_admin()
    with admin_engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        # Tests need no durability; this makes each commit cheap.
        conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    url = _pg_url(name)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin_engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin_engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


def _reset_postgres(url: str) -> None:
    """Empty every table and restart every sequence (DELETE is faster than TRUNCATE on the
    small tables a test leaves behind)."""
    engine = make_engine(url, pool_size=1)
    with write_tx(engine) as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
        sequences = conn.execute(
            text(
                "SELECT sequence_name FROM information_schema.sequences"
                " WHERE sequence_schema = 'public'"
            )
        ).scalars()
        for name in list(sequences):
            conn.execute(text(f'ALTER SEQUENCE "{name}" RESTART'))
        insert_default_statuses(conn)
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a fresh, migrated database (SQLite file or PostgreSQL)."""
    if request.param == "sqlite":
        path = tmp_path / "runhub.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("pg_database")
    _reset_postgres(url)
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def settings(db_url: str) -> Settings:
    # Background health analysis off: tests fold runs in with analyze_pending(), so what
    # they read never races a worker (test_intelligence turns it on where it is the test).
    # Webhook delivery off too: tests deliver with webhook_delivery.deliver_due().
    return Settings(
        database_url=db_url, access_log=False, analysis_interval_s=0, webhook_interval_s=0
    )


@pytest.fixture
def client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    app = create_app(settings, engine=engine)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def api(client: TestClient, engine: Engine) -> Api:
    """The in-process client with an admin, a member, a viewer, an outsider and a project."""
    with write_tx(engine) as conn:
        tokens = {}
        for role, email in (
            ("admin", "admin@example.com"),
            ("member", "member@example.com"),
            ("viewer", "viewer@example.com"),
            ("member", "outsider@example.com"),
        ):
            admin.create_user(conn, email, email.split("@")[0].title(), role)
            tokens[email.split("@")[0]] = admin.create_token(conn, email)[1]
        project_id = admin.create_project(conn, "Demo")
        admin.add_member(conn, project_id, "member@example.com")
        admin.add_member(conn, project_id, "viewer@example.com")
        other_project_id = admin.create_project(conn, "Other")
        admin.add_member(conn, other_project_id, "outsider@example.com")
    return Api(client, tokens, project_id, other_project_id)
