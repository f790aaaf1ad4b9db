"""Webhook delivery (README "Webhooks"): the outbox's due rows POSTed to their endpoints,
signed, at least once, with retries, by a WebhookDeliverer thread in every process.

A worker claims one due delivery at a time in a short write transaction (PostgreSQL:
FOR UPDATE SKIP LOCKED), which moves its next attempt a lease ahead: no other process
takes it meanwhile, and one whose worker died comes due again when the lease ends. The
attempt is recorded in a transaction of its own. 2xx is delivered; anything else (another
status, a refused address, a timeout) is retried after 10 s, doubling up to 1 h, until
24 h after the event, then the delivery has failed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx2
from sqlalchemy import Engine, RowMapping

from runhub import __version__
from runhub.background import BackgroundThread
from runhub.db import webhooks as db
from runhub.db.engine import read_tx, write_tx
from runhub.services.webhook_addresses import AddressRefused, resolve_target
from runhub.settings import Settings
from runhub.timeutil import render as ts
from runhub.timeutil import utcnow

log = logging.getLogger("runhub.webhooks")
MAX_PER_TICK = 50  # deliveries one worker attempts before it looks at its stop flag again
KEEP_FINISHED = timedelta(days=30)  # delivered and failed deliveries are kept this long
PRUNE_EVERY_S = 3600.0


@dataclass(frozen=True)
class DeliveryConfig:
    timeout_s: float = 10.0
    allow_private: bool = False
    public_url: str = ""
    retry_base_s: float = 10.0
    retry_max_s: float = 3600.0
    give_up_s: float = 24 * 3600.0

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliveryConfig:
        return cls(
            timeout_s=settings.webhook_timeout_s,
            allow_private=settings.webhook_allow_private,
            public_url=settings.public_url,
            retry_base_s=settings.webhook_retry_base_s,
            retry_max_s=settings.webhook_retry_max_s,
            give_up_s=settings.webhook_give_up_s,
        )

    @property
    def lease_s(self) -> float:
        """How long a claimed delivery is this worker's: connect, write and read may each
        take the timeout."""
        return 3 * self.timeout_s + 30.0


# --- what is sent ----------------------------------------------------------------------------


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The X-Runhub-Signature value: HMAC-SHA256 over f"{timestamp}.{body}"."""
    message = f"{timestamp}.".encode() + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def event_document(row: Any, public_url: str) -> dict[str, Any]:
    """The plain format: event, delivery id, timestamp (the event's) and the payload, its
    `url` made absolute with the public URL when there is one."""
    payload = json.loads(row["payload"])
    document = {
        "event": row["event"],
        "delivery_id": row["id"],
        "timestamp": ts(row["created_at"]),
        **payload,
    }
    if isinstance(document.get("url"), str) and public_url:
        document["url"] = public_url.rstrip("/") + document["url"]
    return document


def slack_message(document: dict[str, Any]) -> dict[str, Any]:
    """A Slack incoming-webhook message (`text` and `blocks`) summarising the event."""
    event = document["event"]
    project = document.get("project", {}).get("name", "")
    url = document.get("url")
    link = f"<{url}|Open in runhub>" if isinstance(url, str) and "://" in url else url
    lines: list[str] = []
    if event.startswith("run."):
        run = document["run"]
        counts = document["counts"]
        outcome = {2: "passed", 3: "failed"}.get(run["status"], "running")
        verb = "created" if event == "run.created" else f"completed: {outcome}"
        title = f"{project}: run {run['name']} #{run['id']} {verb}"
        lines.append(
            f"*{counts['total']}* tests · *{counts['success']}* passed · "
            f"*{counts['failure']}* failed"
        )
        vcs = [v for v in (document.get("vcs_branch"), _short(document.get("vcs_commit"))) if v]
        if vcs:
            lines.append("Branch/commit: " + " @ ".join(f"`{v}`" for v in vcs))
        changes = document.get("changes")
        if changes:
            c = changes["counts"]
            lines.append(
                f"New failures {c['new_failure']} · still failing {c['still_failing']} · "
                f"fixed {c['fixed']} · new tests {c['new_test']} · missing {c['missing']}"
            )
        for group in document.get("new_failure_groups", [])[:5]:
            lines.append(f"New cause: {group['count']} × {group['title']}")
        quarantined = document.get("quarantined_failures") or {}
        if quarantined.get("count"):
            lines.append(f"Quarantined failures: {quarantined['count']}")
    elif event == "quarantine.changed":
        entry = document["entry"]
        title = f"{project}: quarantine {document['action']} for {entry['name']}"
        lines.append(f"Mode {entry['mode']}: {entry['reason']}")
        if entry.get("owner"):
            lines.append(f"Owner: {entry['owner']}")
    elif event == "case.state_changed":
        case = document["case"]
        old = document["old_state"] or "none"
        title = f"{project}: {case['name']} is {document['new_state']} (was {old})"
        kinds = sorted({e["kind"] for e in document.get("evidence", [])})
        if kinds:
            lines.append("Evidence: " + ", ".join(kinds))
    else:
        title = f"{project}: {document.get('message', event)}"
    if link:
        lines.append(link)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150]}}
    ]
    if lines:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}})
    return {"text": title, "blocks": blocks}


def _short(commit: Any) -> str | None:
    return commit[:12] if isinstance(commit, str) and commit else None


def body_of(row: Any, public_url: str) -> bytes:
    document = event_document(row, public_url)
    if row["format"] == "slack":
        document = slack_message(document)
    return json.dumps(document, separators=(",", ":")).encode()


