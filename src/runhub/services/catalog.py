"""Read-only API of the supporting objects: users, projects, sources, milestones, cases,
and the test results of a run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func
from sqlalchemy.sql.elements import ColumnElement

from runhub.db import accounts, catalog, results
from runhub.db import runs as runs_db
from runhub.db.engine import read_tx
from runhub.db.schema import STATUS_SLOTS, automation_sources, milestones
from runhub.errors import Forbidden, NotFound
from runhub.services import batches, render
from runhub.services.access import Principal, can_see_project, require_admin, visible_project
from runhub.services.paging import PageRequest, envelope
from runhub.services.runs import visible_run
from runhub.services.statuses import StatusTable
from runhub.timeutil import render as ts


def _users_expand(conn: Connection, rows: Sequence[Any], *columns: str) -> list[dict[str, Any]]:
    ids = sorted({r[c] for r in rows for c in columns if r.get(c) is not None})
    return [{"id": u["id"], "name": u["name"]} for u in accounts.users_by_ids(conn, ids)]


# --- users --------------------------------------------------------------------------------


def current_user(engine: Engine, who: Principal) -> dict[str, Any]:
    with read_tx(engine) as conn:
        row = accounts.user_by_id(conn, who.user_id)
        assert row is not None
        return render.current_user(row)


def list_users(engine: Engine, who: Principal, page: PageRequest, expands: Sequence[str]) -> dict:
    require_admin(who)
    with read_tx(engine) as conn:
        total, rows = accounts.page_users(conn, page.offset, page.per_page)
        return envelope(
            page, total, [render.user(r) for r in rows], _user_expands(conn, rows, expands)
        )


def get_user(engine: Engine, who: Principal, user_id: int, expands: Sequence[str]) -> dict:
    if not who.is_admin and who.user_id != user_id:
        raise Forbidden("Only administrators may read other users.")
    with read_tx(engine) as conn:
        row = accounts.user_by_id(conn, user_id)
        if row is None:
            raise NotFound("The user does not exist.")
        return {"result": render.user(row), "expands": _user_expands(conn, [row], expands)}


def _user_expands(conn: Connection, rows: Sequence[Any], expands: Sequence[str]) -> dict:
    out: dict[str, Any] = {}
    for name in expands:
        if name == "users":
            out[name] = _users_expand(conn, rows, "created_by", "updated_by")
        elif name == "roles":
            out[name] = [{"id": rid, "name": role} for role, rid in _role_ids(rows)]
        else:  # groups: runhub has none
            out[name] = []
    return out


def _role_ids(rows: Sequence[Any]) -> list[tuple[str, int]]:
    from runhub.services.access import ROLE_IDS

    return sorted({(r["role"], ROLE_IDS[r["role"]]) for r in rows}, key=lambda x: x[1])


# --- projects -----------------------------------------------------------------------------

PROJECT_SORTS = {"projects:created_at": "created_at", "projects:name": "name"}


def _project(conn: Connection, row: Any) -> dict[str, Any]:
    runs_total, runs_done = runs_db.project_run_counts(conn, row["id"])
    sources, retired = catalog.project_source_counts(conn, row["id"])
    milestones_total, milestones_done = catalog.project_milestone_counts(conn, row["id"])
    return {
        "id": row["id"],
        "name": row["name"],
        "is_completed": bool(row["is_completed"]),
        "milestone_count": milestones_total,
        "milestone_active_count": milestones_total - milestones_done,
        "milestone_completed_count": milestones_done,
        "run_count": 0,
        "run_active_count": 0,
        "run_closed_count": 0,
        "session_count": 0,
        "session_active_count": 0,
        "session_closed_count": 0,
        "automation_source_count": sources,
        "automation_source_active_count": sources - retired,
        "automation_source_retired_count": retired,
        "automation_run_count": runs_total,
        "automation_run_active_count": runs_total - runs_done,
        "automation_run_completed_count": runs_done,
        "created_at": ts(row["created_at"]),
        "created_by": row["created_by"],
        "updated_at": ts(row["updated_at"]),
        "updated_by": row["updated_by"],
        "completed_at": ts(row["completed_at"]),
    }


def list_projects(
    engine: Engine,
    who: Principal,
    page: PageRequest,
    *,
    is_completed: bool | None,
    sort: str,
    descending: bool,
    expands: Sequence[str],
) -> dict:
    with read_tx(engine) as conn:
        total, rows = accounts.page_projects(
            conn,
            member_id=None if who.is_admin else who.user_id,
            is_completed=is_completed,
            sort=PROJECT_SORTS[sort],
            descending=descending,
            offset=page.offset,
            limit=page.per_page,
        )
        items = [_project(conn, r) for r in rows]
        return envelope(
            page, total, items, _only_users(conn, rows, expands, "created_by", "updated_by")
        )


def get_project(engine: Engine, who: Principal, project_id: int, expands: Sequence[str]) -> dict:
    with read_tx(engine) as conn:
        row = visible_project(conn, who, project_id)
        return {
            "result": _project(conn, row),
            "expands": _only_users(conn, [row], expands, "created_by", "updated_by"),
        }


def _only_users(conn: Connection, rows: Sequence[Any], expands: Sequence[str], *cols: str) -> dict:
    return {"users": _users_expand(conn, rows, *cols)} if "users" in expands else {}


def list_project_users(engine: Engine, who: Principal, project_id: int, page: PageRequest) -> dict:
    with read_tx(engine) as conn:
        visible_project(conn, who, project_id)
        total, rows = accounts.page_project_users(conn, project_id, page.offset, page.per_page)
        return envelope(page, total, [{"id": r["id"], "name": r["name"]} for r in rows])


# --- sources ------------------------------------------------------------------------------

SOURCE_SORTS = {
    "automation_sources:created_at": "created_at",
    "automation_sources:ran_at": "ran_at",
    "automation_sources:retired_at": "retired_at",
}


def list_sources(
    engine: Engine,
    who: Principal,
    project_id: int,
    page: PageRequest,
    *,
    is_retired: bool | None,
    sort: str,
    descending: bool,
    expands: Sequence[str],
) -> dict:
    with read_tx(engine) as conn:
        visible_project(conn, who, project_id)
        total, rows = catalog.page_sources(
            conn, project_id, is_retired, SOURCE_SORTS[sort], descending, page.offset, page.per_page
        )
        expanded = _only_users(conn, rows, expands, "created_by", "updated_by", "retired_by")
        return envelope(page, total, [render.source(r) for r in rows], expanded)


def get_source(engine: Engine, who: Principal, source_id: int, expands: Sequence[str]) -> dict:
    with read_tx(engine) as conn:
        row = catalog.source_by_id(conn, source_id)
        if row is None or not can_see_project(conn, who, row["project_id"]):
            raise NotFound("The automation source does not exist or you do not have access to it.")
        expanded = _only_users(conn, [row], expands, "created_by", "updated_by", "retired_by")
        return {"result": render.source(row), "expands": expanded}


# --- milestones ---------------------------------------------------------------------------

MILESTONE_SORTS = {"milestones:created_at": "created_at", "milestones:completed_at": "completed_at"}


@dataclass(frozen=True)
class MilestoneQuery:
    page: PageRequest
    sort: str = "milestones:created_at"
    descending: bool = True
    automation_tags: list[str] | None = None
    completed_after: datetime | None = None
    completed_before: datetime | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    created_by: list[int] | None = None
    is_completed: bool | None = None
    parent_id: list[int] | None = None
    root_id: list[int] | None = None
    type_id: list[int] | None = None
    expands: tuple[str, ...] = field(default_factory=tuple)


def _milestone_conditions(q: MilestoneQuery) -> list[ColumnElement[bool]]:
    m = milestones.c
    conditions: list[ColumnElement[bool]] = []
    if q.automation_tags is not None:
        conditions.append(catalog.milestone_tag_filter(q.automation_tags))
    for column, after, before in (
        (m.completed_at, q.completed_after, q.completed_before),
        (m.created_at, q.created_after, q.created_before),
    ):
        if after is not None:
            conditions.append(column > after)
        if before is not None:
            conditions.append(column < before)
    for column, values in (
        (m.created_by, q.created_by),
        (m.parent_id, q.parent_id),
        (m.type_id, q.type_id),
    ):
        if values is not None:
            conditions.append(column.in_(values))
    if q.root_id is not None:
        conditions.append(func.coalesce(m.root_id, m.id).in_(q.root_id))
    if q.is_completed is not None:
        conditions.append(m.is_completed.is_(q.is_completed))
    return conditions


def list_milestones(engine: Engine, who: Principal, project_id: int, q: MilestoneQuery) -> dict:
    with read_tx(engine) as conn:
        visible_project(conn, who, project_id)
        total, rows = catalog.page_milestones(
            conn,
            project_id,
            _milestone_conditions(q),
            MILESTONE_SORTS[q.sort],
            q.descending,
            q.page.offset,
            q.page.per_page,
        )
        tags = catalog.tags_of_milestones(conn, [r["id"] for r in rows])
        items = [render.milestone(r, tags[r["id"]]) for r in rows]
        return envelope(q.page, total, items, _milestone_expands(conn, rows, q.expands))


def get_milestone(
    engine: Engine, who: Principal, milestone_id: int, expands: Sequence[str]
) -> dict:
    with read_tx(engine) as conn:
        row = catalog.milestone_by_id(conn, milestone_id)
        if row is None or not can_see_project(conn, who, row["project_id"]):
            raise NotFound("The milestone does not exist or you do not have access to it.")
        tags = catalog.tags_of_milestones(conn, [milestone_id])[milestone_id]
        return {
            "result": render.milestone(row, tags),
            "expands": _milestone_expands(conn, [row], expands),
        }


def _milestone_expands(conn: Connection, rows: Sequence[Any], expands: Sequence[str]) -> dict:
    out: dict[str, Any] = {}
    table: StatusTable | None = None
    for name in expands:
        if name == "users":
            out[name] = _users_expand(conn, rows, "created_by", "updated_by")
        elif name == "milestones":
            ids = sorted({r[c] for r in rows for c in ("parent_id", "root_id") if r[c] is not None})
            out[name] = [dict(x) for x in catalog.names_by_ids(conn, milestones, ids)]
        elif name == "milestone_types":
            out[name] = [{"id": 1, "name": "Milestone", "is_default": True}]
        elif name == "statuses":
            table = table or StatusTable.cached(conn)
            out[name] = table.expand()
        elif name == "milestone_stats":
            table = table or StatusTable.cached(conn)
            out[name] = [_milestone_stats(conn, table, r["id"]) for r in rows]
        else:  # issues: runhub links no issue trackers
            out[name] = []
    return out


def _milestone_stats(conn: Connection, table: StatusTable, milestone_id: int) -> dict[str, Any]:
    """Counts over the automation runs linked to the milestone."""
    run_ids = runs_db.run_ids_of_milestone(conn, milestone_id)
    per_status: dict[int, int] = {}
    for totals in runs_db.thread_totals(conn, run_ids).values():
        for n in range(1, 25):
            per_status[n] = per_status.get(n, 0) + int(totals[f"status{n}_count"] or 0)
    return {"id": milestone_id, **table.counts(per_status)}


# --- test results of a run, automation cases ----------------------------------------------


def list_run_tests(
    engine: Engine,
    who: Principal,
    run_id: int,
    page: PageRequest,
    *,
    thread_id: int | None,
    categories: set[int] | None,
    sort: str,
    descending: bool,
) -> dict:
    def read(conn: Connection) -> dict:
        visible_run(conn, who, run_id)
        table = StatusTable.cached(conn)
        status_ids = table.ids_in_categories(categories) if categories is not None else None
        total = _result_count(conn, run_id, thread_id, status_ids)
        rows = results.page_results(
            conn, run_id, thread_id, status_ids, sort, descending, page.offset, page.per_page,
            last=total if thread_id is None and status_ids is None else None,
        )  # fmt: skip
        fields, artifacts = runs_db.resources_of_tests(conn, [r["id"] for r in rows])
        by_test_fields: dict[int, list] = {}
        for f in fields:
            by_test_fields.setdefault(f["test_id"], []).append(render.field(f))
        by_test_artifacts: dict[int, list] = {}
        for a in artifacts:
            by_test_artifacts.setdefault(a["test_id"], []).append(render.artifact(a))
        items = [
            {
                "id": r["id"],
                "thread_id": r["thread_id"],
                "automation_case_id": r["case_id"],
                "repository_case_id": None,
                "key": r["key"],
                "name": r["name"],
                "folder": r["folder"],
                "status": r["status_id"],
                "elapsed": r["elapsed"],
                "file": r["file"],
                "line": r["line"],
                "assertions": r["assertions"],
                "artifacts": by_test_artifacts.get(r["id"], []),
                "fields": by_test_fields.get(r["id"], []),
                "created_at": ts(r["created_at"]),
            }
            for r in rows
        ]
        return envelope(page, total, items)

    return batches.read_settled(engine, run_id, read)


def _result_count(
    conn: Connection, run_id: int, thread_id: int | None, status_ids: Sequence[int] | None
) -> int:
    """How many of the run's results match, from the threads' counters (which always equal
    a recount) instead of counting rows; unfiltered, the run's highest position."""
    if thread_id is None and status_ids is None:
        return results.last_position(conn, run_id)
    slots = STATUS_SLOTS if status_ids is None else status_ids
    return sum(
        int(thread[f"status{n}_count"])
        for thread in runs_db.threads_of_runs(conn, [run_id])
        if thread_id is None or thread["id"] == thread_id
        for n in slots
    )


