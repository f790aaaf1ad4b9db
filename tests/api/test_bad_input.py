"""Bad input: each gets its documented status and error body, nothing of it is stored, and
the server keeps serving (decisions.md "Errors", "Runs and threads", "Lists")."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from runhub.app import create_app
from runhub.db.engine import write_tx
from runhub.services import admin
from runhub.settings import MIB, Settings

from ..helpers import Api, make_test
from .conftest import Target
from .test_error_shape import assert_error_shape

JSON = {"Content-Type": "application/json"}


def assert_nothing_stored(api: Api, target: Target) -> None:
    run = api.run(target.run_id)["result"]
    assert run["total_count"] == 0, run
    assert run["threads"][0]["total_count"] == 0 and run["threads"][0]["elapsed"] == 0
    assert run["threads"][0]["fields"] == [] and run["threads"][0]["artifacts"] == []
    page = api.get(f"/automation/runs/{target.run_id}/tests").json()
    assert page["total"] == 0 and page["result"] == []
    cases = api.get(f"/projects/{api.project_id}/automation/cases").json()
    assert cases["total"] == 0, cases


def assert_still_serving(api: Api, target: Target) -> None:
    assert api.get("/user").status_code == 200
    assert api.append(target.canary_thread_id, [make_test("alive")]).status_code == 204


def raw_append(api: Api, target: Target, content: bytes, headers: dict[str, str]) -> Any:
    return api.post(
        f"/automation/runs/threads/{target.thread_id}/append", content=content, headers=headers
    )


# --- bodies that are not JSON objects -------------------------------------------------------

NOT_JSON_OBJECTS = [
    b'{"tests": [',  # truncated
    b'{"tests": []} trailing',
    b"[]",  # arrays, scalars and null are JSON but not objects
    b'[{"tests": []}]',
    b"null",
    b'"a string"',
    b"42",
    b'{"tests": [{"key": "k", "name": "caf\xe9", "status": "passed", "folder": "f"}]}',  # latin-1
    b'{"unknown": "\xff\xfe", "tests": []}',  # invalid UTF-8 in an ignored property
    b"\xef\xbb\xbf\xff",
]


def test_bodies_that_are_not_json_objects_are_400(api: Api, target: Target) -> None:
    for content in NOT_JSON_OBJECTS:
        body = assert_error_shape(raw_append(api, target, content, JSON), 400)
        assert body["errors"] == {}, content
        assert_still_serving(api, target)
    path = f"/projects/{api.project_id}/automation/runs"
    assert_error_shape(api.post(path, content=b'{"name": "x", "source": ', headers=JSON), 400)
    assert_error_shape(api.post(path, content=b'["name", "source"]', headers=JSON), 400)
    assert api.get(f"/projects/{api.project_id}/automation/runs").json()["total"] == 1
    assert_nothing_stored(api, target)


NOT_JSON_TYPES = [
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "application/xml",
    "text/json-ish",
]


def test_non_json_content_type_is_415(api: Api, target: Target) -> None:
    good = b'{"tests": [{"key": "k", "name": "n", "status": "passed", "folder": "f"}]}'
    for content_type in NOT_JSON_TYPES:
        response = raw_append(api, target, good, {"Content-Type": content_type})
        assert_error_shape(response, 415)
        assert_still_serving(api, target)
    form = api.client.post(
        f"/api/v1/automation/runs/threads/{target.thread_id}/append",
        data={"tests": "x"},
        headers=api.headers("admin"),
    )
    assert_error_shape(form, 415)
    encoded = raw_append(api, target, good, {**JSON, "Content-Encoding": "br"})
    assert_error_shape(encoded, 415)
    assert_nothing_stored(api, target)
    # JSON media types with parameters or a +json suffix are JSON.
    for content_type in ("application/json; charset=utf-8", "application/vnd.api+json"):
        assert raw_append(api, target, b"{}", {"Content-Type": content_type}).status_code == 204


# --- wrong values in a batch: 422 naming the dotted path, nothing stored --------------------

ART = {"name": "a", "url": "https://example.com/a"}
BAD_TEST_VALUES: list[tuple[dict[str, Any], str]] = [
    ({"elapsed": "slow"}, "elapsed"),
    ({"elapsed": 1.5}, "elapsed"),
    ({"elapsed": True}, "elapsed"),
    ({"elapsed": -1}, "elapsed"),
    ({"elapsed": 2**53}, "elapsed"),
    ({"elapsed": 2**64}, "elapsed"),
    ({"line": "12"}, "line"),
    ({"line": -1}, "line"),
    ({"line": 2**31}, "line"),
    ({"assertions": -1}, "assertions"),
    ({"name": 5}, "name"),
    ({"name": ""}, "name"),
    ({"name": "n" * 751}, "name"),
    ({"folder": ""}, "folder"),
    ({"folder": ["a"]}, "folder"),
    ({"file": "f" * 751}, "file"),
    ({"key": "UPPER"}, "key"),
    ({"key": "a" * 65}, "key"),
    ({"key": "with-hyphen"}, "key"),
    ({"key": "with space"}, "key"),
    ({"key": ""}, "key"),
    ({"key": 12}, "key"),
    ({"status": "Passed"}, "status"),
    ({"status": "no-such"}, "status"),
    ({"status": "nope"}, "status"),
    ({"status": "unknown_alias"}, "status"),
    ({"fields": [{"type": 6, "name": "x"}]}, "fields.0.type"),
    ({"fields": [{"type": 0, "name": "x"}]}, "fields.0.type"),
    ({"fields": [{"type": 1, "name": ""}]}, "fields.0.name"),
    ({"fields": [{"type": 1}]}, "fields.0.name"),
    ({"fields": [{"type": 1, "name": "x", "meta": {"k": 1}}]}, "fields.0.meta"),
    ({"fields": [{"type": 1, "name": "x", "value": "v" * (MIB + 1)}]}, "fields.0.value"),
    ({"artifacts": [{**ART, "url": "example.com/a"}]}, "artifacts.0.url"),
    ({"artifacts": [{**ART, "url": "ftp://example.com/a"}]}, "artifacts.0.url"),
    ({"artifacts": [{**ART, "url": "javascript:alert(1)"}]}, "artifacts.0.url"),
    ({"artifacts": [{**ART, "url": "https://x/" + "a" * 2048}]}, "artifacts.0.url"),
    ({"artifacts": [{**ART, "note": "n" * 81}]}, "artifacts.0.note"),
    ({"artifacts": [{**ART, "size": -1}]}, "artifacts.0.size"),
    ({"artifacts": [{"name": "a"}]}, "artifacts.0.url"),
]


def test_wrong_values_in_a_batch_are_422_with_dotted_paths(api: Api, target: Target) -> None:
    for change, field in BAD_TEST_VALUES:
        tests = [make_test(f"t{i}") for i in range(5)]
        tests[3].update(change)
        response = api.append(target.thread_id, tests)
        body = assert_error_shape(response, 422)
        assert list(body["errors"]) == [f"tests.3.{field}"], (change, body)
        assert body["message"] == body["errors"][f"tests.3.{field}"][0]
        assert_still_serving(api, target)
    assert_nothing_stored(api, target)


@pytest.mark.parametrize("missing", ["key", "name", "status", "folder"])
def test_missing_required_test_property_is_422(api: Api, target: Target, missing: str) -> None:
    tests = [make_test("first"), make_test("second")]
    del tests[0][missing]
    body = assert_error_shape(api.append(target.thread_id, tests), 422)
    assert list(body["errors"]) == [f"tests.0.{missing}"]
    assert_still_serving(api, target)
    assert_nothing_stored(api, target)


def test_every_unknown_alias_of_a_batch_is_named(api: Api, target: Target) -> None:
    tests = [make_test("a"), make_test("b", "nope"), make_test("c"), make_test("d", "meh")]
    body = assert_error_shape(api.append(target.thread_id, tests), 422)
    assert set(body["errors"]) == {"tests.1.status", "tests.3.status"}
    assert_nothing_stored(api, target)


def test_a_bad_test_at_the_end_of_a_batch_stores_nothing(api: Api, target: Target) -> None:
    good = [
        make_test(f"good{i}", fields=[{"type": 1, "name": "f", "value": "v"}]) for i in range(10)
    ]
    for bad in (make_test("bad", "no_such_status"), {**make_test("bad"), "key": "BAD"}):
        response = api.append(
            target.thread_id,
            [*good, bad],
            elapsed_computed=5_000,
            fields=[{"type": 1, "name": "thread field"}],
            artifacts=[ART],
        )
        body = assert_error_shape(response, 422)
        field = "tests.10.key" if bad["key"] == "BAD" else "tests.10.status"
        assert list(body["errors"]) == [field]
        assert_nothing_stored(api, target)
    assert api.append(target.thread_id, good).status_code == 204
    assert api.run(target.run_id)["result"]["total_count"] == 10


def test_tests_per_append_limit(api: Api, target: Target) -> None:
    tests = [make_test(f"t{i}", elapsed=None, folder="f") for i in range(5001)]
    body = assert_error_shape(api.append(target.thread_id, tests), 422)
    assert list(body["errors"]) == ["tests"]
    assert_nothing_stored(api, target)
    assert api.append(target.thread_id, tests[:5000]).status_code == 204
    assert api.run(target.run_id)["result"]["total_count"] == 5000


# --- unknown ids, completed objects ---------------------------------------------------------


def test_unknown_ids_are_404(api: Api, target: Target) -> None:
    run = {"name": "R", "source": "s"}
    assert_error_shape(api.post("/projects/999999/automation/runs", run), 404)
    assert_error_shape(api.post("/automation/runs/999999/threads", {}), 404)
    assert_error_shape(api.post("/automation/runs/999999/append", {}), 404)
    assert_error_shape(api.post("/automation/runs/999999/complete", {}), 404)
    assert_error_shape(api.append(999_999, [make_test("a")]), 404)
    assert_error_shape(api.post("/automation/runs/threads/999999/complete", {}), 404)
    assert_error_shape(api.get("/automation/runs/999999"), 404)
    assert_still_serving(api, target)


def test_completed_thread_and_run_refuse_results(api: Api, target: Target) -> None:
    thread_path = f"/automation/runs/threads/{target.thread_id}"
    assert api.post(f"{thread_path}/complete", {}).status_code == 204
    body = assert_error_shape(api.append(target.thread_id, [make_test("late")]), 422)
    assert body["errors"] == {}
    assert f"thread {target.thread_id} is completed" in body["message"]

    second = api.create_thread(target.run_id)
    assert api.post(f"/automation/runs/{target.run_id}/complete", {}).status_code == 204
    body = assert_error_shape(api.append(second, [make_test("late")]), 422)
    assert body["errors"] == {} and "completed" in body["message"]
    assert f"run {target.run_id} is completed" in body["message"]

    body = assert_error_shape(api.post(f"/automation/runs/{target.run_id}/threads", {}), 422)
    assert body["errors"] == {}
    assert f"run {target.run_id} is completed" in body["message"]
    run = api.run(target.run_id)["result"]
    assert run["thread_count"] == 2 and run["total_count"] == 0
    assert_still_serving(api, target)


# --- body size limits -----------------------------------------------------------------------


@pytest.fixture
def small_client(api: Api, db_url: str, engine: Engine) -> Iterator[TestClient]:
    settings = Settings(database_url=db_url, max_body_bytes=1024, access_log=False)
    with TestClient(create_app(settings, engine=engine), raise_server_exceptions=False) as c:
        yield c


def _padded(size: int) -> bytes:
    """A valid append body of exactly `size` bytes (one test, padded with spaces)."""
    body = b'{"tests": [{"key": "k", "name": "n", "status": "passed", "folder": "f"}]}'
    return body + b" " * (size - len(body))


def test_body_over_the_limit_is_413(api: Api, target: Target, small_client: TestClient) -> None:
    small = Api(small_client, api.tokens, api.project_id, api.other_project_id)
    path = f"/automation/runs/threads/{target.thread_id}/append"
    over = [
        (_padded(1025), JSON),
        (gzip.compress(_padded(1025)), {**JSON, "Content-Encoding": "gzip"}),
        (gzip.compress(_padded(100_000)), {**JSON, "Content-Encoding": "gzip"}),
        (zlib.compress(_padded(5000)), {**JSON, "Content-Encoding": "deflate"}),
    ]
    for content, headers in over:
        assert_error_shape(small.post(path, content=content, headers=headers), 413)
        assert_still_serving(small, target)
    # Streamed without Content-Length (chunked): counted while reading.
    chunks = iter([_padded(1025)[:600], _padded(1025)[600:]])
    assert_error_shape(small.post(path, content=chunks, headers=JSON), 413)
    assert_error_shape(
        small.post(
            f"/projects/{api.project_id}/automation/runs", content=_padded(2048), headers=JSON
        ),
        413,
    )
    assert_nothing_stored(api, target)
    # Exactly at the limit, plain or compressed, is accepted.
    assert small.post(path, content=_padded(1024), headers=JSON).status_code == 204
    zipped = gzip.compress(_padded(1024))
    response = small.post(path, content=zipped, headers={**JSON, "Content-Encoding": "gzip"})
    assert response.status_code == 204
    assert api.run(target.run_id)["result"]["total_count"] == 2


def test_100_mb_body_against_the_default_limit_is_413(api: Api, target: Target) -> None:
    # A valid append (100 tests with a 1 MiB field each): it would be stored if accepted.
    value = b"x" * (MIB - 16)
    one = (
        b'{"key": "k", "name": "n", "status": "passed", "folder": "f", '
        b'"fields": [{"type": 4, "name": "out", "value": "' + value + b'"}]}'
    )
    content = b'{"tests": [' + b",".join([one] * 100) + b"]}"
    assert len(content) > 100 * 10**6 > 64 * MIB
    headers = {**JSON, "Content-Length": str(len(content))}
    response = raw_append(api, target, content, headers)
    body = assert_error_shape(response, 413)
    assert "67108864" in body["message"]
    del content
    assert_nothing_stored(api, target)
    assert_still_serving(api, target)


def test_gzip_bomb_against_the_default_limit_is_413(api: Api, target: Target) -> None:
    inflated = b'{"fields": [{"type": 4, "name": "out", "value": "' + b"0" * (65 * MIB) + b'"}]}'
    bomb = gzip.compress(inflated, compresslevel=1)
    assert len(bomb) < MIB
    response = raw_append(api, target, bomb, {**JSON, "Content-Encoding": "gzip"})
    assert_error_shape(response, 413)
    assert_nothing_stored(api, target)
    assert_still_serving(api, target)


# --- who may do what ------------------------------------------------------------------------


def test_other_projects_are_404_and_viewers_cannot_write(api: Api, target: Target) -> None:
    run, thread = target.run_id, target.thread_id
    for method, path, payload in [
        ("GET", f"/automation/runs/{run}", None),
        ("GET", f"/automation/runs/{run}/tests", None),
        ("GET", f"/projects/{api.project_id}/automation/runs", None),
        ("POST", f"/projects/{api.project_id}/automation/runs", {"name": "R", "source": "s"}),
        ("POST", f"/automation/runs/{run}/threads", {}),
        ("POST", f"/automation/runs/{run}/append", {}),
        ("POST", f"/automation/runs/threads/{thread}/append", {"tests": [make_test("x")]}),
        ("POST", f"/automation/runs/threads/{thread}/complete", {}),
        ("POST", f"/automation/runs/{run}/complete", {}),
    ]:
        call = api.get if method == "GET" else api.post
        args = (path,) if payload is None else (path, payload)
        assert_error_shape(call(*args, who="outsider"), 404)
        if method == "POST":
            body = assert_error_shape(call(*args, who="viewer"), 403)
            assert body["errors"] == {}
        else:
            assert call(*args, who="viewer").status_code == 200
    assert_nothing_stored(api, target)
    assert not api.run(target.run_id)["result"]["is_completed"]
    assert api.get(f"/projects/{api.project_id}/automation/runs").json()["total"] == 1


def test_revoked_token_is_401(api: Api, engine: Engine, target: Target) -> None:
    with write_tx(engine) as conn:
        token_id, token = admin.create_token(conn, "member@example.com", "to revoke")
    headers = {"Authorization": f"Bearer {token}"}
    assert api.client.get("/api/v1/user", headers=headers).status_code == 200
    with write_tx(engine) as conn:
        admin.revoke_token(conn, token_id)
    for path in ("/api/v1/user", f"/api/v1/automation/runs/{target.run_id}"):
        response = api.client.get(path, headers=headers)
        assert_error_shape(response, 401)
        assert response.headers["www-authenticate"].startswith("Bearer")
    response = api.client.post(
        f"/api/v1/automation/runs/threads/{target.thread_id}/append",
        json={"tests": [make_test("x")]},
        headers=headers,
    )
    assert_error_shape(response, 401)
    assert_nothing_stored(api, target)
    assert api.get("/user", "member").status_code == 200  # the member's other token still works


# --- query parameters -----------------------------------------------------------------------


def test_bad_query_parameters_are_422(api: Api, target: Target) -> None:
    runs = f"/projects/{api.project_id}/automation/runs"
    tests = f"/automation/runs/{target.run_id}/tests"
    bad = [
        *[(runs, {"per_page": v}, "per_page") for v in ("0", "7", "10", "20", "99", "101", "1000")],
        *[(tests, {"per_page": v}, "per_page") for v in ("15", "99", "1001", "5000")],
        (runs, {"expands": "nope"}, "expands"),
        (runs, {"expands": "users,nope"}, "expands"),
        (f"/automation/runs/{target.run_id}", {"expands": "threads"}, "expands"),
        (runs, {"status": "1"}, "status"),
        (runs, {"created_after": "2026-13-01"}, "created_after"),
        (runs, {"created_after": "0001-01-01T00:00:00+01:00"}, "created_after"),
        (runs, {"created_before": "9999-12-31T23:59:59-01:00"}, "created_before"),
        (runs, {"page": "2" + "0" * 20}, "page"),
        (runs, {"source_id": "9" * 25}, "source_id"),
        (tests, {"status_id": "5"}, "status_id"),
        (tests, {"thread_id": "0"}, "thread_id"),
    ]
    for path, query, field in bad:
        body = assert_error_shape(api.get(path, **query), 422)
        assert list(body["errors"]) == [field], (path, query, body)
    for value in ("15", "25", "50", "100"):
        assert api.get(runs, per_page=value).json()["per_page"] == int(value)
    for value in ("100", "1000", "555"):
        assert api.get(tests, per_page=value).json()["per_page"] == int(value)
    # Unknown query parameters are ignored.
    assert api.get(runs, state="3", whatever="x").status_code == 200


# --- run creation ---------------------------------------------------------------------------


def test_bad_run_bodies_are_422_and_create_nothing(
    api: Api, engine: Engine, target: Target
) -> None:
    with write_tx(engine) as conn:
        foreign_milestone = admin.create_milestone(conn, api.other_project_id, "Theirs")
    foreign_config_run = api.create_run(project_id=api.other_project_id, config="Theirs")
    foreign_config = api.run(foreign_config_run)["result"]["config_id"]
    base = {"name": "R", "source": "new-source", "config": "New config"}
    bad = [
        ({"tags": ["has space"]}, "tags.0"),
        ({"tags": ["ok", "a" * 65]}, "tags.1"),
        ({"tags": ["ok", ""]}, "tags.1"),
        ({"tags": [f"t{i}" for i in range(101)]}, "tags"),
        ({"tags": "single"}, "tags"),
        ({"name": ""}, "name"),
        ({"name": "n" * 751}, "name"),
        ({"source": ""}, "source"),
        ({"source": "s" * 751}, "source"),
        ({"config_id": 0}, "config_id"),
        ({"config_id": "1"}, "config_id"),
        ({"config_id": 2**63}, "config_id"),
        ({"config_id": foreign_config}, "config_id"),
        ({"config_id": 999_999}, "config_id"),
        ({"milestone_id": foreign_milestone}, "milestone_id"),
        ({"milestone_id": 2**70}, "milestone_id"),
        ({"milestone": "No such milestone"}, "milestone"),
        ({"links": [{"name": "l", "url": "www.example.com"}]}, "links.0.url"),
        ({"links": [{"name": "l", "url": "https://x", "note": "n" * 81}]}, "links.0.note"),
        ({"artifacts": [{**ART, "size": 2**63}]}, "artifacts.0.size"),
        ({"fields": [{"type": 6, "name": "x"}]}, "fields.0.type"),
        ({"fields": [{"type": "1", "name": "x"}]}, "fields.0.type"),
    ]
    path = f"/projects/{api.project_id}/automation/runs"
    for change, field in bad:
        body = assert_error_shape(api.post(path, {**base, **change}), 422)
        assert list(body["errors"]) == [field], (change, body)
    for missing in ("name", "source"):
        payload = {k: v for k, v in base.items() if k != missing}
        assert list(assert_error_shape(api.post(path, payload), 422)["errors"]) == [missing]
    # Nothing was created: no run, no source, no config.
    assert api.get(path).json()["total"] == 1
    sources = api.get(f"/projects/{api.project_id}/automation/sources").json()["result"]
    assert {s["name"] for s in sources} == {"backend"}
    run_id = api.create_run(
        **base,
        tags=[f"t{i}" for i in range(100)],
        artifacts=[{**ART, "note": "n" * 80, "url": "HTTP://X"}],
    )
    run = api.run(run_id, expands="configs")
    assert len(run["result"]["tags"]) == 100
    assert run["expands"]["configs"] == [{"id": run["result"]["config_id"], "name": "New config"}]
    assert run["result"]["config_id"] != foreign_config
    assert_still_serving(api, target)


def test_bad_bodies_of_threads_and_completion(api: Api, target: Target) -> None:
    run, thread = target.run_id, target.thread_id
    bad = [
        (f"/automation/runs/{run}/threads", {"elapsed_observed": -1}, "elapsed_observed"),
        (f"/automation/runs/{run}/threads", {"elapsed_computed": "1"}, "elapsed_computed"),
        (
            f"/automation/runs/{run}/threads",
            {"fields": [{"type": 9, "name": "x"}]},
            "fields.0.type",
        ),
        (f"/automation/runs/{run}/append", {"links": [{"name": "x", "url": "x"}]}, "links.0.url"),
        (f"/automation/runs/{run}/complete", {"measure_elapsed": "yes"}, "measure_elapsed"),
        (f"/automation/runs/{run}/complete", {"measure_elapsed": 1}, "measure_elapsed"),
        (
            f"/automation/runs/threads/{thread}/complete",
            {"elapsed_observed": 1.5},
            "elapsed_observed",
        ),
        (f"/automation/runs/threads/{thread}/append", {"elapsed_computed": -5}, "elapsed_computed"),
    ]
    for path, payload, field in bad:
        body = assert_error_shape(api.post(path, payload), 422)
        assert list(body["errors"]) == [field], (path, payload, body)
    result = api.run(run)["result"]
    assert not result["is_completed"] and result["thread_count"] == 1
    assert result["links"] == [] and not result["threads"][0]["is_completed"]
    assert_nothing_stored(api, target)
    assert_still_serving(api, target)


def test_nul_characters_are_stored_as_replacement_characters(api: Api, target: Target) -> None:
    """PostgreSQL text cannot hold NUL; runhub stores U+FFFD instead on every backend."""
    output = {"type": 4, "name": "Output", "value": "before\u0000after \\u0000 literal"}
    test = make_test("nul\u0000name", fields=[output])
    assert api.append(target.thread_id, [test]).status_code == 204
    stored = api.get(f"/automation/runs/{target.run_id}/tests").json()["result"][0]
    assert stored["name"] == "nul\ufffdname"
    assert stored["fields"][0]["value"] == "before\ufffdafter \\u0000 literal"
    response = api.get(f"/projects/{api.project_id}/automation/cases", name="a\u0000b")
    assert_error_shape(response, 422)
    assert "name" in response.json()["errors"]
