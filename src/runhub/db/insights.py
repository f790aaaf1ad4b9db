"""SQL of the web UI's test-intelligence views: outcomes of a few cases in a run, their
health, stored run change summaries, the project's tests lists (most failing, slowest)
and the runs to compare with. Every query reads a bounded number of rows through an
index, except where its docstring says otherwise."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    RowMapping,
    and_,
    bindparam,
    delete,
    func,
    literal,
    select,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import BindParameter, ColumnElement

from runhub.db.engine import id_chunks
from runhub.db.schema import (
    automation_case_health,
    automation_cases,
    automation_run_changes,
    automation_run_tests,
    automation_runs,
)

results = automation_run_tests
runs = automation_runs
cases = automation_cases
health = automation_case_health
run_changes = automation_run_changes
_UNION = 100  # limited sub-selects per UNION ALL (SQLite allows 500)


# --- a few cases of a run ----------------------------------------------------------------------


def result_id_range(conn: Connection, run_id: int) -> tuple[int, int] | None:
    """The lowest and highest result id of a run, or None: the results at its first and
    last position (index run_id, seq; ids grow with positions within a run)."""
    query = select(results.c.id).where(results.c.run_id == run_id).limit(1)
    low = conn.execute(query.order_by(results.c.seq)).scalar()
    if low is None:
        return None
    return low, conn.execute(query.order_by(results.c.seq.desc())).scalar_one()


def case_results_in_run(
    conn: Connection, run_id: int, case_ids: Collection[int]
) -> list[tuple[int, int, int]]:
    """(case_id, status_id, result id) of the given cases' results in a run, in arrival
    order. Read through the (case_id, id) index within the run's id range, so it costs
    the cases' results in that range, not the run's or the cases' whole history.

    The values are written into the statement: PostgreSQL's generic plan of a prepared
    statement (psycopg prepares one after 5 executions) does not know how narrow the id
    range is, and reads the whole range of the run through the primary key instead
    (120 ms instead of 1.5 ms for 100 cases of a 100,000-test run)."""
    span = result_id_range(conn, run_id)
    if span is None or not case_ids:
        return []
    low, high = (literal(value, BigInteger, literal_execute=True) for value in span)
    found: list[tuple[int, int, int]] = []
    for chunk in id_chunks(case_ids):
        ids: BindParameter[list[int]] = bindparam(
            "case_ids", chunk, expanding=True, literal_execute=True
        )
        query = select(results.c.case_id, results.c.status_id, results.c.id).where(
            results.c.case_id.in_(ids),
            results.c.id.between(low, high),
            # "+ 0": not an index term, else the planners walk the run's (run_id, id) range
            (results.c.run_id + 0) == literal(run_id, BigInteger, literal_execute=True),
        )
        found += [(row[0], row[1], row[2]) for row in conn.execute(query)]
    found.sort(key=lambda row: row[2])
    return found


def failed_outcome_count(
    conn: Connection, run_id: int, passed_ids: Collection[int], failed_ids: Collection[int]
) -> int:
    """How many cases of a run have a failed outcome: its failed results after which the
    case has no passed or failed result in the run. Reads the run's failed results (index
    run_id, status_id, id) and probes the (case_id, id) index for each; used only when the
    run has no stored change summary (which counts them)."""
    span = result_id_range(conn, run_id)
    if span is None or not failed_ids:
        return 0
    run = literal(run_id, BigInteger, literal_execute=True)
    high = literal(span[1], BigInteger, literal_execute=True)
    later = results.alias("later")
    decided = sorted(set(passed_ids) | set(failed_ids))
    newer = select(literal(1)).where(
        later.c.case_id == results.c.case_id,
        later.c.id > results.c.id,
        later.c.id <= high,
        (later.c.run_id + 0) == run,
        later.c.status_id.in_(decided),
    )
    if conn.dialect.name == "postgresql":
        # OFFSET 0 keeps the subquery a probe of the (case_id, id) index per failed result:
        # PostgreSQL would otherwise make NOT EXISTS a hash anti-join over every result of
        # the run (76 ms instead of 26 ms for 11,591 failures of a 100,000-test run). On
        # SQLite it is a probe either way (and OFFSET costs a little there).
        newer = newer.offset(0)
    query = select(func.count()).where(
        results.c.run_id == run, results.c.status_id.in_(sorted(failed_ids)), ~newer.exists()
    )
    return conn.execute(query).scalar_one()


def health_of_cases(
    conn: Connection, case_ids: Collection[int], branch: str = ""
) -> dict[int, RowMapping]:
    """The health rows (all branches: "") of the given cases that have one."""
    found: dict[int, RowMapping] = {}
    for chunk in id_chunks(case_ids):
        query = select(health).where(health.c.branch == branch, health.c.case_id.in_(chunk))
        found.update({row["case_id"]: row for row in conn.execute(query).mappings()})
    return found


def cases_in_state(conn: Connection, case_ids: Collection[int], state: int) -> set[int]:
    """Those of the given cases whose health on all branches is in `state`."""
    found: set[int] = set()
    for chunk in id_chunks(case_ids):
        query = select(health.c.case_id).where(
            health.c.branch == "", health.c.state == state, health.c.case_id.in_(chunk)
        )
        found.update(conn.execute(query).scalars())
    return found


def latest_results(conn: Connection, case_ids: Collection[int]) -> dict[int, int]:
    """The newest result id of each case (one index probe per case)."""
    found: dict[int, int] = {}
    for chunk in id_chunks(case_ids):
        newest = (
            select(func.max(results.c.id)).where(results.c.case_id == cases.c.id).scalar_subquery()
        )
        query = select(cases.c.id, newest).where(cases.c.id.in_(chunk))
        found.update({case_id: test_id for case_id, test_id in conn.execute(query) if test_id})
    return found


# --- stored run change summaries ---------------------------------------------------------------


def stored_changes(conn: Connection, run_id: int) -> RowMapping | None:
    query = select(run_changes).where(run_changes.c.run_id == run_id)
    return conn.execute(query).mappings().first()


def store_changes(conn: Connection, row: dict[str, Any]) -> None:
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = insert(run_changes).values(**row)
    changed = {name: statement.excluded[name] for name in row if name != "run_id"}
    conn.execute(
        statement.on_conflict_do_update(index_elements=[run_changes.c.run_id], set_=changed)
    )


def forget_changes(conn: Connection) -> None:
    conn.execute(delete(run_changes))


# --- runs ----------------------------------------------------------------------------------


def runs_by_id(conn: Connection, run_ids: Collection[int]) -> dict[int, RowMapping]:
    """id, name, status, source, branch, commit and creation time of the given runs."""
    columns = (
        runs.c.id, runs.c.name, runs.c.status, runs.c.source_id, runs.c.is_completed,
        runs.c.vcs_commit, runs.c.vcs_branch, runs.c.created_at, runs.c.project_id,
    )  # fmt: skip
    found: dict[int, RowMapping] = {}
    for chunk in id_chunks(run_ids):
        query = select(*columns).where(runs.c.id.in_(chunk))
        found.update({row["id"]: row for row in conn.execute(query).mappings()})
    return found


def recent_runs(conn: Connection, project_id: int, limit: int) -> list[RowMapping]:
    """The project's newest runs (index project_id, created_at)."""
    query = (
        select(
            runs.c.id,
            runs.c.name,
            runs.c.source_id,
            runs.c.vcs_branch,
            runs.c.vcs_commit,
            runs.c.created_at,
            runs.c.is_completed,
        )  # fmt: skip
        .where(runs.c.project_id == project_id)
        .order_by(runs.c.created_at.desc(), runs.c.id.desc())
        .limit(limit)
    )
    return list(conn.execute(query).mappings())


