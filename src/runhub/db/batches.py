"""SQL for appended batches waiting to be expanded into results (services.batches)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, RowMapping, delete, func, insert, select

from runhub.db.schema import (
    automation_cases,
    automation_run_batches,
    automation_run_tests,
    automation_runs,
    automation_sources,
)

batches = automation_run_batches
sources = automation_sources
runs = automation_runs
results = automation_run_tests


def insert_batch(
    conn: Connection,
    *,
    run_id: int,
    thread_id: int,
    project_id: int,
    source_id: int,
    status_ids: bytes,
    tests: bytes,
    test_count: int,
    created_at: datetime,
) -> None:
    row = {
        "run_id": run_id,
        "thread_id": thread_id,
        "project_id": project_id,
        "source_id": source_id,
        "test_count": test_count,
        "status_ids": status_ids,
        "tests": tests,
        "created_at": created_at,
    }
    conn.execute(_INSERT, row)


_INSERT = insert(batches)  # a constant statement: compiled once, per dialect


def source_with_pending(conn: Connection, run_id: int) -> int | None:
    """The run's source when the run has a pending batch (one index probe), else None."""
    query = select(batches.c.source_id).where(batches.c.run_id == run_id).limit(1)
    return conn.execute(query).scalar()


def pending_sources(
    conn: Connection, project_id: int | None = None, limit: int | None = None
) -> list[int]:
    """Sources with pending batches, the one waiting longest first."""
    query = select(batches.c.source_id).group_by(batches.c.source_id)
    if project_id is not None:
        query = query.where(batches.c.project_id == project_id)
    query = query.order_by(func.min(batches.c.id))
    if limit is not None:
        query = query.limit(limit)
    return list(conn.execute(query).scalars())


def pending_count(conn: Connection) -> tuple[int, int]:
    """(batches, tests) waiting."""
    query = select(func.count(), func.coalesce(func.sum(batches.c.test_count), 0))
    row = conn.execute(query.select_from(batches)).one()
    return int(row[0]), int(row[1])


def project_of_case(conn: Connection, case_id: int) -> int | None:
    query = select(automation_cases.c.project_id).where(automation_cases.c.id == case_id)
    return conn.execute(query).scalar()


def source_of_result(conn: Connection, test_id: int) -> int | None:
    """The source of a result's run when that source has pending batches, else None."""
    query = (
        select(runs.c.source_id)
        .join(results, results.c.run_id == runs.c.id)
        .where(results.c.id == test_id)
    )
    source_id = conn.execute(query).scalar()
    if source_id is None:
        return None
    pending = select(batches.c.id).where(batches.c.source_id == source_id).limit(1)
    return source_id if conn.execute(pending).first() is not None else None


def lock_source(conn: Connection, source_id: int, *, skip_locked: bool = False) -> bool:
    """Lock the source's row on PostgreSQL: the lock that orders expansions of the source's
    batches (SQLite's write lock does that there). With `skip_locked`, False when another
    transaction holds it; False also when the source does not exist."""
    query = select(sources.c.id).where(sources.c.id == source_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=skip_locked)
    return conn.execute(query).first() is not None


def newest_pending(conn: Connection, source_id: int) -> int | None:
    query = select(func.max(batches.c.id)).where(batches.c.source_id == source_id)
    return conn.execute(query).scalar()


def take_batches(
    conn: Connection, source_id: int, max_tests: int | None, up_to_id: int | None = None
) -> list[RowMapping]:
    """The source's oldest pending batches (up to id `up_to_id`), about `max_tests` tests
    (at least one batch)."""
    sizes = select(batches.c.id, batches.c.test_count).where(batches.c.source_id == source_id)
    if up_to_id is not None:
        sizes = sizes.where(batches.c.id <= up_to_id)
    chosen: list[int] = []
    count = 0
    for batch_id, test_count in conn.execute(sizes.order_by(batches.c.id)):
        if chosen and max_tests is not None and count + test_count > max_tests:
            break
        chosen.append(batch_id)
        count += test_count
    if not chosen:
        return []
    columns = (batches.c.id, batches.c.run_id, batches.c.thread_id, batches.c.project_id)
    data = (batches.c.status_ids, batches.c.tests, batches.c.created_at)
    query = select(*columns, *data).where(batches.c.id.in_(chosen)).order_by(batches.c.id)
    return list(conn.execute(query).mappings())


def delete_batches(conn: Connection, batch_ids: Sequence[int]) -> None:
    conn.execute(delete(batches).where(batches.c.id.in_(list(batch_ids))))
