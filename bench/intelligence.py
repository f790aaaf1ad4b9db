"""Test intelligence at scale on a real `runhub serve` (prints numbers).

Per backend (SQLite, then PostgreSQL), on a fresh database with one source of --cases
cases (default 20,000, in 300 folders) and --runs completed runs of all of them (default
200, so 4,000,000 results; main and feature branches, some runs sharing a commit, ~2% flaky
cases, ~0.5% broken for the last 10 runs, a few retries), bulk-inserted straight into the
database:
  1. analysis: every run queued, then folded into case health one run at a time with the
     real `analyze_pending` (timed per run);
  2. reads: health list, changes and history over HTTP (keep-alive, the bootstrap token),
     next to the same calls in-process (service function, and the SQL of runhub.db.analytics
     alone);
  3. completion -> health current: runs of --cases tests submitted over HTTP to a server
     with the background analysis on (RUNHUB_ANALYSIS_INTERVAL_S=1), timed from the
     completion's answer until the analysis queue is empty.
See bench/README.md. Usage: .venv/bin/python bench/intelligence.py [--cases N] [--runs N]
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import random
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Engine, func, insert, select, update

from runhub.db import analytics
from runhub.db import ingest as ingest_db
from runhub.db.engine import is_sqlite, make_engine, write_tx
from runhub.db.schema import (
    analysis_queue,
    automation_case_health,
    automation_cases,
    automation_run_threads,
    automation_runs,
    automation_sources,
)
from runhub.services import admin, changes, health
from runhub.services.access import Principal
from runhub.services.outcomes import STATES, HealthRules
from runhub.services.paging import PageRequest
from runhub.timeutil import utcnow

sys.path.insert(0, str(Path(__file__).parent))
from ingest import new_database, start_server  # noqa: E402

PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
SOURCE = "backend"
FOLDERS = 300
PASSED, FAILED = 1, 2  # default status ids
TARGET_P95_MS = {"health": 100.0, "changes": 200.0, "history": 50.0}
TARGET_CURRENT_S = 5.0
ADMIN = Principal(user_id=1, name="Administrator", role="admin")


# --- the designed history ---------------------------------------------------------------------


@dataclass
class History:
    """Who the cases are, what each run is (branch, commit) and every result's status."""

    keys: list[str]
    names: list[str]
    folders: list[str]
    kinds: list[str]  # healthy, flaky, broken
    branches: list[str]
    commits: list[str]
    flaky_p: dict[int, float] = field(default_factory=dict)
    lone_retry: dict[int, int] = field(default_factory=dict)  # healthy case -> its one retry
    seed: int = 0

    @property
    def cases(self) -> int:
        return len(self.keys)

    def statuses(self, run: int) -> list[list[int]]:
        """Each case's statuses in run `run` (in order; a retry is failed, then passed)."""
        rnd = random.Random(self.seed * 1_000_003 + run)
        broken_from = len(self.branches) - 10
        out: list[list[int]] = []
        for case, kind in enumerate(self.kinds):
            if kind == "flaky" and rnd.random() < self.flaky_p[case]:
                out.append([FAILED, PASSED] if rnd.random() < 0.3 else [FAILED])
            elif kind == "broken" and run >= broken_from:
                out.append([FAILED])
            elif self.lone_retry.get(case) == run:
                out.append([FAILED, PASSED])
            else:
                out.append([PASSED])
        return out


