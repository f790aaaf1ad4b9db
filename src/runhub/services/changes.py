"""What changed in a run against its base run, and a case's history (README "Test
intelligence"). Both are computed when asked, from the results, so they are exact for
running runs too."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Engine, RowMapping

from runhub.db import analytics as db
from runhub.db import runs as runs_db
from runhub.db.engine import read_tx
from runhub.errors import NotFound
from runhub.services import batches, quarantine
from runhub.services.access import Principal
from runhub.services.health import visible_case
from runhub.services.outcomes import BUCKETS, bucket, run_outcomes
from runhub.services.paging import PageRequest, envelope
from runhub.services.runs import visible_run
from runhub.services.statuses import StatusTable
from runhub.timeutil import render as ts

MAIN_BRANCHES = ("main", "master")


def base_run_id(conn: Connection, run: RowMapping) -> int | None:
    """The latest completed earlier run of the source with the same config: on the run's
    branch; without one there, on main or master; for a run without a branch, any."""
    branch = run["vcs_branch"]
    if branch is None:
        return db.latest_completed_run(conn, run, branches=None)
    found = db.latest_completed_run(conn, run, branches=[branch])
    if found is None:
        found = db.latest_completed_run(conn, run, branches=MAIN_BRANCHES)
    return found


def changes(
    engine: Engine,
    who: Principal,
    run_id: int,
    page: PageRequest,
    *,
    base_id: int | None,
    buckets: Sequence[str] | None,
) -> dict[str, Any]:
    batches.settle_run(engine, run_id)
    with read_tx(engine) as conn:
        run = visible_run(conn, who, run_id)
        if base_id is not None:
            base = runs_db.run_by_id(conn, base_id)
            if base is None or base["project_id"] != run["project_id"]:
                raise NotFound("The base run does not exist in this run's project.")
        else:
            base_id = base_run_id(conn, run)
        counts = dict.fromkeys(BUCKETS, 0)
        if base_id is None:
            return {**envelope(page, 0, []), "base_run_id": None, "counts": counts}
        table = StatusTable.cached(conn)
        passed, failed = table.passed_ids, table.failed_ids
        now_rows, then_rows = db.run_results(conn, run_id), db.run_results(conn, base_id)
        now_present = {row[0] for row in now_rows}
        then_present = {row[0] for row in then_rows}
        # Only these cases can have a bucket: those in one run only, and those with a
        # failed result in either. A case in both runs without a failed result is
        # unchanged (passed twice, or neutral-only on a side), and most cases are that, so
        # outcomes are worked out for the others only (each from its own results).
        candidates = now_present ^ then_present
        candidates.update(row[0] for row in now_rows if row[1] in failed)
        candidates.update(row[0] for row in then_rows if row[1] in failed)
        now, _ = run_outcomes(
            run_id, [row for row in now_rows if row[0] in candidates], passed, failed
        )
        then, _ = run_outcomes(
            base_id, [row for row in then_rows if row[0] in candidates], passed, failed
        )
        listed: list[tuple[str, int]] = []
        for case_id in candidates:
            found = bucket(
                now.get(case_id), case_id in now_present, then.get(case_id), case_id in then_present
            )
            if found is not None:
                counts[found] += 1
                if not buckets or found in buckets:
                    listed.append((found, case_id))
        cases = db.case_rows(conn, [case_id for _, case_id in listed])
        order = {name: rank for rank, name in enumerate(BUCKETS)}
        listed.sort(key=lambda b: (order[b[0]], cases[b[1]]["folder"], cases[b[1]]["name"], b[1]))
        shown = listed[page.offset : page.offset + page.per_page]
        new_failures = [case_id for name, case_id in shown if name == "new_failure"]
        # A new failure passed in the base run: when the base is earlier, the latest run
        # with a pass is the base or a run between the two.
        last_passed = db.last_passed_runs(
            conn, new_failures, run_id, passed, failed,
            passed_in=base_id if base_id < run_id else None,
        )  # fmt: skip
        muted = quarantine.active_modes(conn, [case_id for _, case_id in shown])
    items = []
    for name, case_id in shown:
        case, current, previous = cases[case_id], now.get(case_id), then.get(case_id)
        item: dict[str, Any] = {
            "case_id": case_id,
            "key": case["key"],
            "name": case["name"],
            "folder": case["folder"],
            "bucket": name,
            "status_id": current.status_id if current else None,
            "base_status_id": previous.status_id if previous else None,
            "test_id": current.test_id if current else None,
            "quarantined": case_id in muted,
        }
        if name == "new_failure":
            item["last_passed_run_id"] = last_passed.get(case_id)
        items.append(item)
    return {**envelope(page, len(listed), items), "base_run_id": base_id, "counts": counts}


def history(
    engine: Engine,
    who: Principal,
    case_id: int,
    page: PageRequest,
    *,
    branch: str | None,
    config_ids: Sequence[int] | None,
) -> dict[str, Any]:
    batches.settle_case(engine, case_id)
    with read_tx(engine) as conn:
        visible_case(conn, who, case_id)
        total, rows = db.case_history(
            conn,
            case_id,
            branch=branch,
            config_ids=config_ids,
            offset=page.offset,
            limit=page.per_page,
        )
    items = [{**row, "created_at": ts(row["created_at"])} for row in rows]
    return envelope(page, total, items)


def run_neighbours(engine: Engine, who: Principal, run_id: int) -> tuple[int | None, int | None]:
    """The previous and next run of the run's source (for the web UI)."""
    with read_tx(engine) as conn:
        return db.run_neighbours(conn, visible_run(conn, who, run_id))
