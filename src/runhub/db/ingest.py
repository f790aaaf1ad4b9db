"""The hot path: storing a batch of test results (cases upsert, results, their resources).

Measured choices (issue 2, bench/README.md): keys are normalised into `automation_cases`
so the results table carries no text index; result ids are allocated in bulk so results
and their fields need no RETURNING; rows go to the driver as plain tuples (SQLite:
executemany; PostgreSQL: COPY, and the case upsert as one statement over arrays, which
psycopg and the planner handle far faster than 250 rows of VALUES parameters).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from runhub.db.schema import ELAPSED_SUM_MAX_US, stamp_us

RESULT_COLUMNS = (
    "id", "run_id", "thread_id", "case_id", "status_id", "elapsed", "file", "line",
    "assertions", "created_at", "seq",
)  # fmt: skip
FIELD_COLUMNS = ("run_id", "thread_id", "test_id", "type", "name", "value", "meta", "is_highlight")
ARTIFACT_COLUMNS = (
    "run_id", "thread_id", "test_id", "name", "note", "url", "mime_type", "size",
)  # fmt: skip

_CASE_COLUMNS = (
    "project_id, source_id, key, name, folder, test_count, success_count, failure_count, "
    "flaky_count, elapsed_sum, elapsed_n, first_category, last_category, last_status_id, "
    "created_at, updated_at"
)
# A passed (2) result followed by a failed (3) one, or the reverse, sums to 5.
_CASE_UPDATE = f"""
ON CONFLICT (source_id, key) DO UPDATE SET
    name = excluded.name,
    folder = excluded.folder,
    test_count = automation_cases.test_count + excluded.test_count,
    success_count = automation_cases.success_count + excluded.success_count,
    failure_count = automation_cases.failure_count + excluded.failure_count,
    flaky_count = automation_cases.flaky_count + excluded.flaky_count
        + CASE WHEN automation_cases.last_category + excluded.first_category = 5
          THEN 1 ELSE 0 END,
    elapsed_sum = CASE
        WHEN automation_cases.elapsed_sum > {ELAPSED_SUM_MAX_US} - excluded.elapsed_sum
        THEN {ELAPSED_SUM_MAX_US}
        ELSE automation_cases.elapsed_sum + excluded.elapsed_sum END,
    elapsed_n = automation_cases.elapsed_n + excluded.elapsed_n,
    last_category = CASE WHEN excluded.last_category = 1
        THEN automation_cases.last_category ELSE excluded.last_category END,
    last_status_id = excluded.last_status_id,
    updated_at = excluded.updated_at
"""
_SQLITE_CASE_UPSERT = (
    f"INSERT INTO automation_cases ({_CASE_COLUMNS}) "
    f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) {_CASE_UPDATE}"
)
_PG_CASE_UPSERT = f"""
INSERT INTO automation_cases ({_CASE_COLUMNS})
SELECT %s, %s, u.*, %s, %s FROM unnest(
    %s::varchar[], %s::varchar[], %s::varchar[], %s::bigint[], %s::bigint[], %s::bigint[],
    %s::bigint[], %s::bigint[], %s::bigint[], %s::smallint[], %s::smallint[], %s::smallint[]
) AS u
{_CASE_UPDATE}
RETURNING key, id
"""
_SQLITE_TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"  # what SQLAlchemy's DateTime stores on SQLite


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

    def values(self) -> tuple[Any, ...]:
        return (
            self.key, self.name, self.folder, self.test_count, self.success_count,
            self.failure_count, self.flaky_count, min(self.elapsed_sum, ELAPSED_SUM_MAX_US),
            self.elapsed_n,
            self.first_category, self.last_category, self.last_status_id,
        )  # fmt: skip


def is_postgresql(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def time_param(conn: Connection, value: datetime) -> Any:
    """A timestamp as the driver takes it in a raw row (SQLite keeps SQLAlchemy's text)."""
    return value if is_postgresql(conn) else value.strftime(_SQLITE_TIME_FORMAT)


def stamp_param(conn: Connection, value: datetime) -> Any:
    """A schema.StampUs timestamp (results, cases) as the driver takes it in a raw row."""
    return value if is_postgresql(conn) else stamp_us(value)


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
    ordered = sorted(deltas, key=lambda d: d.key)
    if not ordered:
        return {}
    if is_postgresql(conn):
        columns = list(zip(*(d.values() for d in ordered), strict=True))
        rows = conn.exec_driver_sql(
            _PG_CASE_UPSERT, (project_id, source_id, now, now, *(list(c) for c in columns))
        )
        return {key: case_id for key, case_id in rows}
    stamp = stamp_param(conn, now)
    conn.exec_driver_sql(
        _SQLITE_CASE_UPSERT,
        [(project_id, source_id, *d.values(), stamp, stamp) for d in ordered],
    )
    keys = [d.key for d in ordered]
    placeholders = ", ".join("?" * len(keys))
    query = f"SELECT key, id FROM automation_cases WHERE source_id = ? AND key IN ({placeholders})"
    # Straight from the sqlite3 cursor: SQLAlchemy's row objects cost more than the query.
    driver = conn.connection.driver_connection
    return dict(driver.execute(query, (source_id, *keys)).fetchall())  # type: ignore[union-attr]


def allocate_result_ids(conn: Connection, count: int) -> list[int]:
    """`count` new result ids, increasing, unique across concurrent writers."""
    if count == 0:
        return []
    if is_postgresql(conn):
        query = "SELECT nextval('automation_run_tests_id_seq') FROM generate_series(1, %s)"
        return sorted(conn.exec_driver_sql(query, (count,)).scalars())
    # SQLite: the caller holds the write lock (BEGIN IMMEDIATE), so max(id) is stable.
    start = conn.exec_driver_sql("SELECT COALESCE(MAX(id), 0) FROM automation_run_tests").scalar()
    return list(range(int(start or 0) + 1, int(start or 0) + 1 + count))


def insert_rows(
    conn: Connection, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """Bulk insert of raw tuples (timestamps via time_param): COPY or executemany."""
    if not rows:
        return
    names = ", ".join(f'"{c}"' for c in columns)
    if is_postgresql(conn):
        driver = conn.connection.driver_connection
        with driver.cursor() as cursor, cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:  # type: ignore[union-attr]
            for row in rows:
                copy.write_row(row)
        return
    placeholders = ", ".join("?" * len(columns))
    conn.exec_driver_sql(f"INSERT INTO {table} ({names}) VALUES ({placeholders})", list(rows))
