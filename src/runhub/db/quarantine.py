"""SQL of quarantine entries (the rules are in runhub.services.quarantine)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, and_, case, func, insert, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from runhub.db.engine import id_chunks
from runhub.db.schema import automation_cases, quarantine_entries

entries = quarantine_entries
cases = automation_cases


def is_active(now: datetime) -> ColumnElement[bool]:
    return and_(
        entries.c.removed_at.is_(None),
        or_(entries.c.expires_at.is_(None), entries.c.expires_at > now),
    )


def lock_case(conn: Connection, case_id: int) -> RowMapping | None:
    """The case, its row locked on PostgreSQL (SQLite's writer lock already serialises),
    so that two requests cannot both add the one active entry."""
    query = select(cases).where(cases.c.id == case_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return conn.execute(query).mappings().first()


def case_by_key(conn: Connection, source_id: int, key: str) -> int | None:
    query = select(cases.c.id).where(cases.c.source_id == source_id, cases.c.key == key)
    return conn.execute(query).scalar()


def active_for_case(conn: Connection, case_id: int, now: datetime) -> int | None:
    query = select(entries.c.id).where(entries.c.case_id == case_id, is_active(now))
    return conn.execute(query.order_by(entries.c.id).limit(1)).scalar()


def insert_entry(conn: Connection, **values: Any) -> int:
    return conn.execute(insert(entries).values(**values).returning(entries.c.id)).scalar_one()


def entry_by_id(conn: Connection, entry_id: int) -> RowMapping | None:
    return conn.execute(select(entries).where(entries.c.id == entry_id)).mappings().first()


def is_expired(now: datetime) -> ColumnElement[bool]:
    return and_(
        entries.c.removed_at.is_(None),
        entries.c.expires_at.is_not(None),
        entries.c.expires_at <= now,
    )


# The views of the record: active, expired (its end date passed) and removed (ended).
STATES = ("active", "expired", "removed")


def in_state(state: str, now: datetime) -> ColumnElement[bool]:
    """Entries in one of STATES, or "inactive" (expired or removed: the API's active=false)."""
    if state == "active":
        return is_active(now)
    if state == "expired":
        return is_expired(now)
    if state == "removed":
        return entries.c.removed_at.is_not(None)
    return ~is_active(now)


def end_entry(conn: Connection, entry_id: int, now: datetime, user_id: int) -> None:
    """Set removed_at/by of an active entry; an ended or expired one stays as it is."""
    conn.execute(
        update(entries)
        .where(entries.c.id == entry_id, is_active(now))
        .values(removed_at=now, removed_by=user_id)
    )


def list_entries(
    conn: Connection,
    project_id: int,
    now: datetime,
    *,
    state: str,
    source_ids: Sequence[int] | None,
    case_ids: Sequence[int] | None,
    modes: Collection[int] | None,
    offset: int,
    limit: int,
) -> tuple[int, list[RowMapping]]:
    """A page of the project's entries in `state` (see in_state), newest first."""
    where = and_(_filters(project_id, source_ids, case_ids, modes), in_state(state, now))
    total = conn.execute(select(func.count()).select_from(entries).where(where)).scalar_one()
    query = (
        select(entries, cases.c.key, cases.c.name, cases.c.folder)
        .join(cases, cases.c.id == entries.c.case_id)
        .where(where)
        .order_by(entries.c.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return total, list(conn.execute(query).mappings())


def _filters(
    project_id: int,
    source_ids: Sequence[int] | None,
    case_ids: Sequence[int] | None,
    modes: Collection[int] | None,
) -> ColumnElement[bool]:
    conditions = [entries.c.project_id == project_id]
    if source_ids:
        conditions.append(entries.c.source_id.in_(list(source_ids)))
    if case_ids:
        conditions.append(entries.c.case_id.in_(list(case_ids)))
    if modes:
        conditions.append(entries.c.mode.in_(sorted(modes)))
    return and_(*conditions)


def state_counts(
    conn: Connection,
    project_id: int,
    now: datetime,
    *,
    source_ids: Sequence[int] | None,
    modes: Collection[int] | None,
) -> dict[str, int]:
    """How many of the project's entries are in each of STATES (one grouped count)."""
    state = case(
        (entries.c.removed_at.is_not(None), "removed"),
        (is_expired(now), "expired"),
        else_="active",
    ).label("state")
    query = (
        select(state, func.count())
        .where(_filters(project_id, source_ids, None, modes))
        .group_by(state)
    )
    found = dict.fromkeys(STATES, 0)
    found.update({name: count for name, count in conn.execute(query)})
    return found


def active_of_source(
    conn: Connection, project_id: int, source_id: int, now: datetime
) -> dict[int, int]:
    """case id -> mode of every active entry of a source (index project_id, source_id, id:
    it reads the source's entries, ended ones included, which are few)."""
    query = select(entries.c.case_id, entries.c.mode).where(
        entries.c.project_id == project_id, entries.c.source_id == source_id, is_active(now)
    )
    return {case_id: mode for case_id, mode in conn.execute(query)}


def case_entries(conn: Connection, case_id: int) -> list[RowMapping]:
    """Every entry of a case, newest first (its audit record)."""
    query = select(entries).where(entries.c.case_id == case_id).order_by(entries.c.id.desc())
    return list(conn.execute(query).mappings())


def active_modes(conn: Connection, case_ids: Collection[int], now: datetime) -> dict[int, int]:
    """case id -> mode of its active entry, for the given cases."""
    found: dict[int, int] = {}
    for chunk in id_chunks(case_ids):
        query = select(entries.c.case_id, entries.c.mode).where(
            entries.c.case_id.in_(chunk), is_active(now)
        )
        found.update({case_id: mode for case_id, mode in conn.execute(query)})
    return found
