"""The append path's promise under a crash: an acknowledged batch is never lost or half
stored (services.batches). The real server is killed with SIGKILL while 8 clients append
to 8 threads of one run and its background stage expands batches; a new server on the
same database recovers, and every read then shows exactly the acknowledged tests (plus,
whole or not at all, the batches that were in flight), with counters equal to a recount.
"""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter

import httpx2 as httpx
import pytest
from sqlalchemy import func, select

from runhub.db.engine import make_engine
from runhub.db.schema import automation_run_batches

from .conftest import ServerProcess, StartServer, runhub_cli

pytestmark = pytest.mark.e2e

CLIENTS = 8
BATCH_SIZE = 50
STATUSES = ("passed", "failed", "skipped")
STATUS_IDS = {"passed": 1, "failed": 2, "skipped": 5}


def batch_tests(client: int, batch: int) -> list[dict]:
    return [
        {
            "key": f"c{client}b{batch}t{n}",
            "name": f"test {n}",
            "folder": f"client{client}",
            "status": STATUSES[(client + batch + n) % 3],
            "elapsed": 1_000 + n,
            "fields": [{"type": 1, "name": "Output", "value": f"out {client}.{batch}.{n}"}],
        }
        for n in range(BATCH_SIZE)
    ]


def append_until_killed(
    server: ServerProcess,
    thread_id: int,
    client: int,
    acked: list[int],
    in_flight: list[int],
    stop: threading.Event,
) -> None:
    with server.client() as api:
        batch = 0
        while not stop.is_set():
            in_flight.append(batch)
            try:
                response = api.post(
                    f"/automation/runs/threads/{thread_id}/append",
                    json={"tests": batch_tests(client, batch)},
                )
            except httpx.TransportError:
                return  # the server is gone; this batch may or may not be stored
            assert response.status_code == 204, response.text
            in_flight.remove(batch)
            acked.append(batch)
            batch += 1


def all_tests(api: httpx.Client, run_id: int) -> list[dict]:
    found: list[dict] = []
    page = 1
    while True:
        body = api.get(
            f"/automation/runs/{run_id}/tests", params={"page": page, "per_page": 100}
        ).json()
        found += body["result"]
        if body["next_page"] is None:
            return found
        page += 1


def test_kill_during_parallel_appends_loses_no_acknowledged_batch(
    db_url: str, start_server: StartServer
) -> None:
    # Small expansion transactions, kept busy by a small backlog limit (it expands while
    # appends keep coming), so that the kill lands while the stage is at work, and pauses
    # when it has caught up, so that batches are pending too.
    env = {
        "RUNHUB_EXPANSION_CHUNK_TESTS": "200",
        "RUNHUB_EXPANSION_INTERVAL_S": "0.3",
        "RUNHUB_EXPANSION_BACKLOG_TESTS": "1000",
    }
    server = start_server(db_url, env=env)
    project_id = int(runhub_cli("admin", "create-project", "Crash", "--database", db_url))
    with server.client() as api:
        run = api.post(
            f"/projects/{project_id}/automation/runs", json={"name": "Crash", "source": "crash"}
        )
        run_id = run.json()["id"]
        thread_ids = [
            api.post(f"/automation/runs/{run_id}/threads", json={}).json()["id"]
            for _ in range(CLIENTS)
        ]
    acked: list[list[int]] = [[] for _ in range(CLIENTS)]
    in_flight: list[list[int]] = [[] for _ in range(CLIENTS)]
    stop = threading.Event()
    workers = [
        threading.Thread(
            target=append_until_killed,
            args=(server, thread_ids[c], c, acked[c], in_flight[c], stop),
        )
        for c in range(CLIENTS)
    ]
    for worker in workers:
        worker.start()
    deadline = time.monotonic() + 30
    while sum(map(len, acked)) < 120 and time.monotonic() < deadline:
        time.sleep(0.02)
    server.stop(signal.SIGKILL)
    stop.set()
    for worker in workers:
        worker.join(60)
    assert sum(map(len, acked)) >= 40, "too few appends before the kill to test anything"

    engine = make_engine(db_url)
    with engine.connect() as conn:  # what the new server must recover
        pending = conn.execute(select(func.count()).select_from(automation_run_batches)).scalar()
    engine.dispose()
    print(f"acknowledged batches: {sum(map(len, acked))}, pending at the kill: {pending}")

    recovered = start_server(db_url, env=env)
    recovered.token = server.token
    with recovered.client() as api:
        tests = all_tests(api, run_id)
        run = api.get(f"/automation/runs/{run_id}").json()["result"]
        threads = {t["id"]: t for t in run["threads"]}
    batches_seen: Counter[tuple[int, int]] = Counter()
    for test in tests:
        client, batch, n = (
            int(x) for x in test["key"][1:].replace("b", " ").replace("t", " ").split()
        )
        batches_seen[(client, batch)] += 1
        assert [f["value"] for f in test["fields"]] == [f"out {client}.{batch}.{n}"]
    for client in range(CLIENTS):
        for batch in acked[client]:
            assert batches_seen.pop((client, batch)) == BATCH_SIZE, (client, batch)
    # What is left can only be batches in flight at the kill, each whole.
    for (client, batch), count in batches_seen.items():
        assert batch in in_flight[client], (client, batch)
        assert count == BATCH_SIZE, (client, batch)
    # Counters equal a recount of what a reader sees, thread by thread.
    per_thread: dict[int, Counter[int]] = {t: Counter() for t in thread_ids}
    for test in tests:
        per_thread[test["thread_id"]][test["status"]] += 1
    for thread_id in thread_ids:
        counts = {n: threads[thread_id][f"status{n}_count"] for n in STATUS_IDS.values()}
        assert counts == {n: per_thread[thread_id][n] for n in STATUS_IDS.values()}
    assert run["total_count"] == len(tests)
    # The pages in the default order (newest first) cover every result once, without gaps.
    ids = [t["id"] for t in tests]
    assert ids == sorted(set(ids), reverse=True)
