"""SQL for the web UI's read-only views (every query is bounded by an index and a LIMIT)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, RowMapping, Select, and_, case, func, select
from sqlalchemy.sql.elements import ColumnElement

from runhub.db.schema import (
    automation_cases,
    automation_run_tests,
    automation_runs,
    automation_sources,
    configs,
    milestones,
    projects,
)

results = automation_run_tests
cases = automation_cases
runs = automation_runs


def names_in_project(conn: Connection, kind: str, project_id: int) -> list[RowMapping]:
    """(id, name) of the project's sources, configs or milestones, by name."""
    table = {"sources": automation_sources, "configs": configs, "milestones": milestones}[kind]
    query = (
        select(table.c.id, table.c.name)
        .where(table.c.project_id == project_id)
        .order_by(table.c.name, table.c.id)
        .limit(1000)
    )
    return list(conn.execute(query).mappings())


def source_runs(conn: Connection, source_id: int, limit: int) -> tuple[list[RowMapping], Select]:
    """The source's newest runs (newest first) and a SELECT of their ids."""
    where = runs.c.source_id == source_id
    order = (runs.c.created_at.desc(), runs.c.id.desc())
    rows = conn.execute(select(runs).where(where).order_by(*order).limit(limit)).mappings()
    ids = select(runs.c.id).where(where).order_by(*order).limit(limit)
    return list(rows), ids


def _result_columns() -> Select[Any]:
    return select(results, cases.c.key, cases.c.name, cases.c.folder, cases.c.source_id).join(
        cases, cases.c.id == results.c.case_id
    )


def results_of_status(
    conn: Connection, run_id: int, status_id: int, thread_id: int | None, offset: int, limit: int
) -> list[RowMapping]:
    """One status's results of a run in arrival order (index run_id, status_id, id)."""
    conditions = [results.c.run_id == run_id, results.c.status_id == status_id]
    if thread_id is not None:
        conditions.append(results.c.thread_id == thread_id)
    query = _result_columns().where(*conditions).order_by(results.c.id).offset(offset).limit(limit)
    return list(conn.execute(query).mappings())


def results_by_ids(conn: Connection, test_ids: Sequence[int]) -> list[RowMapping]:
    """The results of `test_ids` (a page of them, by primary key), in id order."""
    if not test_ids:
        return []
    query = _result_columns().where(results.c.id.in_(list(test_ids))).order_by(results.c.id)
    return list(conn.execute(query).mappings())


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_results(
    conn: Connection,
    run_id: int,
    *,
    status_order: Sequence[int],
    thread_id: int | None,
    folder_prefix: str | None,
    name_contains: str | None,
    offset: int,
    limit: int,
) -> tuple[int, list[RowMapping]]:
    """Results filtered by folder prefix and/or name (case-insensitive), in the statuses of
    `status_order` and in that order; this one reads every result of the run."""
    conditions: list[ColumnElement[bool]] = [
        results.c.run_id == run_id,
        results.c.status_id.in_(list(status_order)),
    ]
    if thread_id is not None:
        conditions.append(results.c.thread_id == thread_id)
    if folder_prefix:
        conditions.append(cases.c.folder.like(_like_escape(folder_prefix) + "%", escape="\\"))
    if name_contains:
        pattern = "%" + _like_escape(name_contains) + "%"
        conditions.append(cases.c.name.ilike(pattern, escape="\\"))
    where = and_(*conditions)
    rank = case({sid: i for i, sid in enumerate(status_order)}, value=results.c.status_id)
    # One scan: the total comes with the page as a window count over every match.
    query = (
        _result_columns()
        .add_columns(func.count().over().label("matches"))
        .where(where)
        .order_by(rank, results.c.id)
        .offset(offset)
        .limit(limit)
    )
    rows = list(conn.execute(query).mappings())
    if rows:
        return rows[0]["matches"], rows
    joined = results.join(cases, cases.c.id == results.c.case_id)  # a page past the end
    return conn.execute(select(func.count()).select_from(joined).where(where)).scalar_one(), []


def result_by_id(conn: Connection, test_id: int) -> RowMapping | None:
    query = (
        _result_columns()
        .add_columns(
            runs.c.project_id, runs.c.name.label("run_name"), projects.c.name.label("project_name")
        )
        .join(runs, runs.c.id == results.c.run_id)
        .join(projects, projects.c.id == runs.c.project_id)
        .where(results.c.id == test_id)
    )
    return conn.execute(query).mappings().first()


def case_history(conn: Connection, case_id: int, limit: int) -> list[RowMapping]:
    """The case's newest results (index case_id, id) with their runs' names and commits,
    newest first."""
    query = (
        select(
            results.c.id,
            results.c.run_id,
            results.c.status_id,
            results.c.elapsed,
            results.c.created_at,
            runs.c.name.label("run_name"),
            runs.c.vcs_commit.label("commit"),
        )
        .join(runs, runs.c.id == results.c.run_id)
        .where(results.c.case_id == case_id)
        .order_by(results.c.id.desc())
        .limit(limit)
    )
    return list(conn.execute(query).mappings())
