"""Ingest at scale on a real `runhub serve` (issue 12; prints numbers, asserts only that
what was sent is stored).

Per backend (SQLite, then PostgreSQL), on fresh databases, each beside its in-process
floor (`services.threads.append_to_thread` and `services.runs.complete_run` in this
process, no HTTP) measured in the same run:
  1. new keys:  one keep-alive client appends N tests in batches of 250, then completes;
  2. known keys: a second run with the same N keys (the usual CI case);
  3. parallel:  8 clients, each its own thread of one run, N tests in all;
  4. the official CLI (`testmo automation:run:submit`, one JUnit report) against a
     do-nothing server and against runhub (HTTPS);
  7. storage per result (SQLite dbstat; PostgreSQL pg_total_relation_size) of rows 1 and 2.
Rows 5 and 6 (reads with 100,000 runs and a 1,000,000-test run) are in bench/scale.py.
See bench/README.md. Usage: .venv/bin/python bench/ingest.py [--tests N] [--rows 1,2,3,4,7]
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
import sqlite3
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from runhub.api.body import decode
from runhub.api.schemas import RunComplete, RunCreate, ThreadAppend, ThreadCreate
from runhub.db.engine import WalCheckpointer, is_sqlite, make_engine, write_tx
from runhub.db.migrate import upgrade
from runhub.services import admin, batches, runs, threads
from runhub.services.access import Principal

RUNHUB = str(Path(sys.executable).with_name("runhub"))
PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
BACKENDS = ("sqlite", "postgresql")
ADMIN = Principal(user_id=1, name="Administrator", role="admin")
EXPANDS = "automation_sources,configs,milestones,statuses,users"

TARGET_NEW = {"sqlite": 100_000, "postgresql": 40_000}  # row 1, tests/s
TARGET_KNOWN_RATIO = 1.5  # row 2: known keys / new keys
TARGET_PARALLEL_P99_MS = 250.0  # row 3, SQLite
TARGET_PARALLEL_RATIO = 2.0  # row 3, PostgreSQL: 8 clients / one client
TARGET_CLI_OVERHEAD = 0.50  # row 4
TARGET_BYTES = {"first": 150, "rerun": 100}  # row 7, SQLite
TEXT_TABLES = ("automation_fields", "automation_artifacts")
CASES_TABLE = "automation_cases"
# Per case or per run, written by the test-intelligence analysis: not results (row 7).
ANALYSIS_TABLES = ("automation_case_health", "automation_run_changes", "analysis_queue")
# The ingest servers run without the background analysis: it would fold each completed
# run into case health during the next timed phase (bench/intelligence.py measures it).
NO_ANALYSIS = {"RUNHUB_ANALYSIS_INTERVAL_S": "0"}


# --- test data ----------------------------------------------------------------------------


def iter_tests(n: int, seed: int = 2026, start: int = 0) -> Iterator[dict[str, Any]]:
    """Tests shaped like the official CLI's JUnit output: ~300 folders, ~10% failures.
    Test i has key sha256(folder.name) with name `shouldHandleCase{i}`, so keys are distinct."""
    rnd = random.Random(seed)
    trace = "".join(
        f"\n    at com.example.Helper{k}.check(Helper{k}.java:{40 + k})" for k in range(20)
    )
    for i in range(start, start + n):
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
        yield test


def make_tests(n: int, seed: int = 2026) -> list[dict[str, Any]]:
    return list(iter_tests(n, seed))


def encode_bodies(tests: Sequence[dict[str, Any]], batch: int) -> list[bytes]:
    """`{"tests": [...]}` append bodies of `batch` tests, as the official CLI sends them."""
    return [
        json.dumps({"tests": tests[i : i + batch]}, separators=(",", ":")).encode()
        for i in range(0, len(tests), batch)
    ]


def iter_bodies(n: int, batch: int, seed: int = 2026) -> Iterator[bytes]:
    """The same bodies without holding all the tests (for runs of millions)."""
    tests = iter_tests(n, seed)
    while chunk := [t for _, t in zip(range(batch), tests, strict=False)]:
        yield json.dumps({"tests": chunk}, separators=(",", ":")).encode()


def decode_append(body: bytes) -> ThreadAppend:
    return decode(body, ThreadAppend, "application/json")


# --- databases and servers ----------------------------------------------------------------


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


def create_project(url: str, name: str) -> int:
    cmd = [RUNHUB, "admin", "create-project", name, "--database", url]
    return int(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# Raised when the server closed an idle keep-alive connection (uvicorn: after 5 s).
DROPPED = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


class Client:
    """One keep-alive HTTP/1.1 connection, sequential requests (like the official CLI).

    uvicorn closes a keep-alive connection after 5 s idle, so a request after more than
    IDLE_S without one goes on a new connection; a GET on a dropped connection is also
    retried once (other methods are not: an append must not be stored twice)."""

    IDLE_S = 3.0

    def __init__(self, port: int, token: str) -> None:
        self.port, self.last = port, time.monotonic()
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def reconnect(self) -> None:
        self.conn.close()
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)

    def call(self, method: str, path: str, body: bytes | None = None, ok: int = 200) -> Any:
        if time.monotonic() - self.last > self.IDLE_S:
            self.reconnect()
        for attempt in (1, 2):
            try:
                self.conn.request(method, "/api/v1" + path, body, self.headers)
                response = self.conn.getresponse()
                data = response.read()
                break
            except DROPPED:
                if attempt == 2 or method != "GET":
                    raise
                self.reconnect()
        self.last = time.monotonic()
        if response.status != ok:
            raise SystemExit(f"{method} {path}: HTTP {response.status} {data[:500]!r}")
        return json.loads(data) if data else None

    def post(self, path: str, payload: Any, ok: int) -> Any:
        return self.call("POST", path, json.dumps(payload).encode(), ok)

    def close(self) -> None:
        self.conn.close()


class InProcess:
    """The server's service functions in this process, on an engine configured as the
    server's (SQLite: WAL checkpoints in a background thread). `fresh` migrates the
    database and creates its admin. Close with the stack."""

    def __init__(self, stack: ExitStack, url: str, fresh: bool) -> None:
        self.engine = make_engine(url, auto_checkpoint=False)
        stack.callback(self.engine.dispose)
        if is_sqlite(self.engine):
            checkpointer = WalCheckpointer(self.engine)
            checkpointer.start()
            stack.callback(checkpointer.stop)
        if fresh:
            upgrade(self.engine)
            with write_tx(self.engine) as conn:
                admin.bootstrap(conn)

    def create_project(self, name: str) -> int:
        with write_tx(self.engine) as conn:
            return admin.create_project(conn, name)


def expand_stage() -> Callable[[Engine], int]:
    """Everything pending, expanded in this process (services.batches)."""
    return batches.expand_everything


# --- figures ------------------------------------------------------------------------------


def spread(values: Sequence[float], fmt: str = ",.0f") -> str:
    """Median and range: `24,246 (23,100..25,900)`; a single value alone."""
    med = format(statistics.median(values), fmt)
    if len(values) < 2:
        return med
    return f"{med} ({format(min(values), fmt)}..{format(max(values), fmt)})"


def quantiles(samples_ms: Sequence[float]) -> dict[str, float]:
    cuts = statistics.quantiles(samples_ms, n=100, method="inclusive")
    return {"p50": cuts[49], "p95": cuts[94], "p99": cuts[98], "max": max(samples_ms)}


@dataclass
class Row:
    """One line of the summary table. `ok` None: for information, no target."""

    row: str
    backend: str
    figure: str
    floor: str
    target: str
    ok: bool | None


def print_summary(rows: Sequence[Row], title: str = "Summary") -> None:
    head = f"{'row':<35}{'backend':<11}{'figure':<42}{'in-process floor':<30}{'target':<16}ok?"
    print(f"\n{title}\n{head}\n{'-' * len(head)}")
    for r in rows:
        verdict = "-" if r.ok is None else ("ok" if r.ok else "MISS")
        print(f"{r.row:<35}{r.backend:<11}{r.figure:<42}{r.floor:<30}{r.target:<16}{verdict}")


# --- rows 1 and 2: one client -------------------------------------------------------------


def check_stored(client: Client, run_id: int, n: int) -> None:
    """The run counts N tests and its test list holds N results."""
    total = client.call("GET", f"/automation/runs/{run_id}")["result"]["total_count"]
    listed = client.call("GET", f"/automation/runs/{run_id}/tests?per_page=100")["total"]
    if total != n or listed != n:
        raise SystemExit(f"run {run_id}: total_count {total}, tests listed {listed}; sent {n}")


def http_run(
    client: Client, project_id: int, source: str, bodies: Sequence[bytes], n: int, pid: int
) -> dict[str, float]:
    """Create a run and a thread, append the bodies, complete the run (like the CLI)."""
    run = {"name": f"bench {source}", "source": source}
    run_id = client.post(f"/projects/{project_id}/automation/runs", run, 201)["id"]
    thread_id = client.post(f"/automation/runs/{run_id}/threads", {}, 201)["id"]
    path = f"/automation/runs/threads/{thread_id}/append"
    cpu0, t0 = cpu_seconds(pid), time.perf_counter()
    for body in bodies:
        client.call("POST", path, body, 204)
    t1, cpu1 = time.perf_counter(), cpu_seconds(pid)
    client.post(f"/automation/runs/{run_id}/complete", {"measure_elapsed": False}, 204)
    t2 = time.perf_counter()
    # The first read of the run's tests expands what is still pending (the server's own
    # stage may have done part of it meanwhile): "expand s" over HTTP.
    check_stored(client, run_id, n)
    t3 = time.perf_counter()
    return {"append_s": t1 - t0, "complete_s": t2 - t1, "cpu_s": cpu1 - cpu0, "expand_s": t3 - t2}


def inproc_run(
    ip: InProcess, project_id: int, source: str, batches: Sequence[ThreadAppend], n: int
) -> dict[str, float]:
    """The same through the service functions: appends, the expansion stage where it
    exists (timed on its own), completion."""
    engine, expand = ip.engine, expand_stage()
    run_id = runs.create_run(engine, ADMIN, project_id, RunCreate(name=source, source=source))
    thread_id = threads.create_thread(engine, ADMIN, run_id, ThreadCreate())
    t0 = time.perf_counter()
    for batch in batches:
        threads.append_to_thread(engine, ADMIN, thread_id, batch)
    t1 = time.perf_counter()
    if expand is not None:
        expand(engine)
    t2 = time.perf_counter()
    runs.complete_run(engine, ADMIN, run_id, RunComplete(measure_elapsed=False))
    t3 = time.perf_counter()
    total = runs.get_run(engine, ADMIN, run_id, ())["result"]["total_count"]
    if total != n:
        raise SystemExit(f"in-process run {run_id}: total_count {total}, sent {n}")
    return {"append_s": t1 - t0, "expand_s": t2 - t1, "complete_s": t3 - t2, "cpu_s": 0.0}


# --- row 3: parallel threads --------------------------------------------------------------


def _parallel(
    parts: Sequence[Sequence[Any]], append: Callable[[int, Any], None]
) -> tuple[float, list[float]]:
    """Run `append(k, item)` for every item of every part, one worker per part, all
    starting together; returns (wall seconds, every append's latency in ms)."""
    barrier = threading.Barrier(len(parts) + 1)
    latencies: list[list[float]] = [[] for _ in parts]

    def work(k: int) -> None:
        barrier.wait()
        for item in parts[k]:
            t = time.perf_counter()
            append(k, item)
            latencies[k].append((time.perf_counter() - t) * 1000)

    with ThreadPoolExecutor(len(parts)) as pool:
        futures = [pool.submit(work, k) for k in range(len(parts))]
        barrier.wait()
        t0 = time.perf_counter()
        for future in futures:
            future.result()
        wall = time.perf_counter() - t0
    return wall, [ms for lat in latencies for ms in lat]


def http_parallel(
    port: int, token: str, project_id: int, source: str, parts: Sequence[Sequence[bytes]], n: int
) -> dict[str, Any]:
    """One run, one thread and one connection per part, all appending at once."""
    main = Client(port, token)
    run = {"name": f"bench {source}", "source": source}
    run_id = main.post(f"/projects/{project_id}/automation/runs", run, 201)["id"]
    thread_ids = [main.post(f"/automation/runs/{run_id}/threads", {}, 201)["id"] for _ in parts]
    clients = [Client(port, token) for _ in parts]
    try:

        def append(k: int, body: bytes) -> None:
            clients[k].call("POST", f"/automation/runs/threads/{thread_ids[k]}/append", body, 204)

        wall, latencies = _parallel(parts, append)
        t0 = time.perf_counter()
        main.post(f"/automation/runs/{run_id}/complete", {"measure_elapsed": False}, 204)
        complete_s = time.perf_counter() - t0
        check_stored(main, run_id, n)
    finally:
        for c in [main, *clients]:
            c.close()
    return {"append_s": wall, "complete_s": complete_s, "latencies": latencies}


def inproc_parallel(
    ip: InProcess, project_id: int, source: str, parts: Sequence[Sequence[ThreadAppend]], n: int
) -> dict[str, Any]:
    engine = ip.engine
    run_id = runs.create_run(engine, ADMIN, project_id, RunCreate(name=source, source=source))
    thread_ids = [threads.create_thread(engine, ADMIN, run_id, ThreadCreate()) for _ in parts]

    def append(k: int, batch: ThreadAppend) -> None:
        threads.append_to_thread(engine, ADMIN, thread_ids[k], batch)

    wall, latencies = _parallel(parts, append)
    t0 = time.perf_counter()
    if (expand := expand_stage()) is not None:
        expand(engine)
    runs.complete_run(engine, ADMIN, run_id, RunComplete(measure_elapsed=False))
    complete_s = time.perf_counter() - t0
    total = runs.get_run(engine, ADMIN, run_id, ())["result"]["total_count"]
    if total != n:
        raise SystemExit(f"in-process run {run_id}: total_count {total}, sent {n}")
    return {"append_s": wall, "complete_s": complete_s, "latencies": latencies}


# --- row 7: storage -----------------------------------------------------------------------


def table_bytes(url: str) -> dict[str, int]:
    """Bytes per table, its indexes included: SQLite from dbstat (pages of each b-tree,
    WAL content included; free pages excluded), else the file sizes as "(file)";
    PostgreSQL pg_total_relation_size (heap, indexes, TOAST, free space maps)."""
    if url.startswith("sqlite"):
        path = make_url(url).database or ""
        conn = sqlite3.connect(path)
        try:
            owner = dict(conn.execute("SELECT name, tbl_name FROM sqlite_master"))
            sizes: dict[str, int] = {}
            for name, size in conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"):
                table = owner.get(name, name)
                sizes[table] = sizes.get(table, 0) + size
            return sizes
        except sqlite3.OperationalError:  # no dbstat in this build
            return {"(file)": sum(p.stat().st_size for p in Path(path).parent.glob("*.db*"))}
        finally:
            conn.close()
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            query = text(
                "SELECT relname, pg_total_relation_size(oid) FROM pg_class"
                " WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace"
            )
            return {name: int(size) for name, size in conn.execute(query)}
    finally:
        engine.dispose()


def storage_delta(before: dict[str, int], after: dict[str, int], n: int) -> dict[str, Any]:
    """Bytes per result of what a run added: `results` is every table but the cases, the
    text tables (fields, artifacts) and the analysis tables; `cases` automation_cases."""
    delta = {t: after.get(t, 0) - before.get(t, 0) for t in after.keys() | before.keys()}
    other = (CASES_TABLE, *TEXT_TABLES, *ANALYSIS_TABLES)
    results = sum(d for t, d in delta.items() if t not in other)
    cases = delta.get(CASES_TABLE, 0)
    big = {t: d for t, d in sorted(delta.items(), key=lambda x: -abs(x[1])) if abs(d) >= 4096}
    return {"results": results / n, "cases": cases / n, "tables": big}


# --- row 4: the official CLI --------------------------------------------------------------


class _NullTestmo(BaseHTTPRequestHandler):
    """Answers every Testmo call at once: `{"id": 1}` (201) for a new run or thread, 204
    for appends and completions, after reading the body."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802 - the http.server name
        left = int(self.headers.get("Content-Length") or 0)
        while left > 0 and (chunk := self.rfile.read(min(left, 1 << 20))):
            left -= len(chunk)
        path = self.path.split("?", 1)[0]
        if path.endswith("/automation/runs") or path.endswith("/threads"):
            self._answer(201, b'{"id":1}')
        else:
            self._answer(204, b"")

    def do_GET(self) -> None:  # noqa: N802
        self._answer(200, b"{}")

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        if body:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


def start_null_testmo(stack: ExitStack, cert: Path, key: Path) -> int:
    """A do-nothing Testmo over HTTPS in a thread of this process; returns its port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NullTestmo)
    server.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert), str(key))
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    worker = threading.Thread(target=server.serve_forever, daemon=True)
    worker.start()
    stack.callback(server.server_close)
    stack.callback(server.shutdown)
    return server.server_address[1]


