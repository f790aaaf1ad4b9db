"""Retention's SQL (services.prune): which runs expire, deleting them in bounded batches,
and removing what they left behind.

A run is deleted in two steps. `delete_runs` removes the run row and its small dependent
rows in one short transaction and queues it in `prune_queue` (the run is gone from every
list at once). Its results, fields and artifacts (the bytes) go afterwards: in batches of
results (`delete_queued_rows`), or on PostgreSQL by dropping or rewriting their partition.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, delete, exists, func, insert, or_, select

from runhub.db.schema import (
    analysis_queue,
    automation_artifacts,
    automation_case_health,
    automation_cases,
    automation_fields,
    automation_links,
    automation_run_batches,
    automation_run_changes,
    automation_run_pins,
    automation_run_tags,
    automation_run_tests,
    automation_run_threads,
    automation_runs,
    failure_group_runs,
    failure_group_tests,
    failure_groups,
    prune_queue,
    pruned_details,
    quarantine_entries,
    statuses,
)

KIND_RUN = 1
KIND_PASSED_DETAILS = 2

runs = automation_runs
tests = automation_run_tests


def _not_pinned() -> Any:
    return ~exists().where(automation_run_pins.c.run_id == runs.c.id)


def _expired(project_id: int, cutoff: datetime) -> Any:
    """Runs of the project created before the cutoff that are done: completed, or with no
    activity since the cutoff (an abandoned run), and not pinned."""
    active_since = func.coalesce(runs.c.updated_at, runs.c.created_at)
    return and_(
        runs.c.project_id == project_id,
        runs.c.created_at < cutoff,
        or_(runs.c.is_completed.is_(True), active_since < cutoff),
        _not_pinned(),
    )


def expired_run_ids(conn: Connection, project_id: int, cutoff: datetime, limit: int) -> list[int]:
    query = select(runs.c.id).where(_expired(project_id, cutoff)).order_by(runs.c.id).limit(limit)
    return list(conn.execute(query).scalars())


def count_expired(conn: Connection, project_id: int, cutoff: datetime) -> dict[str, int]:
    """What deleting the project's expired runs would remove (for --dry-run)."""
    ids = select(runs.c.id).where(_expired(project_id, cutoff)).scalar_subquery()
    counts = {
        "runs": select(func.count()).where(_expired(project_id, cutoff)),
        "results": select(func.count()).where(tests.c.run_id.in_(ids)),
        "fields": select(func.count()).where(automation_fields.c.run_id.in_(ids)),
        "artifacts": select(func.count()).where(automation_artifacts.c.run_id.in_(ids)),
    }
    return {name: int(conn.execute(query).scalar_one()) for name, query in counts.items()}


def _details_due(project_id: int, cutoff: datetime) -> Any:
    return and_(
        runs.c.project_id == project_id,
        runs.c.created_at < cutoff,
        runs.c.is_completed.is_(True),
        _not_pinned(),
        ~exists().where(pruned_details.c.run_id == runs.c.id),
    )


def details_due_run_ids(
    conn: Connection, project_id: int, cutoff: datetime, limit: int
) -> list[int]:
    query = select(runs.c.id).where(_details_due(project_id, cutoff)).order_by(runs.c.id)
    return list(conn.execute(query.limit(limit)).scalars())


def _passed_test(test_id: Any, run_id: Any) -> Any:
    return exists().where(
        tests.c.id == test_id,
        tests.c.run_id == run_id,
        statuses.c.id == tests.c.status_id,
        statuses.c.is_passed.is_(True),
    )


def count_details_due(
    conn: Connection, project_id: int, cutoff: datetime, runs_cutoff: datetime | None
) -> dict[str, int]:
    """What removing passed details would remove, leaving out the runs that expire whole
    (created before `runs_cutoff`)."""
    due = _details_due(project_id, cutoff)
    if runs_cutoff is not None:
        due = and_(due, ~_expired(project_id, runs_cutoff))
    ids = select(runs.c.id).where(due).scalar_subquery()
    counts = {}
    for name, table in (("fields", automation_fields), ("artifacts", automation_artifacts)):
        query = select(func.count()).where(
            table.c.run_id.in_(ids),
            table.c.test_id.is_not(None),
            _passed_test(table.c.test_id, table.c.run_id),
        )
        counts[f"passed_{name}"] = int(conn.execute(query).scalar_one())
    counts["runs_with_passed_details"] = int(
        conn.execute(select(func.count()).where(due)).scalar_one()
    )
    return counts