def design(cases: int, runs: int, seed: int = 10) -> History:
    rnd = random.Random(seed)
    keys, names, folders, kinds = [], [], [], []
    for i in range(cases):
        f = rnd.randrange(FOLDERS)
        folder, name = f"com.example.module{f // 10}.Foo{f}Test", f"shouldHandleCase{i}"
        folders.append(folder)
        names.append(name)
        keys.append(hashlib.sha256(f"{folder}.{name}".encode()).hexdigest())
        roll = rnd.random()
        kinds.append("flaky" if roll < 0.02 else "broken" if roll < 0.025 else "healthy")
    history = History(keys, names, folders, kinds, [], [], seed=seed)
    history.flaky_p = {c: rnd.uniform(0.15, 0.5) for c, k in enumerate(kinds) if k == "flaky"}
    healthy = [c for c, k in enumerate(kinds) if k == "healthy"]
    for case in rnd.sample(healthy, min(len(healthy), max(1, cases // 1000))):
        history.lone_retry[case] = rnd.randrange(runs)
    extend_runs(history, runs, rnd)
    return history


def extend_runs(history: History, count: int, rnd: random.Random | None = None) -> None:
    """`count` more runs: ~60% on main (each a new commit, ~15% re-runs of the last main
    commit), the rest on up to 3 open feature branches of 3-8 runs each (~20% re-runs)."""
    rnd = rnd or random.Random(history.seed + len(history.branches))
    last: dict[str, str] = {}
    for branch, commit in zip(history.branches, history.commits, strict=True):
        last[branch] = commit
    open_features: dict[str, int] = {
        b: 3 for b in dict.fromkeys(history.branches[-20:]) if b != "main"
    }
    for _ in range(count):
        n = len(history.branches)
        if rnd.random() < 0.6 or not (open_features or rnd.random() < 0.5):
            branch = "main"
        else:
            if len(open_features) < 3 and (not open_features or rnd.random() < 0.3):
                open_features[f"feature/ticket-{1000 + n}"] = rnd.randint(3, 8)
            branch = rnd.choice(sorted(open_features))
            open_features[branch] -= 1
            if open_features[branch] <= 0:
                del open_features[branch]
        rerun = branch in last and rnd.random() < (0.15 if branch == "main" else 0.2)
        commit = last[branch] if rerun else hashlib.sha1(f"commit {n}".encode()).hexdigest()
        last[branch] = commit
        history.branches.append(branch)
        history.commits.append(commit)


# --- bulk insert ------------------------------------------------------------------------------


def seed_database(url: str, project_id: int, history: History) -> tuple[int, list[int], list[int]]:
    """The source, its cases and completed runs (one thread each) with all their results,
    straight into the database (result ids from ingest.allocate_result_ids, rows by
    ingest.insert_rows: COPY on PostgreSQL). Returns (source id, case ids, run ids)."""
    engine = make_engine(url)
    if is_sqlite(engine):
        with engine.connect() as conn:  # a big page cache for the bulk insert only
            conn.exec_driver_sql("PRAGMA cache_size=-1048576")
            conn.commit()
    runs = len(history.branches)
    start = utcnow() - timedelta(minutes=30 * (runs + 1))
    try:
        with write_tx(engine) as conn:
            source_id = conn.execute(
                insert(automation_sources)
                .values(project_id=project_id, name=SOURCE, created_at=start, created_by=1)
                .returning(automation_sources.c.id)
            ).scalar_one()
            case_ids = _insert_cases(conn, project_id, source_id, history, start)
            run_ids = _insert_runs(conn, project_id, source_id, history, start)
        t0, total = time.perf_counter(), 0
        step = max(1, runs // 10)
        for first in range(0, runs, step):
            with write_tx(engine) as conn:
                for run in range(first, min(runs, first + step)):
                    total += _insert_results(conn, run_ids[run], case_ids, history, run, start)
            done = min(runs, first + step)
            rate = total / (time.perf_counter() - t0)
            print(f"    {done}/{runs} runs, {total:,} results ({rate:,.0f}/s)", flush=True)
        with write_tx(engine) as conn:
            conn.execute(
                update(automation_sources)
                .where(automation_sources.c.id == source_id)
                .values(
                    run_count=runs,
                    completed_run_count=runs,
                    test_count_sum=total,
                    status=3,
                    ran_at=start + timedelta(minutes=30 * runs),
                )
            )
        return source_id, case_ids, run_ids
    finally:
        engine.dispose()


def _insert_cases(
    conn: Any, project_id: int, source_id: int, history: History, now: datetime
) -> list[int]:
    """Cases with the aggregates the append path would have left (counts, flips, last)."""
    tally = [[0, 0, 0, 0] for _ in range(history.cases)]  # tests, passed, failed, flips
    last = [0] * history.cases
    for run in range(len(history.branches)):
        for case, statuses in enumerate(history.statuses(run)):
            t = tally[case]
            for status in statuses:
                t[0] += 1
                t[1 if status == PASSED else 2] += 1
                t[3] += last[case] != 0 and last[case] != status
                last[case] = status
    rows = []
    for case in range(history.cases):
        tests, passed, failed, flips = tally[case]
        category = 2 if last[case] == PASSED else 3
        rows.append(
            {
                "project_id": project_id,
                "source_id": source_id,
                "key": history.keys[case],
                "name": history.names[case],
                "folder": history.folders[case],
                "test_count": tests,
                "success_count": passed,
                "failure_count": failed,
                "flaky_count": flips,
                "elapsed_sum": tests * 1500,
                "elapsed_n": tests,
                "first_category": 2,
                "last_category": category,
                "last_status_id": last[case],
                "created_at": now,
                "updated_at": now,
            }
        )
    stmt = insert(automation_cases).returning(automation_cases.c.id, sort_by_parameter_order=True)
    return list(conn.execute(stmt, rows).scalars())


def _insert_runs(
    conn: Any, project_id: int, source_id: int, history: History, start: datetime
) -> list[int]:
    rows = []
    for run, (branch, commit) in enumerate(zip(history.branches, history.commits, strict=True)):
        created = start + timedelta(minutes=30 * run)
        rows.append(
            {
                "project_id": project_id,
                "source_id": source_id,
                "name": f"CI {branch} #{run + 1}",
                "status": 3,
                "elapsed": 600_000_000,
                "is_completed": True,
                "created_at": created,
                "created_by": 1,
                "completed_at": created + timedelta(minutes=10),
                "completed_by": 1,
                "vcs_commit": commit,
                "vcs_branch": branch,
            }
        )
    stmt = insert(automation_runs).returning(automation_runs.c.id, sort_by_parameter_order=True)
    return list(conn.execute(stmt, rows).scalars())


def _insert_results(
    conn: Any, run_id: int, case_ids: list[int], history: History, run: int, start: datetime
) -> int:
    created = start + timedelta(minutes=30 * run)
    statuses = history.statuses(run)
    n = sum(map(len, statuses))
    counts = Counter(s for group in statuses for s in group)
    thread = {f"status{s}_count": c for s, c in counts.items()}
    thread_id = conn.execute(
        insert(automation_run_threads)
        .values(
            run_id=run_id,
            index=1,
            status=3 if counts[FAILED] else 2,
            is_completed=True,
            elapsed_computed=n * 1500,
            created_at=created,
            created_by=1,
            completed_at=created + timedelta(minutes=10),
            completed_by=1,
            **thread,
        )  # fmt: skip
        .returning(automation_run_threads.c.id)
    ).scalar_one()
    ids = iter(ingest_db.allocate_result_ids(conn, n))
    stamp = ingest_db.time_param(conn, created + timedelta(minutes=5))
    rows = [
        (next(ids), run_id, thread_id, case_ids[case], status, 1500, None, None, None, stamp)
        for case, group in enumerate(statuses)
        for status in group
    ]
    ingest_db.insert_rows(conn, "automation_run_tests", ingest_db.RESULT_COLUMNS, rows)
    return n


# --- timing helpers ---------------------------------------------------------------------------


class SqlClock:
    """Time spent inside runhub.db.analytics (the SQL and its row fetching), per call of
    the code under test: every public function of the module is wrapped while active."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.by_name: Counter[str] = Counter()
        self._depth = 0

    @contextmanager
    def active(self) -> Iterator[SqlClock]:
        originals = {
            name: fn
            for name, fn in vars(analytics).items()
            if callable(fn) and not name.startswith("_")
            and getattr(fn, "__module__", None) == analytics.__name__
        }  # fmt: skip
        for name, fn in originals.items():
            setattr(analytics, name, self._wrap(name, fn))
        try:
            yield self
        finally:
            for name, fn in originals.items():
                setattr(analytics, name, fn)

    def _wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            if self._depth:
                return fn(*args, **kwargs)
            self._depth += 1
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - t0
                self.seconds += elapsed
                self.by_name[name] += elapsed
                self._depth -= 1

        return timed

    def reset(self) -> None:
        self.seconds = 0.0
        self.by_name.clear()


def summary(samples: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {
        "p50": statistics.median(samples),
        "p95": cuts[94],
        "min": min(samples),
        "max": max(samples),
    }


class Http:
    """One keep-alive HTTP/1.1 connection with the bootstrap token."""

    def __init__(self, port: int, token: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def raw(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        self.conn.request(method, "/api/v1" + path, body, self.headers)
        response = self.conn.getresponse()
        return response.status, response.read()

    def call(self, method: str, path: str, payload: Any = None, ok: int = 200) -> Any:
        body = json.dumps(payload).encode() if payload is not None else None
        status, data = self.raw(method, path, body)
        if status != ok:
            raise SystemExit(f"{method} {path}: HTTP {status} {data[:500]!r}")
        return json.loads(data) if data else None


@dataclass
class Read:
    """One kind of request: its endpoint group, label, and per sample the HTTP path and
    the same call in-process."""

    group: str
    label: str
    samples: list[tuple[str, Callable[[Engine], Any]]]


def time_http(client: Http, read: Read, warmup: int = 10) -> dict[str, float]:
    client.conn.close()  # a new connection (the server drops one idle for 5 s); warmed up
    for path, _ in read.samples[:warmup]:
        client.call("GET", path)
    times = []
    for path, _ in read.samples:
        t0 = time.perf_counter()
        status, data = client.raw("GET", path)
        times.append((time.perf_counter() - t0) * 1000)
        if status != 200:
            raise SystemExit(f"GET {path}: HTTP {status} {data[:300]!r}")
    return summary(times)


def time_inprocess(engine: Engine, read: Read, warmup: int = 10) -> tuple[dict, dict]:
    """The service function (what the handler calls, without HTTP and JSON), and of it the
    time inside runhub.db.analytics."""
    for _, call in read.samples[:warmup]:
        call(engine)
    clock, total, sql = SqlClock(), [], []
    with clock.active():
        for _, call in read.samples:
            clock.reset()
            t0 = time.perf_counter()
            call(engine)
            total.append((time.perf_counter() - t0) * 1000)
            sql.append(clock.seconds * 1000)
    return summary(total), summary(sql)


# --- the requests -----------------------------------------------------------------------------


def health_reads(
    client: Http, project_id: int, source_id: int, n: int, rnd: random.Random
) -> list[Read]:
    base = f"/projects/{project_id}/automation/cases/health"

    def last_page(**params: Any) -> int:
        query = urlencode({**params, "per_page": 100})
        return int(client.call("GET", f"{base}?{query}")["last_page"])

    variants = [
        ("health, all branches, random page", {}),
        ("health, state=flaky", {"state": "flaky"}),
        ("health, branch=main, random page", {"branch": "main"}),
        (
            "health, source_id, state=flaky,broken",
            {"source_id": source_id, "state": "flaky,broken"},
        ),
    ]
    reads = []
    for label, params in variants:
        pages = last_page(**params)
        samples = []
        for _ in range(n):
            page = rnd.randint(1, pages)
            path = f"{base}?{urlencode({**params, 'per_page': 100, 'page': page})}"
            states = params["state"].split(",") if "state" in params else None
            call = _health_call(
                project_id, page, states, params.get("source_id"), params.get("branch")
            )
            samples.append((path, call))
        reads.append(Read("health", f"{label} ({pages} pages)", samples))
    return reads


def _health_call(
    project_id: int, page: int, states: list[str] | None, source_id: int | None, branch: str | None
) -> Callable[[Engine], Any]:
    return lambda engine: health.list_health(
        engine, ADMIN, project_id, PageRequest(page, 100),
        states=states, source_ids=[source_id] if source_id else None, branch=branch,
    )  # fmt: skip


def changes_reads(run_ids: list[int], n: int, rnd: random.Random) -> list[Read]:
    recent = run_ids[-50:]
    reads = []
    for label, buckets in (
        ("changes, default base, recent run", None),
        ("changes, bucket=new_failure,fixed", ["new_failure", "fixed"]),
    ):
        samples = []
        for _ in range(n):
            run_id = rnd.choice(recent)
            query = {"per_page": 100, **({"bucket": ",".join(buckets)} if buckets else {})}
            samples.append(
                (
                    f"/automation/runs/{run_id}/changes?{urlencode(query)}",
                    _changes_call(run_id, buckets),
                )
            )
        reads.append(Read("changes", label, samples))
    return reads


def _changes_call(run_id: int, buckets: list[str] | None) -> Callable[[Engine], Any]:
    return lambda engine: changes.changes(
        engine, ADMIN, run_id, PageRequest(1, 100), base_id=None, buckets=buckets
    )


def history_reads(case_ids: list[int], runs: int, n: int, rnd: random.Random) -> list[Read]:
    reads = []
    for label, branch in (("history, random case", None), ("history, branch=main", "main")):
        samples = []
        for _ in range(n):
            case_id = rnd.choice(case_ids)
            page = rnd.randint(1, max(1, -(-runs // 100))) if branch is None else 1
            query = {"per_page": 100, "page": page, **({"branch": branch} if branch else {})}
            samples.append(
                (
                    f"/automation/cases/{case_id}/history?{urlencode(query)}",
                    _history_call(case_id, page, branch),
                )
            )
        reads.append(Read("history", label, samples))
    return reads


def _history_call(case_id: int, page: int, branch: str | None) -> Callable[[Engine], Any]:
    return lambda engine: changes.history(
        engine, ADMIN, case_id, PageRequest(page, 100), branch=branch, config_ids=None
    )


def autovacuum_on(engine: Engine) -> bool:
    with engine.connect() as conn:
        return conn.exec_driver_sql("SHOW autovacuum").scalar() == "on"


def vacuum_analyze(engine: Engine, table: str = "") -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f"VACUUM ANALYZE {table}")


# --- the analysis -----------------------------------------------------------------------------


def time_analysis(
    url: str, run_ids: list[int], rules: HealthRules, vacuum_every: int
) -> dict[str, Any]:
    """Queue every run, then fold them in one at a time with analyze_pending (as the
    background analysis does), timing each and the SQL in it. PostgreSQL without
    autovacuum: VACUUM ANALYZE of the health table every `vacuum_every` runs, off the
    clock, as autovacuum would do it (0: never)."""
    engine = make_engine(url)
    vacuum = not is_sqlite(engine) and vacuum_every > 0 and not autovacuum_on(engine)
    try:
        with write_tx(engine) as conn:
            now = utcnow()
            conn.execute(insert(analysis_queue), [{"run_id": r, "queued_at": now} for r in run_ids])
        clock, seconds, sql = SqlClock(), [], []
        with clock.active():
            for i in range(len(run_ids)):
                clock.reset()
                t0 = time.perf_counter()
                if health.analyze_pending(engine, rules, max_runs=1) != 1:
                    raise SystemExit("analysis: the queue ran dry early")
                seconds.append(time.perf_counter() - t0)
                sql.append(clock.seconds)
                if vacuum and (i + 1) % vacuum_every == 0:
                    vacuum_analyze(engine, "automation_case_health")
                if (i + 1) % max(1, len(run_ids) // 10) == 0:
                    print(
                        f"    {i + 1}/{len(run_ids)} runs analysed, last {seconds[-1]:.2f} s"
                        f" (SQL {sql[-1]:.2f} s: "
                        + ", ".join(f"{k} {v:.2f}" for k, v in clock.by_name.most_common(4))
                        + ")",
                        flush=True,
                    )
        with engine.connect() as conn:
            rows = conn.execute(select(func.count()).select_from(automation_case_health)).scalar()
            states = dict(
                conn.execute(
                    select(automation_case_health.c.state, func.count())
                    .where(automation_case_health.c.branch == "")
                    .group_by(automation_case_health.c.state)
                ).all()
            )
        steady = seconds[rules.window :] or seconds
        return {
            "all": summary(seconds),
            "steady": summary(steady),
            "steady_sql": summary(sql[rules.window :] or sql),
            "health_rows": rows,
            "states": states,
        }
    finally:
        engine.dispose()


def time_current(
    client: Http, url: str, project_id: int, history: History, count: int
) -> dict[str, Any]:
    """Submit `count` more runs of every case over HTTP (branch main, the designed
    statuses) to a server with the background analysis on; per run, the seconds from the
    completion's answer until its analysis is committed (the queue is empty), and the
    longest 250-test append to another open run while that analysis ran."""
    engine = make_engine(url)
    first = len(history.branches)
    extend_runs(history, count)
    waits, stalls, submit_s = [], [], []
    try:
        side = {"name": "side run", "source": "side"}
        other = client.call("POST", f"/projects/{project_id}/automation/runs", side, 201)["id"]
        side_thread = client.call("POST", f"/automation/runs/{other}/threads", {}, 201)["id"]
        side_tests = [
            {"key": hashlib.sha256(f"side {i}".encode()).hexdigest(), "name": f"side{i}",
             "folder": "side", "status": "passed", "elapsed": 1000}
            for i in range(250)
        ]  # fmt: skip
        side_body = json.dumps({"tests": side_tests}).encode()
        for run in range(first, first + count):
            branch, commit = "main", history.commits[run]
            history.branches[run] = branch
            fields = [
                {"type": 1, "name": "Branch", "value": branch},
                {"type": 1, "name": "Commit", "value": commit},
            ]
            t0 = time.perf_counter()
            run_id = client.call(
                "POST", f"/projects/{project_id}/automation/runs",
                {"name": f"CI main #{run + 1}", "source": SOURCE, "fields": fields}, 201,
            )["id"]  # fmt: skip
            thread_id = client.call("POST", f"/automation/runs/{run_id}/threads", {}, 201)["id"]
            tests = [
                {"key": history.keys[c], "name": history.names[c], "folder": history.folders[c],
                 "status": "passed" if s == PASSED else "failed", "elapsed": 1500}
                for c, group in enumerate(history.statuses(run)) for s in group
            ]  # fmt: skip
            for start in range(0, len(tests), 2500):
                body = {"tests": tests[start : start + 2500]}
                client.call("POST", f"/automation/runs/threads/{thread_id}/append", body, 204)
            client.call("POST", f"/automation/runs/{run_id}/complete", {}, 204)
            done = time.perf_counter()
            submit_s.append(done - t0)
            longest = 0.0
            while True:
                with engine.connect() as conn:
                    if analytics.queued_count(conn) == 0:
                        break
                a0 = time.perf_counter()
                status, data = client.raw(
                    "POST", f"/automation/runs/threads/{side_thread}/append", side_body
                )
                if status != 204:
                    raise SystemExit(f"side append: HTTP {status} {data[:300]!r}")
                longest = max(longest, time.perf_counter() - a0)
                time.sleep(0.02)
            waits.append(time.perf_counter() - done)
            stalls.append(longest)
            print(
                f"    run {run + 1}: submitted in {submit_s[-1]:.1f} s, health current"
                f" {waits[-1]:.2f} s after completion (longest side append"
                f" {longest * 1000:.0f} ms)",
                flush=True,
            )
        return {"waits": waits, "stalls": stalls, "submit": submit_s}
    finally:
        engine.dispose()


# --- one backend ---------------------------------------------------------------------------


def restart_server(stack: ExitStack, url: str, tmp: str, label: str, interval_s: float) -> int:
    """`runhub serve` on a database that already has its admin (no token is printed),
    with the background analysis every `interval_s`; returns the port."""
    env = {"RUNHUB_ANALYSIS_INTERVAL_S": str(interval_s)}
    port, _, _ = start_server(stack, url, tmp, label, env_extra=env, with_token=False)
    return port


# --- one backend ------------------------------------------------------------------------------


def bench_backend(backend: str, args: argparse.Namespace, history: History) -> dict[str, Any]:
    out: dict[str, Any] = {"backend": backend}
    rules = HealthRules()
    with ExitStack() as stack:
        tmp = tempfile.mkdtemp(prefix=f"runhub-bench-intel-{backend}-")
        stack.callback(shutil.rmtree, tmp, ignore_errors=True)
        url = new_database(stack, backend, args.pg_url, tmp, "intel")
        with ExitStack() as server:
            # The first server (reads) migrates, bootstraps the admin and prints its token;
            # its background analysis is off, so nothing else runs while the clock does.
            os.environ["RUNHUB_ANALYSIS_INTERVAL_S"] = "0"
            try:
                port, token, _pid = start_server(server, url, tmp, f"{backend}-reads")
            finally:
                del os.environ["RUNHUB_ANALYSIS_INTERVAL_S"]
            engine = make_engine(url)
            server.callback(engine.dispose)
            with write_tx(engine) as conn:
                project_id = admin.create_project(conn, "Intelligence")
            runs = len(history.branches)
            print(f"[{backend}] seeding {history.cases:,} cases x {runs} runs ...", flush=True)
            t0 = time.perf_counter()
            source_id, case_ids, run_ids = seed_database(url, project_id, history)
            out["seed_s"] = time.perf_counter() - t0
            if backend == "postgresql":
                out["autovacuum"] = autovacuum_on(engine)
                vacuum_analyze(engine)  # after a bulk load, as an operator (or autovacuum) would
            with engine.connect() as conn:
                out["results"] = conn.execute(
                    select(func.count()).select_from(analytics.results)
                ).scalar_one()
            print(f"[{backend}] analysis: {runs} runs queued, one at a time ...", flush=True)
            t0 = time.perf_counter()
            out["analysis"] = time_analysis(url, run_ids, rules, args.pg_vacuum_every)
            out["analysis_total_s"] = time.perf_counter() - t0
            if backend == "postgresql":
                vacuum_analyze(engine)
            client = Http(port, token)
            rnd = random.Random(42)
            reads = (
                health_reads(client, project_id, source_id, args.requests, rnd)
                + changes_reads(run_ids, args.requests, rnd)
                + history_reads(case_ids, runs, args.requests, rnd)
            )
            out["reads"] = []
            for read in reads:
                print(f"[{backend}] {read.label}: {len(read.samples)} requests ...", flush=True)
                timed = time_http(client, read)
                service, sql = time_inprocess(engine, read)
                out["reads"].append((read, timed, service, sql))
            client.conn.close()
        if args.e2e:
            port = restart_server(stack, url, tmp, f"{backend}-current", 1.0)
            print(f"[{backend}] completion -> health current, {args.e2e} runs over HTTP ...")
            client = Http(port, token)
            out["current"] = time_current(client, url, project_id, history, args.e2e)
            client.conn.close()
            del history.branches[runs:], history.commits[runs:]
    return out


# --- report -----------------------------------------------------------------------------------


def spread(s: dict[str, float]) -> str:
    return f"{s['min']:.2f}-{s['max']:.2f}"


def report(results: list[dict], args: argparse.Namespace, history: History) -> None:
    def mark(ok: bool) -> str:
        return "ok" if ok else "MISS"

    kinds = Counter(history.kinds)
    print(
        f"\nTest intelligence: {history.cases:,} cases x {len(history.branches)} runs of one"
        f" source, {FOLDERS} folders; {kinds['flaky']} flaky, {kinds['broken']} broken (last"
        f" 10 runs), {len(history.lone_retry)} healthy with one retry;"
        f" branches: {Counter(history.branches).most_common(1)[0][1]} runs on main,"
        f" {len(set(history.branches)) - 1} feature branches;"
        f" {len(history.commits) - len(set(history.commits))} runs re-run a commit"
    )
    for r in results:
        states = {k: r["analysis"]["states"].get(v, 0) for k, v in STATES.items()}
        print(
            f"{r['backend']}: {r['results']:,} results seeded in {r['seed_s']:.0f} s;"
            f" {r['analysis']['health_rows']:,} health rows (all branches: "
            + ", ".join(f"{k} {v}" for k, v in states.items())
            + f"), analysis of all runs {r['analysis_total_s']:.0f} s"
        )
        if r.get("autovacuum") is False:
            every = args.pg_vacuum_every
            print(
                "  (this PostgreSQL runs with autovacuum off: "
                + (f"VACUUM ANALYZE of the health table every {every} runs, off the clock)"
                   if every else "no vacuum during the analysis)")
            )  # fmt: skip
    print(f"\nAnalysis: analyze_pending of one run ({history.cases:,} tests), seconds")
    head = (
        f"{'backend':<11}{'all runs p50':>13}{'range':>14}"
        f"{'runs>window p50':>17}{'p95':>7}{'range':>14}{'of it SQL p50':>15}"
    )
    print(head + "\n" + "-" * len(head))
    for r in results:
        a, s, q = r["analysis"]["all"], r["analysis"]["steady"], r["analysis"]["steady_sql"]
        print(
            f"{r['backend']:<11}{a['p50']:>13.2f}{spread(a):>14}"
            f"{s['p50']:>17.2f}{s['p95']:>7.2f}{spread(s):>14}"
            f"{q['p50']:>15.2f}"
        )
    if any("current" in r for r in results):
        print(
            "\nCompletion -> health current (server with RUNHUB_ANALYSIS_INTERVAL_S=1, runs"
            " submitted over HTTP), seconds"
        )
        head = (
            f"{'backend':<11}{'runs':>5}{'p50':>7}{'range':>13}{'target':>11}"
            f"{'longest side append ms':>24}{'submit s':>10}"
        )
        print(head + "\n" + "-" * len(head))
        for r in results:
            if "current" not in r:
                continue
            c = r["current"]
            w, st = c["waits"], c["stalls"]
            print(
                f"{r['backend']:<11}{len(w):>5}{statistics.median(w):>7.2f}"
                f"{f'{min(w):.2f}-{max(w):.2f}':>13}"
                f"{f'<{TARGET_CURRENT_S:.0f} ' + mark(max(w) < TARGET_CURRENT_S):>11}"
                f"{max(st) * 1000:>24.0f}{statistics.median(c['submit']):>10.1f}"
            )
    print(
        f"\nRead latency (ms), per_page=100, {args.requests} requests each (after 10 warm-up):"
        " HTTP (keep-alive, to the last byte) | in-process service function | of it SQL"
        " (runhub.db.analytics)"
    )
    head = (
        f"{'backend':<11}{'request':<50}{'HTTP p50':>9}{'p95':>7}{'max':>7}"
        f"{'svc p50':>9}{'p95':>7}{'SQL p50':>9}{'p95':>7}{'target':>15}"
    )
    print(head + "\n" + "-" * len(head))
    for r in results:
        for read, h, svc, sql in r["reads"]:
            target = TARGET_P95_MS[read.group]
            print(
                f"{r['backend']:<11}{read.label:<50}{h['p50']:>9.1f}{h['p95']:>7.1f}"
                f"{h['max']:>7.1f}{svc['p50']:>9.1f}{svc['p95']:>7.1f}{sql['p50']:>9.1f}"
                f"{sql['p95']:>7.1f}{f'p95<{target:.0f} ' + mark(h['p95'] < target):>15}"
            )


def main() -> None:
    # SIGTERM unwinds like an error, so servers are stopped and databases dropped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("bench: terminated"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--requests", type=int, default=200, help="per kind of request")
    parser.add_argument(
        "--e2e", type=int, default=3, help="runs submitted over HTTP for completion -> current"
    )
    parser.add_argument(
        "--pg-vacuum-every",
        type=int,
        default=5,
        help="PostgreSQL with autovacuum off: VACUUM ANALYZE the health table every N"
        " analysed runs, off the clock (0: never)",
    )
    parser.add_argument("--pg-url", default=PG_URL)
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if unknown := set(backends) - {"sqlite", "postgresql"}:
        parser.error(f"unknown backends: {', '.join(sorted(unknown))}")
    if args.runs < 11 or args.cases < 100:
        parser.error("--runs must be at least 11 and --cases at least 100")
    history = design(args.cases, args.runs)
    report([bench_backend(b, args, history) for b in backends], args, history)


if __name__ == "__main__":
    main()
