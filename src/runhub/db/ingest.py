"""The hot path: storing a batch of test results (cases upsert, results, their resources).

Measured choices (issue 2): keys are normalised into `automation_cases` so the results
table carries no text index; result ids are allocated in bulk so the result rows and their
fields go in with plain executemany (no RETURNING per row).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, case, func, insert, select, text
from sqlalchemy.dialects import postgresql, sqlite

from runhub.db.schema import automation_cases, automation_run_tests

cases = automation_cases
results = automation_run_tests


@dataclass
class CaseDelta:
    """What one batch adds to one automation case."""

    key: str
    name: str
    folder: str
    test_count: int = 0
    success_count: int = 0
    failure_count: int = 0
    flaky_count: int = 0
    elapsed_sum: int = 0
    elapsed_n: int = 0
    first_category: int = 1  # first passed/failed category in the batch, 1 if none
    last_category: int = 1  # last passed/failed category in the batch, 1 if none
    last_status_id: int = 0


def _upsert_cases_statement(conn: Connection) -> Any:
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = dialect_insert(cases)
    new = stmt.excluded
    return stmt.on_conflict_do_update(
        index_elements=[cases.c.source_id, cases.c.key],
        set_={
            "name": new.name,
            "folder": new.folder,
            "test_count": cases.c.test_count + new.test_count,
            "success_count": cases.c.success_count + new.success_count,
            "failure_count": cases.c.failure_count + new.failure_count,
            # A passed (2) result followed by a failed (3) one, or the reverse, sums to 5.
            "flaky_count": cases.c.flaky_count
            + new.flaky_count
            + case((cases.c.last_category + new.first_category == 5, 1), else_=0),
            "elapsed_sum": cases.c.elapsed_sum + new.elapsed_sum,
            "elapsed_n": cases.c.elapsed_n + new.elapsed_n,
            "last_category": case(
                (new.last_category == 1, cases.c.last_category), else_=new.last_category
            ),
            "last_status_id": new.last_status_id,
            "updated_at": new.updated_at,
        },
    ).returning(cases.c.id, cases.c.key)


def upsert_cases(
    conn: Connection,
    project_id: int,
    source_id: int,
    deltas: Sequence[CaseDelta],
    now: datetime,
) -> dict[str, int]:
    """Create or update the automation cases of a batch; returns key -> case id.

    Rows go in key order so that concurrent batches lock shared cases in the same order.
    """
    params = [
        {
            "project_id": project_id,
            "source_id": source_id,
            "key": d.key,
            "name": d.name,
            "folder": d.folder,
            "test_count": d.test_count,
            "success_count": d.success_count,
            "failure_count": d.failure_count,
            "flaky_count": d.flaky_count,
            "elapsed_sum": d.elapsed_sum,
            "elapsed_n": d.elapsed_n,
            "first_category": d.first_category,
            "last_category": d.last_category,
            "last_status_id": d.last_status_id,
            "created_at": now,
            "updated_at": now,
        }
        for d in sorted(deltas, key=lambda d: d.key)
    ]
    if not params:
        return {}
    rows = conn.execute(_upsert_cases_statement(conn), params)
    return {key: case_id for case_id, key in rows}


def allocate_result_ids(conn: Connection, count: int) -> list[int]:
    """`count` new result ids, increasing, unique across concurrent writers."""
    if count == 0:
        return []
    if conn.dialect.name == "postgresql":
        query = text("SELECT nextval('automation_run_tests_id_seq') FROM generate_series(1, :n)")
        return sorted(conn.execute(query, {"n": count}).scalars())
    # SQLite: the caller holds the write lock (BEGIN IMMEDIATE), so max(id) is stable.
    start = conn.execute(select(func.coalesce(func.max(results.c.id), 0))).scalar_one()
    return list(range(start + 1, start + 1 + count))


def insert_results(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(insert(results), rows)
