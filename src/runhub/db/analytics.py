"""SQL of test intelligence: outcomes per run, base runs, the analysis queue, case health
and a case's history (the rules are in runhub.services.outcomes)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Connection, RowMapping, and_, delete, func, select, text
from sqlalchemy.sql.elements import ColumnElement

from runhub.db import failure_groups, ingest
from runhub.db.engine import id_chunks
from runhub.db.schema import (
    analysis_queue,
    automation_case_health,
    automation_cases,
    automation_run_changes,
    automation_run_tests,
    automation_runs,
)

runs = automation_runs
results = automation_run_tests
cases = automation_cases
health = automation_case_health


def run_results(conn: Connection, run_id: int) -> list[tuple[int, int, int]]:
    """(case_id, status_id, result id) of a run's results, in arrival order. Straight
    from the driver's cursor (in the connection's transaction): for 20,000 results the
    SQLAlchemy rows cost as much again as the query."""
    mark = "%s" if conn.dialect.name == "postgresql" else "?"
    sql = (
        "SELECT case_id, status_id, id FROM automation_run_tests"
        f" WHERE run_id = {mark} ORDER BY seq"
    )
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, (run_id,))
        return cursor.fetchall()
    finally:
        cursor.close()


def case_rows(conn: Connection, case_ids: Collection[int]) -> dict[int, RowMapping]:
    """id, key, name, folder and source_id of the given cases."""
    found: dict[int, RowMapping] = {}
    columns = (cases.c.id, cases.c.key, cases.c.name, cases.c.folder, cases.c.source_id)
    for chunk in id_chunks(case_ids):
        for row in conn.execute(select(*columns).where(cases.c.id.in_(chunk))).mappings():
            found[row["id"]] = row
    return found


def latest_completed_run(
    conn: Connection,
    run: RowMapping,
    *,
    branches: Sequence[str] | None,
) -> int | None:
    """The latest (by id) completed run before `run` of its source with its config; on one
    of `branches` when given."""
    conditions: list[ColumnElement[bool]] = [
        runs.c.source_id == run["source_id"],
        runs.c.project_id == run["project_id"],
        runs.c.id < run["id"],
        runs.c.is_completed.is_(True),
        runs.c.config_id.is_(None)
        if run["config_id"] is None
        else runs.c.config_id == run["config_id"],
    ]
    if branches is not None:
        conditions.append(runs.c.vcs_branch.in_(list(branches)))
    query = select(func.max(runs.c.id)).where(and_(*conditions))
    return conn.execute(query).scalar()


def run_neighbours(conn: Connection, run: RowMapping) -> tuple[int | None, int | None]:
    """The previous and next run (by id) of the same source."""
    same = runs.c.source_id == run["source_id"]
    previous = conn.execute(select(func.max(runs.c.id)).where(same, runs.c.id < run["id"]))
    following = conn.execute(select(func.min(runs.c.id)).where(same, runs.c.id > run["id"]))
    return previous.scalar(), following.scalar()


def last_passed_runs(
    conn: Connection,
    case_ids: Collection[int],
    before_run_id: int,
    passed_ids: Collection[int],
    failed_ids: Collection[int],
    *,
    passed_in: int | None = None,
) -> dict[int, int]:
    """For each case, the latest run before `before_run_id` whose outcome (last passed or
    failed result) passed. `passed_in`: an earlier run where every one of the cases is
    known to have passed (the base run of a comparison, for its new failures); then only
    the results of the runs between the two are read, instead of each case's history."""
    if not case_ids:
        return {}
    conditions: list[ColumnElement[bool]] = []
    if passed_in is not None:
        # Every result of a run after `passed_in` has an id at least the smallest result
        # id of those runs (each its run's first position, found in the index run_id, seq).
        first_id = (
            select(results.c.id)
            .where(results.c.run_id == runs.c.id)
            .order_by(results.c.seq)
            .limit(1)
            .scalar_subquery()
        )
        between = select(func.min(first_id)).where(runs.c.id > passed_in, runs.c.id < before_run_id)
        lowest = conn.execute(between).scalar()
        if lowest is None:  # no results between the two runs
            return dict.fromkeys(case_ids, passed_in)
        conditions += [results.c.run_id > passed_in, results.c.id >= lowest]
    decided = list(passed_ids) + list(failed_ids)
    ranked = (
        select(
            results.c.case_id,
            results.c.run_id,
            results.c.status_id,
            func.row_number()
            .over(
                partition_by=(results.c.case_id, results.c.run_id),
                order_by=results.c.id.desc(),
            )
            .label("rank"),
        )
        .where(
            results.c.case_id.in_(sorted(case_ids)),
            results.c.run_id < before_run_id,
            results.c.status_id.in_(decided),
            *conditions,
        )
        .subquery()
    )
    query = (
        select(ranked.c.case_id, func.max(ranked.c.run_id))
        .where(ranked.c.rank == 1, ranked.c.status_id.in_(list(passed_ids)))
        .group_by(ranked.c.case_id)
    )
    found = {case_id: run_id for case_id, run_id in conn.execute(query)}
    if passed_in is not None:
        for case_id in case_ids:
            found.setdefault(case_id, passed_in)
    return found


