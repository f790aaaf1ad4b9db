"""Golden tests of failure groups over HTTP, on SQLite and PostgreSQL: each rule of the
README's "Failure groups" on a small designed history (one cause from many tests, causes
kept apart by a quoted key, new vs seen before, first/last seen and counts, the run's,
the project's and the group's lists, categories, access, freshness, reanalysis)."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from sqlalchemy import Engine
from starlette.testclient import TestClient

from runhub.app import create_app
from runhub.db.analytics import requeue_all
from runhub.db.engine import write_tx
from runhub.services.health import analyze_pending
from runhub.services.outcomes import HealthRules
from runhub.settings import Settings

from ..helpers import Api, make_test
from .test_error_shape import assert_error_shape


def key_error(key: str, test: str, tmp: str = "0", line: int = 40) -> str:
    """pytest's long traceback of a KeyError raised in app/views.py under `test`."""
    return (
        f"    def {test}(client, tmp_path):\n"
        f'>       client.get("/profile", cache=tmp_path)\n\n'
        f"tests/test_views.py:{line}: \n"
        "_ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _\n\n"
        "    def profile(request):\n"
        f"        # cache in /tmp/pytest-of-ci/pytest-{tmp}/{test}0/cache\n"
        f">       uid = request.session['{key}']\n"
        f"E       KeyError: '{key}'\n\n"
        f"app/views.py:{line + 17}: KeyError"
    )


NPE = (
    'java.lang.NullPointerException: Cannot invoke "String.length()" because "name" is null\n'
    "\tat com.acme.users.UserService.describe(UserService.java:{line})\n"
    "\tat com.acme.users.UserServiceTest.{test}(UserServiceTest.java:{test_line})\n"
    "\tat java.base/java.lang.reflect.Method.invoke(Method.java:580)"
)


def failure(value: str, message: str | None = None, kind: str = "Failure") -> dict[str, Any]:
    field: dict[str, Any] = {"type": 4, "name": kind, "value": value, "is_highlight": True}
    if message is not None:
        field["meta"] = {"message": message}
    return field


def submit(
    api: Api,
    tests: list[dict[str, Any]],
    *,
    source: str = "unit",
    complete: bool = True,
    analyse: Engine | None = None,
) -> int:
    run_id = api.create_run(name=f"{source} run", source=source)
    thread_id = api.create_thread(run_id)
    assert api.append(thread_id, tests).status_code == 204
    if complete:
        assert api.post(f"/automation/runs/{run_id}/complete").status_code == 204
    if analyse is not None:
        analyze_pending(analyse, HealthRules())
    return run_id


def failed(name: str, text: str, message: str | None = None, status: str = "failed") -> dict:
    return make_test(name, status, folder="tests.test_views", fields=[failure(text, message)])


def first_history(api: Api, engine: Engine) -> int:
    """Run 1: three tests hit the KeyError 'user_id' in app/views.py (different tmp paths
    and lines), one a KeyError 'order_id', one fails without a failure text, one passes."""
    return submit(
        api,
        [
            failed("test_profile", key_error("user_id", "test_profile", "11", 40)),
            failed("test_settings", key_error("user_id", "test_settings", "12", 52)),
            failed("test_avatar", key_error("user_id", "test_avatar", "13", 64), "KeyError"),
            failed("test_orders", key_error("order_id", "test_orders", "14", 70)),
            make_test("test_silent", "failed", folder="tests.test_views"),
            make_test("test_ok", "passed", folder="tests.test_views"),
        ],
        analyse=engine,
    )


def groups_of(api: Api, run_id: int, who: str = "admin", **params: Any) -> list[dict[str, Any]]:
    response = api.get(f"/automation/runs/{run_id}/failure-groups", who, **params)
    assert response.status_code == 200, response.text
    return response.json()["result"]


def test_one_cause_from_many_tests_is_one_group_largest_first(api: Api, engine: Engine) -> None:
    run_id = first_history(api, engine)
    groups = groups_of(api, run_id)
    assert [g["count"] for g in groups] == [3, 1, 1]
    user_id, *rest = groups
    assert user_id["title"] == "KeyError: 'user_id' (in views.py:profile)"
    assert user_id["signature"] == "KeyError|'user_id'|views.py:profile"
    assert {g["title"] for g in rest} == {
        "KeyError: 'order_id' (in views.py:profile)",
        "Failed without a failure text",
    }
    assert set(user_id) == {
        "id", "title", "signature", "count", "test_ids", "case_ids", "first_seen_run_id",
        "first_seen_at", "last_seen_run_id", "run_count", "is_new", "category",
    }  # fmt: skip
    tests = api.get(f"/automation/runs/{run_id}/tests", per_page=100).json()["result"]
    by_id = {t["id"]: t for t in tests}
    assert sorted(by_id[i]["name"] for i in user_id["test_ids"]) == [
        "test_avatar", "test_profile", "test_settings",
    ]  # fmt: skip
    cases = api.get(f"/projects/{api.project_id}/automation/cases", per_page=100).json()["result"]
    case_names = {c["id"]: c["name"] for c in cases}
    assert sorted(case_names[i] for i in user_id["case_ids"]) == [
        "test_avatar", "test_profile", "test_settings",
    ]  # fmt: skip
    for group in groups:
        assert group["is_new"] is True
        assert group["first_seen_run_id"] == group["last_seen_run_id"] == run_id
        assert group["run_count"] == 1 and group["category"] is None
    # Passed results are in no group; every failed one in exactly one.
    grouped = [i for g in groups for i in g["test_ids"]]
    assert len(grouped) == len(set(grouped)) == 5


