"""Retention's rules (services.prune) on a small designed history, on both backends.

Project Demo keeps runs 30 days and passed results' details 7 days; project Other has no
retention. Each run below spells out one rule:

    old        40 days, completed            -> deleted with its results, fields, artifacts
    pinned     40 days, completed, pinned    -> kept whole
    abandoned  40 days, never completed, idle 40 days -> deleted
    active     40 days, not completed, written 1 day ago -> kept (still in use)
    mid        10 days, completed            -> kept; its passed result loses its field
                                                and artifact, its failed result keeps them
    new        1 day, completed              -> untouched
    other      40 days, completed, project Other -> kept (no retention)

Case `only_old` had results only in `old` and goes; its failure group goes with the run;
the group of `mid`'s failure stays. The run list stays exact (positions and totals).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, insert, select, update

from runhub.db.engine import read_tx, write_tx
from runhub.db.schema import (
    automation_artifacts,
    automation_cases,
    automation_fields,
    automation_run_pins,
    automation_run_tests,
    automation_runs,
    failure_groups,
    project_retention,
    prune_queue,
)
from runhub.services.batches import settle_run
from runhub.services.health import HealthRules, analyze_pending
from runhub.services.prune import plan, prune, prune_lock
from runhub.timeutil import utcnow

from ..helpers import Api, make_test

FIELD = [{"type": 1, "name": "Output", "value": "x" * 200}]
ARTIFACT = [{"name": "log", "url": "https://ci.example.com/log.txt"}]


def detailed(name: str, status: str, failure: str | None = None) -> dict[str, Any]:
    fields = list(FIELD)
    if failure:
        fields.append({"type": 4, "name": "Failure", "value": failure, "is_highlight": True})
    return make_test(name, status, fields=fields, artifacts=ARTIFACT)


def make_run(
    api: Api, engine: Engine, name: str, age_days: float, tests: list[dict[str, Any]], **kw: Any
) -> int:
    project_id = kw.get("project_id")
    run_id = api.create_run(name=name, project_id=project_id)
    thread_id = api.create_thread(run_id)
    assert api.append(thread_id, tests).status_code == 204
    if kw.get("complete", True):
        assert api.post(f"/automation/runs/{run_id}/complete").status_code == 204
    created = utcnow() - timedelta(days=age_days)
    touched = utcnow() - timedelta(days=kw.get("idle_days", age_days))
    settle_run(engine, run_id)
    with write_tx(engine) as conn:
        conn.execute(
            update(automation_runs)
            .where(automation_runs.c.id == run_id)
            .values(created_at=created, updated_at=touched)
        )
        # A case's updated_at is when its latest result was stored: this run's time.
        of_run = select(automation_run_tests.c.case_id).where(
            automation_run_tests.c.run_id == run_id
        )
        conn.execute(
            update(automation_cases)
            .where(automation_cases.c.id.in_(of_run))
            .values(updated_at=touched)
        )
    return run_id


def history(api: Api, engine: Engine) -> dict[str, int]:
    runs = {
        "old": make_run(
            api,
            engine,
            "old",
            40,
            [
                detailed("shared", "passed"),
                detailed("only_old", "failed", "KeyError: 'x'\n  at lib.py:1"),
            ],
        ),
        "pinned": make_run(api, engine, "pinned", 40, [detailed("shared", "passed")]),
        "abandoned": make_run(
            api, engine, "abandoned", 40, [detailed("shared", "passed")], complete=False
        ),
        "active": make_run(
            api, engine, "active", 40, [detailed("shared", "passed")], complete=False, idle_days=1
        ),
        "mid": make_run(
            api,
            engine,
            "mid",
            10,
            [detailed("shared", "passed"), detailed("mid_fail", "failed", "ValueError: bad")],
        ),
        "new": make_run(api, engine, "new", 1, [detailed("shared", "passed")]),
        "other": make_run(
            api,
            engine,
            "other",
            40,
            [detailed("shared", "passed")],
            project_id=api.other_project_id,
        ),
    }
    analyze_pending(engine, HealthRules())
    now = utcnow()
    with write_tx(engine) as conn:
        conn.execute(
            insert(automation_run_pins).values(
                run_id=runs["pinned"], project_id=api.project_id, pinned_at=now
            )
        )
        conn.execute(
            insert(project_retention).values(
                project_id=api.project_id, run_days=30, passed_detail_days=7, updated_at=now
            )
        )
    return runs


def rows_of(engine: Engine, run_id: int) -> dict[str, int]:
    with read_tx(engine) as conn:
        return {
            name: conn.execute(
                select(func.count()).select_from(table).where(table.c.run_id == run_id)
            ).scalar_one()
            for name, table in (
                ("results", automation_run_tests),
                ("fields", automation_fields),
                ("artifacts", automation_artifacts),
            )
        }


def test_retention_rules_on_a_designed_history(api: Api, engine: Engine) -> None:
    runs = history(api, engine)
    before = {name: rows_of(engine, run_id) for name, run_id in runs.items()}
    assert before["old"] == {"results": 2, "fields": 3, "artifacts": 2}

    [demo, queue] = plan(engine)
    assert demo["project_id"] == api.project_id
    assert (demo["runs"], demo["results"], demo["fields"], demo["artifacts"]) == (2, 3, 4, 3)
    # mid's passed result: one field and one artifact (its failed result keeps its own).
    assert (demo["passed_fields"], demo["passed_artifacts"]) == (1, 1)
    assert queue == {"queued_runs": 0}

    with prune_lock(engine) as mine:
        assert mine
        report = prune(engine)
    assert report.runs_deleted == 2
    assert report.runs_with_details_pruned == 1  # mid (pinned is exempt, new is too recent)
    assert report.results_deleted == demo["results"]  # all in the newest partition: batches
    assert report.longest_transaction_ms < 1000

    for gone in ("old", "abandoned"):
        assert api.get(f"/automation/runs/{runs[gone]}").status_code == 404
        assert rows_of(engine, runs[gone]) == {"results": 0, "fields": 0, "artifacts": 0}
    for kept in ("pinned", "active", "new", "other"):
        assert api.get(f"/automation/runs/{runs[kept]}").status_code == 200
        assert rows_of(engine, runs[kept]) == before[kept], kept
    # mid: both results stay; the passed one's field and artifact go, the failed one's stay.
    assert rows_of(engine, runs["mid"]) == {"results": 2, "fields": 2, "artifacts": 1}

    with read_tx(engine) as conn:
        names = set(conn.execute(select(automation_cases.c.name)).scalars())
        titles = [t for t in conn.execute(select(failure_groups.c.title)).scalars()]
        assert conn.execute(select(func.count()).select_from(prune_queue)).scalar_one() == 0
    assert "only_old" not in names and {"shared", "mid_fail"} <= names
    assert len(titles) == 1 and "ValueError" in titles[0]

    for order in ("asc", "desc"):
        listed = api.get(f"/projects/{api.project_id}/automation/runs", order=order).json()
        names = [run["name"] for run in listed["result"]]
        expected = ["pinned", "active", "mid", "new"]
        assert listed["total"] == 4
        assert names == (expected if order == "asc" else expected[::-1])

    again = prune(engine)
    assert (again.runs_deleted, again.runs_with_details_pruned, again.results_deleted) == (0, 0, 0)


def test_one_pass_at_a_time(engine: Engine) -> None:
    with prune_lock(engine) as first, prune_lock(engine) as second:
        assert first and not second
    with prune_lock(engine) as later:
        assert later


# The only tables a pass may read whole: a row per project, per queued run, per status.
SMALL_TABLES = ("project_retention", "prune_queue", "statuses")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_pass_never_scans_a_big_table(api: Api, engine: Engine) -> None:
    """Every statement of a pass finds its rows through an index (SQLite's query plans; on
    PostgreSQL expired rows mostly go with their partitions): a scan of the results, fields,
    artifacts, cases or any per-run table costs a pass time in proportion to the whole
    database for each run it deletes."""
    history(api, engine)
    statements: list[tuple[str, Any]] = []

    def seen(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "DELETE", "UPDATE")):
            statements.append((statement, params))

    event.listen(engine, "before_cursor_execute", seen)
    try:
        prune(engine)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert len(statements) > 20
    with engine.connect() as conn:
        for statement, params in statements:
            cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            plan_rows = cursor.execute(f"EXPLAIN QUERY PLAN {statement}", params).fetchall()
            scanned = [
                row[3].removeprefix("SCAN ").removeprefix("TABLE ").split()[0]
                for row in plan_rows
                if row[3].startswith("SCAN ")
            ]
            big = [table for table in scanned if table not in SMALL_TABLES]
            assert not big, (statement, plan_rows)
