"""Appended batches: stored as one row by the append, expanded into results off its path.

An append (services.threads) validates its batch and commits, in one transaction, the
thread's counters and one `automation_run_batches` row holding the batch's tests: a 204
means the batch is stored and survives a crash. Expansion turns pending batches into
results, fields and artifacts and updates the automation cases, then deletes the rows, all
in one transaction, so a batch is never half expanded. It runs:

- in the background, in every server process (BatchExpander), source by source, in transactions
  of about `chunk_tests` tests;
- before any read that needs a run's results (settle_run: its source) or a project's cases
  (settle_project), so every reader sees what was acknowledged before it asked;
- before health analysis folds a completed run in (services.health), which is how the
  health and the change summaries see every result.

Completing a thread or a run does not wait for its expansion: its status and counts come
from the counters, so a client's last call is as fast as its appends.

A source's batches are expanded in arrival (id) order, so its cases' counters follow the
order results came in, across runs; expansions of one source are ordered by the source's
row lock (PostgreSQL) or the write lock (SQLite), which also makes each result's position
in its run (`seq`) gap-free. Lock order: run, then thread, then source.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import msgspec
from sqlalchemy import Connection, Engine

from runhub.api.schemas import TestIn
from runhub.background import BackgroundThread
from runhub.db import batches as db
from runhub.db import ingest
from runhub.db import results as results_db
from runhub.db import runs as runs_db
from runhub.db.engine import read_tx, write_tx
from runhub.services.resources import artifact_rows, field_rows
from runhub.services.statuses import NEUTRAL, StatusTable

log = logging.getLogger("runhub.batches")
T = TypeVar("T")

CHUNK_TESTS = 5_000  # tests per expansion transaction (SQLite holds its write lock for it)
IDLE_S = 0.2  # the background stage starts once appends have paused this long
BACKLOG_TESTS = 500_000  # or once this many tests wait, pause or not
_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(list[TestIn])


def pack(tests: list[TestIn], status_ids: list[int]) -> tuple[bytes, bytes]:
    """A batch as stored: (one byte per status id, the tests as msgpack)."""
    return bytes(status_ids), _encoder.encode(tests)


def unpack(status_bytes: bytes, tests_bytes: bytes) -> tuple[list[TestIn], list[int]]:
    return _decoder.decode(tests_bytes), list(status_bytes)


def case_deltas(
    table: StatusTable, tests: list[TestIn], status_ids: list[int]
) -> list[ingest.CaseDelta]:
    """Aggregate tests (in arrival order) per key: what they add to each automation case."""
    deltas: dict[str, ingest.CaseDelta] = {}
    for test, status_id in zip(tests, status_ids, strict=True):
        delta = deltas.get(test.key)
        if delta is None:
            delta = deltas[test.key] = ingest.CaseDelta(test.key, test.name, test.folder)
        else:
            delta.name, delta.folder = test.name, test.folder
        delta.test_count += 1
        category = table.category(status_id)
        if status_id in table.passed_ids:
            delta.success_count += 1
        if status_id in table.failed_ids:
            delta.failure_count += 1
        if category != NEUTRAL:
            if delta.first_category == NEUTRAL:
                delta.first_category = category
            elif delta.last_category != category:
                delta.flaky_count += 1
            delta.last_category = category
        if test.elapsed is not None:
            delta.elapsed_sum += test.elapsed
            delta.elapsed_n += 1
        delta.last_status_id = status_id
    return list(deltas.values())


def expand_source(
    conn: Connection,
    source_id: int,
    *,
    max_tests: int | None = None,
    up_to_id: int | None = None,
    skip_locked: bool = False,
) -> int:
    """Expand the source's oldest pending batches (about `max_tests` tests, or all; none
    after id `up_to_id`) in the caller's write transaction, in arrival order; returns the
    number of tests expanded. With `skip_locked`, a source another transaction is
    expanding is left alone (0)."""
    if not db.lock_source(conn, source_id, skip_locked=skip_locked):
        return 0
    taken = db.take_batches(conn, source_id, max_tests, up_to_id)
    if not taken:
        return 0
    table = StatusTable.cached(conn)
    tests: list[TestIn] = []
    status_ids: list[int] = []
    origin: list[tuple[int, int, Any]] = []  # (run id, thread id, stamp) per test
    for batch in taken:
        batch_tests, batch_status_ids = unpack(batch["status_ids"], batch["tests"])
        tests += batch_tests
        status_ids += batch_status_ids
        stamp = ingest.stamp_param(conn, batch["created_at"])
        origin += [(batch["run_id"], batch["thread_id"], stamp)] * len(batch_tests)
    project_id, now = taken[0]["project_id"], taken[-1]["created_at"]
    _store_results(conn, project_id, source_id, table, tests, status_ids, origin, now)
    db.delete_batches(conn, [batch["id"] for batch in taken])
    return len(tests)


def _store_results(
    conn: Connection,
    project_id: int,
    source_id: int,
    table: StatusTable,
    tests: list[TestIn],
    status_ids: list[int],
    origin: list[tuple[int, int, Any]],
    now: datetime,
) -> None:
    """Cases, results (each at the next position of its run), their fields and artifacts."""
    deltas = case_deltas(table, tests, status_ids)
    case_ids = ingest.upsert_cases(conn, project_id, source_id, deltas, now)
    result_ids = ingest.allocate_result_ids(conn, len(tests))
    positions: dict[int, int] = {}
    results: list[tuple[Any, ...]] = []
    fields: list[tuple[Any, ...]] = []
    artifacts: list[tuple[Any, ...]] = []
    rows = zip(tests, status_ids, result_ids, origin, strict=True)
    for test, status_id, result_id, (run_id, thread_id, stamp) in rows:
        position = positions.get(run_id)
        if position is None:
            position = results_db.last_position(conn, run_id)
        positions[run_id] = position = position + 1
        results.append(
            (
                result_id,
                run_id,
                thread_id,
                case_ids[test.key],
                status_id,
                test.elapsed,
                test.file,
                test.line,
                test.assertions,
                stamp,
                position,
            )  # fmt: skip
        )
        if test.fields:
            fields.extend(field_rows(test.fields, run_id, thread_id, result_id))
        if test.artifacts:
            artifacts.extend(artifact_rows(test.artifacts, run_id, thread_id, result_id))
    ingest.insert_rows(conn, "automation_run_tests", ingest.RESULT_COLUMNS, results)
    runs_db.insert_fields(conn, fields)
    runs_db.insert_artifacts(conn, artifacts)


def expand_all_of_source(
    engine: Engine, source_id: int, chunk_tests: int = CHUNK_TESTS, *, background: bool = False
) -> int:
    """Expand every batch of the source that is pending now, a chunk per transaction (not
    the ones appended meanwhile: a client streaming into another run cannot hold it up)."""
    with read_tx(engine) as conn:
        up_to_id = db.newest_pending(conn, source_id)
    if up_to_id is None:
        return 0
    total = 0
    while True:
        with write_tx(engine, background=background) as conn:
            done = expand_source(conn, source_id, max_tests=chunk_tests, up_to_id=up_to_id)
        total += done
        if done == 0:
            return total


def settle_run(engine: Engine, run_id: int, *, background: bool = False) -> None:
    """Before reading a run's results: expand what was appended to its source and is not
    yet expanded (a cheap indexed probe when nothing is pending, the usual case)."""
    with read_tx(engine) as conn:
        source_id = db.source_with_pending(conn, run_id)
    if source_id is not None:
        expand_all_of_source(engine, source_id, background=background)


def read_settled(engine: Engine, run_id: int, read: Callable[[Connection], T]) -> T:
    """`read(conn)` in a read transaction that sees every acknowledged batch of the run
    expanded; when nothing is pending (the usual case) that costs one probe in the same
    transaction."""
    with read_tx(engine) as conn:
        source_id = db.source_with_pending(conn, run_id)
        if source_id is None:
            return read(conn)
    expand_all_of_source(engine, source_id)
    with read_tx(engine) as conn:
        return read(conn)


def settle_run_in(conn: Connection, run_id: int) -> None:
    """settle_run in the caller's write transaction (for a run that takes no appends)."""
    source_id = db.source_with_pending(conn, run_id)
    if source_id is not None:
        expand_source(conn, source_id)