def recent_branches(conn: Connection, project_id: int, limit: int) -> list[str]:
    """The branches of the project's runs, most recently run first (reads its runs)."""
    newest = func.max(runs.c.id)
    query = (
        select(runs.c.vcs_branch)
        .where(runs.c.project_id == project_id, runs.c.vcs_branch.is_not(None))
        .group_by(runs.c.vcs_branch)
        .order_by(newest.desc())
        .limit(limit)
    )
    return list(conn.execute(query).scalars())


# --- the project's tests -------------------------------------------------------------------


def _health_where(
    project_id: int,
    branch: str,
    states: Collection[int] | None,
    source_ids: Sequence[int] | None,
    failing_only: bool,
) -> ColumnElement[bool]:
    conditions = [health.c.project_id == project_id, health.c.branch == branch]
    if states:
        conditions.append(health.c.state.in_(sorted(states)))
    if source_ids:
        conditions.append(health.c.source_id.in_(list(source_ids)))
    if failing_only:
        conditions.append(health.c.failure_rate > 0)
    return and_(*conditions)


def state_counts(
    conn: Connection, project_id: int, branch: str, source_ids: Sequence[int] | None
) -> dict[int, int]:
    """How many of the project's tests are in each health state (index project_id,
    branch, state)."""
    where = _health_where(project_id, branch, None, source_ids, False)
    query = select(health.c.state, func.count()).where(where).group_by(health.c.state)
    return {state: count for state, count in conn.execute(query)}