def queue_details(conn: Connection, project_id: int, run_ids: list[int], now: datetime) -> None:
    if not run_ids:
        return
    conn.execute(insert(pruned_details), [{"run_id": i, "pruned_at": now} for i in run_ids])
    conn.execute(
        insert(prune_queue),
        [
            {"run_id": i, "project_id": project_id, "kind": KIND_PASSED_DETAILS, "queued_at": now}
            for i in run_ids
        ],
    )


def delete_runs(conn: Connection, project_id: int, run_ids: list[int], now: datetime) -> None:
    """Delete the runs and their small dependent rows; queue their results for removal."""
    if not run_ids:
        return
    conn.execute(delete(prune_queue).where(prune_queue.c.run_id.in_(run_ids)))
    conn.execute(
        insert(prune_queue),
        [
            {"run_id": i, "project_id": project_id, "kind": KIND_RUN, "queued_at": now}
            for i in run_ids
        ],
    )
    for table in (
        automation_run_tags,
        automation_links,
        automation_run_batches,
        analysis_queue,
        automation_run_changes,
        failure_group_runs,
        failure_group_tests,
        pruned_details,
        automation_run_threads,
    ):
        conn.execute(delete(table).where(table.c.run_id.in_(run_ids)))
    conn.execute(delete(runs).where(runs.c.id.in_(run_ids)))


def queued(conn: Connection, limit: int) -> list[Any]:
    query = select(prune_queue).order_by(prune_queue.c.run_id).limit(limit)
    return list(conn.execute(query).mappings())


def queued_between(conn: Connection, lo: int | None, hi: int) -> list[Any]:
    query = select(prune_queue).where(prune_queue.c.run_id < hi)
    if lo is not None:
        query = query.where(prune_queue.c.run_id >= lo)
    return list(conn.execute(query).mappings())


def runs_between(conn: Connection, lo: int | None, hi: int) -> int:
    """Runs (at most one counted) with ids in [lo, hi)."""
    query = select(runs.c.id).where(runs.c.id < hi)
    if lo is not None:
        query = query.where(runs.c.id >= lo)
    return len(conn.execute(query.limit(1)).all())


def batches_between(conn: Connection, lo: int | None, hi: int) -> int:
    query = select(func.count()).where(automation_run_batches.c.run_id < hi)
    if lo is not None:
        query = query.where(automation_run_batches.c.run_id >= lo)
    return int(conn.execute(query).scalar_one())


def delete_queued_rows(conn: Connection, entry: Any, results: int) -> int:
    """Remove up to `results` results' worth of a queued run's rows (its results, or for
    passed details only the fields and artifacts of its passed results), then, when none
    are left, its run-level rows and the queue entry. Returns the results handled."""
    run_id, done_seq = entry["run_id"], entry["done_seq"]
    chunk = conn.execute(
        select(tests.c.id, tests.c.seq, tests.c.status_id)
        .where(tests.c.run_id == run_id, tests.c.seq > done_seq)
        .order_by(tests.c.seq)
        .limit(results)
    ).all()
    whole_run = entry["kind"] == KIND_RUN
    if whole_run:
        test_ids = [row.id for row in chunk]
    else:
        passed = set(
            conn.execute(select(statuses.c.id).where(statuses.c.is_passed.is_(True))).scalars()
        )
        test_ids = [row.id for row in chunk if row.status_id in passed]
    if test_ids:
        for table in (automation_fields, automation_artifacts):
            conn.execute(
                delete(table).where(table.c.run_id == run_id, table.c.test_id.in_(test_ids))
            )
    if whole_run and test_ids:
        conn.execute(delete(tests).where(tests.c.run_id == run_id, tests.c.id.in_(test_ids)))
    if len(chunk) == results:
        conn.execute(
            prune_queue.update()
            .where(prune_queue.c.run_id == run_id)
            .values(done_seq=chunk[-1].seq)
        )
        return len(chunk)
    if whole_run:  # what is left: the run's and its threads' own (the partial run index)
        for table in (automation_fields, automation_artifacts):
            conn.execute(
                delete(table).where(table.c.run_id == run_id, table.c.test_id.is_(None))
            )
    conn.execute(delete(prune_queue).where(prune_queue.c.run_id == run_id))
    return len(chunk)