def settle_project(engine: Engine, project_id: int) -> None:
    """Before reading a project's cases or history: expand the pending batches of its
    sources."""
    with read_tx(engine) as conn:
        source_ids = db.pending_sources(conn, project_id)
    for source_id in source_ids:
        expand_all_of_source(engine, source_id)


def settle_case(engine: Engine, case_id: int) -> None:
    """Before reading a case's results: settle its project (nothing for an unknown case)."""
    with read_tx(engine) as conn:
        project_id = db.project_of_case(conn, case_id)
    if project_id is not None:
        settle_project(engine, project_id)


def settle_result(engine: Engine, test_id: int) -> None:
    """Before reading a result's case history: expand what its source has pending."""
    with read_tx(engine) as conn:
        source_id = db.source_of_result(conn, test_id)
    if source_id is not None:
        expand_all_of_source(engine, source_id)


def expand_pending(
    engine: Engine, chunk_tests: int = CHUNK_TESTS, *, max_sources: int = 100
) -> int:
    """One pass of the background stage: a chunk of each source with pending batches,
    oldest first; sources another process is expanding are skipped. Returns the tests."""
    with read_tx(engine) as conn:
        source_ids = db.pending_sources(conn, limit=max_sources)
    total = 0
    for source_id in source_ids:
        with write_tx(engine, background=True) as conn:
            total += expand_source(conn, source_id, max_tests=chunk_tests, skip_locked=True)
    return total