def most_failing(
    conn: Connection,
    project_id: int,
    branch: str,
    source_ids: Sequence[int] | None,
    offset: int,
    limit: int,
) -> tuple[int, list[RowMapping]]:
    """Health rows with failures, highest failure rate first (then more results, case
    id). Sorts the project's failing tests: it reads all of them."""
    where = _health_where(project_id, branch, None, source_ids, True)
    total = conn.execute(select(func.count()).select_from(health).where(where)).scalar_one()
    query = (
        select(health, cases.c.key, cases.c.name, cases.c.folder)
        .join(cases, cases.c.id == health.c.case_id)
        .where(where)
        .order_by(
            health.c.failure_rate.desc(), health.c.results_considered.desc(), health.c.case_id
        )
        .offset(offset)
        .limit(limit)
    )
    return total, list(conn.execute(query).mappings())


def slowest_cases(
    conn: Connection, project_id: int, source_ids: Sequence[int] | None, limit: int
) -> list[RowMapping]:
    """The `limit` cases of the project with the highest average duration over all their
    results (automation_cases' elapsed sum and count). Reads every case of the project."""
    average = cases.c.elapsed_sum / cases.c.elapsed_n
    conditions = [cases.c.project_id == project_id, cases.c.elapsed_n > 0]
    if source_ids:
        conditions.append(cases.c.source_id.in_(list(source_ids)))
    query = (
        select(cases.c.id, cases.c.key, cases.c.name, cases.c.folder, cases.c.source_id)
        .where(*conditions)
        .order_by(average.desc(), cases.c.id)
        .limit(limit)
    )
    return list(conn.execute(query).mappings())


def recent_elapsed(
    conn: Connection, case_ids: Collection[int], last: int, branch: str | None = None
) -> dict[int, list[int]]:
    """The elapsed times (µs) of each case's newest `last` results that have one (on runs
    of `branch` when given): one limited read of the (case_id, id) index per case, as
    UNION ALL statements of up to 100 cases."""
    found: dict[int, list[int]] = {case_id: [] for case_id in case_ids}
    for chunk in id_chunks(case_ids, _UNION):
        parts = []
        for case_id in chunk:
            part = select(results.c.case_id, results.c.elapsed).where(
                results.c.case_id == case_id, results.c.elapsed.is_not(None)
            )
            if branch is not None:
                part = part.join(runs, runs.c.id == results.c.run_id).where(
                    runs.c.vcs_branch == branch
                )
            parts.append(part.order_by(results.c.id.desc()).limit(last).subquery().select())
        for case_id, elapsed in conn.execute(union_all(*parts)):
            found[case_id].append(elapsed)
    return found
