"""Retention settings and pinned runs over HTTP on both backends (README "Retention"):
roles, validation, idempotent pins, and Testmo's run object unchanged by pinning."""

from __future__ import annotations

from typing import Any

import httpx2 as httpx
import pytest

from ..helpers import Api, make_test
from .test_error_shape import assert_error_shape


def retention_path(api: Api, project_id: int | None = None) -> str:
    return f"/projects/{project_id or api.project_id}/retention"


def put(api: Api, body: Any, who: str = "admin", project_id: int | None = None) -> httpx.Response:
    return api.client.put(
        "/api/v1" + retention_path(api, project_id), json=body, headers=api.headers(who)
    )


def test_a_project_without_a_setting_keeps_everything(api: Api) -> None:
    for who in ("admin", "member", "viewer"):
        response = api.get(retention_path(api), who)
        assert response.status_code == 200, response.text
        assert response.json() == {
            "result": {
                "project_id": api.project_id,
                "run_days": None,
                "passed_detail_days": None,
                "updated_at": None,
                "updated_by": None,
            },
            "expands": {},
        }


def test_admins_set_retention_others_read_it(api: Api) -> None:
    response = put(api, {"run_days": 90, "passed_detail_days": 14})
    assert response.status_code == 200, response.text
    item = response.json()["result"]
    assert (item["run_days"], item["passed_detail_days"]) == (90, 14)
    assert item["updated_at"].endswith("Z") and item["updated_by"] is not None
    admin_id = api.get("/user").json()["id"]
    assert item["updated_by"] == admin_id
    for who in ("member", "viewer"):
        assert api.get(retention_path(api), who).json()["result"] == item
        body = assert_error_shape(put(api, {"run_days": 1}, who), 403)
        assert "administrator" in body["message"].lower()
    # An outsider does not see the project: 404 for reading and writing alike.
    assert_error_shape(api.get(retention_path(api), "outsider"), 404)
    assert_error_shape(put(api, {"run_days": 1}, "outsider"), 404)
    assert_error_shape(put(api, {"run_days": 1}, project_id=999_999), 404)
    # Unchanged by the refused requests; null (or omitted) is forever.
    assert api.get(retention_path(api)).json()["result"]["run_days"] == 90
    response = put(api, {"run_days": None, "passed_detail_days": 30})
    assert response.status_code == 200, response.text
    assert response.json()["result"]["run_days"] is None
    assert response.json()["result"]["passed_detail_days"] == 30
    response = put(api, {"run_days": 7})
    assert response.status_code == 200, response.text
    got = api.get(retention_path(api)).json()["result"]
    assert (got["run_days"], got["passed_detail_days"]) == (7, None)
    # The other project is not touched.
    other = api.get(retention_path(api, api.other_project_id)).json()["result"]
    assert other["run_days"] is None and other["updated_at"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"run_days": 0}, "run_days"),
        ({"run_days": -5}, "run_days"),
        ({"run_days": 36501}, "run_days"),
        ({"run_days": "30"}, "run_days"),
        ({"run_days": 1.5}, "run_days"),
        ({"run_days": True}, "run_days"),
        ({"passed_detail_days": 0}, "passed_detail_days"),
        ({"passed_detail_days": 100_000}, "passed_detail_days"),
        ({"run_days": 30, "passed_detail_days": 31}, "passed_detail_days"),
        ({"run_days": 1, "passed_detail_days": 36500}, "passed_detail_days"),
    ],
)
def test_bad_settings_are_422_naming_the_field(api: Api, body: Any, field: str) -> None:
    assert put(api, {"run_days": 60, "passed_detail_days": 20}).status_code == 200
    response = put(api, body)
    got = assert_error_shape(response, 422)
    assert list(got["errors"]) == [field], got
    kept = api.get(retention_path(api)).json()["result"]
    assert (kept["run_days"], kept["passed_detail_days"]) == (60, 20)


def test_the_bounds_are_accepted(api: Api) -> None:
    for body in (
        {"run_days": 1, "passed_detail_days": 1},
        {"run_days": 36500, "passed_detail_days": 36500},
        {"run_days": 30, "passed_detail_days": 30},
        {"run_days": None, "passed_detail_days": 36500},
        {},
    ):
        response = put(api, body)
        assert response.status_code == 200, (body, response.text)
        result = response.json()["result"]
        assert result["run_days"] == body.get("run_days")
        assert result["passed_detail_days"] == body.get("passed_detail_days")


def test_a_body_that_is_not_an_object_is_refused(api: Api) -> None:
    assert_error_shape(put(api, [1, 2]), 400)
    response = api.client.put(
        "/api/v1" + retention_path(api),
        content=b"{nope",
        headers={**api.headers("admin"), "Content-Type": "application/json"},
    )
    assert_error_shape(response, 400)
    assert api.get(retention_path(api)).json()["result"]["updated_at"] is None


# --- pins -----------------------------------------------------------------------------------


def pin_path(run_id: int) -> str:
    return f"/automation/runs/{run_id}/pin"


