"""Retention gives the disk back: on SQLite the file shrinks (auto_vacuum=INCREMENTAL and
`PRAGMA incremental_vacuum`); on PostgreSQL expired partitions are dropped, and one that
still holds a pinned run is rewritten with only what is kept."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, insert, text, update

from runhub.db import partitions
from runhub.db.engine import make_engine, read_tx, write_tx
from runhub.db.migrate import upgrade
from runhub.db.schema import automation_run_pins, automation_runs, project_retention
from runhub.services.batches import settle_run
from runhub.services.prune import maintain_partitions, prune
from runhub.timeutil import utcnow

from ..conftest import BACKENDS, _pg_admin, _pg_url
from ..helpers import Api, make_test

BIG_FIELD = [{"type": 1, "name": "Output", "value": os.urandom(3000).hex()}]


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of its own per test (the partition layout is the test's subject)."""
    if request.param == "sqlite":
        path = tmp_path / "runhub.db"
        engine = make_engine(f"sqlite:///{path}")
        upgrade(engine)
        engine.dispose()
        yield f"sqlite:///{path}"
        return
    name = f"runhub_test_disk_{uuid.uuid4().hex[:10]}"
    admin_engine = _pg_admin()
    with admin_engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(_pg_url(name))
    upgrade(engine)
    engine.dispose()
    try:
        yield _pg_url(name)
    finally:
        with admin_engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin_engine.dispose()


def old_run(api: Api, engine: Engine, name: str, age_days: int, tests: int = 40) -> int:
    run_id = api.create_run(name=name)
    thread_id = api.create_thread(run_id)
    batch = [make_test(f"t{i}", fields=BIG_FIELD) for i in range(tests)]
    assert api.append(thread_id, batch).status_code == 204
    assert api.post(f"/automation/runs/{run_id}/complete").status_code == 204
    settle_run(engine, run_id)
    with write_tx(engine) as conn:
        stamp = utcnow() - timedelta(days=age_days)
        conn.execute(
            update(automation_runs)
            .where(automation_runs.c.id == run_id)
            .values(created_at=stamp, updated_at=stamp)
        )
    return run_id


def keep_30_days(api: Api, engine: Engine) -> None:
    with write_tx(engine) as conn:
        conn.execute(
            insert(project_retention).values(
                project_id=api.project_id, run_days=30, updated_at=utcnow()
            )
        )


def sqlite_file_bytes(engine: Engine) -> int:
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    assert engine.url.database
    return os.path.getsize(engine.url.database)


def test_disk_comes_back(api: Api, engine: Engine) -> None:
    if engine.dialect.name == "sqlite":
        sqlite_file_shrinks(api, engine)
    else:
        postgresql_partitions_are_dropped(api, engine)


def sqlite_file_shrinks(api: Api, engine: Engine) -> None:
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA auto_vacuum").scalar() == 2  # incremental
    expired = [old_run(api, engine, f"old{i}", 40) for i in range(6)]
    kept = old_run(api, engine, "recent", 2)
    keep_30_days(api, engine)
    before = sqlite_file_bytes(engine)
    report = prune(engine)
    after = sqlite_file_bytes(engine)
    assert report.runs_deleted == len(expired)
    assert after < before * 0.4, (before, after)
    # Hundreds of pages came back in a few transactions (a pragma read only once frees one
    # page: that was a transaction a page).
    assert (before - after) // 4096 > 200 and report.transactions < 40, report.lines()
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA freelist_count").scalar() == 0
    assert api.get(f"/automation/runs/{kept}").status_code == 200


def postgresql_partitions_are_dropped(api: Api, engine: Engine) -> None:
    expired = [old_run(api, engine, f"old{i}", 40) for i in range(3)]
    pinned = old_run(api, engine, "pinned", 40)
    with write_tx(engine) as conn:
        conn.execute(
            insert(automation_run_pins).values(
                run_id=pinned, project_id=api.project_id, pinned_at=utcnow()
            )
        )
        first = partitions.list_partitions(conn, "automation_run_tests")[0]
        assert first.hi is not None
        # Newer runs: the server makes their partition ahead; the old ones' is then closed.
        conn.execute(text(f"SELECT setval('automation_runs_id_seq', {first.hi - 10})"))
    assert len(maintain_partitions(engine)) == 3
    with write_tx(engine) as conn:
        conn.execute(text(f"SELECT setval('automation_runs_id_seq', {first.hi})"))
    recent = old_run(api, engine, "recent", 1)
    assert recent > first.hi
    keep_30_days(api, engine)
    with read_tx(engine) as conn:
        before = partitions.relation_bytes(conn)

    report = prune(engine)
    assert report.runs_deleted == len(expired)
    assert (report.partitions_rewritten, report.partitions_dropped) == (3, 0)
    with read_tx(engine) as conn:
        rewritten = partitions.relation_bytes(conn)
        assert [p.name for p in partitions.list_partitions(conn, "automation_run_tests")][0] == (
            first.name
        )
    assert rewritten["automation_fields"] < before["automation_fields"] * 0.75
    for run_id in (pinned, recent):
        tests = api.get(f"/automation/runs/{run_id}/tests", per_page=100).json()
        assert tests["total"] == 40

    with write_tx(engine) as conn:
        conn.execute(delete(automation_run_pins))
        conn.execute(
            update(automation_runs).where(automation_runs.c.id == pinned).values(is_completed=True)
        )
    report = prune(engine)
    assert report.runs_deleted == 1 and report.partitions_dropped == 3
    with read_tx(engine) as conn:
        names = [p.name for p in partitions.list_partitions(conn, "automation_run_tests")]
        dropped = partitions.relation_bytes(conn)
    assert first.name not in names
    assert dropped["automation_fields"] < rewritten["automation_fields"]
    assert api.get(f"/automation/runs/{recent}/tests").json()["total"] == 40
    thread_id = api.create_thread(api.create_run(name="after"))
    assert api.append(thread_id, [make_test("later")]).status_code == 204
