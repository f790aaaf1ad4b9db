"""Test intelligence for the web UI's pages: a run's comparison with its base and the
badges of the tests on one page of it, a changes list with the health of its tests, and
a test result's health, evidence and "broke between" runs.

The run page must stay fast for a 100,000-test run: its counts come from the stored run
summary (services.run_summary), and its badges from the outcomes and health of the page's
cases only (bounded index reads), never from comparing every result of both runs.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, RowMapping

from runhub.db import accounts, analytics, views
from runhub.db import insights as db
from runhub.db import runs as runs_db
from runhub.db.engine import read_tx
from runhub.db.schema import STATUS_SLOTS
from runhub.errors import NotFound
from runhub.services import batches, changes, quarantine, run_summary
from runhub.services.access import Principal, can_see_project
from runhub.services.outcomes import BUCKETS, STATE_NAMES, Outcome, bucket, run_outcomes
from runhub.services.paging import PageRequest
from runhub.services.runs import visible_run
from runhub.services.statuses import StatusTable
from runhub.timeutil import render as ts

# Badges, in the order they are shown; "new_failure" is not given to a test known flaky:
# its failure is counted (and badged) as a flaky failure instead. "quarantined" (mute) and
# "quarantined_skip" mark a test with an active quarantine entry.
BADGES = ("new_failure", "flaky", "broken", "fixed", "new_test", "quarantined", "quarantined_skip")
QUARANTINE_BADGES = {"mute": "quarantined", "skip": "quarantined_skip"}
RECENT_RUNS = 30


def run_info(row: RowMapping | None) -> dict[str, Any] | None:
    """What the pages show of a linked run: id, name, commit, branch, status, source."""
    if row is None:
        return None
    return {
        "id": row["id"],
        "name": row["name"],
        "commit": row["vcs_commit"],
        "branch": row["vcs_branch"],
        "status": row["status"],
        "source_id": row["source_id"],
        "is_completed": row["is_completed"],
        "created_at": ts(row["created_at"]),
    }


def _total_results(totals: Mapping[str, Any] | None) -> int:
    return sum(int((totals or {}).get(f"status{n}_count") or 0) for n in STATUS_SLOTS)


def _states(conn: Connection, case_ids: Collection[int]) -> dict[int, str]:
    rows = db.health_of_cases(conn, case_ids)
    return {case_id: STATE_NAMES[row["state"]] for case_id, row in rows.items()}


def run_insights(
    engine: Engine, who: Principal, run_id: int, tests: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """The run's base (with its commit and branch), previous and next run of the source,
    change summary (None when not ready), its failures and how many of them are quarantined
    (None without failures), and the badges of `tests` (the page's results: id and
    case_id) by result id."""
    batches.settle_run(engine, run_id)
    with read_tx(engine) as conn:
        run = visible_run(conn, who, run_id)  # every column: commit and branch too
        table = StatusTable.cached(conn)
        base_id = changes.base_run_id(conn, run)
        previous, following = analytics.run_neighbours(conn, run)
        linked = db.runs_by_id(conn, {i for i in (base_id, previous, following) if i})
        totals = runs_db.thread_totals(conn, [run_id] + ([base_id] if base_id else []))
        results = sum(_total_results(totals.get(i)) for i in (run_id, base_id) if i)
        summary = run_summary.current(conn, run, base_id, table, results)
        badges = page_badges(conn, run_id, base_id, tests, table)
        modes = quarantine.active_modes(conn, {t["case_id"] for t in tests})
        for test in tests:
            if test["case_id"] in modes:
                badges[test["id"]].append(QUARANTINE_BADGES[modes[test["case_id"]]])
        if summary is not None:
            failures = summary["failures"]
        else:
            failures = db.failed_outcome_count(conn, run_id, table.passed_ids, table.failed_ids)
        quarantined = quarantine.run_failures(conn, run, failures)
    return {
        "run_commit": run["vcs_commit"],
        "run_branch": run["vcs_branch"],
        "base": run_info(linked.get(base_id)) if base_id else None,
        "previous": run_info(linked.get(previous)) if previous else None,
        "next": run_info(linked.get(following)) if following else None,
        "summary": summary,
        "quarantine": quarantined,
        "badges": badges,
    }


def page_badges(
    conn: Connection,
    run_id: int,
    base_id: int | None,
    tests: Sequence[Mapping[str, Any]],
    table: StatusTable,
) -> dict[int, list[str]]:
    """Badges of the given results of a run. A case's bucket badge (new failure, fixed,
    new test) goes on the result that is its outcome (its last passed or failed one); the
    health badges (flaky, broken) on each of its results."""
    case_ids = {t["case_id"] for t in tests}
    if not case_ids:
        return {}
    passed, failed = table.passed_ids, table.failed_ids
    rows = db.case_results_in_run(conn, run_id, case_ids)
    now, _ = run_outcomes(run_id, rows, passed, failed)
    then: dict[int, Outcome] = {}
    then_present: set[int] = set()
    if base_id is not None:
        base_rows = db.case_results_in_run(conn, base_id, case_ids)
        then, then_present = run_outcomes(base_id, base_rows, passed, failed)
    states = _states(conn, case_ids)
    found: dict[int, list[str]] = {}
    for test in tests:
        case_id, kinds = test["case_id"], []
        state = states.get(case_id)
        outcome = now.get(case_id)
        if base_id is not None and outcome is not None and outcome.test_id == test["id"]:
            name = bucket(outcome, True, then.get(case_id), case_id in then_present)
            if name in ("fixed", "new_test") or (name == "new_failure" and state != "flaky"):
                kinds.append(name)
        if state in ("flaky", "broken"):
            kinds.append(state)
        found[test["id"]] = sorted(kinds, key=BADGES.index)
    return found


def changes_list(
    engine: Engine,
    who: Principal,
    run_id: int,
    page: PageRequest,
    *,
    base_id: int | None,
    buckets: Sequence[str] | None,
) -> dict[str, Any]:
    """A page of the run's changes (services.changes) with the health state of each
    listed test, the base run and the last-passed runs' details."""
    body = changes.changes(engine, who, run_id, page, base_id=base_id, buckets=buckets)
    items = body["result"]
    with read_tx(engine) as conn:
        states = _states(conn, {item["case_id"] for item in items})
        ids = {body["base_run_id"]} | {item.get("last_passed_run_id") for item in items}
        linked = db.runs_by_id(conn, {i for i in ids if i})
        table = StatusTable.cached(conn)
    for item in items:
        item["state"] = states.get(item["case_id"])
    body["buckets"] = list(buckets or BUCKETS)
    body["base"] = run_info(linked.get(body["base_run_id"]))
    body["runs"] = {run_id: run_info(row) for run_id, row in linked.items()}
    body["statuses"] = {row["id"]: row for row in table.rows}
    return body


