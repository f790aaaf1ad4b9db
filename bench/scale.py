"""Reads at scale on a real `runhub serve` (issue 12 rows 5 and 6; prints numbers).

Per backend (SQLite, then PostgreSQL), on a fresh database with one project:
  5. --runs runs (default 100,000) inserted straight into the run tables with SQLAlchemy
     Core (automation_runs, automation_run_threads, automation_run_tags), then latency of
     GET /automation/runs/{id} (random runs) and of the run list (per_page=100, every
     expand, random pages);
  6. one run of --big-run-tests tests (default 1,000,000) stored through the service
     function `append_to_thread` in this process (batches of 250, then the expansion stage
     where it exists, then `complete_run`), then latency of GET /automation/runs/{id}/tests
     (per_page=100) on its first, middle and last page.
Each latency beside the same call to the service function in this process (the floor).
Latency is measured on one keep-alive connection opened after the seeding.
See bench/README.md. Usage: .venv/bin/python bench/scale.py [--runs N] [--big-run-tests N]
"""

from __future__ import annotations

import argparse
import random
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert

from runhub.api.schemas import RunComplete, RunCreate, ThreadCreate
from runhub.db import batches as batches_db
from runhub.db.engine import make_engine, write_tx
from runhub.db.schema import (
    automation_run_tags,
    automation_run_threads,
    automation_runs,
    automation_sources,
    configs,
)
from runhub.services import catalog, runs, threads
from runhub.services.paging import PageRequest
from runhub.timeutil import utcnow

sys.path.insert(0, str(Path(__file__).parent))
from ingest import (  # noqa: E402
    ADMIN,
    BACKENDS,
    EXPANDS,
    NO_ANALYSIS,
    PG_URL,
    Client,
    InProcess,
    Row,
    create_project,
    decode_append,
    expand_stage,
    iter_bodies,
    new_database,
    print_summary,
    quantiles,
    start_server,
)

TARGET_GET_RUN_MS = {"sqlite": 10.0, "postgresql": 10.0}  # p95, row 5
TARGET_LIST_MS = {"sqlite": 10.0, "postgresql": 20.0}  # p95, row 5
TARGET_TESTS_MS = 20.0  # p95, row 6, both backends


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


def seed_big_run(ip: InProcess, project_id: int, n: int, batch: int) -> tuple[int, dict]:
    """One run of `n` new tests through the service functions: appends of `batch`, the
    expansion stage where it exists, completion. Returns (run id, seconds per stage)."""
    engine, expand = ip.engine, expand_stage()
    run_id = runs.create_run(engine, ADMIN, project_id, RunCreate(name="big", source="big"))
    thread_id = threads.create_thread(engine, ADMIN, run_id, ThreadCreate())
    t0, done = time.perf_counter(), 0
    for body in iter_bodies(n, batch, seed=99):
        append = decode_append(body)
        threads.append_to_thread(engine, ADMIN, thread_id, append)
        done += len(append.tests or [])
        if done % 100_000 < batch:
            print(f"  {done:,} tests, {done / (time.perf_counter() - t0):,.0f}/s", flush=True)
    t1 = time.perf_counter()
    if expand is not None:
        expand(engine)
        # The server's own stage may hold a source this process skipped: reads are timed
        # once nothing is pending anywhere.
        while pending_batches(engine):
            time.sleep(0.2)
            expand(engine)
    t2 = time.perf_counter()
    runs.complete_run(engine, ADMIN, run_id, RunComplete(measure_elapsed=False))
    t3 = time.perf_counter()
    return run_id, {"append": t1 - t0, "expand": t2 - t1, "complete": t3 - t2}


def pending_batches(engine: Engine) -> int:
    with engine.connect() as conn:
        return batches_db.pending_count(conn)[0]


BUDGET_S, MIN_SAMPLES, WARMUP = 20.0, 10, 3


def timed_calls(call: Callable[[Any], Any], args: Sequence[Any]) -> list[float]:
    """ms per `call(arg)` after WARMUP untimed calls; stops early once BUDGET_S have gone
    by and MIN_SAMPLES are in (a deep page can take a second)."""
    for arg in args[:WARMUP]:
        call(arg)
    samples: list[float] = []
    deadline = time.monotonic() + BUDGET_S
    for arg in args:
        t0 = time.perf_counter()
        call(arg)
        samples.append((time.perf_counter() - t0) * 1000)
        if len(samples) >= MIN_SAMPLES and time.monotonic() > deadline:
            break
    return samples


def http_latency(client: Client, paths: Sequence[str]) -> list[float]:
    return timed_calls(lambda path: client.call("GET", path), paths)


def floor_latency(label: str, call: Callable[[Any], Any], args: Sequence[Any]) -> list[float] | str:
    """The service function's own latency, or why it could not be called (the read path
    is being rewritten: a changed signature must not lose the HTTP figure)."""
    try:
        return timed_calls(call, args)
    except Exception as exc:  # noqa: BLE001 - reported, the HTTP figure still counts
        print(f"  floor {label}: not measured ({type(exc).__name__}: {exc})", flush=True)
        return f"n/a ({type(exc).__name__})"


def latency_row(
    row: str, backend: str, http: list[float], floor: list[float] | str, target_ms: float
) -> Row:
    q = quantiles(http)
    figure = f"p95 {q['p95']:.1f} (p50 {q['p50']:.1f}, max {q['max']:.0f}, n={len(http)})"
    if isinstance(floor, str):
        floor_text = floor
    else:
        f = quantiles(floor)
        floor_text = f"p95 {f['p95']:.1f} (p50 {f['p50']:.1f})"
    return Row(row, backend, figure, floor_text, f"p95 < {target_ms:.0f} ms", q["p95"] < target_ms)