# --- the analysis queue ----------------------------------------------------------------------


def first_queued_run(conn: Connection) -> int | None:
    """The oldest queued run, not locked."""
    query = select(analysis_queue.c.run_id).order_by(analysis_queue.c.run_id).limit(1)
    return conn.execute(query).scalar()


def claim_queued_run(conn: Connection) -> int | None:
    """The oldest queued run, locked for this transaction (PostgreSQL: skipped by other
    workers; SQLite: the write transaction already excludes them)."""
    query = select(analysis_queue.c.run_id).order_by(analysis_queue.c.run_id).limit(1)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return conn.execute(query).scalar()


def dequeue(conn: Connection, run_id: int) -> None:
    conn.execute(delete(analysis_queue).where(analysis_queue.c.run_id == run_id))


def queued_count(conn: Connection) -> int:
    return conn.execute(select(func.count()).select_from(analysis_queue)).scalar_one()


def requeue_all(conn: Connection) -> int:
    """Forget all case health, run change summaries and failure groups, and queue every
    completed run again; returns how many."""
    failure_groups.forget_all(conn)
    conn.execute(delete(health))
    conn.execute(delete(automation_run_changes))
    conn.execute(delete(analysis_queue))
    completed = select(runs.c.id, func.current_timestamp()).where(runs.c.is_completed.is_(True))
    conn.execute(analysis_queue.insert().from_select(["run_id", "queued_at"], completed))
    return queued_count(conn)