def compare_choices(engine: Engine, who: Principal, run_id: int) -> dict[str, Any]:
    """The run (with commit and branch), its project and the project's recent runs to
    compare it with."""
    with read_tx(engine) as conn:
        run = visible_run(conn, who, run_id)
        project = accounts.project_by_id(conn, run["project_id"])
        recent = db.recent_runs(conn, run["project_id"], RECENT_RUNS + 1)
        sources = views.names_in_project(conn, "sources", run["project_id"])
    return {
        "run": run_info(run),
        "project": project,
        "recent": [
            {**row, "created_at": ts(row["created_at"])} for row in recent if row["id"] != run_id
        ][:RECENT_RUNS],
        "source_names": {row["id"]: row["name"] for row in sources},
    }


# --- a test result ---------------------------------------------------------------------------


def result_insights(engine: Engine, who: Principal, test_id: int) -> dict[str, Any]:
    """A result's case health with its evidence (and the runs it names), and for a new
    failure of its run the runs it broke between."""
    batches.settle_result(engine, test_id)
    with read_tx(engine) as conn:
        row = views.result_by_id(conn, test_id)
        if row is None or not can_see_project(conn, who, row["project_id"]):
            raise NotFound("The test result does not exist or you do not have access to it.")
        case_id, run_id = row["case_id"], row["run_id"]
        health_row = analytics.case_health(conn, case_id)
        health = None
        if health_row is not None:
            health = {
                "state": STATE_NAMES[health_row["state"]],
                "flip_rate": health_row["flip_rate"],
                "failure_rate": health_row["failure_rate"],
                "results_considered": health_row["results_considered"],
                "last_status_id": health_row["last_status_id"],
                "evidence": json.loads(health_row["evidence"]),
            }
        broke = _broke_between(conn, case_id, run_id)
        ids = set(broke.values()) if broke else set()
        for item in health["evidence"] if health else []:
            ids.update(item["run_ids"])
        linked = db.runs_by_id(conn, ids)
    return {
        "health": health,
        "broke": broke,
        "runs": {i: run_info(r) for i, r in linked.items()},
    }


def _broke_between(conn: Connection, case_id: int, run_id: int) -> dict[str, int] | None:
    """{"passed": A, "failed": run_id} when the case is a new failure of its run against
    the run's base (A: the latest earlier run where it passed), else None."""
    run = runs_db.run_by_id(conn, run_id)
    base_id = changes.base_run_id(conn, run) if run is not None else None
    if base_id is None:
        return None
    table = StatusTable.cached(conn)
    passed, failed = table.passed_ids, table.failed_ids
    now, _ = run_outcomes(run_id, db.case_results_in_run(conn, run_id, [case_id]), passed, failed)
    base_rows = db.case_results_in_run(conn, base_id, [case_id])
    then, then_present = run_outcomes(base_id, base_rows, passed, failed)
    if bucket(now.get(case_id), True, then.get(case_id), case_id in then_present) != "new_failure":
        return None
    last = analytics.last_passed_runs(conn, [case_id], run_id, passed, failed).get(case_id)
    return {"passed": last, "failed": run_id} if last is not None else None