def bench_backend(backend: str, args: argparse.Namespace) -> list[Row]:
    rows: list[Row] = []
    rnd = random.Random(11)
    with ExitStack() as stack:
        tmp = tempfile.mkdtemp(prefix=f"runhub-bench-scale-{backend}-")
        stack.callback(shutil.rmtree, tmp, ignore_errors=True)
        url = new_database(stack, backend, args.pg_url, tmp, "scale")
        # No background analysis: it would fold the big run into case health during reads.
        port, token, _ = start_server(stack, url, tmp, "scale", env_extra=NO_ANALYSIS)
        project_id = create_project(url, "scale")
        ip = InProcess(stack, url, fresh=False)
        run_ids: list[int] = []
        if 5 in args.rows:
            print(f"[{backend}] row 5: seeding {args.runs:,} runs ...", flush=True)
            t0 = time.perf_counter()
            run_ids = seed_runs(url, project_id, args.runs)
            print(f"  {time.perf_counter() - t0:.1f} s", flush=True)
        big_run = None
        if 6 in args.rows:
            print(f"[{backend}] row 6: one run of {args.big_run_tests:,} tests ...", flush=True)
            big_run, took = seed_big_run(ip, project_id, args.big_run_tests, args.batch)
            rate = args.big_run_tests / took["append"]
            print(
                f"  appends {took['append']:.1f} s ({rate:,.0f} tests/s), expand"
                f" {took['expand']:.1f} s, complete {took['complete']:.1f} s",
                flush=True,
            )
        # Opened after the seeding: an idle keep-alive connection is closed by the server.
        client = Client(port, token)
        stack.callback(client.close)
        n_req = args.requests
        if 5 in args.rows:
            print(f"[{backend}] row 5: {n_req} requests per endpoint ...", flush=True)
            picks = [rnd.choice(run_ids) for _ in range(n_req)]
            http = http_latency(client, [f"/automation/runs/{i}" for i in picks])
            floor = floor_latency("get_run", lambda i: runs.get_run(ip.engine, ADMIN, i, ()), picks)
            rows.append(
                latency_row(
                    f"5 GET run ({len(run_ids) // 1000}k runs)",
                    backend,
                    http,
                    floor,
                    TARGET_GET_RUN_MS[backend],
                )
            )
            pages = -(-(len(run_ids) + (big_run is not None)) // 100)
            picks = [rnd.randint(1, pages) for _ in range(n_req)]
            base = f"/projects/{project_id}/automation/runs?per_page=100&expands={EXPANDS}&page="
            http = http_latency(client, [base + str(p) for p in picks])
            expands = tuple(EXPANDS.split(","))

            def list_page(page: int) -> Any:
                q = runs.RunQuery(page=PageRequest(page, 100), expands=expands)
                return runs.list_runs(ip.engine, ADMIN, project_id, q)

            floor = floor_latency("list_runs", list_page, picks)
            rows.append(
                latency_row(
                    "5 run list, random pages",
                    backend,
                    http,
                    floor,
                    TARGET_LIST_MS[backend],
                )
            )
        if big_run is not None:
            last = -(-args.big_run_tests // 100)
            for name, page in (("first", 1), ("middle", (last + 1) // 2), ("last", last)):
                print(f"[{backend}] row 6: page {page} of {last}, {args.page_requests} requests")
                path = f"/automation/runs/{big_run}/tests?per_page=100&page={page}"
                http = http_latency(client, [path] * args.page_requests)

                def tests_page(page: int, run_id: int = big_run) -> Any:
                    return catalog.list_run_tests(
                        ip.engine,
                        ADMIN,
                        run_id,
                        PageRequest(page, 100),
                        thread_id=None,
                        categories=None,
                        sort="automation_run_tests:id",
                        descending=True,
                    )

                floor = floor_latency("list_run_tests", tests_page, [page] * args.page_requests)
                rows.append(
                    latency_row(
                        f"6 tests {args.big_run_tests // 1000}k run, {name} page",
                        backend,
                        http,
                        floor,
                        TARGET_TESTS_MS,
                    )
                )
    return rows


def main() -> None:
    # SIGTERM unwinds like an error, so the server is stopped and databases dropped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("bench: terminated"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000, help="runs stored, row 5")
    parser.add_argument("--big-run-tests", type=int, default=1_000_000, help="row 6")
    parser.add_argument("--batch", type=int, default=1000, help="tests per append, row 6 seed")
    parser.add_argument("--requests", type=int, default=200, help="per row 5 endpoint")
    parser.add_argument("--page-requests", type=int, default=100, help="per row 6 page")
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--rows", default="5,6", help="of 5,6")
    parser.add_argument("--pg-url", default=PG_URL)
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if unknown := set(backends) - set(BACKENDS):
        parser.error(f"unknown backends: {', '.join(sorted(unknown))}")
    args.rows = {int(r) for r in args.rows.split(",") if r.strip()}
    if not args.rows or args.rows - {5, 6}:
        parser.error("--rows: of 5,6 (rows 1-4 and 7 are in bench/ingest.py)")
    started = time.perf_counter()
    rows = [row for b in backends for row in bench_backend(b, args)]
    title = (
        f"Summary: {args.runs} runs, one run of {args.big_run_tests} tests; latency in ms,"
        f" {args.requests} / {args.page_requests} requests; {time.perf_counter() - started:.0f} s"
    )
    print_summary(rows, title)


if __name__ == "__main__":
    main()
