"""Case health: folding completed runs into each case's window, off the append path, and
listing the project's cases by state (README "Test intelligence").

Completing a run queues it (one row, in the completing transaction). Every runhub process
runs a HealthAnalyzer thread that takes queued runs in id order, each in its own write
transaction: a run's outcomes are merged into the window of each of its cases (for all
branches, and for the run's branch), and the rules of services.outcomes re-evaluate them.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Engine

from runhub.background import BackgroundThread
from runhub.db import analytics as db
from runhub.db import runs as runs_db
from runhub.db.engine import read_tx, write_tx
from runhub.errors import NotFound
from runhub.services import batches, quarantine, webhooks
from runhub.services.access import Principal, can_see_project, visible_project
from runhub.services.batches import IDLE_S, AppendActivity
from runhub.services.outcomes import (
    STATE_NAMES,
    STATES,
    Health,
    HealthRules,
    WindowEntry,
    evaluate,
    extend_passing_window,
    is_infrastructure_failure,
    merged_window,
    run_outcomes,
    stored_window,
)
from runhub.services.paging import PageRequest, envelope
from runhub.services.statuses import StatusTable
from runhub.settings import Settings
from runhub.timeutil import utcnow

log = logging.getLogger("runhub.health")
ALL_BRANCHES = ""


def rules_from(settings: Settings) -> HealthRules:
    return HealthRules(
        window=settings.health_window,
        flip_rate=settings.health_flip_rate,
        flip_min_outcomes=settings.health_flip_min_outcomes,
        broken_streak=settings.health_broken_streak,
        infra_failure_ratio=settings.health_infra_failure_ratio,
        infra_min_outcomes=settings.health_infra_min_outcomes,
    )


def analyze_pending(
    engine: Engine, rules: HealthRules, max_runs: int | None = None, *, background: bool = False
) -> int:
    """Fold queued runs into case health, store each one's change summary and group its
    failures by cause (services.failure_groups), until the queue is empty (or `max_runs`
    were done); returns how many runs were taken. As `background` work it lets request
    writers go first (db.engine.WriteGate)."""
    # Imported here: run_summary uses services.changes, which uses this module.
    from runhub.services import failure_groups, run_summary

    done = 0
    while max_runs is None or done < max_runs:
        with read_tx(engine) as conn:
            queued = db.first_queued_run(conn)
        if queued is None:
            return done
        # The run's results first (services.batches), in transactions of their own.
        batches.settle_run(engine, queued, background=background)
        with write_tx(engine, background=background) as conn:
            run_id = db.claim_queued_run(conn)
            if run_id is None:
                return done
            batches.settle_run_in(conn, run_id)  # when another process took `queued`
            watch = webhooks.fold_watch(conn, run_id)  # None without webhooks for it
            analyze_run(conn, run_id, rules, watch)
            run_summary.store(conn, run_id)  # after the run's health: it counts flaky ones
            failure_groups.group_run(conn, run_id)
            webhooks.emit_fold(conn, watch)  # run.completed, case.state_changed
            db.dequeue(conn, run_id)
        done += 1
    return done


def analyze_run(
    conn: Connection, run_id: int, rules: HealthRules, watch: webhooks.FoldWatch | None = None
) -> None:
    run = runs_db.run_by_id(conn, run_id)
    if run is None or not run["is_completed"]:
        return
    db.lock_source_analysis(conn, run["source_id"])
    table = StatusTable.cached(conn)
    outcomes, _ = run_outcomes(
        run_id, db.run_results(conn, run_id), table.passed_ids, table.failed_ids
    )
    if not outcomes or is_infrastructure_failure(outcomes.values(), rules):
        return
    branches = [ALL_BRANCHES] + ([run["vcs_branch"]] if run["vcs_branch"] else [])
    case_ids = sorted(outcomes)
    now = utcnow()
    load = WindowEntry.load
    for branch in branches:
        stored = db.health_windows(conn, case_ids, branch)
        # Most cases only ever pass: their window grows by one pass without being parsed
        # (outcomes.extend_passing_window); the others are merged and evaluated.
        found: dict[int, tuple[str, Health]] = {}
        windows: dict[int, list[WindowEntry]] = {}
        run_ids = {run_id}
        for case_id in case_ids:
            text = stored.get(case_id)
            o = outcomes[case_id]
            entry = WindowEntry(run_id, o.passed, o.retry, o.status_id)
            quick = extend_passing_window(text, entry, rules) if text else None
            if quick is not None:
                found[case_id] = quick
                continue
            old = [load(item) for item in json.loads(text)] if text else []
            run_ids.update(e.run_id for e in old)
            windows[case_id] = merged_window(old, entry, rules.window)
        commits = db.run_commits(conn, run_ids)
        for case_id, window in windows.items():
            found[case_id] = (stored_window(window), evaluate(window, commits, rules))
        if watch is not None and branch == ALL_BRANCHES:  # (all-pass windows stay healthy)
            watch.note_states(conn, {case_id: found[case_id][1] for case_id in windows})
        rows = []
        for case_id in case_ids:
            text, health = found[case_id]
            rows.append(
                {
                    "case_id": case_id,
                    "branch": branch,
                    "project_id": run["project_id"],
                    "source_id": run["source_id"],
                    "state": STATES[health.state],
                    "flip_rate": health.flip_rate,
                    "failure_rate": health.failure_rate,
                    "results_considered": health.results_considered,
                    "last_status_id": health.last_status_id,
                    "window": text,
                    "evidence": _json(health.evidence) if health.evidence else "[]",
                    "updated_at": now,
                }
            )
        db.upsert_health(conn, rows)


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class HealthAnalyzer(BackgroundThread):
    """Runs analyze_pending every `interval_s` in a background thread of the process, when
    appends to this process have paused (services.batches.AppendActivity) or it has waited
    MAX_DEFER_S for a pause: a fold holds SQLite's write lock for a second or more."""

    thread_name = "health-analysis"

    def __init__(self, engine: Engine, rules: HealthRules, interval_s: float) -> None:
        super().__init__()
        self.engine = engine
        self.rules = rules
        self.interval_s = interval_s

    def _loop(self) -> None:
        deferred_since: float | None = None
        while not self._stop.wait(self.interval_s):
            if AppendActivity.idle_for() < IDLE_S:
                deferred_since = deferred_since or time.monotonic()
                if time.monotonic() - deferred_since < MAX_DEFER_S:
                    continue
            deferred_since = None
            try:
                analyze_pending(self.engine, self.rules, max_runs=50, background=True)
            except Exception:  # retried on the next tick; the run stays queued
                log.warning("health analysis failed", exc_info=True)


