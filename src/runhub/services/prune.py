"""Retention (README "Retention"): delete what each project's retention says has expired,
in transactions short enough never to hold up ingest, and give the disk back.

A pass (`prune`) has four steps, each a series of short transactions whose size adapts to
stay near BATCH_TARGET_MS:
1. expire: each project's completed (or abandoned) unpinned runs older than `run_days` are
   deleted with their small rows and queued; runs older than `passed_detail_days` are
   queued for the fields and artifacts of their passed results.
2. remove the queued rows: on PostgreSQL a partition whose rows are all expired is dropped
   and one that holds expired rows among kept ones is rewritten (db.partitions); what is
   queued in the newest (still filling) partition, and everything on SQLite, is deleted in
   batches of results.
3. failure groups no kept run refers to, and cases with no result left (and no quarantine
   entry), go.
4. SQLite: `PRAGMA incremental_vacuum` returns the freed pages to the file system, a few
   thousand pages a transaction (databases are created with auto_vacuum=INCREMENTAL).

One pass at a time across processes (`prune_lock`): a PostgreSQL advisory lock, or a file
lock beside the SQLite database.
"""

from __future__ import annotations

import fcntl
import functools
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from runhub.background import BackgroundThread
from runhub.db import partitions
from runhub.db import prune as sql
from runhub.db.engine import is_sqlite, read_tx, write_tx
from runhub.services.retention import retention_of_all_projects
from runhub.timeutil import utcnow

log = logging.getLogger("runhub.prune")

BATCH_TARGET_MS = 20.0
ADVISORY_LOCK_KEY = 0x72756E68_70727565 % (2**63)  # "runhpru"
VACUUM_PAGES_START = 256
QUEUED_RUNS_PER_TRANSACTION = 100
PAUSE_RATIO = 0.5  # after each transaction, rest this fraction of its time (ingest's turn)
LOCK_NOT_AVAILABLE = "55P03"
FIRST_PASS_AFTER_S = 60.0  # after a process starts (or RUNHUB_PRUNE_INTERVAL_S if shorter)

KEEP_RESULT = "NOT EXISTS (SELECT 1 FROM prune_queue q WHERE q.run_id = x.run_id AND q.kind = 1)"
KEEP_DETAIL = (
    KEEP_RESULT + " AND NOT (x.test_id IS NOT NULL AND EXISTS (SELECT 1 FROM prune_queue q"
    " WHERE q.run_id = x.run_id AND q.kind = 2) AND EXISTS (SELECT 1 FROM"
    " automation_run_tests t JOIN statuses s ON s.id = t.status_id WHERE t.id = x.test_id"
    " AND t.run_id = x.run_id AND s.is_passed))"
)
KEEP = {
    "automation_run_tests": KEEP_RESULT,
    "automation_fields": KEEP_DETAIL,
    "automation_artifacts": KEEP_DETAIL,
}


@dataclass
class PruneReport:
    runs_deleted: int = 0
    runs_with_details_pruned: int = 0
    results_deleted: int = 0
    partitions_dropped: int = 0
    partitions_rewritten: int = 0
    groups_deleted: int = 0
    cases_deleted: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    elapsed_s: float = 0.0
    longest_transaction_ms: float = 0.0
    longest_step: str = ""
    transactions: int = 0
    deferred: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [
            f"runs deleted: {self.runs_deleted}",
            f"runs whose passed results' fields and artifacts were removed: "
            f"{self.runs_with_details_pruned}",
            f"results deleted in batches: {self.results_deleted}",
            f"partitions dropped: {self.partitions_dropped}, rewritten: "
            f"{self.partitions_rewritten}",
            f"failure groups deleted: {self.groups_deleted}, cases deleted: {self.cases_deleted}",
            f"database size: {self.bytes_before:,} -> {self.bytes_after:,} bytes",
            f"took {self.elapsed_s:.2f} s in {self.transactions} transactions "
            f"(longest {self.longest_transaction_ms:.1f} ms: {self.longest_step or '-'})",
            *(f"deferred to the next pass: {reason}" for reason in self.deferred),
        ]


