"""Webhook delivery (services.webhook_delivery): the signature, the two formats, and the
outbox worker against a real HTTP receiver on 127.0.0.1, on both backends."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select, update

from runhub.api.schemas import WebhookCreate, WebhookUpdate
from runhub.db import webhooks as db
from runhub.db.engine import read_tx, write_tx
from runhub.db.schema import webhook_attempts, webhook_deliveries
from runhub.services import admin, webhooks
from runhub.services.access import Principal
from runhub.services.webhook_delivery import (
    DeliveryConfig,
    body_of,
    deliver_due,
    make_client,
    sign,
    slack_message,
)
from runhub.timeutil import utcnow

from ..webhook_receiver import Receiver

ADMIN = Principal(1, "Admin", "admin")
FAST = DeliveryConfig(timeout_s=5, allow_private=True, retry_base_s=10, retry_max_s=40)


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    body = b'{"event":"ping"}'
    expected = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign("s3cret", 1700000000, body) == f"sha256={expected}"
    assert sign("s3cret", 1700000001, body) != sign("s3cret", 1700000000, body)


RUN_DOCUMENT: dict[str, Any] = {
    "event": "run.completed",
    "delivery_id": 7,
    "timestamp": "2026-12-02T10:00:00.000000Z",
    "project": {"id": 1, "name": "Demo"},
    "run": {"id": 5, "name": "Nightly", "status": 3},
    "counts": {"total": 10, "success": 8, "failure": 2, "completed": 10},
    "vcs_commit": "0123456789abcdef0123",
    "vcs_branch": "main",
    "url": "https://runhub.example.com/runs/5",
    "changes": {
        "base_run_id": 4,
        "counts": {"new_failure": 1, "still_failing": 1, "fixed": 0, "new_test": 2, "missing": 0},
    },
    "new_failure_groups": [{"id": 3, "title": "KeyError: 'user_id'", "count": 1}],
    "quarantined_failures": {"count": 1, "tests": []},
}


def test_slack_message_summarises_a_run() -> None:
    message = slack_message(RUN_DOCUMENT)
    assert message["text"] == "Demo: run Nightly #5 completed: failed"
    header, section = message["blocks"]
    assert header == {"type": "header", "text": {"type": "plain_text", "text": message["text"]}}
    text = section["text"]["text"]
    assert section["text"]["type"] == "mrkdwn"
    assert "*10* tests · *8* passed · *2* failed" in text
    assert "`main` @ `0123456789ab`" in text
    assert "New failures 1 · still failing 1 · fixed 0 · new tests 2 · missing 0" in text
    assert "New cause: 1 × KeyError: 'user_id'" in text
    assert "Quarantined failures: 1" in text
    assert "<https://runhub.example.com/runs/5|Open in runhub>" in text


def test_slack_message_of_other_events() -> None:
    changed = {
        "event": "case.state_changed",
        "project": {"id": 1, "name": "Demo"},
        "case": {"id": 9, "name": "test_login"},
        "old_state": "healthy",
        "new_state": "flaky",
        "evidence": [{"kind": "retry", "run_ids": [5]}],
    }
    message = slack_message(changed)
    assert message["text"] == "Demo: test_login is flaky (was healthy)"
    assert "Evidence: retry" in message["blocks"][1]["text"]["text"]
    ping = slack_message({"event": "ping", "project": {"name": "Demo"}, "message": "hi"})
    assert ping["text"] == "Demo: hi" and len(ping["blocks"]) == 1


def test_plain_body_has_the_event_and_an_absolute_link() -> None:
    row = {
        "id": 7,
        "event": "ping",
        "created_at": utcnow(),
        "format": "plain",
        "payload": json.dumps({"project": {"id": 1, "name": "Demo"}, "url": "/runs/5"}),
    }
    document = json.loads(body_of(row, "https://runhub.example.com/"))
    assert document["event"] == "ping" and document["delivery_id"] == 7
    assert document["timestamp"].endswith("Z")
    assert document["url"] == "https://runhub.example.com/runs/5"
    assert json.loads(body_of(row, ""))["url"] == "/runs/5"  # no public URL: the path
    slack = json.loads(body_of({**row, "format": "slack"}, ""))
    assert set(slack) == {"text", "blocks"}


# --- the worker ------------------------------------------------------------------------------


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver().start()
    yield found
    found.stop()


@pytest.fixture
def project_id(engine: Engine) -> int:
    with write_tx(engine) as conn:
        return admin.create_project(conn, "Hooks")


def _endpoint(engine: Engine, project_id: int, url: str, **body: Any) -> int:
    create = WebhookCreate(url=url, events=["run.created"], **body)
    return webhooks.create(engine, ADMIN, project_id, create, allow_private=True)


def _delivery(engine: Engine, delivery_id: int) -> Any:
    with read_tx(engine) as conn:
        return db.delivery_by_id(conn, delivery_id)


def _attempts(engine: Engine, delivery_id: int) -> list[Any]:
    query = select(webhook_attempts).where(webhook_attempts.c.delivery_id == delivery_id)
    with read_tx(engine) as conn:
        return list(conn.execute(query.order_by(webhook_attempts.c.id)).mappings())


def _make_due(engine: Engine) -> None:
    with write_tx(engine) as conn:
        conn.execute(
            update(webhook_deliveries)
            .where(webhook_deliveries.c.state == db.PENDING)
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )


def test_delivers_signed_and_records_the_attempt(
    engine: Engine, project_id: int, receiver: Receiver
) -> None:
    endpoint_id = _endpoint(engine, project_id, receiver.url, secret="s3cret")
    delivery_id = webhooks.ping(engine, ADMIN, endpoint_id)
    heard: list[str] = []
    with make_client(FAST) as client:
        assert deliver_due(engine, client, FAST, on_delivery=heard.append) == 1
        assert deliver_due(engine, client, FAST) == 0  # nothing left
    (got,) = receiver.received
    assert got.path == "/hook"
    assert got.headers["x-runhub-event"] == "ping"
    assert got.headers["x-runhub-delivery"] == str(delivery_id)
    assert got.headers["host"] == f"127.0.0.1:{receiver.port}"
    assert got.signature_matches("s3cret") and not got.signature_matches("other")
    assert got.document["event"] == "ping" and got.document["delivery_id"] == delivery_id
    assert got.document["project"] == {"id": project_id, "name": "Hooks"}
    assert heard == ["delivered"]
    row = _delivery(engine, delivery_id)
    assert (row["state"], row["attempts"], row["last_response_code"]) == (db.DELIVERED, 1, 200)
    assert row["delivered_at"] is not None and row["next_attempt_at"] is None
    (attempt,) = _attempts(engine, delivery_id)
    assert attempt["response_code"] == 200 and attempt["error"] is None


def test_no_secret_no_signature_and_slack_body(
    engine: Engine, project_id: int, receiver: Receiver
) -> None:
    endpoint_id = _endpoint(engine, project_id, receiver.url, format="slack")
    webhooks.ping(engine, ADMIN, endpoint_id)
    with make_client(FAST) as client:
        deliver_due(engine, client, FAST)
    (got,) = receiver.received
    assert "x-runhub-signature" not in got.headers
    assert got.document["text"] == "Hooks: runhub webhook test"


def test_retries_with_backoff_then_fails(
    engine: Engine, project_id: int, receiver: Receiver
) -> None:
    receiver.status = 500
    endpoint_id = _endpoint(engine, project_id, receiver.url)
    delivery_id = webhooks.ping(engine, ADMIN, endpoint_id)
    heard: list[str] = []
    delays = []
    with make_client(FAST) as client:
        for _ in range(4):
            before = utcnow()
            assert deliver_due(engine, client, FAST, on_delivery=heard.append) == 1
            row = _delivery(engine, delivery_id)
            assert row["state"] == db.PENDING and row["last_response_code"] == 500
            delays.append(round((row["next_attempt_at"] - before).total_seconds()))
            assert deliver_due(engine, client, FAST) == 0  # not due yet
            _make_due(engine)
        # 24 hours after the event it has failed for good.
        with write_tx(engine) as conn:
            conn.execute(update(webhook_deliveries).values(created_at=utcnow() - timedelta(days=1)))
        deliver_due(engine, client, FAST, on_delivery=heard.append)
    assert delays == [10, 20, 40, 40]  # doubling from the base, up to the maximum
    assert heard == ["retry"] * 4 + ["failed"]
    row = _delivery(engine, delivery_id)
    assert (row["state"], row["attempts"], row["next_attempt_at"]) == (db.FAILED, 5, None)
    assert [a["response_code"] for a in _attempts(engine, delivery_id)] == [500] * 5
    assert len(receiver.received) == 5


def test_private_address_is_refused_at_delivery(engine: Engine, project_id: int) -> None:
    endpoint_id = _endpoint(engine, project_id, "http://127.0.0.1:9/hook")
    delivery_id = webhooks.ping(engine, ADMIN, endpoint_id)
    strict = DeliveryConfig(allow_private=False)
    with make_client(strict) as client:
        deliver_due(engine, client, strict)
    row = _delivery(engine, delivery_id)
    assert row["state"] == db.PENDING and row["last_response_code"] is None
    (attempt,) = _attempts(engine, delivery_id)
    assert "loopback" in attempt["error"]


def test_connection_refused_is_retried(engine: Engine, project_id: int) -> None:
    dead = Receiver().start()
    dead.stop()  # its port is now closed
    endpoint_id = _endpoint(engine, project_id, dead.url)
    delivery_id = webhooks.ping(engine, ADMIN, endpoint_id)
    with make_client(FAST) as client:
        deliver_due(engine, client, FAST)
    assert _delivery(engine, delivery_id)["state"] == db.PENDING
    assert "Connect" in _attempts(engine, delivery_id)[0]["error"]


def test_deactivating_fails_pending_deliveries(engine: Engine, project_id: int) -> None:
    endpoint_id = _endpoint(engine, project_id, "http://127.0.0.1:9/hook")
    delivery_id = webhooks.ping(engine, ADMIN, endpoint_id)
    update_body = WebhookUpdate(is_active=False)
    webhooks.update(engine, ADMIN, endpoint_id, update_body, allow_private=True)
    assert _delivery(engine, delivery_id)["state"] == db.FAILED
    with make_client(FAST) as client:
        assert deliver_due(engine, client, FAST) == 0


def test_a_claimed_delivery_is_not_claimed_again(engine: Engine, project_id: int) -> None:
    """A claim leases the row: a second worker (another process) finds nothing due."""
    endpoint_id = _endpoint(engine, project_id, "http://127.0.0.1:9/hook")
    webhooks.ping(engine, ADMIN, endpoint_id)
    now = utcnow()
    with write_tx(engine) as conn:
        first = db.claim_due(conn, now, now + timedelta(minutes=1), limit=10)
    with write_tx(engine) as conn:
        second = db.claim_due(conn, now, now + timedelta(minutes=1), limit=10)
    assert len(first) == 1 and second == []
    # The lease over (the worker died), it comes due again: at least once.
    later = now + timedelta(minutes=2)
    with write_tx(engine) as conn:
        assert db.claim_due(conn, later, later + timedelta(minutes=1), limit=10) == first


def test_settings_from_the_environment() -> None:
    from runhub.settings import Settings

    env = {
        "RUNHUB_PUBLIC_URL": "https://runhub.example.com",
        "RUNHUB_WEBHOOK_INTERVAL_S": "0",
        "RUNHUB_WEBHOOK_TIMEOUT_S": "3",
        "RUNHUB_WEBHOOK_ALLOW_PRIVATE": "1",
        "RUNHUB_WEBHOOK_RETRY_BASE_S": "1",
    }
    config = DeliveryConfig.from_settings(Settings.from_env(env))
    assert config == DeliveryConfig(
        timeout_s=3, allow_private=True, public_url="https://runhub.example.com", retry_base_s=1
    )
    assert Settings.from_env(env).webhook_interval_s == 0
    assert Settings.from_env({"RUNHUB_WEBHOOK_ALLOW_PRIVATE": "0"}).webhook_allow_private is False
    assert Settings.from_env({}).webhook_allow_private is False
