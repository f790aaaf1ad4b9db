"""Every endpoint of the route table answers errors in one shape (decisions.md "Errors").

Modelled on Datasette's test_error_shape.py: the tests walk `ENDPOINTS`, so an endpoint
added to the table is covered without touching this file. An endpoint with a path
parameter this file does not know makes `_path` fail loudly: add the object to `world`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import msgspec
import pytest
from sqlalchemy import Engine

from runhub.api.routes import ENDPOINTS, Endpoint
from runhub.db.engine import write_tx
from runhub.services import admin
from runhub.services.health import analyze_pending
from runhub.services.outcomes import HealthRules

from ..helpers import Api, make_test

PAGE_KEYS = {"page", "prev_page", "next_page", "last_page", "per_page", "total", "result"}
UNKNOWN_ID = 999_999
_PARAM = re.compile(r"\{(\w+)\}")


def _id(endpoint: Endpoint) -> str:
    return f"{endpoint.method} {endpoint.path}"


def _params(endpoint: Endpoint) -> list[str]:
    return _PARAM.findall(endpoint.path)


PAGE_ENDPOINTS = [e for e in ENDPOINTS if e.response == "page"]


@dataclass
class World:
    """Real objects for every path parameter, so a 422 is not masked by a 404."""

    ids: dict[str, int]


@pytest.fixture
def world(api: Api, engine: Engine) -> World:
    # A completed earlier run of the source, analysed, so changes and health list items.
    base_run_id = api.create_run(name="Base", source="shape-source")
    base_thread = api.create_thread(base_run_id)
    assert api.append(base_thread, [make_test("a"), make_test("b")]).status_code == 204
    assert api.post(f"/automation/runs/{base_run_id}/complete").status_code == 204
    analyze_pending(engine, HealthRules())
    run_id = api.create_run(name="Shape", source="shape-source", tags=["shape"])
    thread_id = api.create_thread(run_id)
    assert api.append(thread_id, [make_test("a"), make_test("b", "failed")]).status_code == 204
    # A completed run with a failure, grouped by cause.
    failing_run_id = api.create_run(name="Failing", source="shape-failures")
    failing_thread = api.create_thread(failing_run_id)
    failure = {"type": 4, "name": "Failure", "value": "KeyError: 'user_id'", "is_highlight": True}
    broken = make_test("c", "failed", fields=[failure])
    assert api.append(failing_thread, [broken]).status_code == 204
    assert api.post(f"/automation/runs/{failing_run_id}/complete").status_code == 204
    analyze_pending(engine, HealthRules())
    groups = api.get(f"/automation/runs/{failing_run_id}/failure-groups").json()["result"]
    case_id = api.get(f"/projects/{api.project_id}/automation/cases").json()["result"][0]["id"]
    entry = {"case_id": case_id, "mode": "mute", "reason": "flaky in CI"}
    response = api.post(f"/projects/{api.project_id}/automation/quarantine", entry)
    assert response.status_code == 201, response.text
    with write_tx(engine) as conn:
        milestone_id = admin.create_milestone(conn, api.project_id, "M1", ["shape"])
        user_id = admin.create_user(conn, "extra@example.com", "Extra", "member")
    source_id = api.run(run_id)["result"]["source_id"]
    hook = {"url": "https://93.184.216.34/hook", "events": ["run.created"]}
    webhook = api.post(f"/projects/{api.project_id}/webhooks", hook)
    assert webhook.status_code == 201, webhook.text
    assert api.post(f"/webhooks/{webhook.json()['id']}/ping").status_code == 201
    quiet_webhook = api.post(f"/projects/{api.other_project_id}/webhooks", hook)
    # A pinned run, so the project's pinned runs list one.
    assert api.post(f"/automation/runs/{base_run_id}/pin").status_code == 200
    return World(
        ids={
            "project_id": api.project_id,
            "run_id": run_id,
            "thread_id": thread_id,
            "source_id": source_id,
            "milestone_id": milestone_id,
            "user_id": user_id,
            "case_id": case_id,
            "entry_id": response.json()["id"],
            "group_id": groups[0]["id"],
            "failing_run_id": failing_run_id,
            "webhook_id": webhook.json()["id"],
            "quiet_webhook_id": quiet_webhook.json()["id"],  # without deliveries
        }
    )


def _path(endpoint: Endpoint, ids: dict[str, int], override: int | None = None) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        known = override is not None or name in ids
        assert known, f"{_id(endpoint)}: no test object for path parameter {name!r}"
        return str(override if override is not None else ids[name])

    return _PARAM.sub(value, endpoint.path)


def _call(
    api: Api, method: str, path: str, who: str | None = "admin", body: Any = None, **params: Any
) -> Any:
    return api.client.request(
        method,
        "/api/v1" + path,
        params=params,
        headers=api.headers(who),
        json=body if method in ("POST", "PUT", "PATCH") else None,
    )


# Required properties that take only some strings.
VALID_VALUES: dict[str, Any] = {
    "mode": "mute",
    "url": "https://93.184.216.34/hook",
    "events": ["run.created"],
}


def _valid_body(endpoint: Endpoint) -> Any:
    """The smallest body that passes validation: each required property set (strings)."""
    if endpoint.body is None:
        return {}
    fields = msgspec.structs.fields(endpoint.body)
    body = {f.encode_name: VALID_VALUES.get(f.encode_name, "x") for f in fields if f.required}
    return [body] if endpoint.body_is_list else body


def assert_error_shape(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"message", "errors"}, body
    assert isinstance(body["message"], str) and body["message"].strip(), body
    assert isinstance(body["errors"], dict), body
    for path, messages in body["errors"].items():
        assert isinstance(path, str) and path
        assert isinstance(messages, list) and messages
        assert all(isinstance(m, str) and m for m in messages)
    return body


# --- 401, 404, 405 --------------------------------------------------------------------------

BAD_AUTHORIZATION = [None, "Bearer nope", "Bearer ", "Basic dXNlcjpwYXNz", "runhub_abc", "Bearer"]
BAD_IDS = (UNKNOWN_ID, 0, "abc", "-1", "9" * 30, "²", "1.0")


def check_401(api: Api, endpoint: Endpoint) -> None:
    # Authentication comes first: the ids need not exist.
    path = "/api/v1" + _path(endpoint, {}, override=1)
    for authorization in BAD_AUTHORIZATION:
        headers = {"Authorization": authorization} if authorization is not None else {}
        response = api.client.request(
            endpoint.method, path, headers=headers, json={} if endpoint.method == "POST" else None
        )
        body = assert_error_shape(response, 401)
        assert body["errors"] == {}, authorization
        assert response.headers["www-authenticate"].startswith("Bearer"), authorization


def check_404(api: Api, world: World, endpoint: Endpoint) -> None:
    for bad_id in BAD_IDS:
        path = endpoint.path
        for name in _params(endpoint):
            path = path.replace("{" + name + "}", str(bad_id))
        response = _call(api, endpoint.method, path, body=_valid_body(endpoint))
        assert_error_shape(response, 404)
    if "user_id" not in _params(endpoint):
        # An object of a project the caller cannot see does not exist for them.
        path = _path(endpoint, world.ids)
        response = _call(api, endpoint.method, path, "outsider", body=_valid_body(endpoint))
        assert_error_shape(response, 404)


def check_405(api: Api, world: World, endpoint: Endpoint) -> None:
    path = _path(endpoint, world.ids)
    taken = {e.method for e in ENDPOINTS if _path(e, world.ids) == path}
    for method in sorted({"GET", "POST", "PUT", "PATCH", "DELETE"} - taken):
        response = _call(api, method, path, body={})
        assert_error_shape(response, 405)
        allowed = set(response.headers["allow"].replace(" ", "").split(","))
        assert allowed - {"HEAD"} == taken, (method, path)


# --- 422 ------------------------------------------------------------------------------------


def _bad_queries(endpoint: Endpoint) -> list[tuple[dict[str, str], str]]:
    """(query, the field path the 422 must name) for each invalid parameter we can make."""
    out: list[tuple[dict[str, str], str]] = []
    if "per_page" in endpoint.query:
        out += [({"per_page": "7"}, "per_page"), ({"per_page": "x"}, "per_page")]
    if "page" in endpoint.query:
        out += [({"page": "0"}, "page"), ({"page": "-2"}, "page")]
    if "expands" in endpoint.query:
        out.append(({"expands": "nope"}, "expands"))
    if "order" in endpoint.query:
        out.append(({"order": "sideways"}, "order"))
    if "sort" in endpoint.query:
        out.append(({"sort": "nope:nope"}, "sort"))
    for name in ("created_after", "created_before", "completed_after", "completed_before"):
        if name in endpoint.query:
            out.append(({name: "yesterday"}, name))
    for name in ("is_completed", "is_retired"):
        if name in endpoint.query:
            out.append(({name: "maybe"}, name))
    for name in ("source_id", "config_id", "milestone_id", "created_by", "thread_id"):
        if name in endpoint.query:
            out.append(({name: "x"}, name))
    for name in ("status", "status_id"):
        if name in endpoint.query:
            out.append(({name: "9"}, name))
    if "active" in endpoint.query:
        out.append(({"active": "maybe"}, "active"))
    if "case_id" in endpoint.query:
        out.append(({"case_id": "x"}, "case_id"))
    for name in ("bucket", "state", "mode"):
        if name in endpoint.query:
            out.append(({name: "nope"}, name))
    if "base_run_id" in endpoint.query:
        out += [({"base_run_id": "x"}, "base_run_id"), ({"base_run_id": "0"}, "base_run_id")]
    return out


def _bad_bodies(endpoint: Endpoint) -> list[tuple[Any, str]]:
    """A JSON object is the wrong type for every top-level property of every body."""
    if endpoint.body is None:
        return []
    fields = msgspec.structs.fields(endpoint.body)
    if endpoint.body_is_list:  # the second item is the wrong one: `1.name`
        valid = _valid_body(endpoint)
        return [
            (valid + [{f.encode_name: {"wrong": "type"}}], f"1.{f.encode_name}") for f in fields
        ]
    return [({f.encode_name: {"wrong": "type"}}, f.encode_name) for f in fields]


def check_422(api: Api, world: World, endpoint: Endpoint) -> None:
    if endpoint.body is None and not endpoint.query:
        return  # nothing to get wrong (GET /user)
    cases = _bad_queries(endpoint) + _bad_bodies(endpoint)
    assert cases, f"{_id(endpoint)}: no invalid input known for this endpoint"
    path = _path(endpoint, world.ids)
    for query, field in _bad_queries(endpoint):
        body = assert_error_shape(_call(api, endpoint.method, path, **query), 422)
        assert list(body["errors"]) == [field], (query, body)
    for payload, field in _bad_bodies(endpoint):
        body = assert_error_shape(_call(api, endpoint.method, path, body=payload), 422)
        assert list(body["errors"]) == [field], (payload, body)
    if endpoint.method == "POST":
        # Nested paths are dotted with indexes.
        nested = {"fields": [{"type": 1, "name": "ok"}, {"type": "one", "name": "x"}]}
        if endpoint.body is not None and "fields" in endpoint.body.__struct_fields__:
            body = assert_error_shape(_call(api, "POST", path, body=nested), 422)
            assert list(body["errors"]) == ["fields.1.type"]


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=_id)
def test_errors_have_one_shape(api: Api, world: World, endpoint: Endpoint) -> None:
    """401 without a valid token, 404 for unknown ids, 422 naming the field, 405 for a
    wrong method: each with {"message": str, "errors": dict}."""
    check_401(api, endpoint)
    if _params(endpoint):
        check_404(api, world, endpoint)
    check_422(api, world, endpoint)
    check_405(api, world, endpoint)
    # The server keeps serving after all of that.
    if endpoint.method == "GET":
        response = _call(api, "GET", _path(endpoint, world.ids))
        assert response.status_code == 200, response.text


# --- page envelope --------------------------------------------------------------------------


# runhub's own lists add summary keys beside the envelope.
EXTRA_KEYS = {"/automation/runs/{run_id}/changes": {"base_run_id", "counts"}}


def _assert_envelope(endpoint: Endpoint, body: dict[str, Any]) -> None:
    expected = PAGE_KEYS | ({"expands"} if "expands" in endpoint.query else set())
    expected |= EXTRA_KEYS.get(endpoint.path, set())
    assert set(body) == expected, (_id(endpoint), sorted(body))
    assert isinstance(body["result"], list)
    if "expands" in expected:
        assert body["expands"] == {}


# An empty list of each page endpoint: an empty project, a run without results, or a
# filter that matches nothing. GET /users always lists at least the caller.
EMPTY_QUERIES = {
    "/projects": {"is_completed": "true"},
    "/automation/cases/{case_id}/history": {"branch": "no-such-branch"},
}
# A failure group always holds at least one failed result.
NEVER_EMPTY = {"/users", "/automation/failure-groups/{group_id}/tests"}
# Lists that need another object of the world than the default one to list something.
LISTING_IDS = {"/automation/runs/{run_id}/failure-groups": {"run_id": "failing_run_id"}}


@pytest.mark.parametrize("endpoint", PAGE_ENDPOINTS, ids=_id)
def test_list_answers_the_page_envelope(
    api: Api, world: World, engine: Engine, endpoint: Endpoint
) -> None:
    swaps = {name: world.ids[other] for name, other in LISTING_IDS.get(endpoint.path, {}).items()}
    response = _call(api, "GET", _path(endpoint, {**world.ids, **swaps}))
    assert response.status_code == 200, response.text
    body = response.json()
    _assert_envelope(endpoint, body)
    assert body["total"] >= 1 and body["page"] == 1 and body["prev_page"] is None
    assert body["last_page"] == 1 and body["next_page"] is None
    assert body["per_page"] == 100 and len(body["result"]) == body["total"]

    if endpoint.path in NEVER_EMPTY:
        return
    known = _params(endpoint) or endpoint.path in EMPTY_QUERIES
    assert known, f"{endpoint.path}: add a query that lists nothing to EMPTY_QUERIES"
    with write_tx(engine) as conn:
        empty_project = admin.create_project(conn, "Empty")
        run_project = admin.create_project(conn, "Holds one run without results")
    empty_run = api.create_run(project_id=run_project)
    ids = {**world.ids, "project_id": empty_project, "run_id": empty_run}
    ids["webhook_id"] = world.ids["quiet_webhook_id"]
    response = _call(api, "GET", _path(endpoint, ids), **EMPTY_QUERIES.get(endpoint.path, {}))
    assert response.status_code == 200, response.text
    body = response.json()
    _assert_envelope(endpoint, body)
    assert {k: body[k] for k in PAGE_KEYS} == {
        "page": 1,
        "prev_page": None,
        "next_page": None,
        "last_page": 1,
        "per_page": 100,
        "total": 0,
        "result": [],
    }


# --- unknown paths ------------------------------------------------------------------

UNKNOWN_PATHS = ["/nope", "/automation", "/automation/runs", "/projects/1/nope", "/users/1/x", "/"]


def test_unknown_path_is_404_or_401_without_token(api: Api) -> None:
    for path in UNKNOWN_PATHS:
        for method in ("GET", "POST", "DELETE"):
            assert_error_shape(_call(api, method, path, body={}), 404)
            response = _call(api, method, path, who=None, body={})
            assert_error_shape(response, 401)
            assert response.headers["www-authenticate"].startswith("Bearer")


# --- OpenAPI --------------------------------------------------------------------------------


def test_openapi_lists_exactly_the_route_table(api: Api) -> None:
    response = api.client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    expected: dict[str, set[str]] = {}
    for e in ENDPOINTS:
        expected.setdefault("/api/v1" + e.path, set()).add(e.method.lower())
    assert {p: set(ops) for p, ops in paths.items()} == expected
    for e in ENDPOINTS:
        operation = paths["/api/v1" + e.path][e.method.lower()]
        declared = {p["name"] for p in operation["parameters"] if p["in"] == "path"}
        assert declared == set(_params(e))
        assert ("requestBody" in operation) == (e.body is not None)
