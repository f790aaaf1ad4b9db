"""SQL for automation runs, their threads, tags and resources (fields/artifacts/links)."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    RowMapping,
    Select,
    Update,
    and_,
    bindparam,
    case,
    func,
    insert,
    literal,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import ColumnElement

from runhub.db import ingest
from runhub.db.schema import (
    ELAPSED_MAX_US,
    STATUS_SLOTS,
    analysis_queue,
    automation_artifacts,
    automation_fields,
    automation_links,
    automation_run_tags,
    automation_run_threads,
    automation_runs,
    idempotency_keys,
    project_members,
    projects,
)

runs = automation_runs
threads = automation_run_threads
COUNT_COLUMNS = [f"status{n}_count" for n in STATUS_SLOTS]


# --- runs ---------------------------------------------------------------------------------


def lock_project_runs(conn: Connection, project_id: int) -> None:
    """Hold the project's run insert lock until the transaction ends (PostgreSQL; SQLite
    write transactions are serial anyway).

    The insert trigger takes the same row lock; taking it first, before the new run's
    created_at is read from the clock, makes the runs of a project arrive in (created_at,
    id) order, so an insert never shifts the list positions of runs after it (and never
    locks those rows: no deadlock with a completion, which locks its run first)."""
    if conn.dialect.name == "postgresql":
        query = select(projects.c.id).where(projects.c.id == project_id)
        conn.execute(query.with_for_update(key_share=True))


def insert_run(conn: Connection, tags: Sequence[str], **values: Any) -> int:
    run_id = conn.execute(insert(runs).values(**values).returning(runs.c.id)).scalar_one()
    if tags:
        conn.execute(
            insert(automation_run_tags),
            [{"run_id": run_id, "tag": t, "project_id": values["project_id"]} for t in tags],
        )
    return run_id


def run_by_id(conn: Connection, run_id: int, *, for_update: bool = False) -> RowMapping | None:
    query = select(runs).where(runs.c.id == run_id)
    if for_update and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return conn.execute(query).mappings().first()


def touch_run(conn: Connection, run_id: int, now: datetime, user_id: int) -> None:
    conn.execute(update(runs).where(runs.c.id == run_id).values(updated_at=now, updated_by=user_id))


def finish_run(conn: Connection, run_id: int, **values: Any) -> None:
    conn.execute(update(runs).where(runs.c.id == run_id).values(is_completed=True, **values))
    queue = analysis_queue
    conn.execute(insert(queue).values(run_id=run_id, queued_at=values["completed_at"]))


def set_vcs_if_unset(conn: Connection, run_id: int, commit: str | None, branch: str | None) -> None:
    """The run's commit and branch, each only where it has none yet (the first wins)."""
    for column, value in ((runs.c.vcs_commit, commit), (runs.c.vcs_branch, branch)):
        if value is not None:
            conn.execute(
                update(runs).where(runs.c.id == run_id, column.is_(None)).values({column: value})
            )


