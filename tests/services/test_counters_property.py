"""Property tests: stored counters always equal a recount from the stored results.

decisions.md, "Statuses": statusN_count, success/failure/completed/total for a thread and
(summed) for its run; automation case counters (test_count, success, failure, flaky) over
the results of the case in arrival order. Services are called directly, on both backends.
"""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select

from runhub.api.schemas import RunComplete, RunCreate, ThreadAppend, ThreadComplete, ThreadCreate
from runhub.api.schemas import TestIn as ResultIn
from runhub.db.engine import read_tx, write_tx
from runhub.db.schema import automation_cases, automation_run_tests
from runhub.errors import Unprocessable
from runhub.services import admin, runs, threads
from runhub.services import batches as batches_service
from runhub.services.access import Principal

# decisions.md, "Statuses": id -> aliases, and the passed/failed/final flags.
ALIASES = {
    1: ("passed", "pass", "success", "ok"),
    2: ("failed", "failure", "fail"),
    3: ("retest",),
    4: ("blocked",),
    5: ("skipped", "skip", "ignored", "pending", "disabled"),
    6: ("error", "errored", "broken"),
}
ALIAS_TO_ID = {alias: sid for sid, aliases in ALIASES.items() for alias in aliases}
PASSED, FAILED, FINAL = {1}, {2, 4, 6}, {1, 2, 4, 5, 6}
KEYS = [f"key_{n}" for n in range(5)]  # a small pool: keys repeat within and across batches

PROPERTY_SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_serial = itertools.count(1)

tests_st = st.lists(
    st.tuples(st.sampled_from(sorted(ALIAS_TO_ID)), st.sampled_from(KEYS)), max_size=12
)
operation_st = st.one_of(
    st.just(("create_thread",)),
    st.tuples(st.just("append"), st.integers(0, 5), tests_st),
    st.tuples(st.just("append"), st.integers(0, 5), tests_st),
    st.tuples(st.just("bad_append"), st.integers(0, 5), tests_st),
    st.tuples(st.just("complete_thread"), st.integers(0, 5)),
    st.just(("complete_run",)),
)


def new_project(engine: Engine) -> tuple[Principal, int]:
    """A fresh admin and project for one example (examples share the test's database)."""
    n = next(_serial)
    with write_tx(engine) as conn:
        user_id = admin.create_user(conn, f"prop{n}@example.com", f"Prop {n}", "admin")
        project_id = admin.create_project(conn, f"Property {n}")
    return Principal(user_id=user_id, name=f"Prop {n}", role="admin"), project_id


def new_run(engine: Engine, who: Principal, project_id: int) -> int:
    return runs.create_run(engine, who, project_id, RunCreate(name="Run", source="property"))


def make_tests(pairs: list[tuple[str, str]]) -> list[ResultIn]:
    return [
        ResultIn(key=key, name=f"name of {key}", status=alias, folder="suite", elapsed=10)
        for alias, key in pairs
    ]


def derived(per_status: Counter[int]) -> dict[str, int]:
    """The counter properties from per-status counts, by the flags in decisions.md."""
    out = {f"status{n}_count": per_status.get(n, 0) for n in range(1, 25)}
    out["untested_count"] = 0
    out["success_count"] = sum(v for s, v in per_status.items() if s in PASSED)
    out["failure_count"] = sum(v for s, v in per_status.items() if s in FAILED)
    out["completed_count"] = sum(v for s, v in per_status.items() if s in FINAL)
    out["total_count"] = sum(per_status.values())
    return out


def counters(obj: dict[str, Any]) -> dict[str, int]:
    names = [f"status{n}_count" for n in range(1, 25)]
    names += ["untested_count", "success_count", "failure_count", "completed_count", "total_count"]
    return {name: obj[name] for name in names}


def recount(engine: Engine, run_id: int) -> dict[int, Counter[int]]:
    """Per thread id: results per status id, counted from automation_run_tests once every
    acknowledged batch is expanded (as any reader of results first does)."""
    batches_service.settle_run(engine, run_id)
    t = automation_run_tests
    query = (
        select(t.c.thread_id, t.c.status_id, func.count())
        .where(t.c.run_id == run_id)
        .group_by(t.c.thread_id, t.c.status_id)
    )
    out: dict[int, Counter[int]] = {}
    with read_tx(engine) as conn:
        for thread_id, status_id, count in conn.execute(query):
            out.setdefault(thread_id, Counter())[status_id] = count
    return out


def stored_results(engine: Engine, run_id: int) -> int:
    batches_service.settle_run(engine, run_id)
    query = (
        select(func.count())
        .select_from(automation_run_tests)
        .where(automation_run_tests.c.run_id == run_id)
    )
    with read_tx(engine) as conn:
        return conn.execute(query).scalar_one()


def check_counters(
    engine: Engine,
    who: Principal,
    run_id: int,
    model: dict[int, Counter[int]],
    completed: set[int],
    run_completed: bool,
) -> None:
    run = runs.get_run(engine, who, run_id, ())["result"]
    from_db = recount(engine, run_id)
    assert sorted(t["id"] for t in run["threads"]) == sorted(model)
    for thread in run["threads"]:
        expected = derived(from_db.get(thread["id"], Counter()))
        assert counters(thread) == expected, f"thread {thread['id']}"
        assert expected == derived(model[thread["id"]])  # nothing lost, nothing extra
        assert thread["is_completed"] == (thread["id"] in completed)
        if thread["is_completed"]:
            assert thread["status"] == (3 if expected["failure_count"] else 2)
        else:
            assert thread["status"] == 4
    run_total: Counter[int] = Counter()
    for per_status in from_db.values():
        run_total.update(per_status)
    assert counters(run) == derived(run_total)
    assert run["thread_count"] == len(model)
    assert run["thread_completed_count"] == len(completed)
    assert run["thread_active_count"] == len(model) - len(completed)
    assert run["is_completed"] == run_completed
    if run_completed:
        assert run["status"] == (3 if derived(run_total)["failure_count"] else 2)


