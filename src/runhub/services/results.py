"""The web UI's run and test result views: tests failures first, filters, paging, history.

The unfiltered tests of a run (or of one thread) are read status by status through the
(run_id, status_id, id) index, in the order failed statuses, neutral ones, passed ones;
the per-status counts come from the thread counters, so a page of a run with 100,000
tests costs one index range read of `per_page` rows, wherever the page is. The tests of one
failure group (a cause) are a page of its result ids in the run (index run_id, group_id,
test_id), then those results by id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine

from runhub.db import accounts, views
from runhub.db import failure_groups as groups_db
from runhub.db import runs as runs_db
from runhub.db.engine import read_tx
from runhub.db.schema import STATUS_SLOTS
from runhub.errors import NotFound
from runhub.services import batches, render
from runhub.services.access import Principal, can_see_project
from runhub.services.runs import RUN_EXPANDS, get_run, visible_run
from runhub.services.statuses import FAILURE, SUCCESS, StatusTable

HISTORY_LENGTH = 100
TESTS_PER_PAGE = 100


@dataclass(frozen=True)
class TestFilter:
    status_ids: tuple[int, ...] = ()  # empty: every status
    thread_id: int | None = None
    folder: str | None = None  # a folder prefix
    name: str | None = None  # part of the name, any case
    group_id: int | None = None  # a failure group: its failures here (the other filters are off)
    page: int = 1
    per_page: int = TESTS_PER_PAGE

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


def status_order(table: StatusTable) -> list[int]:
    """Failed statuses first, then neutral ones, then passed ones; by id within each."""
    rank = {FAILURE: 0, SUCCESS: 2}
    return sorted((r["id"] for r in table.rows), key=lambda s: (rank.get(table.category(s), 1), s))


def status_list(table: StatusTable, counts: dict[int, int]) -> list[dict[str, Any]]:
    """Statuses in display order with their counts (inactive ones only when counted)."""
    by_id = {r["id"]: r for r in table.rows}
    out = []
    for sid in status_order(table):
        row = by_id[sid]
        if row["is_active"] or counts.get(sid):
            out.append({**row, "count": counts.get(sid, 0), "category": table.category(sid)})
    return out


def _per_status(source: Any) -> dict[int, int]:
    return {n: int(source.get(f"status{n}_count") or 0) for n in STATUS_SLOTS}


def run_view(engine: Engine, who: Principal, run_id: int) -> dict[str, Any]:
    """The run as the API shows it (with names of source, config, milestone, users) and
    its project."""
    view = get_run(engine, who, run_id, RUN_EXPANDS)
    with read_tx(engine) as conn:
        view["project"] = accounts.project_by_id(conn, view["result"]["project_id"])
    return view


def run_counts(engine: Engine, who: Principal, run_id: int) -> dict[str, Any]:
    """What a running run's page polls: status, per-status counts, threads, elapsed."""
    with read_tx(engine) as conn:
        run = visible_run(conn, who, run_id)
        table = StatusTable.cached(conn)
        totals = runs_db.thread_totals(conn, [run_id]).get(run_id) or {}
        item = render.run(run, table, [], totals)
        return {
            "status": item["status"],
            "is_completed": item["is_completed"],
            "elapsed": item["elapsed"],
            "total_count": item["total_count"],
            "thread_count": item["thread_count"],
            "thread_active_count": item["thread_active_count"],
            "counts": {str(k): v for k, v in _per_status(item).items() if v},
        }