def run_filter(
    project_id: int,
    *,
    source_ids: list[int] | None = None,
    config_ids: list[int] | None = None,
    milestone_ids: list[int] | None = None,
    creator_ids: list[int] | None = None,
    statuses: list[int] | None = None,
    tags: list[str] | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> ColumnElement[bool]:
    conditions: list[ColumnElement[bool]] = [runs.c.project_id == project_id]
    for column, values in (
        (runs.c.source_id, source_ids),
        (runs.c.config_id, config_ids),
        (runs.c.milestone_id, milestone_ids),
        (runs.c.created_by, creator_ids),
        (runs.c.status, statuses),
    ):
        if values is not None:
            conditions.append(column.in_(values))
    if tags is not None:
        tagged = select(automation_run_tags.c.run_id).where(
            automation_run_tags.c.project_id == project_id, automation_run_tags.c.tag.in_(tags)
        )
        conditions.append(runs.c.id.in_(tagged))
    if created_after is not None:
        conditions.append(runs.c.created_at > created_after)
    if created_before is not None:
        conditions.append(runs.c.created_at < created_before)
    return and_(*conditions)


def page_runs(
    conn: Connection, where: ColumnElement[bool], descending: bool, offset: int, limit: int
) -> tuple[int, list[RowMapping], Select[Any]]:
    """(total, the page's rows, a SELECT of the page's run ids for the follow-up queries:
    one subquery instead of a hundred bound ids, which PostgreSQL plans far faster).

    For filtered lists: a count(*) and an OFFSET over the matching runs. The unfiltered
    list of a project reads `page_project_runs` instead."""
    total = conn.execute(select(func.count()).select_from(runs).where(where)).scalar_one()
    if descending:
        order = (runs.c.created_at.desc(), runs.c.id.desc())
    else:
        order = (runs.c.created_at.asc(), runs.c.id.asc())
    query = select(runs).where(where).order_by(*order).offset(offset).limit(limit)
    ids = select(runs.c.id).where(where).order_by(*order).offset(offset).limit(limit)
    return total, list(conn.execute(query).mappings()), ids


@dataclass(frozen=True)
class RunPage:
    """A page of runs with what their list items need besides the run rows."""

    total: int
    rows: list[RowMapping]
    tags: dict[int, list[str]]  # every run of the page has a list
    totals: dict[int, Mapping[Any, Any]]  # thread_totals() of the runs that have threads


def page_project_runs(
    conn: Connection, project_id: int, descending: bool, offset: int, limit: int
) -> RunPage:
    """A page of all the project's runs in (created_at, id) order, with tags and thread
    totals.

    A page is a range of `list_position` (dense base+1..base+N in that order, kept by
    triggers) and
    N is the project's `automation_run_count`: an index range read on any page, however
    deep, and no count(*). The total and the rows come from one statement (a page past
    the end still answers the total, as a row without a run). On PostgreSQL the tags and
    thread totals join that statement as LATERAL subqueries: one snapshot, one round trip,
    and a plan that reads each run's threads and tags by index whatever the planner's
    statistics say (an IN list of 100 run ids looks like half of a never-analysed table).
    On SQLite (one snapshot per read transaction) they are two indexed IN-list queries.
    """
    query, aggregate_names = _project_page_query(conn.dialect.name == "postgresql", descending)
    params = {"project_id": project_id, "offset": offset, "limit": limit}
    found = list(conn.execute(query, params).mappings())
    total = found[0]["total"] if found else 0
    rows = [row for row in found if row["id"] is not None]
    if not aggregate_names:
        ids = [row["id"] for row in rows]
        return RunPage(total, rows, tags_of_runs(conn, ids), thread_totals(conn, ids))
    return RunPage(
        total,
        rows,
        {row["id"]: sorted(row["tag_list"] or ()) for row in rows},
        {row["id"]: {k: row[k] for k in aggregate_names} for row in rows if row["thread_count"]},
    )


@functools.cache
def _project_page_query(postgres: bool, descending: bool) -> tuple[Select[Any], tuple[str, ...]]:
    """page_project_runs()'s statement (built once: building it cost more than running
    it) and, on PostgreSQL, the names of its thread aggregate columns."""
    n = projects.c.automation_run_count
    base = projects.c.automation_run_position_base
    position = runs.c.list_position
    offset = bindparam("offset", type_=BigInteger)
    limit = bindparam("limit", type_=BigInteger)
    if descending:
        in_page = and_(position <= base + n - offset, position > base + n - offset - limit)
        order = position.desc()
    else:
        in_page = and_(position > base + offset, position <= base + offset + limit)
        order = position.asc()
    project = projects.c.id == bindparam("project_id", type_=BigInteger)
    if not postgres:
        joined = projects.outerjoin(runs, and_(runs.c.project_id == projects.c.id, in_page))
        query = select(n.label("total"), *runs.c).select_from(joined)
        return query.where(project).order_by(order), ()
    # The LIMIT caps the planner's estimate of the page at `limit` runs (a range bounded by
    # the counter is estimated at thousands, and the plan's cost then crosses
    # jit_above_cost: JIT compilation took longer than the query).
    page = (
        select(runs)
        .where(runs.c.project_id == projects.c.id, in_page)
        .order_by(order)
        .limit(limit)
        .lateral("page")
    )
    aggregates = select(*_thread_aggregates()).where(threads.c.run_id == page.c.id).lateral("agg")
    tag_list = (
        select(func.array_agg(automation_run_tags.c.tag).label("tag_list"))
        .where(automation_run_tags.c.run_id == page.c.id)
        .lateral("tag_agg")
    )
    joined = (
        projects.outerjoin(page, true()).outerjoin(aggregates, true()).outerjoin(tag_list, true())
    )
    page_order = page.c.list_position.desc() if descending else page.c.list_position.asc()
    query = (
        select(n.label("total"), *page.c, *aggregates.c, tag_list.c.tag_list)
        .select_from(joined)
        .where(project)
        .order_by(page_order)
    )
    return query, tuple(c.name for c in aggregates.c)


def project_run_counts(conn: Connection, project_id: int) -> tuple[int, int]:
    """(all runs, completed runs) of a project (counters kept by triggers)."""
    query = select(
        projects.c.automation_run_count, projects.c.automation_run_completed_count
    ).where(projects.c.id == project_id)
    row = conn.execute(query).first()
    return (0, 0) if row is None else (row[0], row[1])


def run_ids_of_milestone(conn: Connection, milestone_id: int) -> list[int]:
    query = select(runs.c.id).where(runs.c.milestone_id == milestone_id)
    return list(conn.execute(query).scalars())


RunIds = Sequence[int] | Select[Any]


def _in(run_ids: RunIds) -> Sequence[int] | Select[Any]:
    return run_ids if isinstance(run_ids, Select) else list(run_ids)


def tags_of_runs(
    conn: Connection, run_ids: RunIds, known_ids: Sequence[int] = ()
) -> dict[int, list[str]]:
    """Tags per run; every id of `known_ids` (or of a list `run_ids`) gets a list."""
    ids = known_ids if isinstance(run_ids, Select) else run_ids
    out: dict[int, list[str]] = {i: [] for i in ids}
    if ids:
        query = (
            select(automation_run_tags.c.run_id, automation_run_tags.c.tag)
            .where(automation_run_tags.c.run_id.in_(_in(run_ids)))
            .order_by(automation_run_tags.c.run_id, automation_run_tags.c.tag)
        )
        for run_id, tag in conn.execute(query):
            out.setdefault(run_id, []).append(tag)
        for tags in out.values():
            tags.sort()  # code-point order on every backend, whatever the collation
    return out


def _thread_aggregates() -> list[Any]:
    """Summed status counts, thread counts and the largest thread elapsed."""
    elapsed = case(
        (threads.c.elapsed_observed > 0, threads.c.elapsed_observed),
        else_=threads.c.elapsed_computed,
    )
    return [
        func.count().label("thread_count"),
        func.count().filter(threads.c.is_completed.is_(True)).label("thread_completed_count"),
        func.max(elapsed).label("max_elapsed"),
        *[func.sum(threads.c[c]).label(c) for c in COUNT_COLUMNS],
    ]


def thread_totals(conn: Connection, run_ids: RunIds) -> dict[int, Mapping[Any, Any]]:
    """Per run that has threads: _thread_aggregates() of its threads."""
    if isinstance(run_ids, Select):
        query = _thread_totals_query().where(threads.c.run_id.in_(run_ids))
        return {row["run_id"]: row for row in conn.execute(query).mappings()}
    if not run_ids:
        return {}
    query = _thread_totals_query().where(threads.c.run_id.in_(bindparam("ids", expanding=True)))
    found = conn.execute(query, {"ids": list(run_ids)}).mappings()
    return {row["run_id"]: row for row in found}


@functools.cache
def _thread_totals_query() -> Select[Any]:
    query = select(threads.c.run_id, *_thread_aggregates())
    return query.group_by(threads.c.run_id)


# --- threads ------------------------------------------------------------------------------


def next_thread_index(conn: Connection, run_id: int) -> int:
    query = select(func.coalesce(func.max(threads.c.index), 0)).where(threads.c.run_id == run_id)
    return conn.execute(query).scalar_one() + 1


def insert_thread(conn: Connection, **values: Any) -> int:
    return conn.execute(insert(threads).values(**values).returning(threads.c.id)).scalar_one()


def thread_with_run(conn: Connection, thread_id: int) -> RowMapping | None:
    query = (
        select(
            threads.c.id,
            threads.c.run_id,
            threads.c.is_completed,
            runs.c.project_id,
            runs.c.source_id,
            runs.c.is_completed.label("run_is_completed"),
        )
        .join(runs, runs.c.id == threads.c.run_id)
        .where(threads.c.id == thread_id)
    )
    return conn.execute(query).mappings().first()


def threads_of_runs(conn: Connection, run_ids: Sequence[int]) -> list[RowMapping]:
    if not run_ids:
        return []
    query = (
        select(threads)
        .where(threads.c.run_id.in_(list(run_ids)))
        .order_by(threads.c.run_id, threads.c.index)
    )
    return list(conn.execute(query).mappings())


def add_to_open_thread(
    conn: Connection,
    thread_id: int,
    per_status: dict[int, int],
    elapsed_observed: int,
    elapsed_computed: int,
    member_id: int | None = None,
) -> tuple[int, int, int] | None:
    """Add counts and elapsed to a thread that is not completed and, with `member_id`, is
    in a project of that member; returns (run_id, project_id, source_id), or None when
    nothing changed.

    The row lock this UPDATE takes orders it against a concurrent completion, and one
    statement does the checks and the write (one round trip on the hot path). It is one
    statement for every batch (every count and elapsed a parameter, zeros included), so
    SQLAlchemy builds and compiles it once.
    """
    params: dict[str, Any] = {f"n{n}": int(per_status.get(n, 0)) for n in STATUS_SLOTS}
    params.update(
        thread_id=thread_id,
        observed=min(elapsed_observed, ELAPSED_MAX_US),
        computed=min(elapsed_computed, ELAPSED_MAX_US),
        member_id=member_id,
    )
    row = conn.execute(_add_to_thread_statement(member_id is not None), params).first()
    return None if row is None else (row[0], row[1], row[2])


@cache
def _add_to_thread_statement(for_member: bool) -> Update:
    def saturating(column: Any, name: str) -> Any:
        delta = bindparam(name, type_=BigInteger)
        return case((column > ELAPSED_MAX_US - delta, ELAPSED_MAX_US), else_=column + delta)

    values: dict[str, Any] = {
        f"status{n}_count": threads.c[f"status{n}_count"] + bindparam(f"n{n}", type_=BigInteger)
        for n in STATUS_SLOTS
    }
    values["elapsed_observed"] = saturating(threads.c.elapsed_observed, "observed")
    values["elapsed_computed"] = saturating(threads.c.elapsed_computed, "computed")
    query = update(threads).where(
        threads.c.id == bindparam("thread_id"), threads.c.is_completed.is_(False)
    )
    if for_member:
        member_runs = (
            select(runs.c.id)
            .join(project_members, project_members.c.project_id == runs.c.project_id)
            .where(project_members.c.user_id == bindparam("member_id"))
        )
        query = query.where(threads.c.run_id.in_(member_runs))
    home = select(runs.c.project_id).where(runs.c.id == threads.c.run_id).scalar_subquery()
    source = select(runs.c.source_id).where(runs.c.id == threads.c.run_id).scalar_subquery()
    return query.values(**values).returning(threads.c.run_id, home, source)


def complete_threads(
    conn: Connection,
    where: ColumnElement[bool],
    failed_ids: Iterable[int],
    now: datetime,
    user_id: int,
    **extra: Any,
) -> None:
    """Complete open threads matching `where`; status 3 when any failed result, else 2."""
    failures = sum((threads.c[f"status{n}_count"] for n in sorted(failed_ids)), literal(0))
    conn.execute(
        update(threads)
        .where(where, threads.c.is_completed.is_(False))
        .values(
            is_completed=True,
            status=case((failures > 0, 3), else_=2),
            completed_at=now,
            completed_by=user_id,
            **extra,
        )
    )


# --- resources ----------------------------------------------------------------------------


def insert_fields(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    """Rows in ingest.FIELD_COLUMNS order."""
    ingest.insert_rows(conn, "automation_fields", ingest.FIELD_COLUMNS, rows)


def insert_artifacts(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    """Rows in ingest.ARTIFACT_COLUMNS order."""
    ingest.insert_rows(conn, "automation_artifacts", ingest.ARTIFACT_COLUMNS, rows)


def insert_links(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(insert(automation_links), rows)


def resources_of_runs(conn: Connection, run_ids: Sequence[int]) -> tuple[list, list, list]:
    """Run- and thread-level fields, artifacts and links (not those of test results)."""
    ids = list(run_ids)
    f, a, lk = automation_fields, automation_artifacts, automation_links
    fields = conn.execute(
        select(f).where(f.c.run_id.in_(ids), f.c.test_id.is_(None)).order_by(f.c.id)
    ).mappings()
    artifacts = conn.execute(
        select(a).where(a.c.run_id.in_(ids), a.c.test_id.is_(None)).order_by(a.c.id)
    ).mappings()
    links = conn.execute(select(lk).where(lk.c.run_id.in_(ids)).order_by(lk.c.id)).mappings()
    return list(fields), list(artifacts), list(links)


def resources_of_tests(conn: Connection, test_ids: Sequence[int]) -> tuple[list, list]:
    if not test_ids:
        return [], []
    ids = list(test_ids)
    f, a = automation_fields, automation_artifacts
    if conn.dialect.name == "postgresql":
        # One index probe per id, whatever the statistics say (without them, before the
        # first ANALYZE, the planner reads `test_id = ANY(...)` as a seq scan; OFFSET 0
        # keeps it from flattening the lateral subquery into the same hash join).
        return _per_test_pg(conn, "automation_fields", ids), _per_test_pg(
            conn, "automation_artifacts", ids
        )
    fields = conn.execute(select(f).where(f.c.test_id.in_(ids)).order_by(f.c.id)).mappings()
    artifacts = conn.execute(select(a).where(a.c.test_id.in_(ids)).order_by(a.c.id)).mappings()
    return list(fields), list(artifacts)


def _per_test_pg(conn: Connection, table: str, test_ids: list[int]) -> list[RowMapping]:
    query = text(
        f"SELECT x.* FROM unnest(CAST(:ids AS bigint[])) AS t(id)"
        f" CROSS JOIN LATERAL (SELECT * FROM {table} WHERE test_id = t.id OFFSET 0) AS x"
        " ORDER BY x.id"
    )
    return list(conn.execute(query, {"ids": test_ids}).mappings())


# --- idempotency keys ---------------------------------------------------------------------


def claim_idempotency_key(
    conn: Connection, thread_id: int, key: str, now: datetime, expired_before: datetime
) -> bool:
    """Record `key` for the thread; False when it is already recorded since `expired_before`.

    One INSERT ... ON CONFLICT DO UPDATE ... WHERE: a new key is inserted, an expired one
    is renewed (both True), a live one is left alone (False). On PostgreSQL a concurrent
    request with the same key waits here until the first one commits or rolls back.
    """
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = dialect_insert(idempotency_keys).values(thread_id=thread_id, key=key, created_at=now)
    stmt = stmt.on_conflict_do_update(
        index_elements=[idempotency_keys.c.thread_id, idempotency_keys.c.key],
        set_={"created_at": stmt.excluded.created_at},
        where=idempotency_keys.c.created_at < expired_before,
    )
    return conn.execute(stmt.returning(idempotency_keys.c.thread_id)).first() is not None


def purge_idempotency_keys(conn: Connection, expired_before: datetime) -> int:
    """Delete keys recorded before `expired_before` (they no longer stop a repeat)."""
    stmt = idempotency_keys.delete().where(idempotency_keys.c.created_at < expired_before)
    return conn.execute(stmt).rowcount