def test_seen_before_is_not_new_and_counts_follow(api: Api, engine: Engine) -> None:
    first = first_history(api, engine)
    npe = NPE.format(line=42, test="describesAdmin", test_line=31)
    second = submit(
        api,
        [
            failed("test_profile", key_error("user_id", "test_profile", "99", 41)),
            failed("describesAdmin", npe, status="error"),
        ],
        analyse=engine,
    )
    groups = {g["title"]: g for g in groups_of(api, second)}
    user_id = groups["KeyError: 'user_id' (in views.py:profile)"]
    assert user_id["is_new"] is False and user_id["first_seen_run_id"] == first
    assert (user_id["last_seen_run_id"], user_id["run_count"], user_id["count"]) == (second, 2, 1)
    npe_title = (
        'NullPointerException: Cannot invoke "String.length()" because "name" is null'
        " (in com.acme.users.UserService.describe)"
    )
    assert groups[npe_title]["is_new"] is True
    # The first run's page still says its groups were new there.
    assert all(g["is_new"] for g in groups_of(api, first))

    listing = api.get(f"/projects/{api.project_id}/automation/failure-groups").json()
    assert listing["total"] == 4
    items = listing["result"]
    assert {i["last_seen_run_id"] for i in items[:2]} == {second}  # most recent first
    assert {i["last_seen_run_id"] for i in items[2:]} == {first}
    project_user_id = next(i for i in items if i["id"] == user_id["id"])
    assert project_user_id["result_count"] == 4 and project_user_id["run_count"] == 2
    assert project_user_id["count"] == 1  # in its last seen run
    assert project_user_id["is_new"] is False and "test_ids" not in project_user_id
    assert len(project_user_id["case_ids"]) == 3


def test_group_tests_newest_first_with_run_and_case(api: Api, engine: Engine) -> None:
    first = first_history(api, engine)
    second = submit(
        api, [failed("test_profile", key_error("user_id", "test_profile"))], analyse=engine
    )
    group = groups_of(api, second)[0]
    body = api.get(f"/automation/failure-groups/{group['id']}/tests", per_page=15).json()
    assert body["total"] == 4
    assert [i["run_id"] for i in body["result"]] == [second, first, first, first]
    item = body["result"][0]
    assert set(item) == {
        "id", "run_id", "run_name", "thread_id", "case_id", "key", "name", "folder",
        "status_id", "elapsed", "created_at",
    }  # fmt: skip
    assert (item["name"], item["folder"], item["status_id"]) == (
        "test_profile",
        "tests.test_views",
        2,
    )
    assert item["run_name"] == "unit run"
    ids = [i["id"] for i in body["result"]]
    assert ids == sorted(ids, reverse=True)
    page2 = api.get(f"/automation/failure-groups/{group['id']}/tests", per_page=15, page=2)
    assert page2.json()["result"] == []


def test_project_filters_source_and_created_after(api: Api, engine: Engine) -> None:
    first_history(api, engine)
    other = submit(
        api,
        [failed("t", NPE.format(line=1, test="t", test_line=2))],
        source="other",
        analyse=engine,
    )
    source_id = api.run(other)["result"]["source_id"]
    path = f"/projects/{api.project_id}/automation/failure-groups"
    only = api.get(path, source_id=source_id).json()["result"]
    assert [i["last_seen_run_id"] for i in only] == [other]
    newest = api.get(path).json()["result"][0]
    after = api.get(path, created_after=newest["first_seen_at"]).json()
    assert after["total"] == 0
    assert api.get(path, created_after="2000-01-01T00:00:00Z").json()["total"] == 4


def test_running_runs_are_not_grouped_until_completed(api: Api, engine: Engine) -> None:
    run_id = submit(api, [failed("t", key_error("user_id", "t"))], complete=False, analyse=engine)
    assert groups_of(api, run_id) == []
    assert api.post(f"/automation/runs/{run_id}/complete").status_code == 204
    analyze_pending(engine, HealthRules())
    assert [g["count"] for g in groups_of(api, run_id)] == [1]


def test_junit_message_and_type_meta_are_read(api: Api, engine: Engine) -> None:
    """As the runhub and testmo CLIs send a <failure message=... type=...>text</failure>:
    the text is the value, message and type are meta."""
    field = {
        "type": 4,
        "name": "Failure",
        "value": (
            "at com.acme.Orders.total(Orders.java:10)\nat com.acme.OrdersTest.t(OrdersTest.java:3)"
        ),
        "meta": {
            "message": "expected:<3> but was:<4>",
            "type": "org.opentest4j.AssertionFailedError",
        },
        "is_highlight": True,
    }
    run_id = submit(api, [make_test("t", "failed", fields=[field])], analyse=engine)
    (group,) = groups_of(api, run_id)
    assert (
        group["signature"]
        == "AssertionFailedError|expected:<<n>> but was:<<n>>|com.acme.Orders.total"
    )


