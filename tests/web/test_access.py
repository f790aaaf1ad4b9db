"""Every page for each role (allowed pages render, forbidden ones answer 403/404, like the
API), and every form of the UI refused without its CSRF token."""

from __future__ import annotations

import re

import pytest
from starlette.routing import Route

from runhub.web.routes import web_routes

from ..api.test_intelligence import case_id
from .conftest import Sample, Web, csrf_of

ROLES = ("admin", "member", "viewer", "outsider")


def _pages(web: Web, sample: Sample) -> dict[str, dict[str, int]]:
    """Path -> expected status per role."""
    project = {"admin": 200, "member": 200, "viewer": 200, "outsider": 404}
    everyone = dict.fromkeys(ROLES, 200)
    admins = {"admin": 200, "member": 403, "viewer": 403, "outsider": 403}
    run = f"/runs/{sample.run_id}"
    return {
        "/": everyone,
        "/profile": everyone,
        f"/projects/{web.api.project_id}": project,
        f"/projects/{web.api.project_id}?status=3&source_id={sample.source_id}&tags=nightly"
        "&created_after=2020-01-01&per_page=15&page=1": project,
        f"/projects/{web.api.other_project_id}": {
            **project,
            "member": 404,
            "viewer": 404,
            "outsider": 200,
        },  # fmt: skip
        run: project,
        f"{run}?status=2,4,6&thread={sample.thread_id}&folder=pkg&q=test&page=1": project,
        f"{run}/counts.json": project,
        f"/results/{sample.failed_test_id}": project,
        f"/sources/{sample.source_id}": project,
        f"{run}?changes=new_failure,fixed&changes_page=1": project,
        f"{run}/compare": project,
        f"{run}/compare?base={sample.run_id}&bucket=missing&page=1": project,
        f"/projects/{web.api.project_id}/tests": project,
        f"/projects/{web.api.project_id}/tests?tab=slowest&source_id={sample.source_id}"
        "&branch=main&per_page=25&page=1": project,
        f"/projects/{web.api.other_project_id}/tests": {
            **project,
            "member": 404,
            "viewer": 404,
            "outsider": 200,
        },  # fmt: skip
        f"/projects/{web.api.project_id}/quarantine": project,
        f"/projects/{web.api.project_id}/quarantine?state=removed&source_id={sample.source_id}"
        "&mode=mute,skip&per_page=25&page=1": project,
        f"/projects/{web.api.other_project_id}/quarantine": {
            **project,
            "member": 404,
            "viewer": 404,
            "outsider": 200,
        },  # fmt: skip
        "/admin/users": admins,
        "/admin/projects": admins,
        "/admin/statuses": admins,
        "/projects/999999": dict.fromkeys(ROLES, 404),
        "/runs/999999": dict.fromkeys(ROLES, 404),
        "/results/999999": dict.fromkeys(ROLES, 404),
        "/sources/999999": dict.fromkeys(ROLES, 404),
        "/runs/999999/compare": dict.fromkeys(ROLES, 404),
        "/projects/999999/tests": dict.fromkeys(ROLES, 404),
        "/projects/999999/quarantine": dict.fromkeys(ROLES, 404),
        "/runs/abc": dict.fromkeys(ROLES, 404),
        "/no/such/page": dict.fromkeys(ROLES, 404),
    }


def test_every_page_for_every_role(web: Web, sample: Sample) -> None:
    for path, expected in _pages(web, sample).items():
        for role in ROLES:
            response = web[role].get(path, follow_redirects=False)
            assert response.status_code == expected[role], (path, role, response.text[:500])
            if path.endswith(".json"):
                assert response.headers["content-type"] == "application/json"
            else:
                assert response.headers["content-type"].startswith("text/html")
                assert "<!doctype html>" in response.text


def test_signed_out_pages_redirect_to_sign_in(web: Web, sample: Sample) -> None:
    client = web.new_client()
    for path in _pages(web, sample):
        response = client.get(path, follow_redirects=False)
        if path == "/no/such/page":
            assert response.status_code == 404
        else:
            assert response.status_code == 303, path
            assert response.headers["location"].startswith("/signin?next=")


def test_bad_filter_values_get_an_html_422(web: Web, sample: Sample) -> None:
    for path in (
        f"/projects/{web.api.project_id}?status=9",
        f"/projects/{web.api.project_id}?per_page=7",
        f"/projects/{web.api.project_id}?created_after=yesterday",
        f"/runs/{sample.run_id}?status=99",
        f"/runs/{sample.run_id}?thread=x",
        f"/runs/{sample.run_id}?changes=everything",
        f"/runs/{sample.run_id}/compare?base=-1",
        f"/projects/{web.api.project_id}/tests?tab=fastest",
        f"/projects/{web.api.project_id}/quarantine?state=forgotten",
        f"/projects/{web.api.project_id}/quarantine?mode=ignore",
        f"/projects/{web.api.project_id}/quarantine?per_page=7",
    ):
        response = web["admin"].get(path)
        assert response.status_code == 422, path
        assert "text/html" in response.headers["content-type"]