def bench_cli(backend: str, args: argparse.Namespace, stack: ExitStack, tmp: Path) -> list[dict]:
    """Row 4: the official CLI submits one report to the do-nothing server and to runhub
    (new keys: a new source each time; then again with known keys), --repeat times."""
    import client as cli_bench  # imports this module; deferred to avoid a cycle

    report, failures = cli_bench.write_reports(tmp, args.cli_tests, args.cli_tests)
    ctx = ssl.create_default_context()
    url = new_database(stack, backend, args.pg_url, str(tmp), "cli")
    port, token, _ = cli_bench.start_tls_server(stack, tmp, ctx, url, NO_ANALYSIS)
    null_port = start_null_testmo(stack, tmp / "cert.pem", tmp / "key.pem")
    project_id = create_project(url, "cli")
    env = {**os.environ, "TESTMO_TOKEN": token, "CI": "true"}
    env["NODE_EXTRA_CA_CERTS"] = str(tmp / "ca.pem")

    def submit(port: int, source: str) -> float:
        cmd = [cli_bench.TESTMO, "automation:run:submit", "--instance", f"https://127.0.0.1:{port}"]
        cmd += ["--project-id", str(project_id), "--name", source, "--source", source]
        cmd += ["--results", *map(str, report)]
        return cli_bench.timed(source, cmd, env, tmp)["seconds"]

    print(f"[{backend}] row 4: official CLI, {args.cli_tests} tests ({failures} failures)")
    samples = []
    for r in range(args.repeat):
        sample = {"null": submit(null_port, f"null-{r}")}
        sample["new"] = submit(port, f"cli-{r}")
        sample["known"] = submit(port, f"cli-{r}")
        print(
            f"  do-nothing server {sample['null']:.2f} s, runhub new keys {sample['new']:.2f} s,"
            f" known keys {sample['known']:.2f} s",
            flush=True,
        )
        samples.append(sample)
    return samples