def expand_everything(engine: Engine) -> int:
    """Pass after pass of expand_pending until nothing is left for this process to take
    (benchmarks, tests, tools); returns the tests expanded."""
    total = 0
    while done := expand_pending(engine):
        total += done
    return total


class AppendActivity:
    """When this process last stored a batch: the background stage waits for a pause in
    appends (or a long backlog) so that a burst of uploads is not slowed by expanding."""

    last_append_s = 0.0

    @classmethod
    def note(cls) -> None:
        cls.last_append_s = time.monotonic()

    @classmethod
    def idle_for(cls) -> float:
        return time.monotonic() - cls.last_append_s


class BatchExpander(BackgroundThread):
    """The background stage of one server process. Every `interval_s` (and at start, which
    is crash recovery) it expands whatever is pending, from any process, once appends to
    this process have paused for `idle_s` or more than `backlog_tests` tests wait."""

    thread_name = "batch-expansion"

    def __init__(
        self,
        engine: Engine,
        interval_s: float,
        chunk_tests: int = CHUNK_TESTS,
        idle_s: float = IDLE_S,
        backlog_tests: int = BACKLOG_TESTS,
    ) -> None:
        super().__init__()
        self.engine = engine
        self.interval_s = interval_s
        self.chunk_tests = chunk_tests
        self.idle_s = idle_s
        self.backlog_tests = backlog_tests

    def _due(self) -> bool:
        if AppendActivity.idle_for() >= self.idle_s:
            return True
        with read_tx(self.engine) as conn:
            return db.pending_count(conn)[1] > self.backlog_tests

    def _loop(self) -> None:
        while not self._stop.is_set():
            done = 0
            try:
                if self._due():
                    done = expand_pending(self.engine, self.chunk_tests)
            except Exception:  # retried on the next tick; the batches stay pending
                log.warning("batch expansion failed", exc_info=True)
            if done == 0:
                self._stop.wait(self.interval_s)
