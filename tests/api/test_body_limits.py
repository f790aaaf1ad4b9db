"""Bodies at and past runhub's limits (issue 9): every gzip member is read or the body is
refused, elapsed sums saturate instead of overflowing, deep nesting is a 400 and item
counts are capped before they cost memory (decisions.md "Requests", "Elapsed sums")."""

from __future__ import annotations

import gzip
import json
import logging
import zlib

import pytest

from runhub.api.schemas import (
    MAX_ITEMS_PER_OBJECT,
    MAX_ITEMS_PER_REQUEST,
    MAX_ITEMS_PER_TEST,
    MAX_OBJECTS_PER_REQUEST,
)
from runhub.db.schema import ELAPSED_MAX_US

from ..helpers import Api, make_test
from .conftest import Target
from .test_bad_input import JSON, assert_nothing_stored, assert_still_serving, raw_append
from .test_error_shape import assert_error_shape

GZIP = {**JSON, "Content-Encoding": "gzip"}
MAX = ELAPSED_MAX_US


def _body(*names: str) -> bytes:
    return json.dumps({"tests": [make_test(name) for name in names]}).encode()


# --- item 2: gzip members ---------------------------------------------------------------------


def test_every_gzip_member_is_read(api: Api, target: Target) -> None:
    """`cat a.gz b.gz` is one valid gzip stream (RFC 1952): both members are stored. The
    members here join into one JSON document only because the split is inside it."""
    whole = _body("a", "b", "c")
    cut = len(whole) // 2
    content = gzip.compress(whole[:cut]) + gzip.compress(whole[cut:])
    assert raw_append(api, target, content, GZIP).status_code == 204
    assert api.run(target.run_id)["result"]["total_count"] == 3


@pytest.mark.parametrize(
    "tail",
    [b"garbage", b"\x00" * 8, gzip.compress(b"x")[:10]],
    ids=["trailing-bytes", "zero-padding", "cut-second-member"],
)
def test_bytes_after_the_last_gzip_member_refuse_the_whole_body(
    api: Api, target: Target, tail: bytes
) -> None:
    content = gzip.compress(_body("a", "b")) + tail
    assert_error_shape(raw_append(api, target, content, GZIP), 400)
    assert_nothing_stored(api, target)
    assert_still_serving(api, target)


def test_a_cut_or_padded_deflate_body_is_refused(api: Api, target: Target) -> None:
    deflated = zlib.compress(_body("a"))
    for content in (deflated[:-6], deflated + b"more"):
        response = raw_append(api, target, content, {**JSON, "Content-Encoding": "deflate"})
        assert_error_shape(response, 400)
    assert_nothing_stored(api, target)


# --- item 3: elapsed sums ----------------------------------------------------------------------


def test_elapsed_sums_saturate_and_the_run_stays_completable(api: Api) -> None:
    """1,100 appends of the largest elapsed once overflowed 64 bits (500 on every complete)."""
    run_id = api.create_run(name="Huge elapsed")
    thread_id = api.create_thread(run_id)
    for _ in range(1_100):
        response = api.append(thread_id, [], elapsed_observed=MAX, elapsed_computed=MAX)
        assert response.status_code == 204, response.text
    # One batch of 1,100 results of one case (the per-case sum).
    tests = [make_test("same", elapsed=MAX) for _ in range(1_100)]
    assert api.append(thread_id, tests).status_code == 204
    assert api.append(thread_id, tests).status_code == 204
    run = api.run(run_id)["result"]
    assert run["threads"][0]["elapsed"] == MAX
    assert api.post(f"/automation/runs/{run_id}/complete").status_code == 204
    run = api.run(run_id)["result"]
    assert run["is_completed"] and run["elapsed"] == MAX and run["total_count"] == 2_200
    # The source's sum saturates too: many such runs still complete.
    for _ in range(3):
        other = api.create_run(name="Again")
        api.create_thread(other, elapsed_observed=MAX)
        assert api.post(f"/automation/runs/{other}/complete").status_code == 204
    cases = api.get(f"/projects/{api.project_id}/automation/cases").json()
    assert cases["result"][0]["test_count"] == 2_200


# --- item 6: deep nesting ---------------------------------------------------------------------