# --- one backend --------------------------------------------------------------------------


def bench_backend(backend: str, args: argparse.Namespace, bodies: list[bytes]) -> list[Row]:
    rows: list[Row] = []
    want = set(args.rows)
    with ExitStack() as stack:
        tmp = tempfile.mkdtemp(prefix=f"runhub-bench-{backend}-")
        stack.callback(shutil.rmtree, tmp, ignore_errors=True)
        if want & {1, 2, 3, 7}:
            rows += bench_appends(backend, args, bodies, stack, tmp)
        if 4 in want:
            samples = bench_cli(backend, args, stack, Path(tmp))
            null = [s["null"] for s in samples]
            for kind in ("new", "known"):
                over = [s[kind] / s["null"] - 1 for s in samples]
                rows.append(
                    Row(
                        f"4 CLI {args.cli_tests // 1000}k, {kind} keys: overhead",
                        backend,
                        f"{spread([o * 100 for o in over])} %",
                        f"CLI alone {spread(null, '.2f')} s",
                        f"<= {TARGET_CLI_OVERHEAD:.0%}",
                        statistics.median(over) <= TARGET_CLI_OVERHEAD,
                    )
                )
    return rows


def bench_appends(
    backend: str, args: argparse.Namespace, bodies: list[bytes], stack: ExitStack, tmp: str
) -> list[Row]:
    """Rows 1, 2, 3 and 7: the HTTP server and its in-process floor, interleaved per repeat
    (each on its own fresh database) so that both see the same machine."""
    n, want = args.tests, set(args.rows)
    floor_url = new_database(stack, backend, args.pg_url, tmp, "floor")
    ip = InProcess(stack, floor_url, fresh=True)
    floor_project = ip.create_project("floor")
    url = new_database(stack, backend, args.pg_url, tmp, "http")
    port, token, pid = start_server(stack, url, tmp, "http", env_extra=NO_ANALYSIS)
    project_id = create_project(url, "bench")
    client = Client(port, token)
    stack.callback(client.close)
    batches = [decode_append(b) for b in bodies]  # the floor's decoding, before any clock
    width = args.parallel
    parts_http = [bodies[k::width] for k in range(width)]
    parts_ip = [batches[k::width] for k in range(width)]
    out: dict[str, list[dict[str, Any]]] = {}
    storage: dict[str, dict[str, Any]] = {}

    def phase(key: str, label: str, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        os.sync()  # what the previous phase left for the kernel to write is written now
        result = fn()
        out.setdefault(key, []).append(result)
        settled = n / (result["append_s"] + result.get("expand_s", 0) + result["complete_s"])
        extra = f", expand {result['expand_s']:.2f} s" if result.get("expand_s") else ""
        print(
            f"  {label:<28} append {result['append_s']:6.2f} s = {n / result['append_s']:>9,.0f}"
            f" tests/s{extra}, complete {result['complete_s']:.2f} s, settled {settled:,.0f}/s",
            flush=True,
        )
        return result

    for r in range(args.repeat):
        print(f"[{backend}] rows 1-3, repeat {r + 1}/{args.repeat}: {n} tests each", flush=True)
        new, par = f"bench-{r}", f"parallel-{r}"
        if want & {1, 2, 7}:
            snap0 = table_bytes(url) if r == 0 and 7 in want else {}
            phase(
                "floor_new",
                "1 new keys, in-process",
                partial(inproc_run, ip, floor_project, new, batches, n),
            )
            phase(
                "http_new",
                "1 new keys, HTTP",
                partial(http_run, client, project_id, new, bodies, n, pid),
            )
            snap1 = table_bytes(url) if r == 0 and 7 in want else {}
        if want & {2, 7}:
            phase(
                "floor_known",
                "2 known keys, in-process",
                partial(inproc_run, ip, floor_project, new, batches, n),
            )
            phase(
                "http_known",
                "2 known keys, HTTP",
                partial(http_run, client, project_id, new, bodies, n, pid),
            )
            if r == 0 and 7 in want:
                snap2 = table_bytes(url)
                storage["first"] = storage_delta(snap0, snap1, n)
                storage["rerun"] = storage_delta(snap1, snap2, n)
        if 3 in want:
            phase(
                "floor_par",
                f"3 {width} threads, in-process",
                partial(inproc_parallel, ip, floor_project, par, parts_ip, n),
            )
            phase(
                "http_par",
                f"3 {width} threads, HTTP",
                partial(http_parallel, port, token, project_id, par, parts_http, n),
            )
    return append_rows(backend, args, out, storage)


def append_rows(
    backend: str, args: argparse.Namespace, out: dict[str, list[dict[str, Any]]], storage: dict
) -> list[Row]:
    n, rows = args.tests, []

    def rates(key: str) -> list[float]:
        return [n / s["append_s"] for s in out.get(key, [])]

    def settled(key: str) -> list[float]:
        return [n / (s["append_s"] + s["expand_s"] + s["complete_s"]) for s in out.get(key, [])]

    if "http_new" in out:
        new, target = rates("http_new"), TARGET_NEW[backend]
        floor = f"{spread(rates('floor_new'))}/s"
        rows.append(
            Row(
                "1 new keys, tests/s (append)",
                backend,
                spread(new),
                floor,
                f">= {target:,}",
                statistics.median(new) >= target,
            )
        )
        complete = [s["complete_s"] for s in out["http_new"]]
        floor_c = [s["expand_s"] + s["complete_s"] for s in out["floor_new"]]
        rows.append(
            Row(
                "1 new keys, complete s",
                backend,
                spread(complete, ".2f"),
                f"{spread(floor_c, '.2f')} s",
                "-",
                None,
            )
        )
        rows.append(
            Row(
                "1 new keys, settled tests/s",
                backend,
                spread(settled("http_new")),
                f"{spread(settled('floor_new'))}/s",
                f">= {target:,}",
                statistics.median(settled("http_new")) >= target,
            )
        )
        cpu = [s["cpu_s"] / s["append_s"] for s in out["http_new"]]
        rows.append(Row("1 new keys, server CPU/wall", backend, spread(cpu, ".2f"), "-", "-", None))
    if "http_known" in out:
        known, new = rates("http_known"), rates("http_new")
        ratio = statistics.median(known) / statistics.median(new)
        floor_ratio = statistics.median(rates("floor_known")) / statistics.median(
            rates("floor_new")
        )
        rows.append(
            Row(
                "2 known keys, tests/s (append)",
                backend,
                spread(known),
                f"{spread(rates('floor_known'))}/s",
                "-",
                None,
            )
        )
        rows.append(
            Row(
                "2 known keys, settled tests/s",
                backend,
                spread(settled("http_known")),
                f"{spread(settled('floor_known'))}/s",
                "-",
                None,
            )
        )
        rows.append(
            Row(
                "2 known/new keys (append)",
                backend,
                f"{ratio:.2f}x",
                f"{floor_ratio:.2f}x",
                f">= {TARGET_KNOWN_RATIO}x",
                ratio >= TARGET_KNOWN_RATIO,
            )
        )
    if "http_par" in out:
        lat = quantiles([ms for s in out["http_par"] for ms in s["latencies"]])
        floor_lat = quantiles([ms for s in out["floor_par"] for ms in s["latencies"]])
        figure = "/".join(f"{lat[k]:.0f}" for k in ("p50", "p95", "p99", "max"))
        floor = "/".join(f"{floor_lat[k]:.0f}" for k in ("p50", "p95", "p99", "max"))
        sqlite = backend == "sqlite"
        rows.append(
            Row(
                f"3 {args.parallel} threads, p50/p95/p99/max ms",
                backend,
                figure,
                floor,
                f"p99 <= {TARGET_PARALLEL_P99_MS:.0f}" if sqlite else "-",
                lat["p99"] <= TARGET_PARALLEL_P99_MS if sqlite else None,
            )
        )
        par = rates("http_par")
        rows.append(
            Row(
                f"3 {args.parallel} threads, total tests/s",
                backend,
                spread(par),
                f"{spread(rates('floor_par'))}/s",
                "-",
                None,
            )
        )
        if "http_new" in out:
            ratio = statistics.median(par) / statistics.median(rates("http_new"))
            floor_ratio = statistics.median(rates("floor_par")) / statistics.median(
                rates("floor_new")
            )
            rows.append(
                Row(
                    f"3 {args.parallel} threads / one client",
                    backend,
                    f"{ratio:.2f}x",
                    f"{floor_ratio:.2f}x",
                    "-" if sqlite else f">= {TARGET_PARALLEL_RATIO:.0f}x",
                    None if sqlite else ratio >= TARGET_PARALLEL_RATIO,
                )
            )
    if storage:
        sqlite = backend == "sqlite"
        for kind, label in (("first", "first run"), ("rerun", "re-run")):
            s = storage[kind]
            print(f"[{backend}] row 7, {label}: bytes per result by table (>= 4 KiB):")
            for table, size in s["tables"].items():
                print(f"  {table:<32}{size / n:>9.1f}")
            target = TARGET_BYTES[kind]
            rows.append(
                Row(
                    f"7 bytes/result, {label}",
                    backend,
                    f"{s['results']:.0f} results+indexes",
                    "-",
                    f"<= {target}" if sqlite else "(information)",
                    s["results"] <= target if sqlite else None,
                )
            )
            if kind == "first":
                both = s["results"] + s["cases"]
                rows.append(
                    Row(
                        "7 bytes/result, first, with cases",
                        backend,
                        f"{both:.0f} (cases {s['cases']:.0f})",
                        "-",
                        "(information)",
                        None,
                    )
                )
    return rows


def main() -> None:
    # SIGTERM unwinds like an error, so servers are stopped and databases dropped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("bench: terminated"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=200_000, help="per run, rows 1-3 and 7")
    parser.add_argument("--batch", type=int, default=250)
    parser.add_argument("--parallel", type=int, default=8, help="threads (clients), row 3")
    parser.add_argument("--cli-tests", type=int, default=40_000, help="tests in the report, row 4")
    parser.add_argument("--repeat", type=int, default=3, help="times each timed phase runs")
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--rows", default="1,2,3,4,7", help="of 1,2,3,4,7")
    parser.add_argument("--pg-url", default=PG_URL)
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if unknown := set(backends) - set(BACKENDS):
        parser.error(f"unknown backends: {', '.join(sorted(unknown))}")
    args.rows = {int(r) for r in args.rows.split(",") if r.strip()}
    if args.rows - {1, 2, 3, 4, 7}:
        parser.error("--rows: of 1,2,3,4,7 (rows 5 and 6 are in bench/scale.py)")
    if args.rows & {2, 3, 7}:
        args.rows.add(1)  # their figures are read against row 1's
    bodies: list[bytes] = []
    if args.rows & {1, 2, 3, 7}:
        tests = make_tests(args.tests)
        bodies = encode_bodies(tests, args.batch)
        failures = sum(t["status"] == "failure" for t in tests)
        del tests
        size = sum(map(len, bodies)) / 2**20
        print(f"{len(bodies)} bodies, {size:.1f} MiB of JSON, {failures} failures", flush=True)
    started = time.perf_counter()
    rows = [row for b in backends for row in bench_backend(b, args, bodies)]
    title = (
        f"Summary: {args.tests} tests per run in batches of {args.batch}, {args.repeat} repeats"
        f" (median (min..max)); {time.perf_counter() - started:.0f} s"
    )
    print_summary(rows, title)


if __name__ == "__main__":
    main()
