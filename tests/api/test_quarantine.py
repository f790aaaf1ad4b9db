"""Quarantine entries over HTTP on both backends (README "Quarantine"): create, list, end,
expiry, one active entry per case, roles, bad input, and the marks on health and changes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, update

from runhub.db.engine import write_tx
from runhub.db.schema import quarantine_entries
from runhub.services.health import analyze_pending
from runhub.services.outcomes import HealthRules
from runhub.timeutil import utcnow

from ..helpers import Api, make_test
from .test_error_shape import assert_error_shape
from .test_intelligence import case_id, changes, health, submit


def path(api: Api, project_id: int | None = None) -> str:
    return f"/projects/{project_id or api.project_id}/automation/quarantine"


def quarantine(api: Api, who: str = "admin", **body: Any) -> Any:
    return api.post(path(api), {"mode": "mute", "reason": "flaky on CI", **body}, who)


def entries(api: Api, **params: Any) -> list[dict[str, Any]]:
    response = api.get(path(api), **params)
    assert response.status_code == 200, response.text
    return response.json()["result"]


def test_create_list_and_end(api: Api) -> None:
    submit(api, {"login": "failed", "search": "passed"})
    login = case_id(api, "login")
    in_a_week = (utcnow() + timedelta(days=7)).isoformat() + "Z"
    response = quarantine(api, case_id=login, owner="team-web", expires_at=in_a_week)
    assert response.status_code == 201, response.text
    entry_id = response.json()["id"]
    (entry,) = entries(api)
    assert entry["id"] == entry_id and entry["name"] == "login" and entry["mode"] == "mute"
    assert (entry["reason"], entry["owner"]) == ("flaky on CI", "team-web")
    assert entry["is_active"] is True
    assert entry["expires_at"].startswith(in_a_week[:16]) and entry["removed_at"] is None
    assert set(entry) == {
        "id", "case_id", "key", "name", "folder", "source_id", "mode", "reason", "owner",
        "expires_at", "is_active", "created_at", "created_by", "removed_at", "removed_by",
    }  # fmt: skip
    # By key and source, mode skip.
    search = api.get(f"/projects/{api.project_id}/automation/cases").json()["result"]
    by_key = next(c for c in search if c["name"] == "search")
    response = quarantine(api, key=by_key["key"], source_id=by_key["source_id"], mode="skip")
    assert response.status_code == 201, response.text
    assert [e["name"] for e in entries(api, mode="skip")] == ["search"]
    assert len(entries(api, source_id=by_key["source_id"])) == 2
    assert [e["id"] for e in entries(api, case_id=login)] == [entry_id]
    # Ending keeps it on the record.
    assert api.delete(f"/automation/quarantine/{entry_id}", "member").status_code == 204
    assert [e["name"] for e in entries(api)] == ["search"]
    (ended,) = entries(api, active="false")
    assert ended["id"] == entry_id and ended["removed_at"] and not ended["is_active"]
    assert ended["removed_by"] is not None
    again = api.delete(f"/automation/quarantine/{entry_id}")
    assert again.status_code == 204  # still ended, once
    assert entries(api, active="false")[0]["removed_at"] == ended["removed_at"]
    # A new entry for the case once the first has ended.
    assert quarantine(api, case_id=login).status_code == 201


def test_one_active_entry_per_case_and_expiry(api: Api, engine: Engine) -> None:
    submit(api, {"t": "failed"})
    first = quarantine(api, case_id=case_id(api, "t")).json()["id"]
    body = assert_error_shape(quarantine(api, case_id=case_id(api, "t")), 422)
    assert f"(id {first})" in body["message"] and list(body["errors"]) == ["case_id"]
    with write_tx(engine) as conn:  # time passes: the entry expires
        conn.execute(
            update(quarantine_entries).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert entries(api) == [] and entries(api, active="false")[0]["is_active"] is False
    # Ending an expired entry answers 204 and changes nothing: it stays expired, not ended.
    assert api.delete(f"/automation/quarantine/{first}").status_code == 204
    assert entries(api, active="false")[0]["removed_at"] is None
    assert quarantine(api, case_id=case_id(api, "t")).status_code == 201


def test_roles(api: Api) -> None:
    submit(api, {"t": "failed"})
    t = case_id(api, "t")
    assert_error_shape(quarantine(api, "viewer", case_id=t), 403)
    entry_id = quarantine(api, "member", case_id=t).json()["id"]
    assert api.get(path(api), who="viewer").json()["total"] == 1
    delete = f"/automation/quarantine/{entry_id}"
    assert_error_shape(api.delete(delete, "viewer"), 403)
    assert_error_shape(api.delete(delete, "outsider"), 404)
    assert_error_shape(api.get(path(api), who="outsider"), 404)
    assert_error_shape(quarantine(api, "outsider", case_id=t), 404)
    assert entries(api)[0]["is_active"]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"reason": ""}, 422, "reason"),
        ({"reason": "   "}, 422, "reason"),
        ({"reason": "r" * 1001}, 422, "reason"),
        ({"mode": "ignore"}, 422, "mode"),
        ({"expires_at": "2020-01-01T00:00:00Z"}, 422, "expires_at"),
        ({"expires_at": "next week"}, 422, "expires_at"),
        ({"case_id": None}, 422, "case_id"),
        ({"case_id": 10**9}, 404, None),
        ({"case_id": None, "key": "nope", "source_id": 1}, 404, None),
        ({"owner": "o" * 201}, 422, "owner"),
    ],
)
def test_bad_input_stores_nothing(
    api: Api, body: dict[str, Any], status: int, field: str | None
) -> None:
    submit(api, {"t": "failed"})
    payload = {"mode": "mute", "reason": "r", "case_id": case_id(api, "t"), **body}
    if payload["case_id"] is None:
        del payload["case_id"]
    found = assert_error_shape(api.post(path(api), payload), status)
    if field:
        assert list(found["errors"]) == [field], found
    assert entries(api) == [] and entries(api, active="false") == []


def test_a_case_of_another_project_is_404(api: Api) -> None:
    submit(api, {"theirs": "failed"}, project_id=api.other_project_id)
    cases = api.get(f"/projects/{api.other_project_id}/automation/cases").json()["result"]
    assert_error_shape(quarantine(api, case_id=cases[0]["id"]), 404)
    assert entries(api) == []


def test_health_and_changes_mark_quarantined_cases(api: Api, engine: Engine) -> None:
    submit(api, {"muted": "passed", "plain": "passed"})
    run = submit(api, {"muted": "failed", "plain": "failed"})
    analyze_pending(engine, HealthRules())
    assert quarantine(api, case_id=case_id(api, "muted")).status_code == 201
    marks = {item["name"]: item["quarantined"] for item in changes(api, run)["result"]}
    assert marks == {"muted": True, "plain": False}
    assert {name: item["quarantined"] for name, item in health(api).items()} == marks
    # The stored results keep their real status, and the run Testmo's status rule.
    result = api.run(run)["result"]
    assert result["status"] == 3 and result["failure_count"] == 2
    assert api.append(api.create_thread(api.create_run()), [make_test("x")]).status_code == 204
