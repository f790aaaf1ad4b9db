"""Ingest throughput and read latency of a real `runhub serve` process (prints numbers).

Per backend (SQLite, then PostgreSQL), on fresh databases:
  1. direct: the server's own storage functions, in this process, no HTTP (the floor);
  2. http:   one keep-alive client appends N tests in batches, like the official CLI;
  3. reads:  with --runs runs stored, latency of GET run and of the run list.
See bench/README.md. Usage: .venv/bin/python bench/ingest.py [--tests N] [--backends ...]
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
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.engine import make_url

from runhub.api.body import decode
from runhub.api.schemas import RunCreate, ThreadAppend, ThreadCreate
from runhub.db import runs as runs_db
from runhub.db.engine import WalCheckpointer, is_sqlite, make_engine, write_tx
from runhub.db.migrate import upgrade
from runhub.db.schema import (
    automation_run_tags,
    automation_run_tests,
    automation_run_threads,
    automation_runs,
    automation_sources,
    configs,
)
from runhub.services import admin, runs, threads
from runhub.services.access import Principal
from runhub.services.statuses import StatusTable
from runhub.timeutil import utcnow

RUNHUB = str(Path(sys.executable).with_name("runhub"))
TARGET_HTTP = {"sqlite": 30_000, "postgresql": 15_000}
TARGET_RATIO, TARGET_P95_MS = 3.0, 25.0
EXPANDS = "automation_sources,configs,milestones,statuses,users"
READS = (("get_run", "GET /automation/runs/{id}"), ("list", "GET /projects/{id}/automation/runs"))


def make_tests(n: int, seed: int = 2026) -> list[dict[str, Any]]:
    """Tests shaped like the official CLI's JUnit output: ~300 folders, ~10% failures."""
    rnd = random.Random(seed)
    trace = "".join(
        f"\n    at com.example.Helper{k}.check(Helper{k}.java:{40 + k})" for k in range(20)
    )
    tests = []
    for i in range(n):
        f = rnd.randrange(300)
        folder, name = f"com.example.module{f // 10}.Foo{f}Test", f"shouldHandleCase{i}"
        key = hashlib.sha256(f"{folder}.{name}".encode()).hexdigest()
        test = {"key": key, "name": name, "status": "passed", "folder": folder}
        test.update(artifacts=[], fields=[], elapsed=rnd.randint(500, 3_000_000))
        if rnd.random() < 0.1:
            meta = {"message": f"expected <{i}> but was <{i + 1}>", "type": "AssertionError"}
            value = f"AssertionError: {meta['message']}{trace}"[:500]
            field = {"type": 4, "name": "Failure", "value": value, "is_highlight": True}
            test.update(status="failure", fields=[{**field, "meta": meta}])
        tests.append(test)
    return tests


def new_database(stack: ExitStack, backend: str, pg_url: str, tmp: str, label: str) -> str:
    """A fresh, empty database URL; PostgreSQL databases are dropped when the stack closes."""
    if backend == "sqlite":
        return f"sqlite:///{tmp}/{label}.db"
    name = f"runhub_bench_{label}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    stack.callback(drop)
    return make_url(pg_url).set(database=name).render_as_string(hide_password=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(
    stack: ExitStack,
    url: str,
    tmp: str,
    label: str,
    args: Sequence[str] = (),
    tls: ssl.SSLContext | None = None,
    env_extra: dict[str, str] | None = None,
    with_token: bool = True,
) -> tuple[int, str, int]:
    """Start `runhub serve` (extra `args` and environment; HTTPS checked with `tls`);
    returns (port, bootstrap token, pid). Without `with_token` (a database that already
    has its admin) the token is "". Stopped with the stack."""
    port, log_path = free_port(), Path(tmp) / f"server-{label}.log"
    env = {**os.environ, "RUNHUB_ACCESS_LOG": "0", **(env_extra or {})}
    log = open(log_path, "wb")  # noqa: SIM115 - closed by the stack
    stack.callback(log.close)
    cmd = [RUNHUB, "serve", "--port", str(port), "--database", url, *args]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)

    def stop() -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    stack.callback(stop)
    token, deadline = None, time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"runhub serve exited ({proc.returncode}):\n{log_path.read_text()}")
        for line in log_path.read_text().splitlines():
            if line.startswith("API token (shown once; keep it safe):"):
                token = line.rsplit(":", 1)[1].strip()
        if (token or not with_token) and _healthy(port, tls):
            return port, token or "", proc.pid
        time.sleep(0.1)
    sys.exit(f"runhub serve did not become ready:\n{log_path.read_text()}")


