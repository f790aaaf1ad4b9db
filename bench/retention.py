"""Retention gives the disk back (issue 14; prints numbers, asserts nothing else).

Per backend (SQLite, then PostgreSQL), on a fresh database with one project:
  1. --days days (60) of --runs-per-day runs (100) of --tests tests (200; the known keys of
     bench/ingest.py's data, ~10 % failures with a console field) stored through the
     service functions in this process, each day's runs dated that day; on PostgreSQL
     the server's partition maintenance runs after each day, as a live server would.
  2. The project keeps runs 30 days (--keep-days). A client appends a body of 100 tests
     every --load-interval-s (0.05 s; a suite of 5,000 keys, over and over) to a real
     `runhub serve` whose pruning is off, for --floor-s (30 s: the floor), then to a second
     `runhub serve` on the database whose first retention pass starts 3 s after it does;
     the appends that ended during the pass (its time from its log line) are the figure.
Printed: the database's size just before the pass and after it (SQLite: the file after a
TRUNCATE checkpoint that completed; PostgreSQL: pg_database_size and the three
partitioned tables), the pass's wall time, and the appends' latency during the pass
beside the floor's. See bench/README.md "Retention".
Usage: .venv/bin/python bench/retention.py [--backends sqlite,postgresql] [--days 60]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, text, update

from runhub.api.schemas import RunComplete, RunCreate, ThreadCreate
from runhub.db import partitions
from runhub.db.engine import make_engine, read_tx, write_tx
from runhub.db.schema import automation_runs, project_retention
from runhub.services import batches, runs, threads
from runhub.services.prune import maintain_partitions
from runhub.timeutil import utcnow

sys.path.insert(0, str(Path(__file__).parent))
from ingest import (  # noqa: E402
    ADMIN,
    PG_URL,
    RUNHUB,
    Client,
    Row,
    create_project,
    decode_append,
    encode_bodies,
    make_tests,
    new_database,
    print_summary,
    quantiles,
    start_server,
)

LOAD_BODY_TESTS = 100
LOAD_KEYS = 5_000  # the load's tests: a project's suite, appended again and again
PRUNE_AFTER_S = 3


def seed(engine: Engine, project_id: int, args: argparse.Namespace) -> int:
    bodies = [decode_append(b) for b in encode_bodies(make_tests(args.tests), 250)]
    now, stored = utcnow(), 0
    for day in range(args.days, 0, -1):
        stamp = now - timedelta(days=day)
        day_runs = []
        for n in range(args.runs_per_day):
            create = RunCreate(name=f"day {day} run {n}", source="nightly")
            run_id = runs.create_run(engine, ADMIN, project_id, create)
            thread_id = threads.create_thread(engine, ADMIN, run_id, ThreadCreate())
            for body in bodies:
                threads.append_to_thread(engine, ADMIN, thread_id, body)
            batches.expand_everything(engine)
            runs.complete_run(engine, ADMIN, run_id, RunComplete(measure_elapsed=False))
            day_runs.append(run_id)
            stored += args.tests
        with write_tx(engine) as conn:
            conn.execute(
                update(automation_runs)
                .where(automation_runs.c.id.in_(day_runs))
                .values(created_at=stamp, updated_at=stamp, completed_at=stamp)
            )
        maintain_partitions(engine)
        print(f"  day -{day}: {stored:,} results stored", end="\r", flush=True)
    print()
    return stored


def sizes(engine: Engine) -> dict[str, int]:
    if engine.dialect.name == "sqlite":
        # The file shrinks when the WAL is checkpointed whole; a server's reader can keep
        # a checkpoint from finishing (busy = 1): try again until one does.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                busy = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").first()
            if busy is not None and busy[0] == 0:
                break
            time.sleep(0.2)
        else:
            print("  (no complete checkpoint in 30 s: the file may not have shrunk yet)")
        assert engine.url.database
        return {"file": os.path.getsize(engine.url.database)}
    with read_tx(engine) as conn:
        found = partitions.relation_bytes(conn)
        found["database"] = int(
            conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
        )
        found["partitions"] = len(partitions.list_partitions(conn, "automation_run_tests"))
    return found


class Load:
    """One client appending bodies of LOAD_BODY_TESTS tests (cycling through LOAD_KEYS
    keys) to one thread until stopped."""

    def __init__(self, port: int, token: str, project_id: int, interval_s: float) -> None:
        self.interval_s = interval_s
        self.client = Client(port, token)
        run = {"name": "load", "source": "load"}
        run_id = self.client.post(f"/projects/{project_id}/automation/runs", run, 201)["id"]
        self.thread_id = self.client.post(f"/automation/runs/{run_id}/threads", {}, 201)["id"]
        self.samples: list[tuple[float, float]] = []  # (monotonic end, latency ms)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._offset = 0

    def _loop(self) -> None:
        path = f"/automation/runs/threads/{self.thread_id}/append"
        while not self._stop.is_set():
            tests = [
                {"key": f"{self._offset + i:064x}", "name": f"load {self._offset + i}",
                 "status": "passed", "folder": "load", "elapsed": 1000}
                for i in range(LOAD_BODY_TESTS)
            ]  # fmt: skip
            self._offset = (self._offset + LOAD_BODY_TESTS) % LOAD_KEYS
            body = json.dumps({"tests": tests}).encode()
            started = time.perf_counter()
            self.client.call("POST", path, body, 204)
            ended = time.perf_counter()
            self.samples.append((ended, (ended - started) * 1000))
            self._stop.wait(max(0.0, self.interval_s - (ended - started)))

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def latency(samples: list[float]) -> str:
    q = quantiles(samples)
    return f"p50 {q['p50']:.1f} p99 {q['p99']:.1f} max {q['max']:.1f} ms (n={len(samples)})"


def bench(backend: str, args: argparse.Namespace, stack: ExitStack, tmp: str) -> list[Row]:
    url = new_database(stack, backend, args.pg_url, tmp, f"retention_{backend}")
    env = {"RUNHUB_PRUNE_INTERVAL_S": "0", "RUNHUB_ANALYSIS_INTERVAL_S": "0"}
    port, token, _ = start_server(stack, url, tmp, backend, env_extra=env)
    project_id = create_project(url, "retention")
    engine = make_engine(url)
    stack.callback(engine.dispose)
    print(f"{backend}: seeding {args.days} days x {args.runs_per_day} runs x {args.tests} tests")
    started = time.perf_counter()
    stored = seed(engine, project_id, args)
    print(f"  seeded {stored:,} results in {time.perf_counter() - started:.0f} s")
    with write_tx(engine) as conn:
        conn.execute(
            insert(project_retention).values(
                project_id=project_id, run_days=args.keep_days, updated_at=utcnow()
            )
        )
    plan_cmd = [RUNHUB, "db", "prune", "--dry-run", "--database", url]
    plan = subprocess.run(plan_cmd, capture_output=True, text=True, check=True)
    print("  " + plan.stdout.strip().replace("\n", "\n  "))
    expired = int(re.search(r"results (\d+)", plan.stdout).group(1))  # type: ignore[union-attr]
    with Load(port, token, project_id, args.load_interval_s) as floor_load:
        time.sleep(args.floor_s)
    floor = [ms for _, ms in floor_load.samples]
    before = sizes(engine)
    # A second server on the database prunes it (its first pass PRUNE_AFTER_S after it
    # starts); the client appends to it the whole time.
    env_b = {"RUNHUB_PRUNE_INTERVAL_S": str(PRUNE_AFTER_S), "RUNHUB_ANALYSIS_INTERVAL_S": "0"}
    port_b, _, _ = start_server(stack, url, tmp, f"{backend}-b", env_extra=env_b, with_token=False)
    log_path = Path(tmp) / f"server-{backend}-b.log"
    with Load(port_b, token, project_id, args.load_interval_s) as load:
        deadline = time.monotonic() + 3600
        while "retention pass:" not in log_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        seen = time.perf_counter()
    line = next(x for x in log_path.read_text().splitlines() if "retention pass:" in x)
    print("  " + line.split("retention pass: ", 1)[1].replace("; ", "\n  "))
    match = re.search(r"took ([0-9.]+) s", line)
    assert match, line
    prune_s = float(match.group(1))
    # The appends that ended while the pass ran (the log line is seen within 50 ms).
    during = [ms for t, ms in load.samples if seen - prune_s - 0.1 <= t <= seen]
    after = sizes(engine)

    def mib(key: str, found: dict[str, Any]) -> str:
        return f"{found[key] / 2**20:,.1f} MiB"

    appended = LOAD_BODY_TESTS * len(during)
    rows = [
        Row("results seeded / expired", backend, f"{stored:,} / {expired:,}", "-", "-", None),
        Row("prune wall time", backend, f"{prune_s:.1f} s", "-", "-", None),
        Row("results appended during the pass", backend, f"{appended:,}", "-", "-", None),
    ]
    for key in before:
        if key == "partitions":
            figure = f"{before[key]} -> {after[key]} partitions"
        else:
            figure = f"{mib(key, before)} -> {mib(key, after)}"
        rows.append(Row(f"size: {key}", backend, figure, "-", "-", None))
    p99_during, p99_floor = quantiles(during)["p99"], quantiles(floor)["p99"]
    rows.append(
        Row(
            "appends during prune",
            backend,
            latency(during),
            latency(floor),
            "p99 +50 ms",
            p99_during <= p99_floor + 50,
        )
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--runs-per-day", type=int, default=100)
    parser.add_argument("--tests", type=int, default=200)
    parser.add_argument("--keep-days", type=int, default=30)
    parser.add_argument("--floor-s", type=float, default=30.0, help="the floor's appends")
    parser.add_argument(
        "--load-interval-s", type=float, default=0.05, help="an append starts this often"
    )
    args = parser.parse_args()
    rows: list[Row] = []
    tmp = tempfile.mkdtemp(prefix="runhub-bench-retention-")
    try:
        for backend in args.backends.split(","):
            with ExitStack() as stack:
                rows += bench(backend, args, stack, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print_summary(rows, "Retention")


if __name__ == "__main__":
    main()