def pinned(api: Api, who: str = "admin", project_id: int | None = None) -> list[dict[str, Any]]:
    response = api.get(f"/projects/{project_id or api.project_id}/pinned-runs", who)
    assert response.status_code == 200, response.text
    return response.json()["result"]


def test_pin_and_unpin_are_idempotent(api: Api) -> None:
    run_id = api.create_run(name="Release 1.0")
    state = api.get(pin_path(run_id)).json()["result"]
    assert state == {
        "run_id": run_id,
        "project_id": api.project_id,
        "is_pinned": False,
        "pinned_at": None,
        "pinned_by": None,
    }
    first = api.post(pin_path(run_id), who="member")
    assert first.status_code == 200, first.text
    pin = first.json()["result"]
    assert pin["is_pinned"] is True and pin["pinned_at"].endswith("Z")
    member_id = api.get("/user", "member").json()["id"]
    assert pin["pinned_by"] == member_id
    # Pinning again (by anyone) keeps the first pin as it was.
    again = api.post(pin_path(run_id), who="admin")
    assert again.status_code == 200 and again.json()["result"] == pin
    assert api.get(pin_path(run_id), "viewer").json()["result"] == pin
    (listed,) = pinned(api, "viewer")
    assert listed["run_id"] == run_id and listed["name"] == "Release 1.0"
    assert listed["pinned_at"] == pin["pinned_at"] and listed["pinned_by"] == member_id
    assert set(listed) == {
        "run_id", "name", "source_id", "is_completed", "created_at", "pinned_at", "pinned_by",
    }  # fmt: skip
    assert pinned(api, "outsider", api.other_project_id) == []
    # Unpinning twice: 204 both times, nothing pinned afterwards.
    assert api.delete(pin_path(run_id), "member").status_code == 204
    assert api.delete(pin_path(run_id), "member").status_code == 204
    assert api.get(pin_path(run_id)).json()["result"]["is_pinned"] is False
    assert pinned(api) == []


def test_pin_roles(api: Api) -> None:
    run_id = api.create_run()
    for method in ("POST", "DELETE"):
        response = api.client.request(
            method, "/api/v1" + pin_path(run_id), headers=api.headers("viewer")
        )
        body = assert_error_shape(response, 403)
        assert "viewer" in body["message"]
        response = api.client.request(
            method, "/api/v1" + pin_path(run_id), headers=api.headers("outsider")
        )
        assert_error_shape(response, 404)
    assert_error_shape(api.get(pin_path(run_id), "outsider"), 404)
    assert api.get(pin_path(run_id)).json()["result"]["is_pinned"] is False
    # A run that does not exist is a 404, whoever asks.
    assert_error_shape(api.post(pin_path(999_999)), 404)
    assert_error_shape(api.delete(pin_path(999_999)), 404)
    # The outsider's own project: their run, their pin.
    other_run = api.create_run(who="outsider", project_id=api.other_project_id)
    assert api.post(pin_path(other_run), who="outsider").status_code == 200
    assert [p["run_id"] for p in pinned(api, "outsider", api.other_project_id)] == [other_run]
    assert pinned(api) == []


def test_pinning_leaves_testmo_run_object_unchanged(api: Api) -> None:
    run_id = api.create_run(name="Nightly", tags=["nightly"])
    thread_id = api.create_thread(run_id)
    assert api.append(thread_id, [make_test("a"), make_test("b", "failed")]).status_code == 204
    assert api.post(f"/automation/runs/{run_id}/complete").status_code == 204
    before = api.run(run_id)
    listing = api.get(f"/projects/{api.project_id}/automation/runs").json()
    assert api.post(pin_path(run_id)).status_code == 200
    assert api.run(run_id) == before
    assert api.get(f"/projects/{api.project_id}/automation/runs").json() == listing
    assert "pinned" not in str(sorted(before["result"]))
    assert api.delete(pin_path(run_id)).status_code == 204
    assert api.run(run_id) == before


def test_pinned_runs_list_pages_newest_pin_first(api: Api) -> None:
    run_ids = [api.create_run(name=f"R{i}") for i in range(3)]
    for run_id in run_ids:
        assert api.post(pin_path(run_id)).status_code == 200
    response = api.get(f"/projects/{api.project_id}/pinned-runs", per_page=15)
    body = response.json()
    assert body["total"] == 3 and body["per_page"] == 15
    assert [p["run_id"] for p in body["result"]] == run_ids[::-1]
    assert_error_shape(api.get(f"/projects/{api.project_id}/pinned-runs", per_page=7), 422)


def test_openapi_documents_the_endpoints(api: Api) -> None:
    paths = api.client.get("/api/v1/openapi.json").json()["paths"]
    assert set(paths["/api/v1/projects/{project_id}/retention"]) == {"get", "put"}
    assert set(paths["/api/v1/automation/runs/{run_id}/pin"]) == {"get", "post", "delete"}
    assert set(paths["/api/v1/projects/{project_id}/pinned-runs"]) == {"get"}