@PROPERTY_SETTINGS
@given(operations=st.lists(operation_st, max_size=14))
def test_run_and_thread_counters_equal_a_recount(engine: Engine, operations: list[tuple]) -> None:
    who, project_id = new_project(engine)
    run_id = new_run(engine, who, project_id)
    model: dict[int, Counter[int]] = {}  # thread id -> what was accepted
    order: list[int] = []
    completed: set[int] = set()
    run_completed = False

    def rejected(action: Any, *args: Any) -> None:
        before = stored_results(engine, run_id)
        with pytest.raises(Unprocessable):
            action(engine, who, *args)
        assert stored_results(engine, run_id) == before

    for op in operations:
        kind = op[0]
        if kind == "create_thread":
            if run_completed:
                rejected(threads.create_thread, run_id, ThreadCreate())
            else:
                thread_id = threads.create_thread(engine, who, run_id, ThreadCreate())
                model[thread_id] = Counter()
                order.append(thread_id)
        elif kind == "complete_run":
            runs.complete_run(engine, who, run_id, RunComplete())
            run_completed = True
            completed.update(order)
        elif not order:
            continue
        elif kind == "complete_thread":
            thread_id = order[op[1] % len(order)]
            threads.complete_thread(engine, who, thread_id, ThreadComplete())
            completed.add(thread_id)
        else:
            thread_id = order[op[1] % len(order)]
            tests = make_tests(op[2])
            if kind == "bad_append":  # one unknown alias: the whole batch is refused
                tests.insert(
                    len(tests) // 2, ResultIn(key="bad", name="bad", status="nope", folder="suite")
                )
            if kind == "bad_append" or thread_id in completed:
                rejected(threads.append_to_thread, thread_id, ThreadAppend(tests=tests))
            else:
                threads.append_to_thread(engine, who, thread_id, ThreadAppend(tests=tests))
                model[thread_id].update(ALIAS_TO_ID[alias] for alias, _ in op[2])
        check_counters(engine, who, run_id, model, completed, run_completed)

    runs.complete_run(engine, who, run_id, RunComplete())
    check_counters(engine, who, run_id, model, set(order), True)
    late = ThreadAppend(tests=make_tests([("passed", "key_0")]))
    for thread_id in order:  # after completion: refused, nothing stored
        rejected(threads.append_to_thread, thread_id, late)
    rejected(threads.create_thread, run_id, ThreadCreate())
    check_counters(engine, who, run_id, model, set(order), True)


def category(status_id: int) -> int:
    return 2 if status_id in PASSED else 3 if status_id in FAILED else 1


def case_recount(status_ids: list[int]) -> dict[str, int]:
    """Case counters from its results in arrival order (neutral results are ignored for
    flakiness: passed, skipped, failed counts one change)."""
    flaky, last = 0, None
    for c in map(category, status_ids):
        if c == 1:
            continue
        if last is not None and c != last:
            flaky += 1
        last = c
    return {
        "test_count": len(status_ids),
        "success_count": sum(s in PASSED for s in status_ids),
        "failure_count": sum(s in FAILED for s in status_ids),
        "flaky_count": flaky,
        "last_status_id": status_ids[-1],
    }


@PROPERTY_SETTINGS
@given(batches=st.lists(st.tuples(st.integers(0, 2), st.integers(0, 1), tests_st), max_size=10))
def test_case_counters_equal_a_recount_in_arrival_order(
    engine: Engine, batches: list[tuple[int, int, list[tuple[str, str]]]]
) -> None:
    who, project_id = new_project(engine)
    # Three runs of one source, two threads each: a case collects results across all.
    thread_ids: list[list[int]] = []
    run_ids = []
    for _ in range(3):
        run_id = new_run(engine, who, project_id)
        run_ids.append(run_id)
        thread_ids.append(
            [threads.create_thread(engine, who, run_id, ThreadCreate()) for _ in range(2)]
        )
    sent: dict[str, list[int]] = {}
    for run_pick, thread_pick, pairs in batches:
        thread_id = thread_ids[run_pick][thread_pick]
        threads.append_to_thread(engine, who, thread_id, ThreadAppend(tests=make_tests(pairs)))
        for alias, key in pairs:
            sent.setdefault(key, []).append(ALIAS_TO_ID[alias])

    batches_service.settle_project(engine, project_id)  # what every reader of cases does
    r, c = automation_run_tests, automation_cases
    with read_tx(engine) as conn:
        results = conn.execute(
            select(c.c.key, r.c.status_id)
            .join(c, c.c.id == r.c.case_id)
            .where(r.c.run_id.in_(run_ids))
            .order_by(r.c.id)
        ).all()
        cases = {
            row.key: row
            for row in conn.execute(select(c).where(c.c.project_id == project_id)).mappings()
        }
    by_key: dict[str, list[int]] = {}
    for key, status_id in results:
        by_key.setdefault(key, []).append(status_id)
    assert by_key == sent  # results are stored in arrival order
    assert sorted(cases) == sorted(by_key)
    names = ["test_count", "success_count", "failure_count", "flaky_count", "last_status_id"]
    for key, statuses in by_key.items():
        assert {n: cases[key][n] for n in names} == case_recount(statuses), key
