"""SQL for reading test results of a run and automation cases of a project."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, RowMapping, and_, case, func, select
from sqlalchemy.sql.elements import ColumnElement

from runhub.db.schema import automation_cases, automation_run_tests

results = automation_run_tests
cases = automation_cases

RESULT_SORTS = {
    "automation_run_tests:id": results.c.id,
    "automation_run_tests:name": cases.c.name,
    "automation_run_tests:status": results.c.status_id,
    "automation_run_tests:elapsed": results.c.elapsed,
    "automation_run_tests:created_at": results.c.created_at,
}

_flaky_percent = case(
    (cases.c.test_count > 1, cases.c.flaky_count * 100.0 / (cases.c.test_count - 1)), else_=0
)
_elapsed_average = case((cases.c.elapsed_n > 0, cases.c.elapsed_sum / cases.c.elapsed_n), else_=0)

CASE_SORTS = {
    "automation_sources:created_at": cases.c.created_at,
    "automation_cases:created_at": cases.c.created_at,
    "automation_cases:name": cases.c.name,
    "automation_cases:elapsed_average": _elapsed_average,
    "automation_cases:failure_count": cases.c.failure_count,
    "automation_cases:flaky_percent": _flaky_percent,
}


def page_results(
    conn: Connection,
    run_id: int,
    thread_id: int | None,
    status_ids: Sequence[int] | None,
    sort: str,
    descending: bool,
    offset: int,
    limit: int,
    last: int | None = None,
) -> list[RowMapping]:
    """A page of the run's results. In the default order (id) without filters the page is a
    range of positions (`seq`), read from the index however deep it is (`last`: the run's
    last_position, when the caller has it)."""
    conditions: list[ColumnElement[bool]] = [results.c.run_id == run_id]
    query = select(results, cases.c.key, cases.c.name, cases.c.folder).join(
        cases, cases.c.id == results.c.case_id
    )
    if sort == "automation_run_tests:id" and thread_id is None and status_ids is None:
        if descending:
            last = last if last is not None else last_position(conn, run_id)
            span = results.c.seq.between(last - offset - limit + 1, last - offset)
            query = query.where(*conditions, span).order_by(results.c.seq.desc())
        else:
            span = results.c.seq.between(offset + 1, offset + limit)
            query = query.where(*conditions, span).order_by(results.c.seq)
        return list(conn.execute(query).mappings())
    if thread_id is not None:
        conditions.append(results.c.thread_id == thread_id)
    if status_ids is not None:
        conditions.append(results.c.status_id.in_(list(status_ids)))
    column = RESULT_SORTS[sort]
    order = (
        (column.desc(), results.c.id.desc()) if descending else (column.asc(), results.c.id.asc())
    )
    query = query.where(and_(*conditions)).order_by(*order).offset(offset).limit(limit)
    return list(conn.execute(query).mappings())


def last_position(conn: Connection, run_id: int) -> int:
    """The run's number of expanded results: the highest `seq` (one index probe)."""
    query = select(func.max(results.c.seq)).where(results.c.run_id == run_id)
    return int(conn.execute(query).scalar() or 0)


def page_cases(
    conn: Connection,
    project_id: int,
    *,
    source_ids: Sequence[int] | None,
    last_status_ids: Sequence[int] | None,
    name: str | None,
    folder: str | None,
    sort: str,
    descending: bool,
    offset: int,
    limit: int,
) -> tuple[int, list[RowMapping]]:
    conditions: list[ColumnElement[bool]] = [cases.c.project_id == project_id]
    if source_ids is not None:
        conditions.append(cases.c.source_id.in_(list(source_ids)))
    if last_status_ids is not None:
        conditions.append(cases.c.last_status_id.in_(list(last_status_ids)))
    if name is not None:
        conditions.append(cases.c.name == name)
    if folder is not None:
        conditions.append(cases.c.folder == folder)
    where = and_(*conditions)
    total = conn.execute(select(func.count()).select_from(cases).where(where)).scalar_one()
    column = CASE_SORTS[sort]
    order = (column.desc(), cases.c.id.desc()) if descending else (column.asc(), cases.c.id.asc())
    query = (
        select(
            cases, _flaky_percent.label("flaky_percent"), _elapsed_average.label("elapsed_average")
        )
        .where(where)
        .order_by(*order)
        .offset(offset)
        .limit(limit)
    )
    return total, list(conn.execute(query).mappings())