def run_tests(engine: Engine, who: Principal, run_id: int, f: TestFilter) -> dict[str, Any]:
    """A page of the run's tests (failures first) with the status list and paging."""
    batches.settle_run(engine, run_id)
    with read_tx(engine) as conn:
        visible_run(conn, who, run_id)
        table = StatusTable.cached(conn)
        threads = runs_db.threads_of_runs(conn, [run_id])
        if f.thread_id is not None:
            threads = [t for t in threads if t["id"] == f.thread_id]
            if not threads:
                raise NotFound("The thread does not belong to this run.")
        counts: dict[int, int] = {n: 0 for n in STATUS_SLOTS}
        for t in threads:
            for n, value in _per_status(t).items():
                counts[n] += value
        group = None
        if f.group_id is not None:  # the other filters do not apply
            order = status_order(table)
            group = groups_db.group_in_run(conn, run_id, f.group_id)
            total, rows = _page_of_group(conn, run_id, f.group_id, f)
        elif f.folder or f.name:
            order = _filtered_order(table, f)
            total, rows = views.search_results(
                conn,
                run_id,
                status_order=order,
                thread_id=f.thread_id,
                folder_prefix=f.folder,
                name_contains=f.name,
                offset=f.offset,
                limit=f.per_page,
            )
        else:
            order = _filtered_order(table, f)
            total, rows = _page_by_status(conn, run_id, order, counts, f)
        # Group each status's tests of the page by folder; the sort is stable, so a folder's
        # tests keep their arrival order.
        rank = {status_id: i for i, status_id in enumerate(order)}
        rows = sorted(rows, key=lambda r: (rank[r["status_id"]], r["folder"]))
        return {
            "statuses": status_list(table, counts),
            "tests": [_test_row(r, table) for r in rows],
            "total": total,
            "page": f.page,
            "last_page": max(1, -(-total // f.per_page)),
            "group": dict(group) if group is not None else None,
        }


def _filtered_order(table: StatusTable, f: TestFilter) -> list[int]:
    return [s for s in status_order(table) if not f.status_ids or s in f.status_ids]


def _page_of_group(
    conn: Connection, run_id: int, group_id: int, f: TestFilter
) -> tuple[int, list[Any]]:
    """A page of one failure group's results in the run, in arrival order (none when the
    group has no failure here: a group of another run)."""
    total, test_ids = groups_db.run_test_ids_of_group(conn, run_id, group_id, f.offset, f.per_page)
    return total, views.results_by_ids(conn, test_ids)


def _page_by_status(
    conn: Connection, run_id: int, order: Sequence[int], counts: dict[int, int], f: TestFilter
) -> tuple[int, list[Any]]:
    total = sum(counts.get(s, 0) for s in order)
    skip, need, rows = f.offset, f.per_page, []
    for sid in order:
        count = counts.get(sid, 0)
        if skip >= count:
            skip -= count
            continue
        take = min(need, count - skip)
        rows += views.results_of_status(conn, run_id, sid, f.thread_id, skip, take)
        need -= take
        skip = 0
        if need <= 0:
            break
    return total, rows


def _test_row(row: Any, table: StatusTable) -> dict[str, Any]:
    return {
        "id": row["id"],
        "case_id": row["case_id"],
        "thread_id": row["thread_id"],
        "name": row["name"],
        "folder": row["folder"],
        "status_id": row["status_id"],
        "category": table.category(row["status_id"]),
        "elapsed": row["elapsed"],
        "file": row["file"],
        "line": row["line"],
    }


def result_view(engine: Engine, who: Principal, test_id: int) -> dict[str, Any]:
    """One test result: fields, artifacts, its run, and the case's last 100 results."""
    batches.settle_result(engine, test_id)
    with read_tx(engine) as conn:
        row = views.result_by_id(conn, test_id)
        if row is None or not can_see_project(conn, who, row["project_id"]):
            raise NotFound("The test result does not exist or you do not have access to it.")
        table = StatusTable.cached(conn)
        fields, artifacts = runs_db.resources_of_tests(conn, [test_id])
        history = views.case_history(conn, row["case_id"], HISTORY_LENGTH)
        thread_index = next(
            (t["index"] for t in runs_db.threads_of_runs(conn, [row["run_id"]])
             if t["id"] == row["thread_id"]),
            None,
        )  # fmt: skip
        return {
            "result": dict(row),
            "thread_index": thread_index,
            "category": table.category(row["status_id"]),
            "fields": [render.field(x) for x in fields],
            "artifacts": [render.artifact(x) for x in artifacts],
            "history": list(reversed(history)),
            "statuses": {r["id"]: r for r in table.rows},
        }