def lock_source_analysis(conn: Connection, source_id: int) -> None:
    """Serialise the analyses of one source's runs (they update the same health rows)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(4242, :id)"), {"id": int(source_id)})


# --- case health -----------------------------------------------------------------------------


def health_windows(conn: Connection, case_ids: Sequence[int], branch: str) -> dict[int, str]:
    """The stored window (JSON) of each case that has one on `branch`."""
    if conn.dialect.name == "postgresql":
        # One statement, the ids as one array joined to the table. Not IN lists of bound
        # ids: psycopg prepares a statement run 5 times, PostgreSQL may then plan it
        # generically, and a generic plan that scans the table (as it does before the table
        # has statistics) compares every row with every id of the list: ~10 s for the
        # windows of one 20,000-test run (bench/README.md "Test intelligence").
        rows = conn.execute(_PG_HEALTH_WINDOWS, {"ids": list(case_ids), "branch": branch})
        return {case_id: window for case_id, window in rows}
    found: dict[int, str] = {}
    for chunk in id_chunks(case_ids):
        query = select(health.c.case_id, health.c.window).where(
            health.c.branch == branch, health.c.case_id.in_(chunk)
        )
        found.update({case_id: window for case_id, window in conn.execute(query)})
    return found


_PG_HEALTH_WINDOWS = text(
    'SELECT h.case_id, h."window" FROM unnest(CAST(:ids AS BIGINT[])) AS u(case_id)'
    " JOIN automation_case_health h ON h.case_id = u.case_id AND h.branch = :branch"
)


def run_commits(conn: Connection, run_ids: Collection[int]) -> dict[int, str | None]:
    found: dict[int, str | None] = {}
    for chunk in id_chunks(run_ids):
        query = select(runs.c.id, runs.c.vcs_commit).where(runs.c.id.in_(chunk))
        found.update({run_id: commit for run_id, commit in conn.execute(query)})
    return found


_HEALTH_COLUMNS = (
    "case_id", "branch", "project_id", "source_id", "state", "flip_rate", "failure_rate",
    "results_considered", "last_status_id", "window", "evidence", "updated_at",
)  # fmt: skip
_HEALTH_CHANGED = ", ".join(f'"{c}" = excluded."{c}"' for c in _HEALTH_COLUMNS[4:])
_HEALTH_NAMES = ", ".join(f'"{c}"' for c in _HEALTH_COLUMNS)
# PostgreSQL: rows are copied into a temporary table of the session (emptied again at once,
# and at every commit), then upserted from it in one statement.
_PG_HEALTH_STAGE = (
    "CREATE TEMPORARY TABLE IF NOT EXISTS health_upsert"
    " (LIKE automation_case_health) ON COMMIT DELETE ROWS"
)
_PG_UPSERT_HEALTH = (
    f"INSERT INTO automation_case_health ({_HEALTH_NAMES}) SELECT {_HEALTH_NAMES}"
    f" FROM health_upsert ON CONFLICT (case_id, branch) DO UPDATE SET {_HEALTH_CHANGED}"
)
_SQLITE_UPSERT_HEALTH = (
    f"INSERT INTO automation_case_health ({_HEALTH_NAMES}) VALUES"
    f" ({', '.join('?' * len(_HEALTH_COLUMNS))})"
    f" ON CONFLICT (case_id, branch) DO UPDATE SET {_HEALTH_CHANGED}"
)


def upsert_health(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert or replace health rows (at most one per case and branch). Raw rows to the
    driver, as the ingest path does: PostgreSQL COPY into a temporary table and one
    INSERT ... SELECT ... ON CONFLICT from it (executemany took ~1.8 s for 20,000 rows,
    INSERT ... SELECT FROM unnest(arrays) ~0.45 s, this ~0.2 s), SQLite executemany."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        driver = conn.connection.driver_connection
        with driver.cursor() as cursor:  # type: ignore[union-attr]
            cursor.execute(_PG_HEALTH_STAGE)
            with cursor.copy(f"COPY health_upsert ({_HEALTH_NAMES}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([row[c] for c in _HEALTH_COLUMNS])
            cursor.execute(_PG_UPSERT_HEALTH)
            cursor.execute("TRUNCATE health_upsert")
        return
    stamps: dict[Any, Any] = {}
    tuples = []
    for row in rows:
        values = [row[c] for c in _HEALTH_COLUMNS]
        when = values[-1]
        if when not in stamps:
            stamps[when] = ingest.time_param(conn, when)
        values[-1] = stamps[when]
        tuples.append(tuple(values))
    conn.exec_driver_sql(_SQLITE_UPSERT_HEALTH, tuples)


def _health_filter(
    project_id: int, branch: str, states: Collection[int] | None, source_ids: Sequence[int] | None
) -> ColumnElement[bool]:
    conditions = [health.c.project_id == project_id, health.c.branch == branch]
    if states:
        conditions.append(health.c.state.in_(sorted(states)))
    if source_ids:
        conditions.append(health.c.source_id.in_(list(source_ids)))
    return and_(*conditions)


def list_health(
    conn: Connection,
    project_id: int,
    branch: str,
    states: Collection[int] | None,
    source_ids: Sequence[int] | None,
    offset: int,
    limit: int,
) -> tuple[int, list[RowMapping]]:
    where = _health_filter(project_id, branch, states, source_ids)
    total = conn.execute(select(func.count()).select_from(health).where(where)).scalar_one()
    order = (health.c.state, health.c.flip_rate.desc(), health.c.case_id)
    # The page's cases first, from the list index alone; then only their rows and cases
    # (the rows skipped by the offset are never read or joined).
    page = select(health.c.case_id).where(where).order_by(*order).offset(offset).limit(limit)
    query = (
        select(health, cases.c.key, cases.c.name, cases.c.folder)
        .join(cases, cases.c.id == health.c.case_id)
        .where(health.c.branch == branch, health.c.case_id.in_(page.scalar_subquery()))
        .order_by(*order)
    )
    return total, list(conn.execute(query).mappings())


def case_health(conn: Connection, case_id: int, branch: str = "") -> RowMapping | None:
    query = select(health).where(health.c.case_id == case_id, health.c.branch == branch)
    return conn.execute(query).mappings().first()


def case_by_id(conn: Connection, case_id: int) -> RowMapping | None:
    return conn.execute(select(cases).where(cases.c.id == case_id)).mappings().first()


# --- a case's history ------------------------------------------------------------------------


def case_history(
    conn: Connection,
    case_id: int,
    *,
    branch: str | None,
    config_ids: Sequence[int] | None,
    offset: int,
    limit: int,
) -> tuple[int, list[RowMapping]]:
    conditions: list[ColumnElement[bool]] = [results.c.case_id == case_id]
    if branch is not None:
        conditions.append(runs.c.vcs_branch == branch)
    if config_ids is not None:
        conditions.append(runs.c.config_id.in_(list(config_ids)))
    joined = results.join(runs, runs.c.id == results.c.run_id)
    where = and_(*conditions)
    if branch is None and config_ids is None:
        count = select(func.count()).select_from(results).where(where)
    else:
        count = select(func.count()).select_from(joined).where(where)
    total = conn.execute(count).scalar_one()
    query = (
        select(
            results.c.id.label("test_id"),
            results.c.run_id,
            runs.c.name.label("run_name"),
            results.c.thread_id,
            results.c.status_id,
            results.c.elapsed,
            results.c.created_at,
            runs.c.vcs_commit.label("commit"),
            runs.c.vcs_branch.label("branch"),
            runs.c.config_id,
        )
        .select_from(joined)
        .where(where)
        .order_by(results.c.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return total, list(conn.execute(query).mappings())