def test_thread_of_another_run_is_404(web: Web, sample: Sample) -> None:
    other_run = web.api.create_run(name="Other run")
    other_thread = web.api.create_thread(other_run)
    response = web["admin"].get(f"/runs/{sample.run_id}?thread={other_thread}")
    assert response.status_code == 404


def test_viewer_sees_no_write_controls(web: Web, sample: Sample) -> None:
    """The UI never writes runs; a viewer's pages post nothing but sign-out and profile,
    not even where a member quarantines a test or ends its quarantine."""
    for path in ("/", f"/projects/{web.api.project_id}", f"/runs/{sample.run_id}",
                 f"/results/{sample.failed_test_id}", f"/sources/{sample.source_id}",
                 f"/runs/{sample.run_id}/compare", f"/projects/{web.api.project_id}/tests",
                 f"/runs/{sample.run_id}?changes=new_failure",
                 f"/projects/{web.api.project_id}/quarantine"):  # fmt: skip
        if path.endswith("/quarantine"):  # with an active entry, which members could end
            body = {"case_id": case_id(web.api, "test_broken"), "mode": "mute", "reason": "r"}
            created = web.api.post(f"/projects/{web.api.project_id}/automation/quarantine", body)
            assert created.status_code == 201
            assert 'action="/quarantine/' in web["member"].get(path).text
            result = f"/results/{sample.failed_test_id}"
            assert 'action="/quarantine/' in web["member"].get(result).text
        page = web["viewer"].get(path).text
        actions = set(re.findall(r'<form method="post" action="([^"]+)"', page))
        assert actions == {"/signout"}, (path, actions)
        assert 'href="/admin' not in page


def test_admin_link_only_for_admins(web: Web) -> None:
    assert 'href="/admin/users"' in web["admin"].get("/").text
    for role in ("member", "viewer", "outsider"):
        assert 'href="/admin/users"' not in web[role].get("/").text


def _post_routes(web: Web, sample: Sample) -> list[str]:
    """Every POST path of the route table, with real ids."""
    token_page = web["admin"].get("/profile").text
    created = web["admin"].post(
        "/profile/tokens", data={"csrf_token": csrf_of(token_page), "name": "t"}
    )
    token_id = re.findall(r'action="/profile/tokens/(\d+)/revoke"', created.text)[0]
    ids = {
        "token_id": token_id,
        "section": "users",
        "test_id": str(sample.failed_test_id),
        "entry_id": "1",
        "project_id": str(web.api.project_id),
        "run_id": str(sample.run_id),
    }
    paths = []
    for route in web_routes():
        if isinstance(route, Route) and route.methods and "POST" in route.methods:
            paths.append(re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], route.path))
    assert len(paths) >= 6
    return paths + ["/admin/projects", "/admin/statuses"]


@pytest.mark.parametrize("token", [None, "", "not-the-token"])
def test_every_form_is_refused_without_csrf_token(
    web: Web, sample: Sample, token: str | None
) -> None:
    for path in _post_routes(web, sample):
        data = {"name": "x", "action": "create_project", "email": "x@example.com"}
        if token is not None:
            data["csrf_token"] = token
        response = web["admin"].post(path, data=data, follow_redirects=False)
        assert response.status_code == 403, path
        assert "text/html" in response.headers["content-type"]
    # Nothing was created, and the session still works.
    assert "x@example.com" not in web["admin"].get("/admin/users").text
    assert web["admin"].get("/").status_code == 200


def test_csrf_token_of_another_session_is_refused(web: Web) -> None:
    other = csrf_of(web["member"].get("/profile").text)
    response = web["admin"].post("/profile/tokens", data={"csrf_token": other, "name": "x"})
    assert response.status_code == 403


def test_non_admins_cannot_post_admin_forms(web: Web) -> None:
    for role in ("member", "viewer"):
        response = web.post_form(
            role, "/admin/projects", {"action": "create_project", "name": "Sneaky"}, "/profile"
        )
        assert response.status_code == 403
    assert "Sneaky" not in web["admin"].get("/admin/projects").text


def test_pages_send_security_headers(web: Web) -> None:
    headers = web["admin"].get("/").headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["cache-control"] == "no-store"
