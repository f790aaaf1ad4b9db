"""Concurrent appends against the real server: counts stay exact, nothing answers 5xx.

decisions.md, "Statuses": counts are exact under any interleaving of concurrent appends
to threads of one run. Shared keys across clients make the `automation_cases` rows
contended (row locks on PostgreSQL, the write lock on SQLite).
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx2 as httpx
import pytest

from .conftest import ServerProcess

pytestmark = pytest.mark.e2e

CLIENTS = 8
BATCHES = 20
BATCH_SIZE = 100
KEY_POOL = 250  # keys shared by every client, so each appears in several threads

# Alias -> status id (decisions.md "Statuses"), drawn from every default status.
ALIASES = {
    "passed": 1,
    "ok": 1,
    "failure": 2,
    "failed": 2,
    "retest": 3,
    "blocked": 4,
    "skipped": 5,
    "ignored": 5,
    "error": 6,
    "broken": 6,
}
PASSED, FAILED, FINAL = {1}, {2, 4, 6}, {1, 2, 4, 5, 6}


def key_of(n: int) -> str:
    return f"case_{n:04d}"


def make_batch(rng: random.Random) -> list[dict[str, Any]]:
    batch = []
    for _ in range(BATCH_SIZE):
        n = rng.randrange(KEY_POOL)
        batch.append(
            {
                "key": key_of(n),
                "name": f"test_{n}",
                "folder": f"suite_{n % 7}",
                "status": rng.choice(list(ALIASES)),
                "elapsed": rng.randrange(0, 5000),
                "fields": [],
                "artifacts": [],
            }
        )
    return batch


def expected_counts(per_status: Counter[int]) -> dict[str, int]:
    out = {f"status{n}_count": per_status.get(n, 0) for n in range(1, 25)}
    out["success_count"] = sum(v for s, v in per_status.items() if s in PASSED)
    out["failure_count"] = sum(v for s, v in per_status.items() if s in FAILED)
    out["completed_count"] = sum(v for s, v in per_status.items() if s in FINAL)
    out["total_count"] = sum(per_status.values())
    out["untested_count"] = 0
    return out


def counts_of(obj: dict[str, Any]) -> dict[str, int]:
    names = [f"status{n}_count" for n in range(1, 25)] + [
        "success_count",
        "failure_count",
        "completed_count",
        "total_count",
        "untested_count",
    ]
    return {n: obj[n] for n in names}


def expect(response: httpx.Response, status: int) -> httpx.Response:
    assert response.status_code == status, (
        f"{response.request.method} {response.request.url.path}: "
        f"{response.status_code} {response.text[:500]}"
    )
    return response


def in_parallel(n: int, work: Callable[[int, threading.Barrier], Any]) -> list[Any]:
    """Run work(i, barrier) for i in 0..n-1 on n threads; re-raise the first failure."""
    barrier = threading.Barrier(n, timeout=60)
    with ThreadPoolExecutor(max_workers=n) as pool:
        futures = [pool.submit(work, i, barrier) for i in range(n)]
        return [f.result(timeout=300) for f in futures]


def create_run(server: ServerProcess, name: str = "Concurrent") -> int:
    with server.client() as client:
        body = {"name": name, "source": "e2e", "fields": [], "links": [], "artifacts": []}
        response = client.post(f"/projects/{server.project_id}/automation/runs", json=body)
        return expect(response, 201).json()["id"]


def all_pages(client: httpx.Client, path: str, per_page: int, **params: Any) -> list[dict]:
    items: list[dict] = []
    page = 1
    while True:
        response = client.get(path, params={"page": page, "per_page": per_page, **params})
        body = expect(response, 200).json()
        items.extend(body["result"])
        if body["next_page"] is None:
            assert len(items) == body["total"]
            return items
        page = body["next_page"]


def flaky_recount(categories: list[int]) -> int:
    """Changes between passed (2) and failed (3) in order, neutral results ignored."""
    flips, last = 0, None
    for category in categories:
        if category == 1:
            continue
        if last is not None and category != last:
            flips += 1
        last = category
    return flips


def category(status_id: int) -> int:
    return 2 if status_id in PASSED else 3 if status_id in FAILED else 1


def test_concurrent_threads_with_shared_keys_keep_exact_counts(live_server: ServerProcess) -> None:
    run_id = create_run(live_server)

    def client_work(i: int, barrier: threading.Barrier) -> tuple[int, Counter[int], Counter[str]]:
        rng = random.Random(1000 + i)
        per_status: Counter[int] = Counter()
        per_key: Counter[str] = Counter()
        with live_server.client() as client:
            barrier.wait()
            response = client.post(f"/automation/runs/{run_id}/threads", json={"fields": []})
            thread_id = expect(response, 201).json()["id"]
            for _ in range(BATCHES):
                batch = make_batch(rng)
                body = {"tests": batch, "elapsed_computed": 10}
                response = client.post(f"/automation/runs/threads/{thread_id}/append", json=body)
                expect(response, 204)
                per_status.update(ALIASES[t["status"]] for t in batch)
                per_key.update(t["key"] for t in batch)
            if i % 2 == 0:  # half the clients complete their own thread
                response = client.post(f"/automation/runs/threads/{thread_id}/complete", json={})
                expect(response, 204)
        return thread_id, per_status, per_key

    sent = in_parallel(CLIENTS, client_work)
    with live_server.client() as client:
        expect(client.post(f"/automation/runs/{run_id}/complete", json={}), 204)
        run = expect(client.get(f"/automation/runs/{run_id}"), 200).json()["result"]

        threads = {t["id"]: t for t in run["threads"]}
        assert sorted(threads) == sorted(thread_id for thread_id, _, _ in sent)
        assert sorted(t["index"] for t in threads.values()) == list(range(1, CLIENTS + 1))
        run_status: Counter[int] = Counter()
        sent_keys: Counter[str] = Counter()
        for thread_id, per_status, per_key in sent:
            thread = threads[thread_id]
            assert thread["is_completed"]
            assert counts_of(thread) == expected_counts(per_status), f"thread {thread_id}"
            assert thread["status"] == (3 if expected_counts(per_status)["failure_count"] else 2)
            assert thread["elapsed"] == BATCHES * 10
            run_status.update(per_status)
            sent_keys.update(per_key)
        total = CLIENTS * BATCHES * BATCH_SIZE
        assert counts_of(run) == expected_counts(run_status)
        assert run["total_count"] == total
        assert (run["thread_count"], run["thread_completed_count"]) == (CLIENTS, CLIENTS)
        assert run["thread_active_count"] == 0
        assert run["is_completed"] and run["status"] == 3

        tests = all_pages(client, f"/automation/runs/{run_id}/tests", 1000)
        assert len(tests) == total
        assert len({t["id"] for t in tests}) == total
        assert Counter(t["key"] for t in tests) == sent_keys
        assert Counter(t["status"] for t in tests) == run_status
        for thread_id, per_status, _ in sent:
            assert Counter(t["status"] for t in tests if t["thread_id"] == thread_id) == per_status

        cases = all_pages(client, f"/projects/{live_server.project_id}/automation/cases", 100)
        assert len(cases) == len(sent_keys)
        statuses_by_key: dict[str, list[int]] = {}
        for t in sorted(tests, key=lambda t: t["id"]):  # ids follow arrival order
            statuses_by_key.setdefault(t["key"], []).append(t["status"])
        for case in cases:
            statuses = statuses_by_key[case["key"]]
            assert case["test_count"] == sent_keys[case["key"]], case["key"]
            assert case["success_count"] == sum(s in PASSED for s in statuses), case["key"]
            assert case["failure_count"] == sum(s in FAILED for s in statuses), case["key"]
            assert case["status_id"] == statuses[-1], case["key"]
            flaky = flaky_recount([category(s) for s in statuses])
            assert case["flaky_count"] == flaky, case["key"]


def test_one_thread_appended_from_many_connections(live_server: ServerProcess) -> None:
    run_id = create_run(live_server)
    with live_server.client() as client:
        response = client.post(f"/automation/runs/{run_id}/threads", json={})
        thread_id = expect(response, 201).json()["id"]

    def connection_work(i: int, barrier: threading.Barrier) -> Counter[int]:
        rng = random.Random(2000 + i)
        per_status: Counter[int] = Counter()
        with live_server.client() as client:
            barrier.wait()
            for _ in range(BATCHES // 2):
                batch = make_batch(rng)
                body = {"tests": batch, "elapsed_observed": 3}
                response = client.post(f"/automation/runs/threads/{thread_id}/append", json=body)
                expect(response, 204)
                per_status.update(ALIASES[t["status"]] for t in batch)
        return per_status

    sent: Counter[int] = Counter()
    for per_status in in_parallel(CLIENTS, connection_work):
        sent.update(per_status)
    with live_server.client() as client:
        expect(client.post(f"/automation/runs/threads/{thread_id}/complete", json={}), 204)
        run = expect(client.get(f"/automation/runs/{run_id}"), 200).json()["result"]
        (thread,) = run["threads"]
        assert counts_of(thread) == expected_counts(sent)
        assert counts_of(run) == expected_counts(sent)
        assert thread["elapsed"] == CLIENTS * (BATCHES // 2) * 3
        total = CLIENTS * (BATCHES // 2) * BATCH_SIZE
        page = expect(client.get(f"/automation/runs/{run_id}/tests"), 200).json()
        assert page["total"] == total
        expect(client.post(f"/automation/runs/{run_id}/complete", json={}), 204)
        run = expect(client.get(f"/automation/runs/{run_id}"), 200).json()["result"]
        assert run["total_count"] == total and run["is_completed"]


def test_concurrent_thread_creation_numbers_threads_without_gaps(
    live_server: ServerProcess,
) -> None:
    for attempt in range(3):
        run_id = create_run(live_server, f"Threads {attempt}")

        def create(i: int, barrier: threading.Barrier, run_id: int = run_id) -> int:
            with live_server.client() as client:
                barrier.wait()
                response = client.post(f"/automation/runs/{run_id}/threads", json={})
                return expect(response, 201).json()["id"]

        ids = in_parallel(CLIENTS, create)
        assert len(set(ids)) == CLIENTS
        with live_server.client() as client:
            run = expect(client.get(f"/automation/runs/{run_id}"), 200).json()["result"]
        threads = run["threads"]
        assert sorted(t["id"] for t in threads) == sorted(ids)
        assert [t["index"] for t in threads] == list(range(1, CLIENTS + 1))
        assert [t["name"] for t in threads] == [f"Thread {n}" for n in range(1, CLIENTS + 1)]
        # Creation order is index order: thread ids grow with the index.
        assert [t["id"] for t in threads] == sorted(ids)
        assert run["thread_count"] == CLIENTS and run["thread_active_count"] == CLIENTS


def test_completing_the_run_while_clients_append(live_server: ServerProcess) -> None:
    """Appends racing the run's completion: each is stored whole (204) or not at all (422)."""
    run_id = create_run(live_server)
    with live_server.client() as client:
        thread_ids = [
            expect(client.post(f"/automation/runs/{run_id}/threads", json={}), 201).json()["id"]
            for _ in range(CLIENTS - 1)
        ]
    lock, accepted, enough = threading.Lock(), [0], threading.Event()

    def work(i: int, barrier: threading.Barrier) -> tuple[int, Counter[int]] | None:
        with live_server.client() as client:
            barrier.wait()
            if i == CLIENTS - 1:  # the completer, once some batches have landed
                assert enough.wait(60)
                expect(client.post(f"/automation/runs/{run_id}/complete", json={}), 204)
                return None
            rng, per_status = random.Random(3000 + i), Counter[int]()
            thread_id = thread_ids[i]
            for _ in range(500):
                batch = make_batch(rng)
                response = client.post(
                    f"/automation/runs/threads/{thread_id}/append", json={"tests": batch}
                )
                if response.status_code == 422:
                    assert response.json()["errors"] == {}
                    assert "completed" in response.json()["message"]
                    return thread_id, per_status
                expect(response, 204)
                per_status.update(ALIASES[t["status"]] for t in batch)
                with lock:
                    accepted[0] += 1
                    if accepted[0] >= 2 * CLIENTS:
                        enough.set()
            raise AssertionError("the run never refused an append")

    sent = [s for s in in_parallel(CLIENTS, work) if s is not None]
    with live_server.client() as client:
        run = expect(client.get(f"/automation/runs/{run_id}"), 200).json()["result"]
        threads = {t["id"]: t for t in run["threads"]}
        total: Counter[int] = Counter()
        for thread_id, per_status in sent:
            assert threads[thread_id]["is_completed"]
            assert counts_of(threads[thread_id]) == expected_counts(per_status)
            total.update(per_status)
        assert counts_of(run) == expected_counts(total)
        page = expect(client.get(f"/automation/runs/{run_id}/tests"), 200).json()
        assert page["total"] == sum(total.values()) == accepted[0] * BATCH_SIZE