class _Batches:
    """Runs `step(size)` in write transactions until it reports nothing left, adapting the
    size so that each transaction takes about BATCH_TARGET_MS, and resting between them so
    that request handlers get the database and the CPU."""

    def __init__(self, engine: Engine, report: PruneReport) -> None:
        self.engine = engine
        self.report = report
        self.elapsed_ms = 0.0  # the last transaction's

    @contextmanager
    def transaction(self, name: str) -> Iterator[Any]:
        """A write transaction, timed (in the report) from when it holds the write lock."""
        with write_tx(self.engine, background=True) as conn:
            started = time.perf_counter()
            yield conn
        self.elapsed_ms = (time.perf_counter() - started) * 1000
        self.report.transactions += 1
        if self.elapsed_ms > self.report.longest_transaction_ms:
            self.report.longest_transaction_ms, self.report.longest_step = self.elapsed_ms, name

    def run(self, name: str, step: Callable[[Any, int], int], size: int, most: int) -> int:
        total = 0
        while True:
            with self.transaction(name) as conn:
                done = step(conn, size)
            elapsed_ms = self.elapsed_ms
            total += max(done, 0)
            if done <= 0:
                return total
            time.sleep(elapsed_ms * PAUSE_RATIO / 1000)
            if elapsed_ms < BATCH_TARGET_MS / 2:
                size = min(most, size + max(1, size // 2))
            elif elapsed_ms > BATCH_TARGET_MS:
                size = max(1, int(size * BATCH_TARGET_MS / elapsed_ms))


def _expire_runs(project_id: int, cutoff: datetime, now: datetime, conn: Any, size: int) -> int:
    ids = sql.expired_run_ids(conn, project_id, cutoff, size)
    sql.delete_runs(conn, project_id, ids, now)
    return len(ids)


def _expire_details(project_id: int, cutoff: datetime, now: datetime, conn: Any, size: int) -> int:
    ids = sql.details_due_run_ids(conn, project_id, cutoff, size)
    sql.queue_details(conn, project_id, ids, now)
    return len(ids)


def _expire(engine: Engine, now: datetime, batches: _Batches, report: PruneReport) -> None:
    with read_tx(engine) as conn:
        settings = retention_of_all_projects(conn)
    for retention in settings:
        pid = retention.project_id
        if retention.run_days is not None:
            cutoff = sql.cutoff(now, retention.run_days)
            step = functools.partial(_expire_runs, pid, cutoff, now)
            report.runs_deleted += batches.run("expire runs", step, 10, 500)
        if retention.passed_detail_days is not None:
            cutoff = sql.cutoff(now, retention.passed_detail_days)
            step = functools.partial(_expire_details, pid, cutoff, now)
            report.runs_with_details_pruned += batches.run("queue passed details", step, 50, 2_000)


def _lock_not_available(exc: DBAPIError) -> bool:
    return getattr(exc.orig, "sqlstate", None) == LOCK_NOT_AVAILABLE


def _batches_pending(engine: Engine, lo: int | None, hi: int) -> bool:
    """Whether a kept run of [lo, hi) still has appended batches to expand (their results
    would land in the partition after the check)."""
    with read_tx(engine) as conn:
        return sql.batches_between(conn, lo, hi) > 0


def _remove_partitions(engine: Engine, batches: _Batches, report: PruneReport) -> None:
    """Drop or rewrite the closed partitions holding queued runs (what is queued in the
    newest partitions is left to the batched deletes)."""
    with read_tx(engine) as conn:
        newest = partitions.newest_run_id(conn)
        layout = {t: partitions.list_partitions(conn, t) for t in partitions.PARTITIONED_TABLES}
    # Closed: the newest run's id is past the range, so no new run's rows go there.
    closed = [p for p in layout["automation_run_tests"] if p.hi is not None and p.hi <= newest]
    for part in closed:
        assert part.hi is not None
        with read_tx(engine) as conn:
            entries = sql.queued_between(conn, part.lo, part.hi)
        if not entries:
            continue
        if _batches_pending(engine, part.lo, part.hi):
            report.deferred.append(f"partition {part.name}: appended batches not yet expanded")
            continue
        with read_tx(engine) as conn:
            # No run left in the range: every row there is expired (no scan needed). No
            # run can join a closed range, so a range with none stays so.
            live = sql.runs_between(conn, part.lo, part.hi) > 0
        try:
            # A transaction per table (each holds its parent's lock only for its own swap),
            # the results' last: a pass cut short redoes the range (the queue still lists it).
            for table in reversed(partitions.PARTITIONED_TABLES):
                same = next((p for p in layout[table] if (p.lo, p.hi) == (part.lo, part.hi)), None)
                if same is None:
                    continue
                with batches.transaction(f"{'rewrite' if live else 'drop'} partition") as conn:
                    if live:
                        partitions.rewrite_partition(conn, table, same, KEEP[table])
                        report.partitions_rewritten += 1
                    else:
                        partitions.drop_partition(conn, table, same)
                        report.partitions_dropped += 1
            with batches.transaction("forget queued runs") as conn:
                sql.forget_queued(conn, [e["run_id"] for e in entries])
        except DBAPIError as exc:
            if not _lock_not_available(exc):
                raise
            report.deferred.append(f"partition {part.name}: a lock was busy")


def _remove_queued(batches: _Batches, report: PruneReport) -> None:
    def step(conn: Any, size: int) -> int:
        """Up to `size` results' worth of queued rows, from as many queued runs as that
        takes (a run of a few results costs a transaction no more than a big one).
        Returns the work done: results, and each queued run finished with none left."""
        work = 0
        for entry in sql.queued(conn, QUEUED_RUNS_PER_TRANSACTION):
            results = sql.delete_queued_rows(conn, entry, size - work)
            report.results_deleted += results if entry["kind"] == sql.KIND_RUN else 0
            work += max(1, results)
            if work >= size:
                break
        return work

    batches.run("delete queued rows", step, 500, 20_000)


def _delete_orphan_groups(project_id: int, conn: Any, size: int) -> int:
    ids = sql.orphan_groups(conn, project_id, size)
    if ids:
        sql.delete_groups(conn, ids)
    return len(ids)


class _CaseSweep:
    """Walks a project's cases in windows of `size` ids, deleting those with no result
    left."""

    def __init__(self, project_id: int, before: datetime, last_id: int) -> None:
        self.project_id = project_id
        self.before = before
        self.last_id = last_id  # the newest case when the pass began: the walk ends there
        self.after_id = 0
        self.deleted = 0

    def __call__(self, conn: Any, size: int) -> int:
        if self.after_id >= self.last_id:
            return 0
        up_to_id = min(self.after_id + size, self.last_id)
        gone = sql.resultless_cases(conn, self.project_id, self.after_id, up_to_id, self.before)
        if gone:
            sql.delete_cases(conn, gone)
            self.deleted += len(gone)
        walked, self.after_id = up_to_id - self.after_id, up_to_id
        return walked


def _tidy(engine: Engine, now: datetime, batches: _Batches, report: PruneReport) -> None:
    with read_tx(engine) as conn:
        settings = retention_of_all_projects(conn)
    for retention in settings:
        if retention.run_days is None:
            continue  # only passed details go: no result, hence no case or group, does
        step = functools.partial(_delete_orphan_groups, retention.project_id)
        report.groups_deleted += batches.run("failure groups", step, 200, 5_000)
        with read_tx(engine) as conn:
            last_id = sql.newest_case_id(conn, retention.project_id)
        cutoff = sql.cutoff(now, retention.run_days)
        sweep = _CaseSweep(retention.project_id, cutoff, last_id)
        batches.run("cases", sweep, 500, 20_000)
        report.cases_deleted += sweep.deleted


def _sqlite_vacuum(batches: _Batches) -> None:
    def step(conn: Any, size: int) -> int:
        if sql.sqlite_auto_vacuum(conn) != 2:
            return 0
        free, _ = sql.sqlite_free_pages(conn)
        if free == 0:
            return 0
        sql.sqlite_incremental_vacuum(conn, size)
        return min(free, size)

    batches.run("incremental vacuum", step, VACUUM_PAGES_START, 100_000)


def database_bytes(engine: Engine) -> int:
    with read_tx(engine) as conn:
        if is_sqlite(engine):
            pages = conn.exec_driver_sql("PRAGMA page_count").scalar_one()
            _, size = sql.sqlite_free_pages(conn)
            return int(pages) * size
        return int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one())


def prune(engine: Engine, now: datetime | None = None) -> PruneReport:
    """One retention pass (the caller holds `prune_lock`)."""
    now = now or utcnow()
    started = time.perf_counter()
    report = PruneReport(bytes_before=database_bytes(engine))
    batches = _Batches(engine, report)
    _expire(engine, now, batches, report)
    if not is_sqlite(engine):
        _remove_partitions(engine, batches, report)
    _remove_queued(batches, report)
    _tidy(engine, now, batches, report)
    if is_sqlite(engine):
        _sqlite_vacuum(batches)
    report.bytes_after = database_bytes(engine)
    report.elapsed_s = time.perf_counter() - started
    return report


def plan(engine: Engine, now: datetime | None = None) -> list[dict[str, Any]]:
    """What a pass would delete now, per project with a retention (for --dry-run)."""
    now = now or utcnow()
    found = []
    with read_tx(engine) as conn:
        for retention in retention_of_all_projects(conn):
            item: dict[str, Any] = {
                "project_id": retention.project_id,
                "run_days": retention.run_days,
                "passed_detail_days": retention.passed_detail_days,
            }
            runs_cutoff = None
            if retention.run_days is not None:
                runs_cutoff = sql.cutoff(now, retention.run_days)
                item.update(sql.count_expired(conn, retention.project_id, runs_cutoff))
            if retention.passed_detail_days is not None:
                cutoff = sql.cutoff(now, retention.passed_detail_days)
                item.update(sql.count_details_due(conn, retention.project_id, cutoff, runs_cutoff))
            found.append(item)
        item = {"queued_runs": sql.pending_work(conn)}
    return [*found, item]


@contextmanager
def prune_lock(engine: Engine) -> Iterator[bool]:
    """Whether this process may prune now (at most one pass at a time across processes)."""
    if is_sqlite(engine):
        database = engine.url.database or ""
        if not database or database == ":memory:":
            yield True
            return
        fd = os.open(f"{database}-prune.lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)
        return
    with engine.connect() as conn:
        got = bool(
            conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_LOCK_KEY}).scalar()
        )
        conn.commit()
        try:
            yield got
        finally:
            if got:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK_KEY})
                conn.commit()


