"""Webhooks (README "Webhooks"): a project's endpoints, and the events written to the
outbox in the transaction of what caused them. Delivery is services.webhook_delivery's.

Admins manage endpoints (their URLs and secrets are credentials of other systems): other
users get 403 on a project they can see, 404 otherwise. Writing an event costs one query
(the project's active endpoints, by index) and nothing more when none subscribes to it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
from sqlalchemy import Connection, Engine, RowMapping

from runhub.api.schemas import WebhookCreate, WebhookUpdate
from runhub.db import accounts
from runhub.db import insights as insights_db
from runhub.db import quarantine as quarantine_db
from runhub.db import runs as runs_db
from runhub.db import webhooks as db
from runhub.db.engine import read_tx, write_tx
from runhub.errors import NotFound, invalid
from runhub.services import quarantine, render
from runhub.services.access import Principal, require_admin, visible_project
from runhub.services.outcomes import BUCKETS, STATE_NAMES, Health
from runhub.services.paging import PageRequest, envelope
from runhub.services.statuses import StatusTable
from runhub.services.webhook_addresses import AddressRefused, check_registration
from runhub.timeutil import render as ts
from runhub.timeutil import utcnow

EVENTS = ("run.created", "run.completed", "quarantine.changed", "case.state_changed")
PING = "ping"  # sent by POST /webhooks/{id}/ping, whatever the endpoint subscribes to
FORMATS = ("plain", "slack")
DELIVERY_STATES = {db.PENDING: "pending", db.DELIVERED: "delivered", db.FAILED: "failed"}
WATCHED_STATES = ("flaky", "broken")  # case.state_changed: became or stopped being one
STATE_EVENTS_PER_RUN = 50  # case.state_changed events one run's fold sends at most
QUARANTINED_LISTED = 50  # quarantined failures named in a run.completed payload


# --- endpoints -------------------------------------------------------------------------------


def item(row: Any) -> dict[str, Any]:
    """An endpoint as the API answers it: the secret never, only whether there is one."""
    return {
        "id": row["id"],
        "project_id": row["project_id"],
        "url": row["url"],
        "events": [e for e in EVENTS if e in row["events"].split(",")],
        "format": row["format"],
        "is_active": bool(row["is_active"]),
        "has_secret": bool(row["secret"]),
        "created_at": ts(row["created_at"]),
        "created_by": row["created_by"],
        "updated_at": ts(row["updated_at"]),
        "updated_by": row["updated_by"],
    }


def _check_url(url: str, allow_private: bool) -> str:
    url = url.strip()
    try:
        check_registration(url, allow_private)
    except AddressRefused as exc:
        raise invalid("url", str(exc)) from None
    return url


def _events(events: Sequence[str]) -> str:
    return ",".join(e for e in EVENTS if e in set(events))


def create(
    engine: Engine, who: Principal, project_id: int, body: WebhookCreate, *, allow_private: bool
) -> int:
    url = _check_url(body.url, allow_private)
    with write_tx(engine) as conn:
        visible_project(conn, who, project_id)
        require_admin(who)
        return db.insert_endpoint(
            conn,
            project_id=project_id,
            url=url,
            secret=body.secret,
            events=_events(body.events),
            format=body.format,
            is_active=body.is_active,
            created_at=utcnow(),
            created_by=who.user_id,
        )


def visible_endpoint(conn: Connection, who: Principal, endpoint_id: int) -> RowMapping:
    """The endpoint for an admin; 404 when its project is not visible, else 403."""
    row = db.endpoint_by_id(conn, endpoint_id)
    if row is None:
        raise NotFound("The webhook does not exist or you do not have access to it.")
    try:
        visible_project(conn, who, row["project_id"])
    except NotFound:
        raise NotFound("The webhook does not exist or you do not have access to it.") from None
    require_admin(who)
    return row


def get(engine: Engine, who: Principal, endpoint_id: int) -> dict[str, Any]:
    with read_tx(engine) as conn:
        return {"result": item(visible_endpoint(conn, who, endpoint_id)), "expands": {}}


def list_endpoints(
    engine: Engine, who: Principal, project_id: int, page: PageRequest
) -> dict[str, Any]:
    with read_tx(engine) as conn:
        visible_project(conn, who, project_id)
        require_admin(who)
        total, rows = db.project_endpoints(conn, project_id, page.offset, page.per_page)
    return envelope(page, total, [item(row) for row in rows])


def update(
    engine: Engine, who: Principal, endpoint_id: int, body: WebhookUpdate, *, allow_private: bool
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if body.url is not msgspec.UNSET:
        values["url"] = _check_url(body.url, allow_private)
    if body.events is not msgspec.UNSET:
        values["events"] = _events(body.events)
    if body.format is not msgspec.UNSET:
        values["format"] = body.format
    if body.secret is not msgspec.UNSET:
        values["secret"] = body.secret
    if body.is_active is not msgspec.UNSET:
        values["is_active"] = body.is_active
    with write_tx(engine) as conn:
        visible_endpoint(conn, who, endpoint_id)
        if values:
            db.update_endpoint(
                conn, endpoint_id, **values, updated_at=utcnow(), updated_by=who.user_id
            )
            if values.get("is_active") is False:
                db.fail_pending(conn, endpoint_id)
        return {"result": item(db.endpoint_by_id(conn, endpoint_id)), "expands": {}}


def delete(engine: Engine, who: Principal, endpoint_id: int) -> None:
    """Remove the endpoint with its deliveries and their attempts."""
    with write_tx(engine) as conn:
        visible_endpoint(conn, who, endpoint_id)
        db.delete_endpoint(conn, endpoint_id)


def ping(engine: Engine, who: Principal, endpoint_id: int) -> int:
    """Queue a `ping` delivery to the endpoint (active or not); returns its id."""
    with write_tx(engine) as conn:
        row = visible_endpoint(conn, who, endpoint_id)
        project = accounts.project_by_id(conn, row["project_id"])
        payload = {"project": _project(project), "message": "runhub webhook test"}
        return _insert(conn, row["project_id"], PING, [row["id"]], payload)[0]


def delivery_item(row: Any, tried: Sequence[Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "endpoint_id": row["endpoint_id"],
        "event": row["event"],
        "state": DELIVERY_STATES[row["state"]],
        "attempts": row["attempts"],
        "created_at": ts(row["created_at"]),
        "next_attempt_at": ts(row["next_attempt_at"]),
        "delivered_at": ts(row["delivered_at"]),
        "last_response_code": row["last_response_code"],
        "attempt_log": [
            {
                "attempted_at": ts(a["attempted_at"]),
                "response_code": a["response_code"],
                "error": a["error"],
                "elapsed_ms": a["elapsed_ms"],
            }
            for a in tried
        ],
    }


def list_deliveries(
    engine: Engine, who: Principal, endpoint_id: int, page: PageRequest
) -> dict[str, Any]:
    """A page of the endpoint's deliveries, newest first, each with its attempts."""
    with read_tx(engine) as conn:
        visible_endpoint(conn, who, endpoint_id)
        total, rows = db.endpoint_deliveries(conn, endpoint_id, page.offset, page.per_page)
        tried = db.attempts_of(conn, [r["id"] for r in rows])
    return envelope(page, total, [delivery_item(r, tried[r["id"]]) for r in rows])