def list_cases(
    engine: Engine,
    who: Principal,
    project_id: int,
    page: PageRequest,
    *,
    source_ids: list[int] | None,
    categories: set[int] | None,
    name: str | None,
    folder: str | None,
    sort: str,
    descending: bool,
    expands: Sequence[str],
) -> dict:
    batches.settle_project(engine, project_id)
    with read_tx(engine) as conn:
        visible_project(conn, who, project_id)
        table = StatusTable.cached(conn)
        status_ids = table.ids_in_categories(categories) if categories is not None else None
        total, rows = results.page_cases(
            conn,
            project_id,
            source_ids=source_ids,
            last_status_ids=status_ids,
            name=name,
            folder=folder,
            sort=sort,
            descending=descending,
            offset=page.offset,
            limit=page.per_page,
        )
        items = [
            {
                "id": r["id"],
                "project_id": r["project_id"],
                "source_id": r["source_id"],
                "key": r["key"],
                "name": r["name"],
                "folder": r["folder"],
                "status": table.category(r["last_status_id"]),
                "status_id": r["last_status_id"],
                "test_count": r["test_count"],
                "success_count": r["success_count"],
                "failure_count": r["failure_count"],
                "flaky_count": r["flaky_count"],
                "flaky_percent": round(float(r["flaky_percent"] or 0), 2),
                "elapsed_average": int(r["elapsed_average"] or 0),
                "created_at": ts(r["created_at"]),
                "updated_at": ts(r["updated_at"]),
            }
            for r in rows
        ]
        expanded: dict[str, Any] = {}
        if "automation_sources" in expands:
            ids = sorted({r["source_id"] for r in rows})
            expanded["automation_sources"] = [
                dict(x) for x in catalog.names_by_ids(conn, automation_sources, ids)
            ]
        return envelope(page, total, items, expanded)