MAX_DEFER_S = 30.0


# --- reading ---------------------------------------------------------------------------------


def item(row: Any, quarantined: bool = False) -> dict[str, Any]:
    return {
        "case_id": row["case_id"],
        "key": row["key"],
        "name": row["name"],
        "folder": row["folder"],
        "source_id": row["source_id"],
        "state": STATE_NAMES[row["state"]],
        "flip_rate": row["flip_rate"],
        "failure_rate": row["failure_rate"],
        "results_considered": row["results_considered"],
        "last_status_id": row["last_status_id"],
        "evidence": json.loads(row["evidence"]),
        "quarantined": quarantined,
    }


def list_health(
    engine: Engine,
    who: Principal,
    project_id: int,
    page: PageRequest,
    *,
    states: Sequence[str] | None,
    source_ids: Sequence[int] | None,
    branch: str | None,
) -> dict[str, Any]:
    with read_tx(engine) as conn:
        visible_project(conn, who, project_id)
        total, rows = db.list_health(
            conn,
            project_id,
            branch or ALL_BRANCHES,
            {STATES[s] for s in states} if states else None,
            source_ids,
            page.offset,
            page.per_page,
        )
        muted = quarantine.active_modes(conn, [row["case_id"] for row in rows])
    return envelope(page, total, [item(row, row["case_id"] in muted) for row in rows])


def case_health(engine: Engine, who: Principal, case_id: int) -> dict[str, Any] | None:
    """A case's health on all branches, or None before its first analysed run."""
    with read_tx(engine) as conn:
        case = visible_case(conn, who, case_id)
        row = db.case_health(conn, case_id)
        muted = case_id in quarantine.active_modes(conn, [case_id])
    if row is None:
        return None
    names = {"key": case["key"], "name": case["name"], "folder": case["folder"]}
    return item({**row, **names}, muted)


def visible_case(conn: Connection, who: Principal, case_id: int) -> Any:
    case = db.case_by_id(conn, case_id)
    if case is None or not can_see_project(conn, who, case["project_id"]):
        raise NotFound("The automation case does not exist or you do not have access to it.")
    return case
