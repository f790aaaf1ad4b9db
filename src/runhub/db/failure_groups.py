"""SQL of failure groups: a run's failed results with their failure texts, the groups of a
project, of a run and their failures, and the project's failure categories (the rules are
in runhub.services.failure_signature and runhub.services.failure_groups)."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    RowMapping,
    and_,
    case,
    delete,
    exists,
    func,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.elements import ColumnElement

from runhub.db import ingest
from runhub.db.engine import id_chunks
from runhub.db.schema import (
    automation_cases,
    automation_fields,
    automation_run_tests,
    automation_runs,
    failure_categories,
    failure_group_runs,
    failure_group_tests,
    failure_groups,
)

groups = failure_groups
group_runs = failure_group_runs
group_tests = failure_group_tests
results = automation_run_tests
cases = automation_cases
runs = automation_runs
fields = automation_fields
TEXT_FIELD_TYPES = (2, 4)  # text, console


def is_grouped(conn: Connection, run_id: int) -> bool:
    query = select(exists().where(group_runs.c.run_id == run_id))
    return bool(conn.execute(query).scalar())


def failed_results(conn: Connection, run_id: int, failed_ids: Collection[int]) -> list[RowMapping]:
    """The run's results with a failed status, in arrival order, with their case's name."""
    query = (
        select(
            results.c.id,
            results.c.case_id,
            results.c.status_id,
            cases.c.name,
            cases.c.folder,
        )
        .join(cases, cases.c.id == results.c.case_id)
        .where(results.c.run_id == run_id, results.c.status_id.in_(list(failed_ids)))
        .order_by(results.c.seq)
    )
    return list(conn.execute(query).mappings())


def failure_fields(conn: Connection, test_ids: Collection[int]) -> dict[int, list[RowMapping]]:
    """The text and console fields of each result, highlighted ones first, then by id."""
    found: dict[int, list[RowMapping]] = {}
    columns = (
        fields.c.test_id,
        fields.c.name,
        fields.c.value,
        fields.c.meta,
        fields.c.is_highlight,
    )
    for chunk in id_chunks(test_ids):
        query = (
            select(*columns)
            .where(fields.c.test_id.in_(chunk), fields.c.type.in_(TEXT_FIELD_TYPES))
            .order_by(fields.c.test_id, fields.c.is_highlight.desc(), fields.c.id)
        )
        for row in conn.execute(query).mappings():
            found.setdefault(row["test_id"], []).append(row)
    return found


def ensure_groups(
    conn: Connection, project_id: int, rows: Sequence[dict[str, Any]]
) -> dict[str, int]:
    """Insert the groups not yet known (by digest; concurrent folds may insert the same one,
    the first wins) and return digest -> group id for all of `rows`."""
    ordered = sorted(rows, key=lambda r: r["digest"])
    insert = pg_insert if ingest.is_postgresql(conn) else sqlite_insert
    for start in range(0, len(ordered), 500):
        statement = insert(groups).values(ordered[start : start + 500])
        conn.execute(statement.on_conflict_do_nothing(index_elements=["project_id", "digest"]))
    digests = [r["digest"] for r in ordered]
    found: dict[str, int] = {}
    for start in range(0, len(digests), 500):
        query = select(groups.c.digest, groups.c.id).where(
            groups.c.project_id == project_id, groups.c.digest.in_(digests[start : start + 500])
        )
        found.update({digest: group_id for digest, group_id in conn.execute(query)})
    return found


def record_run(
    conn: Connection,
    run: RowMapping,
    members: dict[int, list[tuple[int, int]]],
    seen_at: datetime,
) -> None:
    """Store a run's groups: for each group id its failures here as (test_id, case_id), in
    id order; then the groups' first/last seen and counts (updated in id order, so that
    concurrent folds lock the rows in the same order)."""
    created = ingest.time_param(conn, run["created_at"])
    ingest.insert_rows(
        conn,
        "failure_group_runs",
        ("group_id", "run_id", "project_id", "source_id", "count", "run_created_at",
         "test_ids", "case_ids"),
        [
            (group_id, run["id"], run["project_id"], run["source_id"], len(tests), created,
             _ids([t for t, _ in tests]), _ids(sorted({c for _, c in tests})))
            for group_id, tests in sorted(members.items())
        ],
    )  # fmt: skip
    ingest.insert_rows(
        conn,
        "failure_group_tests",
        ("test_id", "group_id", "run_id", "case_id"),
        [
            (test_id, group_id, run["id"], case_id)
            for group_id, tests in members.items()
            for test_id, case_id in tests
        ],
    )
    counts = {group_id: len(tests) for group_id, tests in members.items()}
    run_id = run["id"]
    # Every right-hand side reads the row as it was before this update.
    earlier = groups.c.first_seen_run_id > run_id
    later = groups.c.last_seen_run_id < run_id
    for group_id in sorted(counts):
        conn.execute(
            update(groups)
            .where(groups.c.id == group_id)
            .values(
                first_seen_at=case((earlier, seen_at), else_=groups.c.first_seen_at),
                first_seen_run_id=case((earlier, run_id), else_=groups.c.first_seen_run_id),
                last_seen_at=case((later, seen_at), else_=groups.c.last_seen_at),
                last_seen_run_id=case((later, run_id), else_=groups.c.last_seen_run_id),
                run_count=groups.c.run_count + 1,
                result_count=groups.c.result_count + counts[group_id],
            )
        )


def _ids(values: list[int]) -> str:
    return json.dumps(values, separators=(",", ":"))


def forget_all(conn: Connection) -> None:
    """Forget every group (`runhub db reanalyze` builds them again)."""
    for table in (group_tests, group_runs, groups):
        conn.execute(delete(table))


# --- reading ---------------------------------------------------------------------------------

LIST_COLUMNS = (
    groups.c.id,
    groups.c.project_id,
    groups.c.title,
    groups.c.signature,
    groups.c.first_seen_run_id,
    groups.c.first_seen_at,
    groups.c.last_seen_run_id,
    groups.c.last_seen_at,
    groups.c.run_count,
    groups.c.result_count,
)
# With the sample failure (up to 20 KB): for one group, or for categories.
GROUP_COLUMNS = (
    *LIST_COLUMNS,
    groups.c.sample_test_id,
    groups.c.sample_status,
    groups.c.sample_message,
    groups.c.sample_text,
)


def samples(conn: Connection, group_ids: Collection[int]) -> dict[int, RowMapping]:
    """The sample failure (status, message, text) of each group."""
    found: dict[int, RowMapping] = {}
    columns = (groups.c.id, groups.c.sample_status, groups.c.sample_message, groups.c.sample_text)
    for chunk in id_chunks(group_ids):
        for row in conn.execute(select(*columns).where(groups.c.id.in_(chunk))).mappings():
            found[row["id"]] = row
    return found


def run_groups(
    conn: Connection, run_id: int, offset: int, limit: int
) -> tuple[int, list[RowMapping]]:
    """A page of the run's groups, largest first (index run_id, count)."""
    total = conn.execute(
        select(func.count()).select_from(group_runs).where(group_runs.c.run_id == run_id)
    ).scalar_one()
    query = (
        select(*LIST_COLUMNS, group_runs.c.count, group_runs.c.test_ids, group_runs.c.case_ids)
        .join(groups, groups.c.id == group_runs.c.group_id)
        .where(group_runs.c.run_id == run_id)
        .order_by(group_runs.c.count.desc(), group_runs.c.group_id)
        .offset(offset)
        .limit(limit)
    )
    return total, list(conn.execute(query).mappings())