def forget_queued(conn: Connection, run_ids: list[int]) -> None:
    conn.execute(delete(prune_queue).where(prune_queue.c.run_id.in_(run_ids)))


def orphan_groups(conn: Connection, project_id: int, limit: int) -> list[int]:
    query = (
        select(failure_groups.c.id)
        .where(
            failure_groups.c.project_id == project_id,
            ~exists().where(failure_group_runs.c.group_id == failure_groups.c.id),
        )
        .limit(limit)
    )
    return list(conn.execute(query).scalars())


def delete_groups(conn: Connection, group_ids: list[int]) -> None:
    conn.execute(delete(failure_groups).where(failure_groups.c.id.in_(group_ids)))


def resultless_cases(
    conn: Connection, project_id: int, after_id: int, up_to_id: int, before: datetime
) -> list[int]:
    """The project's cases with ids in (after_id, up_to_id] that go: no result left, no
    quarantine entry, and no result stored since `before` (the runs' cutoff: a case whose
    newest results still wait in an appended batch stays). The id window keeps each call
    a primary-key range, however many cases the project has."""
    cases = automation_cases
    query = select(cases.c.id).where(
        cases.c.id > after_id,
        cases.c.id <= up_to_id,
        # "+ 0": SQLite would otherwise walk the project's index (every case of the
        # project) rather than the primary key's range.
        cases.c.project_id + 0 == project_id,
        cases.c.updated_at < before,
        ~exists().where(tests.c.case_id == cases.c.id),
        ~exists().where(quarantine_entries.c.case_id == cases.c.id),
    )
    return list(conn.execute(query).scalars())


def newest_case_id(conn: Connection, project_id: int) -> int:
    query = select(func.max(automation_cases.c.id)).where(
        automation_cases.c.project_id == project_id
    )
    return int(conn.execute(query).scalar_one() or 0)


def delete_cases(conn: Connection, case_ids: list[int]) -> None:
    conn.execute(
        delete(automation_case_health).where(automation_case_health.c.case_id.in_(case_ids))
    )
    conn.execute(delete(automation_cases).where(automation_cases.c.id.in_(case_ids)))


def pending_work(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(prune_queue)).scalar_one())


def cutoff(now: datetime, days: int) -> datetime:
    return now - timedelta(days=days)


# --- SQLite ---------------------------------------------------------------------------


def sqlite_free_pages(conn: Connection) -> tuple[int, int]:
    """(free pages, page size) of a SQLite database."""
    free = conn.exec_driver_sql("PRAGMA freelist_count").scalar_one()
    size = conn.exec_driver_sql("PRAGMA page_size").scalar_one()
    return int(free), int(size)


def sqlite_auto_vacuum(conn: Connection) -> int:
    """0 none, 1 full, 2 incremental."""
    return int(conn.exec_driver_sql("PRAGMA auto_vacuum").scalar_one())


def sqlite_incremental_vacuum(conn: Connection, pages: int) -> None:
    """Free up to `pages` pages. The pragma frees one page per step of its statement, and
    pysqlite's execute steps once (the pragma has no columns to fetch); executescript steps
    it to the end. executescript commits the open (empty) transaction first, so the pragma
    runs as its own transaction while the caller still holds the process's write gate."""
    conn.connection.driver_connection.executescript(  # type: ignore[union-attr]
        f"PRAGMA incremental_vacuum({int(pages)})"
    )
