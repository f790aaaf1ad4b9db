"""Retention end to end, on both backends: a project's retention set with `runhub admin
set-retention`, `runhub db prune --dry-run` saying what would go, the retention pass of a
real `runhub serve` deleting an expired run while keeping a pinned and a recent one, and
`runhub db prune` doing the same from the command line."""

from __future__ import annotations

import time
from datetime import timedelta

import httpx2 as httpx
import pytest
from sqlalchemy import update

from runhub.db.engine import make_engine, write_tx
from runhub.db.schema import automation_runs
from runhub.timeutil import utcnow

from ..helpers import make_test
from .conftest import ServerProcess, StartServer, runhub_cli

pytestmark = pytest.mark.e2e

NO_PRUNING = {"RUNHUB_PRUNE_INTERVAL_S": "0", "RUNHUB_ANALYSIS_INTERVAL_S": "0"}


def _completed_run(client: httpx.Client, project_id: int, name: str) -> int:
    response = client.post(
        f"/projects/{project_id}/automation/runs", json={"name": name, "source": "nightly"}
    )
    assert response.status_code == 201, response.text
    run_id = response.json()["id"]
    thread_id = client.post(f"/automation/runs/{run_id}/threads", json={}).json()["id"]
    tests = {"tests": [make_test("a"), make_test("b", "failed")]}
    appended = client.post(f"/automation/runs/threads/{thread_id}/append", json=tests)
    assert appended.status_code == 204, appended.text
    assert client.post(f"/automation/runs/{run_id}/complete", json={}).status_code == 204
    # Reading the results expands the appended batch (the counts below are of results).
    assert client.get(f"/automation/runs/{run_id}/tests").json()["total"] == 2
    return run_id


def _age(db_url: str, run_ids: list[int], days: int) -> None:
    engine = make_engine(db_url)
    stamp = utcnow() - timedelta(days=days)
    try:
        with write_tx(engine) as conn:
            conn.execute(
                update(automation_runs)
                .where(automation_runs.c.id.in_(run_ids))
                .values(created_at=stamp, updated_at=stamp, completed_at=stamp)
            )
    finally:
        engine.dispose()


def _status(server: ServerProcess, run_id: int) -> int:
    with server.client() as client:
        return client.get(f"/automation/runs/{run_id}").status_code


def test_expired_runs_go_pinned_and_recent_ones_stay(
    db_url: str, start_server: StartServer
) -> None:
    server = start_server(db_url, env=NO_PRUNING)
    project_id = int(runhub_cli("admin", "create-project", "E2E", "--database", db_url))
    with server.client() as client:
        expired = _completed_run(client, project_id, "expired")
        pinned = _completed_run(client, project_id, "pinned")
        recent = _completed_run(client, project_id, "recent")
        assert client.post(f"/automation/runs/{pinned}/pin").status_code == 200
    _age(db_url, [expired, pinned], 40)
    runhub_cli("admin", "set-retention", str(project_id), "--run-days", "30", "--database", db_url)

    plan = runhub_cli("db", "prune", "--dry-run", "--database", db_url)
    assert f"project {project_id}: run days 30" in plan and "runs 1, results 2" in plan, plan
    assert "nothing was deleted" in plan
    assert _status(server, expired) == 200

    # A second server whose retention pass runs every second deletes the expired run.
    pruner = start_server(db_url, env={**NO_PRUNING, "RUNHUB_PRUNE_INTERVAL_S": "1"})
    deadline = time.monotonic() + 30
    while _status(server, expired) != 404:
        assert time.monotonic() < deadline, pruner.output()
        time.sleep(0.1)
    assert _status(server, pinned) == 200 and _status(server, recent) == 200
    deadline = time.monotonic() + 10
    while "retention pass: runs deleted: 1" not in pruner.stderr:
        assert time.monotonic() < deadline, pruner.output()
        time.sleep(0.1)
    pruner.stop()

    # From the command line, with no pruning server running.
    with server.client() as client:
        later = _completed_run(client, project_id, "later")
    _age(db_url, [later], 31)
    done = runhub_cli("db", "prune", "--database", db_url)
    assert "runs deleted: 1" in done and "results deleted in batches: 2" in done, done
    assert _status(server, later) == 404
    assert _status(server, pinned) == 200 and _status(server, recent) == 200
    with server.client() as client:
        listed = client.get(f"/projects/{project_id}/automation/runs").json()
    # (As a set: the test ages runs by rewriting created_at, which no list position follows.)
    assert {run["name"] for run in listed["result"]} == {"recent", "pinned"}
    assert listed["total"] == 2
