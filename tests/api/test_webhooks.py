"""runhub's own webhook endpoints (README "Webhooks"): CRUD, roles, validation, and the
events each cause writes to the outbox, on both backends."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import Engine, select

from runhub.db.engine import read_tx
from runhub.db.schema import webhook_deliveries
from runhub.services import webhooks
from runhub.services.health import analyze_pending
from runhub.services.outcomes import HealthRules

from ..helpers import Api, make_test

HOOK = {"url": "https://93.184.216.34/hooks/ci", "events": ["run.created"]}


def _create(api: Api, body: dict[str, Any] | None = None, who: str = "admin") -> Any:
    return api.post(f"/projects/{api.project_id}/webhooks", body or HOOK, who)


def _patch(api: Api, webhook_id: int, body: dict[str, Any], who: str = "admin") -> Any:
    return api.client.patch(f"/api/v1/webhooks/{webhook_id}", json=body, headers=api.headers(who))


def _outbox(engine: Engine) -> list[dict[str, Any]]:
    query = select(webhook_deliveries).order_by(webhook_deliveries.c.id)
    with read_tx(engine) as conn:
        rows = [dict(r) for r in conn.execute(query).mappings()]
    for row in rows:
        row["payload"] = json.loads(row["payload"])
    return rows


def test_create_read_update_delete(api: Api) -> None:
    body = {
        **HOOK,
        "secret": "s3cret",
        "format": "slack",
        "events": ["run.completed", "run.created"],
    }
    response = _create(api, body)
    assert response.status_code == 201, response.text
    webhook_id = response.json()["id"]
    found = api.get(f"/webhooks/{webhook_id}").json()["result"]
    assert found["url"] == HOOK["url"] and found["format"] == "slack"
    assert found["events"] == ["run.created", "run.completed"]
    assert found["has_secret"] is True and found["is_active"] is True
    assert "secret" not in found and "s3cret" not in json.dumps(found)
    listed = api.get(f"/projects/{api.project_id}/webhooks").json()
    assert listed["total"] == 1 and listed["result"] == [found]

    changed = _patch(
        api, webhook_id, {"secret": None, "is_active": False, "events": ["quarantine.changed"]}
    )
    assert changed.status_code == 200, changed.text
    result = changed.json()["result"]
    assert (result["has_secret"], result["is_active"], result["events"]) == (
        False, False, ["quarantine.changed"],
    )  # fmt: skip
    assert result["updated_by"] is not None and result["url"] == HOOK["url"]

    assert api.delete(f"/webhooks/{webhook_id}").status_code == 204
    assert api.get(f"/webhooks/{webhook_id}").status_code == 404
    assert api.get(f"/projects/{api.project_id}/webhooks").json()["total"] == 0


@pytest.mark.parametrize("who", ["member", "viewer"])
def test_only_admins_manage_webhooks(api: Api, who: str) -> None:
    webhook_id = _create(api).json()["id"]
    assert _create(api, who=who).status_code == 403
    assert api.get(f"/projects/{api.project_id}/webhooks", who).status_code == 403
    assert api.get(f"/webhooks/{webhook_id}", who).status_code == 403
    assert _patch(api, webhook_id, {"is_active": False}, who).status_code == 403
    assert api.delete(f"/webhooks/{webhook_id}", who).status_code == 403
    assert api.get(f"/webhooks/{webhook_id}/deliveries", who).status_code == 403
    assert api.post(f"/webhooks/{webhook_id}/ping", who=who).status_code == 403
    # Not a member of the project: it does not exist for them.
    assert api.get(f"/webhooks/{webhook_id}", "outsider").status_code == 404
    assert api.get(f"/projects/{api.project_id}/webhooks", "outsider").status_code == 404
    assert api.get(f"/webhooks/{webhook_id}").json()["result"]["is_active"] is True


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**HOOK, "url": "http://127.0.0.1:8000/hook"}, "url"),
        ({**HOOK, "url": "http://[::ffff:127.0.0.1]/hook"}, "url"),
        ({**HOOK, "url": "http://169.254.169.254/latest"}, "url"),
        ({**HOOK, "url": "http://10.0.0.8/hook"}, "url"),
        ({**HOOK, "url": "http://localhost/hook"}, "url"),
        ({**HOOK, "url": "ftp://93.184.216.34/hook"}, "url"),
        ({**HOOK, "url": ""}, "url"),
        ({**HOOK, "events": []}, "events"),
        ({**HOOK, "events": ["run.deleted"]}, "events.0"),
        ({**HOOK, "format": "teams"}, "format"),
        ({**HOOK, "secret": ""}, "secret"),
        ({"events": ["run.created"]}, "url"),
    ],
)
def test_bad_webhooks_are_422_naming_the_field(api: Api, body: dict, field: str) -> None:
    response = _create(api, body)
    assert response.status_code == 422, response.text
    assert list(response.json()["errors"]) == [field]
    assert api.get(f"/projects/{api.project_id}/webhooks").json()["total"] == 0


def test_patch_checks_the_url_too(api: Api) -> None:
    webhook_id = _create(api).json()["id"]
    response = _patch(api, webhook_id, {"url": "http://192.168.0.1/"})
    assert response.status_code == 422 and list(response.json()["errors"]) == ["url"]


def test_run_created_is_written_for_subscribed_endpoints_only(api: Api, engine: Engine) -> None:
    subscribed = _create(api).json()["id"]
    _create(api, {**HOOK, "events": ["run.completed"]})
    inactive = _create(api, {**HOOK, "is_active": False}).json()["id"]
    api.create_run(project_id=api.other_project_id)  # a project without webhooks
    fields = [
        {"type": 1, "name": "git", "value": "abc123"},
        {"type": 1, "name": "branch", "value": "main"},
    ]
    run_id = api.create_run(name="Nightly", fields=fields)
    rows = _outbox(engine)
    assert [(r["endpoint_id"], r["event"], r["state"]) for r in rows] == [
        (subscribed, "run.created", 1)
    ]
    assert inactive not in [r["endpoint_id"] for r in rows]
    payload = rows[0]["payload"]
    assert payload["project"] == {"id": api.project_id, "name": "Demo"}
    run = api.run(run_id)["result"]
    assert payload["run"] == {k: v for k, v in run.items() if k in payload["run"]}
    assert set(payload["run"]) == set(run) - {"artifacts", "fields", "links", "threads"}
    assert (payload["vcs_commit"], payload["vcs_branch"]) == ("abc123", "main")
    assert payload["url"] == f"/runs/{run_id}"
    assert payload["counts"] == {"total": 0, "success": 0, "failure": 0, "completed": 0}
    # The deliveries list shows it, with no attempt yet.
    deliveries = api.get(f"/webhooks/{subscribed}/deliveries").json()
    assert deliveries["total"] == 1
    item = deliveries["result"][0]
    assert (item["event"], item["state"], item["attempts"], item["attempt_log"]) == (
        "run.created", "pending", 0, [],
    )  # fmt: skip


def _completed_run(api: Api, tests: list[dict], **body: Any) -> int:
    run_id = api.create_run(**body)
    thread_id = api.create_thread(run_id)
    assert api.append(thread_id, tests).status_code == 204
    assert api.post(f"/automation/runs/{run_id}/complete").status_code == 204
    return run_id


def test_run_completed_carries_changes_groups_and_quarantined_failures(
    api: Api, engine: Engine
) -> None:
    _create(api, {**HOOK, "events": ["run.completed"]})
    base = _completed_run(api, [make_test("a"), make_test("b"), make_test("c")])
    analyze_pending(engine, HealthRules())
    cases = api.get(f"/projects/{api.project_id}/automation/cases", per_page=100).json()
    case_c = next(c["id"] for c in cases["result"] if c["name"] == "c")
    entry = {"case_id": case_c, "mode": "mute", "reason": "known flaky"}
    assert api.post(f"/projects/{api.project_id}/automation/quarantine", entry).status_code == 201
    failure = {"type": 4, "name": "Failure", "value": "KeyError: 'user_id'", "is_highlight": True}
    run_id = _completed_run(
        api,
        [make_test("a", "failed", fields=[failure]), make_test("c", "failed"), make_test("d")],
    )
    assert len([r for r in _outbox(engine) if r["event"] == "run.completed"]) == 1  # base only
    analyze_pending(engine, HealthRules())
    completed = [r for r in _outbox(engine) if r["event"] == "run.completed"]
    assert [r["payload"]["run"]["id"] for r in completed] == [base, run_id]
    payload = completed[1]["payload"]
    assert payload["run"]["status"] == 3 and payload["run"]["is_completed"] is True
    assert payload["counts"] == {"total": 3, "success": 1, "failure": 2, "completed": 3}
    assert payload["changes"] == {
        "base_run_id": base,
        "counts": {"new_failure": 2, "still_failing": 0, "fixed": 0, "new_test": 1, "missing": 1},
    }
    titles = [g["title"] for g in payload["new_failure_groups"]]
    assert len(titles) == 2 and any("KeyError" in t for t in titles)
    assert all(g["count"] == 1 for g in payload["new_failure_groups"])
    quarantined = payload["quarantined_failures"]
    assert quarantined["count"] == 1
    assert quarantined["tests"] == [
        {"case_id": case_c, "name": "c", "folder": "pkg.Suite", "mode": "mute"}
    ]


def test_reanalyze_sends_nothing_again(api: Api, engine: Engine) -> None:
    from runhub.db import analytics
    from runhub.db.engine import write_tx

    _create(api, {**HOOK, "events": ["run.completed", "case.state_changed"]})
    _completed_run(api, [make_test("a", "failed"), make_test("a")])
    analyze_pending(engine, HealthRules())
    before = len(_outbox(engine))
    with write_tx(engine) as conn:
        analytics.requeue_all(conn)
    analyze_pending(engine, HealthRules())
    assert len(_outbox(engine)) == before


def test_case_state_changed_when_a_test_becomes_and_stops_being_flaky(
    api: Api, engine: Engine
) -> None:
    _create(api, {**HOOK, "events": ["case.state_changed"]})
    rules = HealthRules(window=2)  # a short window: the retry ages out after two runs
    first = _completed_run(api, [make_test("a", "failed"), make_test("a"), make_test("b")])
    analyze_pending(engine, rules)
    rows = _outbox(engine)
    assert [r["event"] for r in rows] == ["case.state_changed"]
    payload = rows[0]["payload"]
    assert payload["case"]["name"] == "a" and payload["run_id"] == first
    assert (payload["old_state"], payload["new_state"]) == (None, "flaky")
    assert payload["evidence"] == [{"kind": "retry", "run_ids": [first]}]
    _completed_run(api, [make_test("a"), make_test("b")])
    analyze_pending(engine, rules)
    assert len(_outbox(engine)) == 1  # still flaky: its window holds the retry
    third = _completed_run(api, [make_test("a"), make_test("b")])
    analyze_pending(engine, rules)
    rows = _outbox(engine)
    assert len(rows) == 2
    payload = rows[1]["payload"]
    assert (payload["old_state"], payload["new_state"], payload["run_id"]) == (
        "flaky", "healthy", third,
    )  # fmt: skip


def test_a_run_sends_at_most_the_cap_of_state_changes(
    api: Api, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(webhooks, "STATE_EVENTS_PER_RUN", 2)
    _create(api, {**HOOK, "events": ["case.state_changed"]})
    retried = [t for name in ("c", "a", "b") for t in (make_test(name, "failed"), make_test(name))]
    _completed_run(api, retried)  # three tests fail, then pass on retry: all three flaky
    analyze_pending(engine, HealthRules())
    rows = _outbox(engine)
    cases = api.get(f"/projects/{api.project_id}/automation/cases").json()["result"]
    first_two = [c["name"] for c in sorted(cases, key=lambda c: c["id"])][:2]
    assert [r["payload"]["case"]["name"] for r in rows] == first_two  # all flaky: by case id
    assert {r["payload"]["state_changes_in_run"] for r in rows} == {3}
    assert {r["payload"]["new_state"] for r in rows} == {"flaky"}


def test_quarantine_changed_on_add_and_end(api: Api, engine: Engine) -> None:
    _create(api, {**HOOK, "events": ["quarantine.changed"]})
    _completed_run(api, [make_test("a")])
    case_id = api.get(f"/projects/{api.project_id}/automation/cases").json()["result"][0]["id"]
    entry = {"case_id": case_id, "mode": "skip", "reason": "slow", "owner": "team-web"}
    entry_id = api.post(
        f"/projects/{api.project_id}/automation/quarantine", entry, "member"
    ).json()["id"]
    assert api.delete(f"/automation/quarantine/{entry_id}", "member").status_code == 204
    assert api.delete(f"/automation/quarantine/{entry_id}", "member").status_code == 204  # no-op
    rows = _outbox(engine)
    assert [(r["event"], r["payload"]["action"]) for r in rows] == [
        ("quarantine.changed", "added"), ("quarantine.changed", "ended"),
    ]  # fmt: skip
    added, ended = (r["payload"]["entry"] for r in rows)
    assert (added["id"], added["case_id"], added["name"], added["mode"]) == (
        entry_id,
        case_id,
        "a",
        "skip",
    )
    assert added["is_active"] is True and added["owner"] == "team-web"
    assert ended["is_active"] is False and ended["removed_at"] is not None


def test_ping_and_deliveries_page(api: Api) -> None:
    webhook_id = _create(api).json()["id"]
    response = api.post(f"/webhooks/{webhook_id}/ping")
    assert response.status_code == 201
    page = api.get(f"/webhooks/{webhook_id}/deliveries").json()
    assert page["total"] == 1 and page["result"][0]["id"] == response.json()["id"]
    assert page["result"][0]["event"] == "ping"