def test_concurrent_runs_of_a_new_source_share_it(live_server: ServerProcess) -> None:
    """Parallel CI jobs create runs naming the same new source and config at once."""

    def work(i: int, barrier: threading.Barrier) -> dict[str, Any]:
        body = {"name": f"Job {i}", "source": "fresh-source", "config": "Fresh config"}
        with live_server.client() as client:
            barrier.wait()
            path = f"/projects/{live_server.project_id}/automation/runs"
            run_id = expect(client.post(path, json=body), 201).json()["id"]
            response = client.post(f"/automation/runs/{run_id}/threads", json={})
            thread_id = expect(response, 201).json()["id"]
            tests = make_batch(random.Random(4000 + i))
            response = client.post(
                f"/automation/runs/threads/{thread_id}/append", json={"tests": tests}
            )
            expect(response, 204)
            barrier.wait()  # complete together: the source row is contended
            expect(client.post(f"/automation/runs/{run_id}/complete", json={}), 204)
            return expect(client.get(f"/automation/runs/{run_id}"), 200).json()["result"]

    runs = in_parallel(CLIENTS, work)
    assert len({r["id"] for r in runs}) == CLIENTS
    assert len({r["source_id"] for r in runs}) == 1
    assert len({r["config_id"] for r in runs}) == 1
    with live_server.client() as client:
        path = f"/projects/{live_server.project_id}/automation/sources"
        (source,) = expect(client.get(path), 200).json()["result"]
        assert source["run_count"] == CLIENTS
        assert source["test_count_average"] == BATCH_SIZE
        cases = all_pages(client, f"/projects/{live_server.project_id}/automation/cases", 100)
        assert sum(c["test_count"] for c in cases) == CLIENTS * BATCH_SIZE
