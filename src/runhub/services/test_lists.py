"""The project's tests page: its flaky, broken, most failing and slowest tests, filtered
by source and branch (README "Web UI").

Flaky, broken and most failing come from case health (on all branches, or on the chosen
one). Slowest ranks by the median duration over each test's last 30 results; it
considers the 200 tests with the highest average duration over all their results (kept
on each automation case), so that the page reads 200 × 30 results instead of every
result of the project.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from runhub.db import analytics, views
from runhub.db import insights as db
from runhub.db.engine import read_tx
from runhub.services import batches, quarantine
from runhub.services.access import Principal, visible_project
from runhub.services.health import ALL_BRANCHES, item
from runhub.services.outcomes import STATE_NAMES, STATES
from runhub.services.paging import PageRequest, envelope
from runhub.services.statuses import StatusTable

TABS = ("flaky", "broken", "failing", "slowest")
SLOWEST_CANDIDATES = 200
ELAPSED_WINDOW = 30


@dataclass(frozen=True)
class TestsQuery:
    tab: str
    page: PageRequest
    source_ids: tuple[int, ...] = ()
    branch: str | None = None


def percentile(values: Sequence[int], fraction: float) -> int | None:
    """The nearest-rank percentile of `values` (None when empty): p50 of 1..4 is 2."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def project_tests(
    engine: Engine, who: Principal, project_id: int, query: TestsQuery
) -> dict[str, Any]:
    page, sources = query.page, list(query.source_ids) or None
    branch = query.branch or ALL_BRANCHES
    batches.settle_project(engine, project_id)
    with read_tx(engine) as conn:
        project = visible_project(conn, who, project_id)
        counts = db.state_counts(conn, project_id, branch, sources)
        if query.tab in ("flaky", "broken"):
            states = {STATES[query.tab]}
            total, rows = analytics.list_health(
                conn, project_id, branch, states, sources, page.offset, page.per_page
            )
            items = [item(row) for row in rows]
        elif query.tab == "failing":
            total, rows = db.most_failing(
                conn, project_id, branch, sources, page.offset, page.per_page
            )
            items = [item(row) for row in rows]
        else:
            total, items = _slowest(conn, project_id, sources, query.branch, page)
        case_ids = {i["case_id"] for i in items}
        latest = db.latest_results(conn, case_ids)
        health = db.health_of_cases(conn, case_ids, branch) if query.tab == "slowest" else {}
        modes = quarantine.active_modes(conn, case_ids)
        source_rows = views.names_in_project(conn, "sources", project_id)
        branches = db.recent_branches(conn, project_id, 100)
        statuses = {row["id"]: row for row in StatusTable.cached(conn).rows}
    for found in items:
        found["test_id"] = latest.get(found["case_id"])
        found["quarantine"] = modes.get(found["case_id"])  # "mute", "skip" or None
        found["quarantined"] = found["quarantine"] is not None
        if query.tab == "slowest" and found["case_id"] in health:
            found["state"] = STATE_NAMES[health[found["case_id"]]["state"]]
    return {
        **envelope(page, total, items),
        "project": project,
        "state_counts": {name: counts.get(number, 0) for name, number in STATES.items()},
        "sources": source_rows,
        "source_names": {row["id"]: row["name"] for row in source_rows},
        "branches": branches,
        "statuses": statuses,
    }


def _slowest(
    conn: Any,
    project_id: int,
    sources: Sequence[int] | None,
    branch: str | None,
    page: PageRequest,
) -> tuple[int, list[dict[str, Any]]]:
    candidates = db.slowest_cases(conn, project_id, sources, SLOWEST_CANDIDATES)
    elapsed = db.recent_elapsed(conn, [c["id"] for c in candidates], ELAPSED_WINDOW, branch)
    ranked = []
    for case in candidates:
        values = elapsed.get(case["id"]) or []
        if not values:
            continue
        ranked.append(
            {
                "case_id": case["id"],
                "key": case["key"],
                "name": case["name"],
                "folder": case["folder"],
                "source_id": case["source_id"],
                "p50": percentile(values, 0.5),
                "p95": percentile(values, 0.95),
                "results_considered": len(values),
            }
        )
    ranked.sort(key=lambda r: (-r["p50"], -r["p95"], r["case_id"]))
    return len(ranked), ranked[page.offset : page.offset + page.per_page]