def project_groups(
    conn: Connection,
    project_id: int,
    *,
    source_ids: Sequence[int] | None,
    created_after: datetime | None,
    offset: int,
    limit: int,
) -> tuple[int, list[RowMapping]]:
    """A page of the project's groups, most recently seen first."""
    conditions: list[ColumnElement[bool]] = [groups.c.project_id == project_id]
    if created_after is not None:
        conditions.append(groups.c.first_seen_at > created_after)
    if source_ids is not None:
        conditions.append(
            exists().where(
                group_runs.c.group_id == groups.c.id,
                group_runs.c.source_id.in_(list(source_ids)),
            )
        )
    where = and_(*conditions)
    total = conn.execute(select(func.count()).select_from(groups).where(where)).scalar_one()
    query = (
        select(*LIST_COLUMNS)
        .where(where)
        .order_by(groups.c.last_seen_run_id.desc(), groups.c.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return total, list(conn.execute(query).mappings())


def top_groups(conn: Connection, project_id: int, since: datetime, limit: int) -> list[RowMapping]:
    """The groups with the most failures in runs created since `since`, with those counts."""
    recent = (
        select(
            group_runs.c.group_id,
            func.sum(group_runs.c.count).label("recent_count"),
            func.count().label("recent_runs"),
        )
        .where(group_runs.c.project_id == project_id, group_runs.c.run_created_at >= since)
        .group_by(group_runs.c.group_id)
        .subquery()
    )
    query = (
        select(*LIST_COLUMNS, recent.c.recent_count, recent.c.recent_runs)
        .join(recent, recent.c.group_id == groups.c.id)
        .order_by(recent.c.recent_count.desc(), groups.c.id)
        .limit(limit)
    )
    return list(conn.execute(query).mappings())


def last_run_counts(conn: Connection, rows: Sequence[RowMapping]) -> dict[int, int]:
    """Each group's count in its last seen run (one query, by primary key)."""
    if not rows:
        return {}
    keys = [(row["id"], row["last_seen_run_id"]) for row in rows]
    query = select(group_runs.c.group_id, group_runs.c.count).where(
        tuple_(group_runs.c.group_id, group_runs.c.run_id).in_(keys)
    )
    return {group_id: count for group_id, count in conn.execute(query)}


def group_cases(conn: Connection, group_id: int, limit: int) -> list[RowMapping]:
    """The cases of the group's failures with how many each has, most first."""
    counted = (
        select(
            group_tests.c.case_id,
            func.count().label("count"),
            func.max(group_tests.c.test_id).label("last_test_id"),
        )
        .where(group_tests.c.group_id == group_id)
        .group_by(group_tests.c.case_id)
        .subquery()
    )
    query = (
        select(counted, cases.c.key, cases.c.name, cases.c.folder)
        .join(cases, cases.c.id == counted.c.case_id)
        .order_by(counted.c.count.desc(), counted.c.case_id)
        .limit(limit)
    )
    return list(conn.execute(query).mappings())


def group_by_id(conn: Connection, group_id: int) -> RowMapping | None:
    return conn.execute(select(*GROUP_COLUMNS).where(groups.c.id == group_id)).mappings().first()


def case_ids_of_groups(conn: Connection, group_ids: Collection[int]) -> dict[int, list[int]]:
    """The distinct cases of each group's failures (all runs), in case id order."""
    found: dict[int, list[int]] = {g: [] for g in group_ids}
    for chunk in id_chunks(group_ids):
        query = (
            select(group_tests.c.group_id, group_tests.c.case_id)
            .where(group_tests.c.group_id.in_(chunk))
            .distinct()
            .order_by(group_tests.c.group_id, group_tests.c.case_id)
        )
        for group_id, case_id in conn.execute(query):
            found[group_id].append(case_id)
    return found


def group_tests_page(
    conn: Connection, group_id: int, offset: int, limit: int
) -> tuple[int, list[RowMapping]]:
    """A page of the group's failed results, newest first, with their run and case."""
    where = group_tests.c.group_id == group_id
    total = conn.execute(select(func.count()).select_from(group_tests).where(where)).scalar_one()
    query = (
        select(
            results.c.id,
            results.c.run_id,
            runs.c.name.label("run_name"),
            results.c.thread_id,
            results.c.case_id,
            cases.c.key,
            cases.c.name,
            cases.c.folder,
            results.c.status_id,
            results.c.elapsed,
            results.c.created_at,
        )
        .select_from(
            group_tests.join(results, results.c.id == group_tests.c.test_id)
            .join(runs, runs.c.id == results.c.run_id)
            .join(cases, cases.c.id == results.c.case_id)
        )
        .where(where)
        .order_by(group_tests.c.test_id.desc())
        .offset(offset)
        .limit(limit)
    )
    return total, list(conn.execute(query).mappings())


def group_runs_of(conn: Connection, group_id: int, limit: int) -> list[RowMapping]:
    """The group's latest runs (by id), with the count and the run's name and size."""
    query = (
        select(
            group_runs.c.run_id,
            group_runs.c.count,
            group_runs.c.run_created_at,
            runs.c.name,
            runs.c.source_id,
        )
        .join(runs, runs.c.id == group_runs.c.run_id)
        .where(group_runs.c.group_id == group_id)
        .order_by(group_runs.c.run_id.desc())
        .limit(limit)
    )
    return list(conn.execute(query).mappings())


def run_test_ids_of_group(
    conn: Connection, run_id: int, group_id: int, offset: int, limit: int
) -> tuple[int, list[int]]:
    """A page of the result ids of one group's failures in a run (for the run page)."""
    where = and_(group_tests.c.run_id == run_id, group_tests.c.group_id == group_id)
    total = conn.execute(select(func.count()).select_from(group_tests).where(where)).scalar_one()
    query = (
        select(group_tests.c.test_id)
        .where(where)
        .order_by(group_tests.c.test_id)
        .offset(offset)
        .limit(limit)
    )
    return total, list(conn.execute(query).scalars())


def group_in_run(conn: Connection, run_id: int, group_id: int) -> RowMapping | None:
    """The group's id, title and count in the run (primary key), or None when it has no
    failure there."""
    query = (
        select(groups.c.id, groups.c.title, group_runs.c.count)
        .join(groups, groups.c.id == group_runs.c.group_id)
        .where(group_runs.c.group_id == group_id, group_runs.c.run_id == run_id)
    )
    return conn.execute(query).mappings().first()


# --- categories ------------------------------------------------------------------------------


def categories(conn: Connection, project_id: int) -> RowMapping | None:
    query = select(failure_categories).where(failure_categories.c.project_id == project_id)
    return conn.execute(query).mappings().first()


def set_categories(
    conn: Connection, project_id: int, rules: str, now: datetime, user_id: int
) -> None:
    conn.execute(delete(failure_categories).where(failure_categories.c.project_id == project_id))
    conn.execute(
        failure_categories.insert().values(
            project_id=project_id, rules=rules, updated_at=now, updated_by=user_id
        )
    )
