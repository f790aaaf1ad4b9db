"""SQL of retention settings and pinned runs (the rules are in runhub.services.retention)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import Connection, RowMapping, delete, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from runhub.db.engine import id_chunks
from runhub.db.schema import automation_run_pins, automation_runs, project_retention

pins = automation_run_pins
runs = automation_runs


def retention_of(conn: Connection, project_id: int) -> RowMapping | None:
    query = select(project_retention).where(project_retention.c.project_id == project_id)
    return conn.execute(query).mappings().first()


def set_retention(
    conn: Connection,
    project_id: int,
    run_days: int | None,
    passed_detail_days: int | None,
    now: datetime,
    user_id: int | None,
) -> None:
    """Insert or replace the project's row (one statement: concurrent setters agree)."""
    values = {
        "run_days": run_days,
        "passed_detail_days": passed_detail_days,
        "updated_at": now,
        "updated_by": user_id,
    }
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = dialect_insert(project_retention).values(project_id=project_id, **values)
    stmt = stmt.on_conflict_do_update(index_elements=[project_retention.c.project_id], set_=values)
    conn.execute(stmt)


def all_retention(conn: Connection) -> list[RowMapping]:
    """The rows that keep something for a limited time, by project id."""
    query = (
        select(
            project_retention.c.project_id,
            project_retention.c.run_days,
            project_retention.c.passed_detail_days,
        )
        .where(
            or_(
                project_retention.c.run_days.is_not(None),
                project_retention.c.passed_detail_days.is_not(None),
            )
        )
        .order_by(project_retention.c.project_id)
    )
    return list(conn.execute(query).mappings())


def retention_of_projects(conn: Connection, project_ids: Collection[int]) -> dict[int, RowMapping]:
    out: dict[int, RowMapping] = {}
    for chunk in id_chunks(project_ids):
        query = select(project_retention).where(project_retention.c.project_id.in_(chunk))
        out.update((row["project_id"], row) for row in conn.execute(query).mappings())
    return out


# --- pins ---------------------------------------------------------------------------------


def pin_of(conn: Connection, run_id: int) -> RowMapping | None:
    return conn.execute(select(pins).where(pins.c.run_id == run_id)).mappings().first()


def pin(conn: Connection, run_id: int, project_id: int, now: datetime, user_id: int) -> None:
    """Pin the run; a pinned run keeps its first pin (who and when)."""
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = dialect_insert(pins).values(
        run_id=run_id, project_id=project_id, pinned_at=now, pinned_by=user_id
    )
    conn.execute(stmt.on_conflict_do_nothing(index_elements=[pins.c.run_id]))


def unpin(conn: Connection, run_id: int) -> bool:
    return conn.execute(delete(pins).where(pins.c.run_id == run_id)).rowcount > 0


def pinned_run_ids(conn: Connection, project_id: int) -> list[int]:
    query = select(pins.c.run_id).where(pins.c.project_id == project_id).order_by(pins.c.run_id)
    return list(conn.execute(query).scalars())


def pinned_among(conn: Connection, run_ids: Collection[int]) -> set[int]:
    out: set[int] = set()
    for chunk in id_chunks(run_ids):
        out.update(conn.execute(select(pins.c.run_id).where(pins.c.run_id.in_(chunk))).scalars())
    return out


def project_pins(
    conn: Connection, project_id: int, offset: int, limit: int
) -> tuple[int, list[RowMapping]]:
    """The project's pinned runs with each run's name, source and creation, newest pin first
    (the pins of runs that no longer exist are left out)."""
    joined = pins.join(runs, runs.c.id == pins.c.run_id)
    where = pins.c.project_id == project_id
    total = conn.execute(select(func.count()).select_from(joined).where(where)).scalar_one()
    query = (
        select(
            pins.c.run_id,
            pins.c.pinned_at,
            pins.c.pinned_by,
            runs.c.name,
            runs.c.source_id,
            runs.c.created_at,
            runs.c.is_completed,
        )
        .select_from(joined)
        .where(where)
        .order_by(pins.c.pinned_at.desc(), pins.c.run_id.desc())
        .offset(offset)
        .limit(limit)
    )
    return total, list(conn.execute(query).mappings())