def _healthy(port: int, tls: ssl.SSLContext | None = None) -> bool:
    try:
        conn = (
            http.client.HTTPSConnection("127.0.0.1", port, timeout=2, context=tls)
            if tls is not None
            else http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        )
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    except OSError:
        return False


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Client:
    """One keep-alive HTTP/1.1 connection, sequential requests (like the official CLI)."""

    def __init__(self, port: int, token: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: bytes | None = None, ok: int = 200) -> Any:
        self.conn.request(method, "/api/v1" + path, body, self.headers)
        response = self.conn.getresponse()
        data = response.read()
        if response.status != ok:
            raise SystemExit(f"{method} {path}: HTTP {response.status} {data[:500]!r}")
        return json.loads(data) if data else None

    def post(self, path: str, payload: Any, ok: int) -> Any:
        return self.call("POST", path, json.dumps(payload).encode(), ok)


def http_ingest(client: Client, project_id: int, bodies: list[bytes], n: int, pid: int) -> dict:
    started = time.perf_counter()
    run_id = client.post(
        f"/projects/{project_id}/automation/runs", {"name": "bench run", "source": "bench"}, 201
    )["id"]
    thread_id = client.post(f"/automation/runs/{run_id}/threads", {}, 201)["id"]
    cpu0, t0 = cpu_seconds(pid), time.perf_counter()
    for body in bodies:
        client.call("POST", f"/automation/runs/threads/{thread_id}/append", body, 204)
    append_s, server_cpu = time.perf_counter() - t0, cpu_seconds(pid) - cpu0
    client.post(f"/automation/runs/{run_id}/complete", {"measure_elapsed": False}, 204)
    total_s = time.perf_counter() - started
    total = client.call("GET", f"/automation/runs/{run_id}")["result"]["total_count"]
    if total != n:
        raise SystemExit(f"run {run_id}: total_count is {total}, expected {n}")
    return dict(append_s=append_s, total_s=total_s, rate=n / append_s, server_cpu=server_cpu)


def direct_ingest(url: str, bodies: list[bytes]) -> dict:
    """The DB work of the append endpoint alone: thread counters, cases upsert, result ids,
    results and failure fields, one write transaction per batch. Decoding, status resolution
    and the per-case aggregation happen before the clock starts; no HTTP, auth or checks.
    The engine is configured as the server's (SQLite checkpoints in the background)."""
    engine = make_engine(url, auto_checkpoint=False)
    checkpointer = WalCheckpointer(engine) if is_sqlite(engine) else None
    if checkpointer is not None:
        checkpointer.start()
    try:
        upgrade(engine)
        with write_tx(engine) as conn:
            admin.bootstrap(conn)
            project_id = admin.create_project(conn, "direct")
            table = StatusTable.load(conn)
        who = Principal(user_id=1, name="Administrator", role="admin")
        run_id = runs.create_run(engine, who, project_id, RunCreate(name="direct", source="bench"))
        thread_id = threads.create_thread(engine, who, run_id, ThreadCreate())
        thread = {"run_id": run_id, "id": thread_id}
        with engine.connect() as conn:
            query = select(automation_runs.c.source_id).where(automation_runs.c.id == run_id)
            thread.update(project_id=project_id, source_id=conn.execute(query).scalar_one())
        batches = []
        for body in bodies:
            tests = decode(body, ThreadAppend, "application/json").tests or []
            status_ids = threads.resolve_statuses(table, tests)
            batches.append((tests, status_ids))
        t0 = time.perf_counter()
        for batch in batches:
            _direct_batch(engine, thread, table, *batch)
        elapsed = time.perf_counter() - t0
        n = sum(len(b[0]) for b in batches)
        with engine.connect() as conn:
            stored = conn.execute(select(func.count()).select_from(automation_run_tests)).scalar()
        if stored != n:
            raise SystemExit(f"direct: {stored} results stored, expected {n}")
        return {"seconds": elapsed, "rate": n / elapsed}
    finally:
        if checkpointer is not None:
            checkpointer.stop()
        engine.dispose()


