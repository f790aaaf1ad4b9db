"""A run's change summary: how many of its tests are in each changes bucket against its
base run, how many failed, and how many of those failures are of tests known flaky.

Counting them compares every result of both runs (about 1.5 s for two 100,000-test runs),
so the summary of a completed run is computed once, when the run is folded into test
health (off the append path), and stored. The run page uses the stored summary while it
was made against the run's current base with the current passed/failed statuses; else it
counts live when both runs are small, and otherwise says the counts are not ready.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, RowMapping

from runhub.db import analytics
from runhub.db import insights as db
from runhub.db import runs as runs_db
from runhub.services.changes import base_run_id
from runhub.services.outcomes import BUCKETS, STATES, Outcome, bucket, run_outcomes
from runhub.services.statuses import StatusTable
from runhub.timeutil import utcnow

# Above this many results in the run and its base together, a page view does not count
# them live (~150 ms on the development machine).
LIVE_LIMIT = 20_000


def rules_key(table: StatusTable) -> str:
    """The passed and failed statuses the counts depend on, e.g. "1/2,4,6"."""
    return "/".join(",".join(map(str, sorted(ids))) for ids in (table.passed_ids, table.failed_ids))


def compare_outcomes(
    now: dict[int, Outcome], now_present: set[int], then: dict[int, Outcome], then_present: set[int]
) -> dict[int, str]:
    """The bucket of every case that has one (the rule of services.outcomes.bucket)."""
    found = {}
    for case_id in now_present | then_present:
        name = bucket(
            now.get(case_id), case_id in now_present, then.get(case_id), case_id in then_present
        )
        if name is not None:
            found[case_id] = name
    return found


def summarise(
    conn: Connection, run_id: int, base_id: int | None, table: StatusTable
) -> dict[str, Any]:
    """Count the run's changes against `base_id` (None: no base) and its failures."""
    passed, failed = table.passed_ids, table.failed_ids
    now, now_present = run_outcomes(run_id, analytics.run_results(conn, run_id), passed, failed)
    counts = dict.fromkeys(BUCKETS, 0)
    new_failures: set[int] = set()
    if base_id is not None:
        base_results = analytics.run_results(conn, base_id)
        then, then_present = run_outcomes(base_id, base_results, passed, failed)
        for case_id, name in compare_outcomes(now, now_present, then, then_present).items():
            counts[name] += 1
            if name == "new_failure":
                new_failures.add(case_id)
    failures = [case_id for case_id, outcome in now.items() if not outcome.passed]
    flaky = db.cases_in_state(conn, failures, STATES["flaky"])
    return {
        "base_run_id": base_id,
        "counts": counts,
        "failures": len(failures),
        "flaky_failures": len(flaky),
        "flaky_new_failures": len(flaky & new_failures),
    }


def store(conn: Connection, run_id: int) -> None:
    """Compute and store a completed run's summary (in the fold's transaction, after the
    run's health was updated)."""
    run = runs_db.run_by_id(conn, run_id)
    if run is None or not run["is_completed"]:
        return
    table = StatusTable.cached(conn)
    found = summarise(conn, run_id, base_run_id(conn, run), table)
    db.store_changes(
        conn,
        {
            "run_id": run_id,
            "base_run_id": found["base_run_id"],
            "rules": rules_key(table),
            **found["counts"],
            "failures": found["failures"],
            "flaky_failures": found["flaky_failures"],
            "flaky_new_failures": found["flaky_new_failures"],
            "computed_at": utcnow(),
        },
    )


def _from_row(row: RowMapping) -> dict[str, Any]:
    return {
        "base_run_id": row["base_run_id"],
        "counts": {name: row[name] for name in BUCKETS},
        "failures": row["failures"],
        "flaky_failures": row["flaky_failures"],
        "flaky_new_failures": row["flaky_new_failures"],
    }


def current(
    conn: Connection, run: RowMapping, base_id: int | None, table: StatusTable, results: int
) -> dict[str, Any] | None:
    """The run's summary against `base_id`: the stored one when it still holds, else
    counted now when the run and its base have at most LIVE_LIMIT `results` together,
    else None (not ready: the run is running, or not folded in yet)."""
    row = db.stored_changes(conn, run["id"])
    if row is not None and row["base_run_id"] == base_id and row["rules"] == rules_key(table):
        return {**_from_row(row), "stored": True}
    if results > LIVE_LIMIT:
        return None
    return {**summarise(conn, run["id"], base_id, table), "stored": False}
