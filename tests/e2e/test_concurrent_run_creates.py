"""Concurrent run creates and completions against the real server: the run list's total
(the project's counter) and its order (list positions) stay exactly those of a recount
and of ORDER BY created_at, id (issue 12; triggers of migration 0007)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from runhub.db.engine import make_engine
from runhub.db.schema import automation_runs, projects

from .conftest import ServerProcess

pytestmark = pytest.mark.e2e

CLIENTS = 8
RUNS_EACH = 12


def test_concurrent_creates_keep_the_list_exact(live_server: ServerProcess) -> None:
    server = live_server
    barrier = threading.Barrier(CLIENTS, timeout=60)
    path = f"/projects/{server.project_id}/automation/runs"

    def work(i: int) -> list[int]:
        made = []
        with server.client() as client:
            barrier.wait()
            for k in range(RUNS_EACH):
                body = {"name": f"c{i}-{k}", "source": f"src{i % 3}", "tags": [f"t{i}"]}
                response = client.post(path, json=body)
                assert response.status_code == 201, response.text
                made.append(response.json()["id"])
                if k % 2:
                    done = client.post(f"/automation/runs/{made[-1]}/complete", json={})
                    assert done.status_code == 204, done.text
        return made

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        created = [
            run for f in [pool.submit(work, i) for i in range(CLIENTS)] for run in f.result()
        ]

    engine = make_engine(server.db_url)
    try:
        with engine.connect() as conn:
            where = automation_runs.c.project_id == server.project_id
            order = automation_runs.c.created_at.desc(), automation_runs.c.id.desc()
            expected = list(
                conn.execute(select(automation_runs.c.id).where(where).order_by(*order)).scalars()
            )
            completed = conn.execute(
                select(func.count()).where(where, automation_runs.c.is_completed.is_(True))
            ).scalar_one()
            counters = conn.execute(
                select(
                    projects.c.automation_run_count, projects.c.automation_run_completed_count
                ).where(projects.c.id == server.project_id)
            ).one()
    finally:
        engine.dispose()
    assert sorted(expected) == sorted(created)
    assert tuple(counters) == (len(created), completed) == (CLIENTS * RUNS_EACH, completed)

    listed: list[int] = []
    with server.client() as client:
        for page in range(1, 100):
            body = client.get(path, params={"per_page": 25, "page": page}).json()
            assert body["total"] == len(created)
            if not body["result"]:
                break
            listed.extend(item["id"] for item in body["result"])
        project = client.get(f"/projects/{server.project_id}").json()["result"]
    assert listed == expected
    assert project["automation_run_count"] == len(created)
    assert project["automation_run_completed_count"] == completed == CLIENTS * RUNS_EACH // 2