def _direct_batch(
    engine: Engine, thread: dict, table: StatusTable, tests: list, status_ids: list
) -> None:
    """What the server does for one append once the request is decoded and authorised."""
    with write_tx(engine) as conn:
        runs_db.add_to_open_thread(conn, thread["id"], Counter(status_ids), 0, 0)
        threads.store_tests(conn, thread, table, tests, status_ids, utcnow())


def seed_runs(url: str, project_id: int, count: int, seed: int = 7) -> list[int]:
    """`count` runs straight into the server's database: 1-2 threads with counts, two tags
    each, every other run completed, spread over 4 sources and 5 configs."""
    rnd, now = random.Random(seed), utcnow()
    engine = make_engine(url)
    try:
        with write_tx(engine) as conn:

            def ids(table: Any, rows: list[dict]) -> list[int]:
                stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
                return list(conn.execute(stmt, rows).scalars())

            mine = {"project_id": project_id, "created_at": now}
            sources = ids(automation_sources, [{**mine, "name": f"seed-{k}"} for k in range(4)])
            config_ids = ids(configs, [{**mine, "name": f"Browser {k}"} for k in range(5)])
            run_rows = []
            for i in range(count):
                done, created = i % 2 == 0, now - timedelta(seconds=count - i)
                run = {**mine, "name": f"Seeded run {i}", "created_at": created, "created_by": 1}
                run.update(source_id=sources[i % 4], config_id=config_ids[i % 5] if i % 3 else None)
                run.update(
                    status=4, is_completed=done, elapsed=None, completed_at=None, completed_by=None
                )
                if done:
                    run.update(status=rnd.choice((2, 2, 2, 3)), elapsed=rnd.randint(10**6, 10**9))
                    run.update(completed_at=created + timedelta(seconds=1), completed_by=1)
                run_rows.append(run)
            thread_rows, tag_rows = [], []
            for run_id, run in zip(ids(automation_runs, run_rows), run_rows, strict=True):
                run["id"] = run_id
                for index in (1, 2) if run_id % 5 == 0 else (1,):
                    counts = [rnd.randint(50, 2000), rnd.randint(0, 20), rnd.randint(0, 30)]
                    thread = {f"status{n}_count": c for n, c in zip((1, 2, 5), counts, strict=True)}
                    thread.update(run_id=run_id, index=index, status=run["status"], created_by=1)
                    thread.update(is_completed=run["is_completed"], created_at=run["created_at"])
                    thread_rows.append({**thread, "elapsed_computed": rnd.randint(10**5, 10**8)})
                for tag in rnd.sample([f"tag{k}" for k in range(20)], 2):
                    tag_rows.append({"run_id": run_id, "tag": tag, "project_id": project_id})
            conn.execute(insert(automation_run_threads), thread_rows)
            conn.execute(insert(automation_run_tags), tag_rows)
        return [r["id"] for r in run_rows]
    finally:
        engine.dispose()


def latency(client: Client, paths: list[str], warmup: int = 10) -> dict[str, float]:
    for path in paths[:warmup]:
        client.call("GET", path)
    samples = []
    for path in paths:
        t0 = time.perf_counter()
        client.call("GET", path)
        samples.append((time.perf_counter() - t0) * 1000)
    cuts = statistics.quantiles(samples, n=100)
    return {"p50": cuts[49], "p95": cuts[94], "mean": statistics.fmean(samples)}


