"""Threads of a run: create, append test results, complete (decisions.md "Runs")."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine

from runhub.api.schemas import TestIn, ThreadAppend, ThreadComplete, ThreadCreate
from runhub.db import batches as batches_db
from runhub.db import runs as db
from runhub.db.engine import write_tx
from runhub.errors import ApiError, NotFound, Unprocessable
from runhub.services import batches
from runhub.services.access import Principal, can_see_project, require_write
from runhub.services.resources import artifact_rows, field_rows
from runhub.services.runs import visible_run
from runhub.services.statuses import StatusTable
from runhub.timeutil import utcnow


def create_thread(engine: Engine, who: Principal, run_id: int, body: ThreadCreate) -> int:
    now = utcnow()
    with write_tx(engine) as conn:
        # Locking the run row orders thread creation against completion and makes the
        # index (1, 2, 3, ...) race-free on PostgreSQL; SQLite serialises writers anyway.
        run = visible_run(conn, who, run_id, for_update=True)
        require_write(who)
        if run["is_completed"]:
            raise Unprocessable(
                f"Automation run {run_id} is completed and cannot receive new threads."
            )
        thread_id = db.insert_thread(
            conn,
            run_id=run_id,
            index=db.next_thread_index(conn, run_id),
            status=4,
            is_completed=False,
            elapsed_observed=body.elapsed_observed or 0,
            elapsed_computed=body.elapsed_computed or 0,
            created_at=now,
            created_by=who.user_id,
        )
        db.insert_fields(conn, field_rows(body.fields, run_id, thread_id))
        db.insert_artifacts(conn, artifact_rows(body.artifacts, run_id, thread_id))
        return thread_id


def _open_thread(conn: Connection, who: Principal, thread_id: int) -> Any:
    thread = db.thread_with_run(conn, thread_id)
    if thread is None or not can_see_project(conn, who, thread["project_id"]):
        raise NotFound("The automation run thread does not exist or you do not have access to it.")
    require_write(who)
    return thread


def _completed(thread_id: int) -> Unprocessable:
    return Unprocessable(
        f"Automation run thread {thread_id} is completed and cannot receive results."
    )


def resolve_statuses(table: StatusTable, tests: list[TestIn]) -> list[int]:
    """Status id per test; a 422 naming every test whose alias is unknown or inactive."""
    aliases = table.active_alias_to_id
    ids: list[int] = []
    bad: dict[str, list[str]] = {}
    for index, test in enumerate(tests):
        status_id = aliases.get(test.status)
        if status_id is None:
            path = f"tests.{index}.status"
            bad[path] = [f"The {path} field names no active status alias: {test.status!r}."]
            status_id = 0
        ids.append(status_id)
    if bad:
        raise Unprocessable(next(iter(bad.values()))[0], errors=bad)
    return ids


IDEMPOTENCY_WINDOW = timedelta(hours=24)
PURGE_EVERY_S = 600.0


class ExpiredKeyPurge:
    """Expired idempotency keys are deleted by whichever append comes first after
    PURGE_EVERY_S in each process (one indexed DELETE, in its own transaction)."""

    due_at_s = 0.0
    lock = threading.Lock()

    @classmethod
    def maybe_run(cls, engine: Engine, now: datetime) -> None:
        with cls.lock:
            if time.monotonic() < cls.due_at_s:
                return
            cls.due_at_s = time.monotonic() + PURGE_EVERY_S
        with write_tx(engine) as conn:
            db.purge_idempotency_keys(conn, now - IDEMPOTENCY_WINDOW)


def append_to_thread(
    engine: Engine,
    who: Principal,
    thread_id: int,
    body: ThreadAppend,
    idempotency_key: str | None = None,
) -> None:
    """Store a batch: all of it or, on any error, nothing (one transaction). The tests are
    stored as one pending batch with the thread's counters; services.batches expands them.

    With an `idempotency_key` already recorded for this thread in the last 24 hours the
    batch is not stored again (the caller still gets 204). The key is recorded in the same
    transaction as the batch, so a batch that fails leaves no key behind.
    """
    tests = body.tests or []
    now = utcnow()
    if idempotency_key is not None:
        ExpiredKeyPurge.maybe_run(engine, now)
    with write_tx(engine) as conn:
        table = StatusTable.cached(conn)
        status_ids = resolve_statuses(table, tests)
        if idempotency_key is not None and not db.claim_idempotency_key(
            conn, thread_id, idempotency_key, now, now - IDEMPOTENCY_WINDOW
        ):
            _open_thread(conn, who, thread_id)  # a repeat still needs access (404 / 403)
            return
        # One statement checks that the thread is open and writable by this user and adds
        # the counts; only when it changes nothing do we find out why.
        home = None
        if who.role != "viewer":
            home = db.add_to_open_thread(
                conn,
                thread_id,
                Counter(status_ids),
                body.elapsed_observed or 0,
                body.elapsed_computed or 0,
                member_id=None if who.is_admin else who.user_id,
            )
        if home is None:
            raise _why_not_open(conn, who, thread_id)
        run_id, project_id, source_id = home
        db.insert_fields(conn, field_rows(body.fields, run_id, thread_id))
        db.insert_artifacts(conn, artifact_rows(body.artifacts, run_id, thread_id))
        if tests:
            status_bytes, tests_bytes = batches.pack(tests, status_ids)
            batches_db.insert_batch(
                conn,
                run_id=run_id,
                thread_id=thread_id,
                project_id=project_id,
                source_id=source_id,
                status_ids=status_bytes,
                tests=tests_bytes,
                test_count=len(tests),
                created_at=now,
            )
    batches.AppendActivity.note()


def _why_not_open(conn: Connection, who: Principal, thread_id: int) -> ApiError:
    """The error for an append that changed nothing: 404, 403, or which object is completed."""
    thread = _open_thread(conn, who, thread_id)  # raises 404 / 403
    if thread["run_is_completed"]:
        return Unprocessable(
            f"Automation run {thread['run_id']} is completed and cannot receive results."
        )
    return _completed(thread_id)


def complete_thread(engine: Engine, who: Principal, thread_id: int, body: ThreadComplete) -> None:
    """Complete one thread; given elapsed values set (not add to) its totals."""
    with write_tx(engine) as conn:
        thread = _open_thread(conn, who, thread_id)
        if thread["is_completed"]:
            return
        extra: dict[str, int] = {}
        if body.elapsed_observed is not None:
            extra["elapsed_observed"] = body.elapsed_observed
        if body.elapsed_computed is not None:
            extra["elapsed_computed"] = body.elapsed_computed
        table = StatusTable.cached(conn)
        db.complete_threads(
            conn, db.threads.c.id == thread_id, table.failed_ids, utcnow(), who.user_id, **extra
        )