def test_categories_label_groups_first_match_wins(api: Api, engine: Engine) -> None:
    run_id = first_history(api, engine)
    path = f"/projects/{api.project_id}/automation/failure-categories"
    assert api.get(path).json() == {"result": [], "expands": {}}
    categories = [
        {"name": "Ignored tests", "matchedStatuses": ["skipped"]},
        {"name": "Session keys", "messageRegex": ".*'user_id'.*", "matchedStatuses": ["failed"]},
        {"name": "Any key", "traceRegex": ".*KeyError.*", "description": "kept, not used"},
        {"name": "Product defects", "matchedStatuses": ["failed"], "flaky": False},
    ]
    response = api.client.put("/api/v1" + path, json=categories, headers=api.headers("member"))
    assert response.status_code == 200, response.text
    assert response.json()["result"] == categories
    assert api.get(path, "viewer").json()["result"] == categories  # the file, unchanged
    labels = {g["title"]: g["category"] for g in groups_of(api, run_id)}
    assert labels == {
        "KeyError: 'user_id' (in views.py:profile)": "Session keys",
        "KeyError: 'order_id' (in views.py:profile)": "Any key",
        "Failed without a failure text": "Product defects",
    }
    listing = api.get(f"/projects/{api.project_id}/automation/failure-groups").json()
    assert {i["category"] for i in listing["result"]} == set(labels.values())


def test_categories_bad_input(api: Api) -> None:
    path = "/api/v1" + f"/projects/{api.project_id}/automation/failure-categories"

    def put(body: Any, who: str = "admin", **kw: Any) -> Any:
        return api.client.put(path, json=body, headers=api.headers(who), **kw)

    body = assert_error_shape(
        put([{"name": "ok"}, {"name": "x", "messageRegex": "(unclosed"}]), 422
    )
    assert list(body["errors"]) == ["1.messageRegex"]
    body = assert_error_shape(put([{"name": "x", "matchedStatuses": ["exploded"]}]), 422)
    assert list(body["errors"]) == ["0.matchedStatuses.0"]
    body = assert_error_shape(put([{"messageRegex": ".*"}]), 422)
    assert list(body["errors"]) == ["0.name"]
    assert_error_shape(put({"name": "not an array"}), 400)
    assert_error_shape(put([{"name": "x"}], "viewer"), 403)
    assert_error_shape(put([{"name": "x"}], "outsider"), 404)
    bad = api.client.put(path, content=b"[{", headers=api.headers("admin"))
    assert_error_shape(bad, 400)
    huge = api.client.put(
        path,
        content=b"[" + b",".join([b'{"name":"x"}'] * 30_000) + b"]",
        headers={**api.headers("admin"), "content-type": "application/json"},
    )
    assert_error_shape(huge, 413)
    assert api.get(path[len("/api/v1") :]).json()["result"] == []  # nothing was stored


def test_viewers_read_outsiders_do_not_see(api: Api, engine: Engine) -> None:
    run_id = first_history(api, engine)
    group_id = groups_of(api, run_id, "viewer")[0]["id"]
    assert api.get(f"/automation/failure-groups/{group_id}/tests", "viewer").status_code == 200
    for path in (
        f"/automation/runs/{run_id}/failure-groups",
        f"/automation/failure-groups/{group_id}/tests",
        f"/projects/{api.project_id}/automation/failure-groups",
    ):
        assert_error_shape(api.get(path, "outsider"), 404)


def test_groups_are_current_within_seconds_of_completion(
    api: Api, engine: Engine, settings: Settings
) -> None:
    """With the background analysis on (as `runhub serve` runs it), a completed run's
    groups are listed within 5 seconds."""
    app = create_app(replace(settings, analysis_interval_s=1.0), engine=engine)
    with TestClient(app) as client:
        live = Api(client, api.tokens, api.project_id, api.other_project_id)
        run_id = submit(live, [failed("t", key_error("user_id", "t"))])
        started = time.monotonic()
        while not groups_of(live, run_id):
            assert time.monotonic() - started < 5, "not grouped within 5 s"
            time.sleep(0.1)


def test_reanalyze_builds_the_same_groups_again(api: Api, engine: Engine) -> None:
    first = first_history(api, engine)
    second = submit(
        api, [failed("test_profile", key_error("user_id", "test_profile"))], analyse=engine
    )

    def summary() -> list[tuple[Any, ...]]:
        items = api.get(f"/projects/{api.project_id}/automation/failure-groups").json()["result"]
        return sorted(
            (i["title"], i["first_seen_run_id"], i["last_seen_run_id"], i["run_count"],
             i["result_count"])
            for i in items
        )  # fmt: skip

    before = summary()
    with write_tx(engine) as conn:
        assert requeue_all(conn) == 2
    assert summary() == []
    analyze_pending(engine, HealthRules())
    assert summary() == before
    assert {g["first_seen_run_id"] for g in groups_of(api, second)} == {first}