# --- sending ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    state: int
    response_code: int | None
    error: str | None
    elapsed_ms: int
    next_attempt_at: datetime | None

    @property
    def name(self) -> str:
        """What on_delivery hears: delivered, retry or failed."""
        return {db.DELIVERED: "delivered", db.PENDING: "retry"}.get(self.state, "failed")


def post(client: httpx2.Client, row: Any, config: DeliveryConfig) -> tuple[int | None, str | None]:
    """POST the delivery; (response code, None) or (None, why there was no response)."""
    try:
        target = resolve_target(row["url"], config.allow_private)
    except AddressRefused as exc:
        return None, str(exc)
    body = body_of(row, config.public_url)
    now_s = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"runhub-webhooks/{__version__}",
        "Host": target.host_header,
        "X-Runhub-Event": row["event"],
        "X-Runhub-Delivery": str(row["id"]),
        "X-Runhub-Timestamp": str(now_s),
    }
    if row["secret"]:
        headers["X-Runhub-Signature"] = sign(row["secret"], now_s, body)
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    try:
        with client.stream(
            "POST", target.connect_url, content=body, headers=headers, extensions=extensions
        ) as response:
            return response.status_code, None
    except httpx2.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def next_outcome(
    row: Any, code: int | None, error: str | None, elapsed_ms: int, config: DeliveryConfig
) -> Outcome:
    now = utcnow()
    if code is not None and 200 <= code < 300:
        return Outcome(db.DELIVERED, code, None, elapsed_ms, None)
    if error is None:
        error = f"HTTP {code}"
    deadline = row["created_at"] + timedelta(seconds=config.give_up_s)
    if not row["is_active"] or now >= deadline:
        if not row["is_active"]:
            error = "The webhook is not active."
        return Outcome(db.FAILED, code, error, elapsed_ms, None)
    delay_s = min(config.retry_base_s * 2 ** min(row["attempts"], 30), config.retry_max_s)
    due = min(now + timedelta(seconds=delay_s), deadline)
    return Outcome(db.PENDING, code, error, elapsed_ms, due)


def attempt(client: httpx2.Client, row: RowMapping, config: DeliveryConfig) -> Outcome:
    started = time.monotonic()
    if row["is_active"]:
        code, error = post(client, row, config)
    else:
        code, error = None, None
    elapsed_ms = int((time.monotonic() - started) * 1000)
    return next_outcome(row, code, error, elapsed_ms, config)


def deliver_due(
    engine: Engine,
    client: httpx2.Client,
    config: DeliveryConfig,
    *,
    max_deliveries: int = MAX_PER_TICK,
    on_delivery: Callable[[str], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> int:
    """Attempt due deliveries, one claim at a time, until none is due (or `max_deliveries`
    were attempted); returns how many were."""
    done = 0
    while done < max_deliveries and not should_stop():
        now = utcnow()
        with read_tx(engine) as conn:
            if not db.any_due(conn, now):
                return done
        with write_tx(engine, background=True) as conn:
            lease_until = now + timedelta(seconds=config.lease_s)
            ids = db.claim_due(conn, now, lease_until, limit=1)
        if not ids:
            return done
        with read_tx(engine) as conn:
            rows = db.deliveries_with_endpoints(conn, ids)
        for row in rows:
            outcome = attempt(client, row, config)
            with write_tx(engine, background=True) as conn:
                db.record_attempt(
                    conn,
                    row["id"],
                    attempted_at=utcnow(),
                    response_code=outcome.response_code,
                    error=outcome.error,
                    elapsed_ms=outcome.elapsed_ms,
                    state=outcome.state,
                    next_attempt_at=outcome.next_attempt_at,
                )
            if outcome.state != db.DELIVERED:
                log.info(
                    "webhook delivery %s to endpoint %s: %s (%s)",
                    row["id"], row["endpoint_id"], outcome.name, outcome.error,
                )  # fmt: skip
            if on_delivery is not None:
                on_delivery(outcome.name)
        done += 1
    return done


def make_client(config: DeliveryConfig) -> httpx2.Client:
    """No proxies from the environment (the checked address is the one connected to), no
    redirects (a 3xx is not a delivery)."""
    return httpx2.Client(timeout=config.timeout_s, follow_redirects=False, trust_env=False)


class WebhookDeliverer(BackgroundThread):
    """Delivers due webhooks every `interval_s` in a background thread of the process, and
    forgets finished deliveries older than 30 days once an hour. `on_delivery` hears the
    outcome of each attempt ("delivered", "retry", "failed"), e.g. for metrics."""

    thread_name = "webhook-delivery"

    def __init__(
        self,
        engine: Engine,
        config: DeliveryConfig,
        interval_s: float,
        on_delivery: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__()
        self.engine = engine
        self.config = config
        self.interval_s = interval_s
        self.on_delivery = on_delivery

    def _loop(self) -> None:
        pruned_at = 0.0
        with make_client(self.config) as client:
            while not self._stop.wait(self.interval_s):
                try:
                    deliver_due(
                        self.engine,
                        client,
                        self.config,
                        on_delivery=self.on_delivery,
                        should_stop=self._stop.is_set,
                    )
                    if time.monotonic() - pruned_at > PRUNE_EVERY_S:
                        pruned_at = time.monotonic()
                        with write_tx(self.engine, background=True) as conn:
                            db.prune_finished(conn, utcnow() - KEEP_FINISHED)
                except Exception:  # retried on the next tick; the rows stay in the outbox
                    log.warning("webhook delivery failed", exc_info=True)