# --- events ----------------------------------------------------------------------------------


def _project(project: Any) -> dict[str, Any]:
    return {"id": project["id"], "name": project["name"]}


def _subscribed(endpoints: Sequence[RowMapping], event: str) -> list[int]:
    return [e["id"] for e in endpoints if event in e["events"].split(",")]


def _insert(
    conn: Connection, project_id: int, event: str, endpoint_ids: Sequence[int], payload: Any
) -> list[int]:
    now = utcnow()
    text = json.dumps(payload, separators=(",", ":"))
    rows = [
        {
            "endpoint_id": endpoint_id,
            "project_id": project_id,
            "event": event,
            "payload": text,
            "state": db.PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for endpoint_id in endpoint_ids
    ]
    return db.insert_deliveries(conn, rows)


def emit(
    conn: Connection,
    project_id: int,
    event: str,
    build: Callable[[], dict[str, Any]],
    endpoints: Sequence[RowMapping] | None = None,
) -> list[int]:
    """Write `event` to the outbox for each active endpoint of the project subscribed to
    it (in the caller's transaction); `build` makes the payload, only when one is."""
    found = db.active_endpoints(conn, project_id) if endpoints is None else endpoints
    subscribed = _subscribed(found, event)
    if not subscribed:
        return []
    return _insert(conn, project_id, event, subscribed, build())


def run_payload(conn: Connection, run_id: int) -> dict[str, Any]:
    """A run event's payload: the run as Testmo's run object, its counts, commit, branch
    and page (`url`, made absolute with RUNHUB_PUBLIC_URL when it is sent)."""
    row = runs_db.run_by_id(conn, run_id)
    assert row is not None
    table = StatusTable.cached(conn)
    tags = runs_db.tags_of_runs(conn, [run_id])[run_id]
    run = render.run(row, table, tags, runs_db.thread_totals(conn, [run_id]).get(run_id))
    counts = {k[: -len("_count")]: run[k] for k in _COUNT_KEYS}
    project = accounts.project_by_id(conn, row["project_id"])
    return {
        "project": _project(project),
        "run": run,
        "counts": counts,
        "vcs_commit": row["vcs_commit"],
        "vcs_branch": row["vcs_branch"],
        "url": f"/runs/{run_id}",
    }


_COUNT_KEYS = ("total_count", "success_count", "failure_count", "completed_count")


def run_created(conn: Connection, project_id: int, run_id: int) -> None:
    emit(conn, project_id, "run.created", lambda: run_payload(conn, run_id))


@dataclass
class FoldWatch:
    """What the health fold of one run reports to webhooks: made by fold_watch() before the
    fold when an endpoint of the run's project subscribes to a fold event."""

    run_id: int
    project_id: int
    endpoints: list[RowMapping]
    wants_states: bool
    state_changes: list[dict[str, Any]] = field(default_factory=list)

    def note_states(self, conn: Connection, found: dict[int, Health]) -> None:
        """Compare the cases' new health (all branches) with the stored one, before it is
        replaced; keep the changes to or from flaky and broken."""
        if not self.wants_states or not found:
            return
        old = db.health_states(conn, list(found), "")
        for case_id, health in found.items():
            before = STATE_NAMES.get(old[case_id]) if case_id in old else None
            if before == health.state:
                continue
            if before in WATCHED_STATES or health.state in WATCHED_STATES:
                self.state_changes.append(
                    {
                        "case_id": case_id,
                        "old_state": before,
                        "new_state": health.state,
                        "flip_rate": health.flip_rate,
                        "failure_rate": health.failure_rate,
                        "evidence": health.evidence,
                    }
                )


def fold_watch(conn: Connection, run_id: int) -> FoldWatch | None:
    """None when no endpoint wants this run's fold events, or the run was queued again by
    `runhub db reanalyze` (a re-fold sends nothing: its events were sent the first time)."""
    run = runs_db.run_by_id(conn, run_id)
    if run is None or not run["is_completed"]:
        return None
    endpoints = db.active_endpoints(conn, run["project_id"])
    if not endpoints:
        return None
    wants_run = bool(_subscribed(endpoints, "run.completed"))
    wants_states = bool(_subscribed(endpoints, "case.state_changed"))
    if not (wants_run or wants_states) or not db.queued_by_completion(conn, run_id):
        return None
    return FoldWatch(run_id, run["project_id"], endpoints, wants_states)


def emit_fold(conn: Connection, watch: FoldWatch | None) -> None:
    """After the fold (health, change summary and failure groups stored): run.completed and
    one case.state_changed per case whose state changed to or from flaky or broken, at most
    STATE_EVENTS_PER_RUN (those that became flaky or broken first, then by case id; each
    says how many changed), so that a run breaking thousands of tests sends no flood."""
    if watch is None:
        return
    emit(
        conn,
        watch.project_id,
        "run.completed",
        lambda: completed_payload(conn, watch.run_id),
        watch.endpoints,
    )
    if not watch.state_changes:
        return
    subscribed = _subscribed(watch.endpoints, "case.state_changed")
    project = _project(accounts.project_by_id(conn, watch.project_id))
    changes = sorted(
        watch.state_changes, key=lambda c: (c["new_state"] not in WATCHED_STATES, c["case_id"])
    )[:STATE_EVENTS_PER_RUN]
    cases = db.cases_by_ids(conn, [c["case_id"] for c in changes])
    for change in changes:
        case = cases.get(change["case_id"])
        payload = {
            "project": project,
            "case": {
                "id": change["case_id"],
                "key": case["key"] if case else None,
                "name": case["name"] if case else None,
                "folder": case["folder"] if case else None,
                "source_id": case["source_id"] if case else None,
            },
            "run_id": watch.run_id,
            **{k: v for k, v in change.items() if k != "case_id"},
            "state_changes_in_run": len(watch.state_changes),
        }
        _insert(conn, watch.project_id, "case.state_changed", subscribed, payload)


def completed_payload(conn: Connection, run_id: int) -> dict[str, Any]:
    """run_payload plus the change counts, the failure groups first seen in the run and
    the run's failures of quarantined tests."""
    payload = run_payload(conn, run_id)
    changes = insights_db.stored_changes(conn, run_id)
    payload["changes"] = {
        "base_run_id": changes["base_run_id"] if changes else None,
        "counts": {name: changes[name] if changes else 0 for name in BUCKETS},
    }
    payload["new_failure_groups"] = [
        {"id": g["id"], "title": g["title"], "count": g["count"]}
        for g in db.new_groups_of_run(conn, run_id)
    ]
    payload["quarantined_failures"] = quarantined_failures(conn, payload["run"])
    return payload


def quarantined_failures(conn: Connection, run: dict[str, Any]) -> dict[str, Any]:
    """The run's tests whose outcome failed and that have an active quarantine entry."""
    modes = quarantine.quarantined_failures(conn, run)
    failed = sorted(modes)
    cases = db.cases_by_ids(conn, failed[:QUARANTINED_LISTED])
    return {
        "count": len(failed),
        "tests": [
            {
                "case_id": case_id,
                "name": cases[case_id]["name"] if case_id in cases else None,
                "folder": cases[case_id]["folder"] if case_id in cases else None,
                "mode": "mute" if modes[case_id] == 1 else "skip",
            }
            for case_id in failed[:QUARANTINED_LISTED]
        ],
    }


def quarantine_changed(conn: Connection, entry_id: int, action: str) -> None:
    """quarantine.changed for an entry just added (`action` "added") or ended ("ended")."""
    entry = quarantine_db.entry_by_id(conn, entry_id)
    if entry is None:
        return

    def build() -> dict[str, Any]:
        from runhub.services.quarantine import item as entry_item  # (it imports this module)

        case = db.cases_by_ids(conn, [entry["case_id"]]).get(entry["case_id"])
        names = {k: case[k] if case else None for k in ("key", "name", "folder")}
        project = accounts.project_by_id(conn, entry["project_id"])
        return {
            "project": _project(project),
            "action": action,
            "entry": entry_item({**entry, **names}, utcnow()),
        }

    emit(conn, entry["project_id"], "quarantine.changed", build)


# --- the web UI ------------------------------------------------------------------------------

RECENT_DELIVERIES = 10  # per endpoint on the project's webhooks page


def project_view(engine: Engine, who: Principal, project_id: int) -> dict[str, Any]:
    """The project's endpoints, each with its latest deliveries and their attempts."""
    with read_tx(engine) as conn:
        project = visible_project(conn, who, project_id)
        require_admin(who)
        _, rows = db.project_endpoints(conn, project_id)
        found = []
        for row in rows:
            _, recent = db.endpoint_deliveries(conn, row["id"], 0, RECENT_DELIVERIES)
            tried = db.attempts_of(conn, [r["id"] for r in recent])
            found.append(
                {**item(row), "deliveries": [delivery_item(r, tried[r["id"]]) for r in recent]}
            )
    return {"project": dict(project), "endpoints": found, "events": EVENTS, "formats": FORMATS}


def check_project(engine: Engine, who: Principal, endpoint_id: int, project_id: int) -> None:
    """404 unless the endpoint is one of the project's (the page's forms name both)."""
    with read_tx(engine) as conn:
        if visible_endpoint(conn, who, endpoint_id)["project_id"] != project_id:
            raise NotFound("The webhook does not exist or you do not have access to it.")


def form_body(form: dict[str, str], events: Sequence[str], creating: bool) -> dict[str, Any]:
    """The web UI's endpoint form as the API's body: checked events, an empty secret left
    as it is (or none when creating) unless `clear_secret` is ticked."""
    body: dict[str, Any] = {
        "url": form.get("url", "").strip(),
        "events": list(events),
        "format": form.get("format", "plain"),
        "is_active": form.get("is_active") == "1",
    }
    secret = form.get("secret", "")
    if secret:
        body["secret"] = secret
    elif form.get("clear_secret") == "1" and not creating:
        body["secret"] = None
    return body


def parse_form(body: dict[str, Any], kind: type[Any]) -> Any:
    """A form body as `kind` (WebhookCreate or WebhookUpdate); a 422 names the field."""
    try:
        return msgspec.convert(body, kind)
    except msgspec.ValidationError as exc:
        text = str(exc)
        field = text.split("`$.", 1)[1].split("`", 1)[0] if "`$." in text else "body"
        raise invalid(field.split("[", 1)[0], f"The {field} field is invalid: {text}") from None
