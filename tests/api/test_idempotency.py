"""The Idempotency-Key header on thread appends: a repeated key stores nothing new."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, insert, select

from runhub.db.engine import write_tx
from runhub.db.schema import idempotency_keys
from runhub.services.threads import ExpiredKeyPurge
from runhub.timeutil import utcnow

from ..helpers import Api, make_test

APPEND = "/automation/runs/threads/{}/append"


def append(api: Api, thread_id: int, tests: list[dict], key: str | None, who: str = "admin"):
    headers = {} if key is None else {"Idempotency-Key": key}
    return api.post(APPEND.format(thread_id), {"tests": tests}, who, headers=headers)


def total(api: Api, run_id: int) -> int:
    return api.run(run_id)["result"]["total_count"]


@pytest.fixture
def thread(api: Api) -> tuple[int, int]:
    run_id = api.create_run()
    return run_id, api.create_thread(run_id)


def test_same_key_twice_is_stored_once(api: Api, thread: tuple[int, int]) -> None:
    run_id, thread_id = thread
    tests = [make_test("a"), make_test("b", "failure")]
    assert append(api, thread_id, tests, "k-1").status_code == 204
    assert append(api, thread_id, tests, "k-1").status_code == 204
    run = api.run(run_id)["result"]
    assert run["total_count"] == 2 and run["failure_count"] == 1
    assert api.get(f"/automation/runs/{run_id}/tests").json()["total"] == 2


def test_repeat_after_completion_still_answers_204(api: Api, thread: tuple[int, int]) -> None:
    run_id, thread_id = thread
    assert append(api, thread_id, [make_test("a")], "k").status_code == 204
    assert api.post(f"/automation/runs/threads/{thread_id}/complete").status_code == 204
    assert append(api, thread_id, [make_test("a")], "k").status_code == 204
    assert append(api, thread_id, [make_test("a")], "other").status_code == 422
    assert total(api, run_id) == 1


def test_different_keys_and_no_key_are_stored(api: Api, thread: tuple[int, int]) -> None:
    run_id, thread_id = thread
    for key in ("k-1", "k-2", None, None):
        assert append(api, thread_id, [make_test("a")], key).status_code == 204
    assert total(api, run_id) == 4


def test_rejected_batch_leaves_no_key(api: Api, thread: tuple[int, int]) -> None:
    run_id, thread_id = thread
    bad = append(api, thread_id, [make_test("a", "no_such_status")], "k")
    assert bad.status_code == 422
    assert append(api, thread_id, [make_test("a")], "k").status_code == 204
    assert total(api, run_id) == 1


def test_key_is_per_thread(api: Api, thread: tuple[int, int]) -> None:
    run_id, thread_id = thread
    other_thread = api.create_thread(run_id)
    assert append(api, thread_id, [make_test("a")], "k").status_code == 204
    assert append(api, other_thread, [make_test("a")], "k").status_code == 204
    assert total(api, run_id) == 2


def test_key_older_than_a_day_counts_as_new(
    api: Api, engine: Engine, thread: tuple[int, int]
) -> None:
    run_id, thread_id = thread
    old = utcnow() - timedelta(hours=24, minutes=1)
    with write_tx(engine) as conn:
        conn.execute(insert(idempotency_keys).values(thread_id=thread_id, key="k", created_at=old))
    assert append(api, thread_id, [make_test("a")], "k").status_code == 204
    assert append(api, thread_id, [make_test("a")], "k").status_code == 204
    assert total(api, run_id) == 1
    with engine.connect() as conn:
        stamp = conn.execute(select(idempotency_keys.c.created_at)).scalar_one()
    assert stamp > old + timedelta(hours=24)


def test_repeat_still_checks_access(api: Api, thread: tuple[int, int]) -> None:
    run_id, thread_id = thread
    assert append(api, thread_id, [make_test("a")], "k").status_code == 204
    assert append(api, thread_id, [make_test("a")], "k", who="viewer").status_code == 403
    assert append(api, thread_id, [make_test("a")], "k", who="outsider").status_code == 404
    assert append(api, thread_id, [make_test("a")], "k", who=None).status_code == 401
    assert total(api, run_id) == 1


@pytest.mark.parametrize("key", ["", "x" * 201])
def test_invalid_key_is_422(api: Api, thread: tuple[int, int], key: str) -> None:
    run_id, thread_id = thread
    response = append(api, thread_id, [make_test("a")], key)
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["Idempotency-Key"]
    assert total(api, run_id) == 0


def test_longest_key_is_accepted(api: Api, thread: tuple[int, int]) -> None:
    run_id, thread_id = thread
    assert append(api, thread_id, [make_test("a")], "x" * 200).status_code == 204
    assert append(api, thread_id, [make_test("a")], "x" * 200).status_code == 204
    assert total(api, run_id) == 1


def test_expired_keys_are_purged_at_most_every_ten_minutes(
    api: Api, engine: Engine, thread: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, thread_id = thread
    old = utcnow() - timedelta(hours=25)
    recent = utcnow() - timedelta(hours=23)

    def keys() -> set[str]:
        with engine.connect() as conn:
            return set(conn.execute(select(idempotency_keys.c.key)).scalars())

    with write_tx(engine) as conn:
        for key, stamp in (("old", old), ("recent", recent)):
            conn.execute(
                insert(idempotency_keys).values(thread_id=thread_id, key=key, created_at=stamp)
            )
    monkeypatch.setattr(ExpiredKeyPurge, "due_at_s", 0.0)  # as if none ran in this process yet
    assert append(api, thread_id, [make_test("a")], "new").status_code == 204
    assert keys() == {"recent", "new"}
    with write_tx(engine) as conn:
        conn.execute(
            insert(idempotency_keys).values(thread_id=thread_id, key="old", created_at=old)
        )
    assert append(api, thread_id, [make_test("b")], "newer").status_code == 204
    assert keys() == {"old", "recent", "new", "newer"}  # the next purge is not due yet