def maintain_partitions(engine: Engine) -> list[str]:
    """Create the partitions ahead of the newest run (PostgreSQL; nothing on SQLite)."""
    if is_sqlite(engine):
        return []
    try:
        with write_tx(engine, background=True) as conn:
            return partitions.ensure_ahead(conn)
    except DBAPIError as exc:
        if not _lock_not_available(exc):
            raise
        log.info("partition maintenance deferred: a lock was busy")
        return []


class RetentionPruner(BackgroundThread):
    """In every `runhub serve` process: keeps partitions ahead every PARTITION_INTERVAL_S
    and runs a retention pass every `interval_s` (whichever process gets the lock)."""

    thread_name = "retention"

    def __init__(self, engine: Engine, interval_s: float, partition_interval_s: float) -> None:
        super().__init__()
        self.engine = engine
        self.interval_s = interval_s
        self.partition_interval_s = partition_interval_s

    def _loop(self) -> None:
        next_prune = time.monotonic() + min(self.interval_s, FIRST_PASS_AFTER_S)
        tick_s = min(self.interval_s, self.partition_interval_s)
        while True:
            try:
                maintain_partitions(self.engine)
                if time.monotonic() >= next_prune:
                    next_prune = time.monotonic() + self.interval_s
                    with prune_lock(self.engine) as mine:
                        if mine:
                            report = prune(self.engine)
                            if report.runs_deleted or report.runs_with_details_pruned:
                                log.info("retention pass: %s", "; ".join(report.lines()))
            except Exception:  # retried on the next tick
                log.warning("retention pass failed", exc_info=True)
            if self._stop.wait(tick_s):
                return
