"""The unfiltered run list reads a range of `list_position` and takes its total from the
project's run counter (migration 0007): pages and totals stay exactly those of
`ORDER BY created_at, id` and a recount, whatever wrote the rows, and no page counts or
skips over the project's runs (issue 12)."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, delete, event, func, insert, select

from runhub.db.engine import write_tx
from runhub.db.schema import automation_run_tags, automation_runs, projects
from runhub.timeutil import utcnow

from ..helpers import Api

runs = automation_runs


def recount(engine: Engine, project_id: int) -> dict[str, Any]:
    """What the counters and positions must say, counted from the rows."""
    with engine.connect() as conn:
        where = runs.c.project_id == project_id
        ordered = select(runs.c.id).where(where).order_by(runs.c.created_at, runs.c.id)
        positions = select(runs.c.list_position).where(where).order_by(runs.c.list_position)
        done = select(func.count()).where(where, runs.c.is_completed.is_(True))
        counters = select(
            projects.c.automation_run_count, projects.c.automation_run_completed_count
        ).where(projects.c.id == project_id)
        base = select(projects.c.automation_run_position_base).where(projects.c.id == project_id)
        return {
            "order": list(conn.execute(ordered).scalars()),
            "positions": list(conn.execute(positions).scalars()),
            "completed": conn.execute(done).scalar_one(),
            "counters": tuple(conn.execute(counters).one()),
            "base": conn.execute(base).scalar_one(),
        }


def listed(api: Api, per_page: int, order: str) -> tuple[list[int], set[int]]:
    """Every page of the unfiltered list (one past the end too): ids, and totals seen."""
    got: list[int] = []
    totals: set[int] = set()
    page = 1
    while True:
        body = api.get(
            f"/projects/{api.project_id}/automation/runs", per_page=per_page, page=page, order=order
        ).json()
        totals.add(body["total"])
        got.extend(item["id"] for item in body["result"])
        if not body["result"]:
            assert body["last_page"] == max(1, -(-body["total"] // per_page))
            assert body["next_page"] is None
            return got, totals
        page += 1


def assert_exact(api: Api, engine: Engine) -> None:
    truth = recount(engine, api.project_id)
    n = len(truth["order"])
    base = truth["base"]
    assert truth["positions"] == list(range(base + 1, base + n + 1))
    assert truth["counters"] == (n, truth["completed"])
    for per_page, order in ((15, "desc"), (25, "asc")):
        got, totals = listed(api, per_page, order)
        assert totals == {n}
        assert got == (truth["order"][::-1] if order == "desc" else truth["order"])
    project = api.get(f"/projects/{api.project_id}").json()["result"]
    assert project["automation_run_count"] == n
    assert project["automation_run_completed_count"] == truth["completed"]
    assert project["automation_run_active_count"] == n - truth["completed"]


def direct_runs(engine: Engine, project_id: int, source_id: int, ages_s: list[float]) -> None:
    """Runs written straight into the database (as a bulk seeding does), `ages_s` seconds
    old, in that order: older than runs already there, and ties in created_at."""
    now = utcnow()
    rows = [
        {
            "project_id": project_id,
            "source_id": source_id,
            "name": f"direct {i}",
            "created_at": now - timedelta(seconds=age),
            "is_completed": i % 3 == 0,
            "status": 2 if i % 3 == 0 else 4,
        }
        for i, age in enumerate(ages_s)
    ]
    with write_tx(engine) as conn:
        conn.execute(insert(runs), rows)


def test_pages_and_totals_match_a_recount(api: Api, engine: Engine) -> None:
    """After API creates and completions, runs inserted out of order and with equal
    created_at, and deletes: every page in both orders, the envelope's total and the
    project's counts equal what ORDER BY created_at, id and count(*) say."""
    created = [api.create_run(name=f"api {i}", tags=["a"]) for i in range(20)]
    for run_id in created[::4]:
        assert api.post(f"/automation/runs/{run_id}/complete", {}).status_code == 204
    assert api.post(f"/automation/runs/{created[0]}/complete", {}).status_code == 204  # no-op
    assert_exact(api, engine)

    source_id = api.get(f"/automation/runs/{created[0]}").json()["result"]["source_id"]
    rnd = random.Random(12)
    ages = [rnd.choice([3600.0, 7200.0, 0.5, 60.0]) for _ in range(30)] + [10**6] * 5
    direct_runs(engine, api.project_id, source_id, ages)
    assert_exact(api, engine)

    gone = [created[3], created[10], created[19]]
    with engine.connect() as conn:
        gone += list(conn.execute(select(runs.c.id).where(runs.c.name == "direct 7")).scalars())
    with write_tx(engine) as conn:
        conn.execute(delete(automation_run_tags).where(automation_run_tags.c.run_id.in_(gone)))
        conn.execute(delete(runs).where(runs.c.id.in_(gone)))
    assert_exact(api, engine)

    more = [api.create_run(name=f"later {i}") for i in range(3)]
    assert api.post(f"/automation/runs/{more[1]}/complete", {}).status_code == 204
    assert_exact(api, engine)
    other = api.get(f"/projects/{api.other_project_id}").json()["result"]
    assert other["automation_run_count"] == 0


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split()).lower())

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_deep_page_neither_counts_nor_skips_runs(api: Api, engine: Engine) -> None:
    """The unfiltered list's total comes from the counter and a deep page is a range of
    positions: no count(*) and no OFFSET over automation_runs, on any page."""
    for i in range(7):
        api.create_run(name=f"run {i}")
    with statements(engine) as seen:
        body = api.get(
            f"/projects/{api.project_id}/automation/runs", per_page=15, page=1, order="asc"
        ).json()
        deep = api.get(f"/projects/{api.project_id}/automation/runs", per_page=15, page=3)
    assert body["total"] == 7 and len(body["result"]) == 7
    assert deep.json()["total"] == 7 and deep.json()["result"] == []
    on_runs = [s for s in seen if re.search(r"\b(from|join) automation_runs\b", s)]
    assert on_runs
    counting = re.compile(r"count\(\*\)( as \w+)? from automation_runs\b")
    assert not [s for s in on_runs if counting.search(s) or " offset " in s], on_runs


def test_filtered_list_keeps_its_exact_total(api: Api) -> None:
    """A filter still counts the matching runs (the counter is the unfiltered total)."""
    tagged = [api.create_run(name=f"t{i}", tags=["nightly"]) for i in range(4)]
    for i in range(5):
        api.create_run(name=f"u{i}", tags=["other"])
    body = api.get(
        f"/projects/{api.project_id}/automation/runs", tags="nightly", per_page=15
    ).json()
    assert body["total"] == 4
    assert [item["id"] for item in body["result"]] == tagged[::-1]
