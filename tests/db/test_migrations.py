"""The Alembic migrations build exactly the schema in runhub.db.schema, on both backends."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, func, insert, inspect, select, text

from runhub.db.engine import make_engine, write_tx
from runhub.db.migrate import alembic_config, current_revision, head_revision, upgrade
from runhub.db.partitions import is_partition_name
from runhub.db.schema import (
    automation_cases,
    automation_run_tests,
    automation_runs,
    automation_sources,
    metadata,
    projects,
)

from ..conftest import BACKENDS, _pg_admin, _pg_url


def downgrade(engine: Engine, revision: str) -> None:
    command.downgrade(alembic_config(engine), revision)


def test_migrated_schema_matches_metadata(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert [d for d in diff if not _on_a_partition(d)] == []


def _on_a_partition(difference: Any) -> bool:
    """Partitions (PostgreSQL) are the partitioned tables' storage, not schema tables."""
    table = getattr(difference[1], "table", difference[1])
    return is_partition_name(getattr(table, "name", ""))


def test_database_is_at_head(engine: Engine) -> None:
    assert current_revision(engine) == head_revision(engine)


def test_sqlite_runs_in_wal_mode(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() > 0


def test_results_table_has_no_text_index(engine: Engine) -> None:
    """Keys live in automation_cases; every result index is over integer columns."""
    indexes = inspect(engine).get_indexes("automation_run_tests")
    assert {tuple(i["column_names"]) for i in indexes} == {
        ("run_id", "seq"),
        ("thread_id", "id"),
        ("run_id", "status_id", "id"),
        ("case_id", "id"),
    }


@pytest.fixture(params=BACKENDS)
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database with no tables (SQLite file or a new PostgreSQL database)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    name = f"runhub_test_mig_{uuid.uuid4().hex[:10]}"
    admin_engine = _pg_admin()
    with admin_engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield _pg_url(name)
    finally:
        with admin_engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin_engine.dispose()


POSITIONS_REVISION = "0008"  # versions/0008_run_list_positions.py (renumber along with it)


def test_list_positions_migration_backfills_and_triggers_keep_them(empty_db_url: str) -> None:
    """Runs stored before the list positions migration get their rank in (created_at, id)
    order per project and the projects their counts; after it the triggers keep them
    (and a downgrade and upgrade round-trips)."""
    engine = make_engine(empty_db_url)
    script = ScriptDirectory.from_config(alembic_config(engine))
    before = script.get_revision(POSITIONS_REVISION).down_revision
    assert isinstance(before, str)
    try:
        upgrade(engine, before)
        t0 = datetime(2026, 1, 1)
        rnd = random.Random(7)
        with write_tx(engine) as conn:
            pids = [
                conn.execute(
                    insert(projects).values(name=n, created_at=t0).returning(projects.c.id)
                ).scalar_one()
                for n in ("a", "b", "empty")
            ]
            sid = conn.execute(
                insert(automation_sources)
                .values(project_id=pids[0], name="s", created_at=t0)
                .returning(automation_sources.c.id)
            ).scalar_one()
            for i in range(40):
                conn.execute(
                    insert(automation_runs).values(
                        project_id=pids[i % 2],
                        source_id=sid,
                        name=f"r{i}",
                        created_at=t0 + timedelta(seconds=rnd.randint(0, 9)),
                        is_completed=i % 3 == 0,
                    )
                )
        upgrade(engine, POSITIONS_REVISION)

        def check() -> None:
            with engine.connect() as conn:
                for pid in pids:
                    where = automation_runs.c.project_id == pid
                    by_time = select(automation_runs.c.id, automation_runs.c.list_position).where(
                        where
                    )
                    got = conn.execute(
                        by_time.order_by(automation_runs.c.created_at, automation_runs.c.id)
                    ).all()
                    assert [p for _, p in got] == list(range(1, len(got) + 1))
                    done = conn.execute(
                        select(func.count()).where(where, automation_runs.c.is_completed)
                    ).scalar_one()
                    counters = conn.execute(
                        select(
                            projects.c.automation_run_count,
                            projects.c.automation_run_completed_count,
                        ).where(projects.c.id == pid)
                    ).one()
                    assert tuple(counters) == (len(got), done)

        check()
        with write_tx(engine) as conn:
            conn.execute(
                insert(automation_runs).values(
                    project_id=pids[0], source_id=sid, name="new", created_at=t0, is_completed=True
                )
            )
        check()
        downgrade(engine, before)
        upgrade(engine)  # to the head: later revisions keep the positions (and do not downgrade)
        check()
    finally:
        engine.dispose()


def test_0007_numbers_existing_results_and_keeps_their_times(empty_db_url: str) -> None:
    """Results stored before 0007 get their positions in id order, run by run, and (SQLite)
    timestamps stored as text read back the same once they are integers."""
    engine = make_engine(empty_db_url)
    try:
        upgrade(engine, "0006")
        stamp = datetime(2026, 11, 30, 12, 34, 56, 789012)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO projects (id, name, is_completed, created_at)"
                    " VALUES (1, 'P', false, :t)"
                ),
                {"t": stamp},
            )
            conn.execute(
                text(
                    "INSERT INTO automation_sources (id, project_id, name, is_retired, status,"
                    " run_count, completed_run_count, test_count_sum, elapsed_sum, created_at)"
                    " VALUES (1, 1, 'S', false, 1, 0, 0, 0, 0, :t)"
                ),
                {"t": stamp},
            )
            conn.execute(
                text(
                    "INSERT INTO automation_cases (id, project_id, source_id, key, name, folder,"
                    " test_count, success_count, failure_count, flaky_count, elapsed_sum,"
                    " elapsed_n, first_category, last_category, last_status_id, created_at,"
                    " updated_at) VALUES (1, 1, 1, 'k', 'n', 'f', 3, 3, 0, 0, 0, 0, 2, 2, 1,"
                    " :t, :t)"
                ),
                {"t": stamp},
            )
            for result_id, run_id in ((10, 1), (11, 2), (12, 1), (13, 1), (14, 2)):
                conn.execute(text(
                    "INSERT INTO automation_run_tests (id, run_id, thread_id, case_id,"
                    " status_id, created_at) VALUES (:id, :run, 1, 1, 1, :t)"),
                    {"id": result_id, "run": run_id, "t": stamp})  # fmt: skip
        upgrade(engine)
        with engine.connect() as conn:
            results = conn.execute(
                select(automation_run_tests.c.id, automation_run_tests.c.seq,
                       automation_run_tests.c.created_at).order_by(automation_run_tests.c.id)
            ).all()  # fmt: skip
            case = conn.execute(select(automation_cases)).mappings().one()
        assert [(r.id, r.seq) for r in results] == [(10, 1), (11, 1), (12, 2), (13, 3), (14, 2)]
        assert {r.created_at for r in results} == {stamp}
        assert (case["created_at"], case["updated_at"]) == (stamp, stamp)
    finally:
        engine.dispose()