def test_deeply_nested_json_is_a_400_without_a_traceback(
    api: Api, target: Target, caplog: pytest.LogCaptureFixture
) -> None:
    for depth in (1_000, 100_000):
        content = b'{"tests": [], "x": ' + b"[" * depth + b"]" * depth + b"}"
        with caplog.at_level(logging.INFO):
            body = assert_error_shape(raw_append(api, target, content, JSON), 400)
        assert "nested too deeply" in body["message"]
        assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
        caplog.clear()
    assert_nothing_stored(api, target)
    assert_still_serving(api, target)


# --- item 7: item caps -----------------------------------------------------------------------


def _field(n: int) -> dict[str, object]:
    return {"type": 1, "name": f"f{n}", "value": "v"}


def test_items_per_test_and_per_object_are_capped(api: Api, target: Target) -> None:
    path = f"/automation/runs/threads/{target.thread_id}/append"
    fields = [_field(n) for n in range(MAX_ITEMS_PER_TEST + 1)]
    response = api.post(path, {"tests": [make_test("many", fields=fields)]})
    body = assert_error_shape(response, 422)
    assert "tests.0.fields" in body["errors"]
    artifact = {"name": "a", "url": "https://ci.example.com/a"}
    response = api.post(path, {"artifacts": [artifact] * (MAX_ITEMS_PER_OBJECT + 1)})
    assert "artifacts" in assert_error_shape(response, 422)["errors"]
    meta = {f"k{n}": "v" for n in range(101)}
    response = api.post(path, {"fields": [{"type": 1, "name": "m", "meta": meta}]})
    assert "fields.0.meta" in assert_error_shape(response, 422)["errors"]
    assert_nothing_stored(api, target)
    # At the caps: accepted.
    fields = [_field(n) for n in range(MAX_ITEMS_PER_TEST)]
    assert api.post(path, {"tests": [make_test("many", fields=fields)]}).status_code == 204


def test_items_per_request_are_capped(api: Api, target: Target) -> None:
    per_test = MAX_ITEMS_PER_TEST
    count = MAX_ITEMS_PER_REQUEST // per_test + 1
    fields = [_field(n) for n in range(per_test)]
    tests = [make_test(f"t{n}", fields=fields) for n in range(count)]
    response = api.append(target.thread_id, tests)
    body = assert_error_shape(response, 422)
    assert str(MAX_ITEMS_PER_REQUEST) in body["message"] and "tests" in body["errors"]
    assert_nothing_stored(api, target)


def test_a_flood_of_tiny_fields_is_refused_before_decoding(api: Api, target: Target) -> None:
    """0.2 MiB of gzip once inflated to 2.3 M fields and 680 MiB of decoded objects."""
    tiny = b'{"type":1,"name":"a"},'
    count = 2_300_000
    content = b'{"fields":[' + tiny * (count - 1) + tiny[:-1] + b"]}"
    zipped = gzip.compress(content, compresslevel=9)
    assert len(zipped) < 1 << 20
    body = assert_error_shape(raw_append(api, target, zipped, GZIP), 422)
    assert str(MAX_OBJECTS_PER_REQUEST) in body["message"]
    # Braces inside strings are not objects: a body of them is accepted.
    text = "{" * (MAX_OBJECTS_PER_REQUEST + 10)
    field = {"type": 3, "name": "braces", "value": text}
    assert api.append(target.thread_id, [make_test("b", fields=[field])]).status_code == 204


# --- item 19: integral numbers ------------------------------------------------------------------


def test_integral_json_numbers_count_as_integers(api: Api) -> None:
    run_id = api.create_run(name="Numbers")
    response = api.post(
        f"/automation/runs/{run_id}/threads",
        content=b'{"elapsed_observed": 5.0, "elapsed_computed": 2e3}',
        headers=JSON,
    )
    assert response.status_code == 201, response.text
    thread_id = response.json()["id"]
    thread = api.run(run_id)["result"]["threads"][0]
    assert thread["id"] == thread_id and thread["elapsed"] == 5
    for value in (b"5.5", b"1e300", b'"5"', b"true"):
        response = api.post(
            f"/automation/runs/{run_id}/threads",
            content=b'{"elapsed_observed": ' + value + b"}",
            headers=JSON,
        )
        assert "elapsed_observed" in assert_error_shape(response, 422)["errors"], value
