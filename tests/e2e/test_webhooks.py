"""Webhooks end to end: the real `runhub serve` delivering to a real HTTP receiver on
127.0.0.1 (signature, retries after 500, delivery after a restart), on both backends."""

from __future__ import annotations

import time
from typing import Any

import pytest

from ..helpers import make_test
from ..webhook_receiver import Receiver
from .conftest import ServerProcess, StartServer, runhub_cli

pytestmark = pytest.mark.e2e

# Short intervals so that retries happen within the test.
ENV = {
    "RUNHUB_WEBHOOK_ALLOW_PRIVATE": "1",
    "RUNHUB_WEBHOOK_INTERVAL_S": "0.1",
    "RUNHUB_WEBHOOK_RETRY_BASE_S": "0.2",
    "RUNHUB_WEBHOOK_RETRY_MAX_S": "0.5",
    "RUNHUB_WEBHOOK_TIMEOUT_S": "2",
    "RUNHUB_ANALYSIS_INTERVAL_S": "0.2",
    "RUNHUB_PUBLIC_URL": "https://runhub.example.com",
}
SECRET = "e2e-secret"


def _deliveries(server: ServerProcess, webhook_id: int) -> list[dict[str, Any]]:
    with server.client() as client:
        response = client.get(f"/webhooks/{webhook_id}/deliveries")
    assert response.status_code == 200, response.text
    return response.json()["result"]


def _wait_delivered(server: ServerProcess, webhook_id: int, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = _deliveries(server, webhook_id)
        if len(found) >= count and all(d["state"] == "delivered" for d in found):
            return found
        time.sleep(0.1)
    pytest.fail(f"not delivered: {_deliveries(server, webhook_id)}\n{server.output()}")


def _hook(server: ServerProcess, project_id: int, url: str, events: list[str]) -> int:
    body = {"url": url, "events": events, "secret": SECRET}
    with server.client() as client:
        response = client.post(f"/projects/{project_id}/webhooks", json=body)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_signed_deliveries_retried_after_500(db_url: str, start_server: StartServer) -> None:
    server = start_server(db_url, env=ENV)
    project_id = int(runhub_cli("admin", "create-project", "E2E", "--database", db_url))
    receiver = Receiver(status=500).start()
    try:
        webhook_id = _hook(server, project_id, receiver.url, ["run.created", "run.completed"])
        with server.client() as client:
            body = {"name": "Nightly", "source": "e2e", "fields": [], "links": [], "artifacts": []}
            run_id = client.post(f"/projects/{project_id}/automation/runs", json=body).json()["id"]
            receiver.wait_for(3)  # the first attempt and two retries, all answered 500
            receiver.status = 200
            _wait_delivered(server, webhook_id, 1)
            thread_id = client.post(f"/automation/runs/{run_id}/threads", json={}).json()["id"]
            tests = {"tests": [make_test("a"), make_test("b", "failed")]}
            response = client.post(f"/automation/runs/threads/{thread_id}/append", json=tests)
            assert response.status_code == 204
            assert client.post(f"/automation/runs/{run_id}/complete", json={}).status_code == 204
        found = _wait_delivered(server, webhook_id, 2)
    finally:
        receiver.stop()
    created = [r for r in receiver.received if r.headers["x-runhub-event"] == "run.created"]
    assert len(created) >= 4  # three answered 500, then the one answered 200
    assert {r.headers["x-runhub-delivery"] for r in created} == {str(found[-1]["id"])}
    assert all(r.signature_matches(SECRET) for r in receiver.received)
    assert not created[0].signature_matches("wrong secret")
    document = created[-1].document
    assert document["event"] == "run.created" and document["run"]["id"] == run_id
    assert document["url"] == f"https://runhub.example.com/runs/{run_id}"
    (completed,) = [r for r in receiver.received if r.headers["x-runhub-event"] == "run.completed"]
    assert completed.document["counts"]["failure"] == 1
    assert completed.document["changes"]["counts"]["new_test"] == 0  # no base run
    attempt_codes = [a["response_code"] for a in found[-1]["attempt_log"]]
    assert attempt_codes[:3] == [500, 500, 500] and attempt_codes[-1] == 200
    assert found[-1]["last_response_code"] == 200


def test_pending_delivery_survives_a_restart(db_url: str, start_server: StartServer) -> None:
    receiver = Receiver().start()
    port = receiver.port
    receiver.stop()  # down: the first attempts find nothing listening
    server = start_server(db_url, env=ENV)
    token = server.token
    project_id = int(runhub_cli("admin", "create-project", "E2E", "--database", db_url))
    webhook_id = _hook(server, project_id, receiver.url, ["run.created"])
    with server.client() as client:
        body = {"name": "Restart", "source": "e2e", "fields": [], "links": [], "artifacts": []}
        assert client.post(f"/projects/{project_id}/automation/runs", json=body).status_code == 201
    deadline = time.monotonic() + 10
    while not _deliveries(server, webhook_id)[0]["attempt_log"] and time.monotonic() < deadline:
        time.sleep(0.05)
    (pending,) = _deliveries(server, webhook_id)
    assert pending["state"] == "pending" and pending["attempt_log"][0]["error"]
    assert server.stop() == 0

    receiver = Receiver(port=port).start()
    try:
        again = start_server(db_url, env=ENV)
        again.token = token
        (got,) = receiver.wait_for(1)
        delivered = _wait_delivered(again, webhook_id, 1)
    finally:
        receiver.stop()
    assert got.headers["x-runhub-delivery"] == str(pending["id"])
    assert got.signature_matches(SECRET)
    assert delivered[0]["id"] == pending["id"] and delivered[0]["last_response_code"] == 200
