"""Admin pages: users (create, role, deactivate), projects and membership, statuses."""

from __future__ import annotations

from httpx2 import Response

from ..helpers import make_test
from .conftest import Web, sign_in


def _post(web: Web, section: str, data: dict[str, str]) -> Response:
    return web.post_form("admin", f"/admin/{section}", data, f"/admin/{section}")


def _user_id(web: Web, email: str) -> str:
    users = web.api.get("/users").json()["result"]
    return str(next(u["id"] for u in users if u["email"] == email))


def test_create_user_change_role_and_deactivate(web: Web) -> None:
    created = _post(web, "users", {"action": "create_user", "email": "new@example.com",
                                   "name": "New", "role": "viewer",
                                   "password": "new user password"})  # fmt: skip
    assert created.status_code == 303
    client = sign_in(web.new_client(), "new@example.com", "new user password")
    assert client.get("/admin/users").status_code == 403
    user_id = _user_id(web, "new@example.com")
    _post(web, "users", {"action": "set_role", "user_id": user_id, "role": "admin"})
    assert client.get("/admin/users").status_code == 200  # roles are read per request
    _post(web, "users", {"action": "set_active", "user_id": user_id, "value": "0"})
    assert client.get("/", follow_redirects=False).status_code == 303
    page = web["admin"].get("/admin/users").text
    assert "deactivated" in page


def test_admin_errors_are_shown(web: Web) -> None:
    duplicate = _post(web, "users", {"action": "create_user", "email": "member@example.com",
                                     "name": "Dup", "role": "member"})  # fmt: skip
    assert duplicate.status_code == 422
    assert "exists already" in duplicate.text
    me = _user_id(web, "admin@example.com")
    for data in (
        {"action": "set_active", "user_id": me, "value": "0"},
        {"action": "set_role", "user_id": me, "role": "viewer"},
        {"action": "set_role", "user_id": "999999", "role": "viewer"},
        {"action": "set_role", "user_id": "abc", "role": "viewer"},
        {"action": "nonsense"},
    ):
        response = _post(web, "users", data)
        assert response.status_code == 422, data


def test_projects_and_membership(web: Web) -> None:
    assert _post(web, "projects", {"action": "create_project", "name": "Mobile"}).status_code == 303  # noqa: E501
    projects = web.api.get("/projects").json()["result"]
    project_id = str(next(p["id"] for p in projects if p["name"] == "Mobile"))
    assert web["viewer"].get(f"/projects/{project_id}").status_code == 404
    _post(web, "projects", {"action": "add_member", "project_id": project_id,
                            "email": "viewer@example.com"})  # fmt: skip
    assert web["viewer"].get(f"/projects/{project_id}").status_code == 200
    _post(web, "projects", {"action": "remove_member", "project_id": project_id,
                            "user_id": _user_id(web, "viewer@example.com")})  # fmt: skip
    assert web["viewer"].get(f"/projects/{project_id}").status_code == 404


def _status_form(status_id: str, **values: str) -> dict[str, str]:
    return {"action": "update_status", "status_id": status_id, "is_final": "1",
            "is_active": "1", **values}  # fmt: skip


def test_statuses_edit_and_create(web: Web) -> None:
    renamed = _post(web, "statuses", _status_form("5", name="Ignored", color="#123456",
                                                  aliases="skipped, skip, omitted"))  # fmt: skip
    assert renamed.status_code == 303
    expand = web.api.get("/projects/1/automation/runs", expands="statuses").json()["expands"]
    skipped = next(s for s in expand["statuses"] if s["id"] == 5)
    assert skipped["name"] == "Ignored" and skipped["color"] == "#123456"
    assert sorted(skipped["aliases"]) == ["omitted", "skip", "skipped"]
    created = _post(web, "statuses", {"action": "create_status", "name": "Flaky",
                                      "color": "#e07b39", "aliases": "flaky",
                                      "is_failed": "1", "is_final": "1",
                                      "is_active": "1"})  # fmt: skip
    assert created.status_code == 303
    # The new alias is accepted at once and counted as a failure.
    run_id = web.api.create_run(name="With flaky")
    thread_id = web.api.create_thread(run_id)
    assert web.api.append(thread_id, [make_test("a", "flaky")]).status_code == 204
    assert web.api.run(run_id)["result"]["status7_count"] == 1
    page = web["admin"].get(f"/runs/{run_id}").text
    assert "Flaky" in page and "--c: #e07b39" in page


def test_status_errors(web: Web) -> None:
    for values in (
        {"name": "X", "color": "red", "aliases": "x"},
        {"name": "", "color": "#000000", "aliases": "x"},
        {"name": "X", "color": "#000000", "aliases": "passed"},  # alias of status 1
        {"name": "X", "color": "#000000", "aliases": "Bad Alias!"},
        {"name": "X", "color": "#000000", "aliases": "x", "is_passed": "1", "is_failed": "1"},
    ):
        response = _post(web, "statuses", _status_form("3", **values))
        assert response.status_code == 422, values