def bench_backend(backend: str, args: argparse.Namespace, bodies: list[bytes]) -> dict:
    out: dict[str, Any] = {"backend": backend}
    with ExitStack() as stack:
        tmp = tempfile.mkdtemp(prefix=f"runhub-bench-{backend}-")
        stack.callback(shutil.rmtree, tmp, ignore_errors=True)
        print(f"[{backend}] direct: {args.tests} tests into a fresh database ...", flush=True)
        out["direct"] = direct_ingest(new_database(stack, backend, args.pg_url, tmp, "d"), bodies)
        # Let the kernel write back what the direct phase left before the HTTP phase runs.
        for leftover in Path(tmp).glob("d.db*"):
            leftover.unlink()
        os.sync()
        url = new_database(stack, backend, args.pg_url, tmp, "http")
        port, token, pid = start_server(stack, url, tmp, "http")
        cmd = [RUNHUB, "admin", "create-project", "bench", "--database", url]
        project_id = int(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
        client = Client(port, token)
        print(f"[{backend}] http: {args.tests} tests in batches of {args.batch} ...", flush=True)
        out["http"] = http_ingest(client, project_id, bodies, args.tests, pid)
        print(f"[{backend}] reads: seeding {args.runs} runs ...", flush=True)
        run_ids = seed_runs(url, project_id, args.runs)
        rnd = random.Random(11)
        pages = -(-(len(run_ids) + 1) // 100)
        out["get_run"] = latency(
            client, [f"/automation/runs/{rnd.choice(run_ids)}" for _ in range(args.requests)]
        )
        page = f"/projects/{project_id}/automation/runs?per_page=100&expands={EXPANDS}&page="
        out["list"] = latency(
            client, [page + str(rnd.randint(1, pages)) for _ in range(args.requests)]
        )
        client.conn.close()
    return out


def report(results: list[dict], args: argparse.Namespace) -> None:
    def mark(ok: bool) -> str:
        return "  ok" if ok else "MISS"

    print(f"\nIngest: {args.tests} tests in batches of {args.batch}, one thread, one client")
    head = (
        f"{'backend':<11}{'HTTP tests/s':>13}{'target':>15}{'direct tests/s':>16}"
        f"{'HTTP/direct':>12}{'target':>17}{'append s':>10}{'total s':>9}{'server CPU s':>14}"
    )
    print(head + "\n" + "-" * len(head))
    for r in results:
        h, d, target = r["http"], r["direct"], TARGET_HTTP[r["backend"]]
        ratio = h["rate"] / d["rate"]
        verdict = f">={target:,} " + mark(h["rate"] >= target)
        print(
            f"{r['backend']:<11}{h['rate']:>13,.0f}{verdict:>15}"
            f"{d['rate']:>16,.0f}{ratio:>12.2f}"
            f"{f'>={1 / TARGET_RATIO:.2f} (3x) ' + mark(ratio >= 1 / TARGET_RATIO):>17}"
            f"{h['append_s']:>10.1f}{h['total_s']:>9.1f}{h['server_cpu']:>14.1f}"
        )
    print(f"\nRead latency (ms), {args.runs} runs stored, {args.requests} requests per endpoint")
    print("(random run ids; list: per_page=100, random pages, expands=" + EXPANDS + ")")
    head = f"{'backend':<11}{'endpoint':<46}{'p50':>7}{'p95':>7}{'mean':>7}{'target':>16}"
    print(head + "\n" + "-" * len(head))
    for r in results:
        for key, label in READS:
            s = r[key]
            print(
                f"{r['backend']:<11}{label:<46}{s['p50']:>7.1f}{s['p95']:>7.1f}{s['mean']:>7.1f}"
                f"{f'p95<{TARGET_P95_MS:.0f} ' + mark(s['p95'] < TARGET_P95_MS):>16}"
            )


def main() -> None:
    # SIGTERM unwinds like an error, so the server is stopped and databases dropped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("bench: terminated"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=250)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200, help="per read endpoint")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if unknown := set(backends) - set(TARGET_HTTP):
        parser.error(f"unknown backends: {', '.join(sorted(unknown))}")
    tests = make_tests(args.tests)
    bodies = [
        json.dumps({"tests": tests[i : i + args.batch]}, separators=(",", ":")).encode()
        for i in range(0, len(tests), args.batch)
    ]
    print(
        f"{len(bodies)} batch bodies, {sum(map(len, bodies)) / 2**20:.1f} MiB of JSON,"
        f" {sum(t['status'] == 'failure' for t in tests)} failures",
        flush=True,
    )
    report([bench_backend(b, args, bodies) for b in backends], args)


if __name__ == "__main__":
    main()
