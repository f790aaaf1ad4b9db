"""SQL for users, API tokens, projects and project membership."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, and_, delete, func, insert, select, update

from runhub.db.schema import api_tokens, project_members, projects, users


def count_users(conn: Connection) -> int:
    return conn.execute(select(func.count()).select_from(users)).scalar_one()


def insert_user(conn: Connection, **values: Any) -> int:
    return conn.execute(insert(users).values(**values).returning(users.c.id)).scalar_one()


def user_by_email(conn: Connection, email: str) -> RowMapping | None:
    return conn.execute(select(users).where(users.c.email == email)).mappings().first()


def user_by_id(conn: Connection, user_id: int) -> RowMapping | None:
    return conn.execute(select(users).where(users.c.id == user_id)).mappings().first()


def users_by_ids(conn: Connection, ids: Sequence[int]) -> list[RowMapping]:
    if not ids:
        return []
    query = select(users.c.id, users.c.name).where(users.c.id.in_(ids)).order_by(users.c.id)
    return list(conn.execute(query).mappings())


def page_users(conn: Connection, offset: int, limit: int) -> tuple[int, list[RowMapping]]:
    total = conn.execute(select(func.count()).select_from(users)).scalar_one()
    rows = conn.execute(select(users).order_by(users.c.id).offset(offset).limit(limit))
    return total, list(rows.mappings())


def insert_token(conn: Connection, **values: Any) -> int:
    query = insert(api_tokens).values(**values).returning(api_tokens.c.id)
    return conn.execute(query).scalar_one()


def user_for_token_hash(conn: Connection, token_hash: str) -> RowMapping | None:
    """The active user owning an unrevoked token with this hash."""
    query = (
        select(
            users.c.id, users.c.name, users.c.role, users.c.email, api_tokens.c.id.label("token_id")
        )
        .join(api_tokens, api_tokens.c.user_id == users.c.id)
        .where(
            api_tokens.c.token_hash == token_hash,
            api_tokens.c.revoked_at.is_(None),
            users.c.is_active.is_(True),
        )
    )
    return conn.execute(query).mappings().first()


def tokens_of_user(conn: Connection, user_id: int) -> list[RowMapping]:
    query = select(api_tokens).where(api_tokens.c.user_id == user_id).order_by(api_tokens.c.id)
    return list(conn.execute(query).mappings())


def revoke_token(conn: Connection, token_id: int, now: datetime) -> int:
    query = (
        update(api_tokens)
        .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return conn.execute(query).rowcount


def token_by_id(conn: Connection, token_id: int) -> RowMapping | None:
    return conn.execute(select(api_tokens).where(api_tokens.c.id == token_id)).mappings().first()


def insert_project(conn: Connection, **values: Any) -> int:
    return conn.execute(insert(projects).values(**values).returning(projects.c.id)).scalar_one()


def project_by_id(conn: Connection, project_id: int) -> RowMapping | None:
    return conn.execute(select(projects).where(projects.c.id == project_id)).mappings().first()


def is_member(conn: Connection, project_id: int, user_id: int) -> bool:
    query = select(project_members.c.user_id).where(
        project_members.c.project_id == project_id, project_members.c.user_id == user_id
    )
    return conn.execute(query).first() is not None


def add_member(conn: Connection, project_id: int, user_id: int, now: datetime) -> bool:
    if is_member(conn, project_id, user_id):
        return False
    conn.execute(
        insert(project_members).values(project_id=project_id, user_id=user_id, created_at=now)
    )
    return True


def page_projects(
    conn: Connection,
    *,
    member_id: int | None,
    is_completed: bool | None,
    sort: str,
    descending: bool,
    offset: int,
    limit: int,
) -> tuple[int, list[RowMapping]]:
    conditions = []
    if member_id is not None:
        members = select(project_members.c.project_id).where(project_members.c.user_id == member_id)
        conditions.append(projects.c.id.in_(members))
    if is_completed is not None:
        conditions.append(projects.c.is_completed.is_(is_completed))
    where = and_(True, *conditions)
    total = conn.execute(select(func.count()).select_from(projects).where(where)).scalar_one()
    column = projects.c[sort]
    order = (column.desc(), projects.c.id.desc()) if descending else (column, projects.c.id)
    rows = conn.execute(select(projects).where(where).order_by(*order).offset(offset).limit(limit))
    return total, list(rows.mappings())


def page_project_users(
    conn: Connection, project_id: int, offset: int, limit: int
) -> tuple[int, list[RowMapping]]:
    where = project_members.c.project_id == project_id
    total = conn.execute(
        select(func.count()).select_from(project_members).where(where)
    ).scalar_one()
    query = (
        select(users.c.id, users.c.name)
        .join(project_members, project_members.c.user_id == users.c.id)
        .where(where)
        .order_by(users.c.id)
        .offset(offset)
        .limit(limit)
    )
    return total, list(conn.execute(query).mappings())


def update_user(conn: Connection, user_id: int, **values: Any) -> None:
    conn.execute(update(users).where(users.c.id == user_id).values(**values))


def all_users(conn: Connection) -> list[RowMapping]:
    return list(conn.execute(select(users).order_by(users.c.email)).mappings())


def all_projects(conn: Connection) -> list[RowMapping]:
    return list(conn.execute(select(projects).order_by(projects.c.name, projects.c.id)).mappings())


def visible_projects(conn: Connection, user_id: int | None) -> list[RowMapping]:
    """Every project (user_id None: an admin) or the projects the user is a member of."""
    query = select(projects).order_by(projects.c.name, projects.c.id)
    if user_id is not None:
        members = select(project_members.c.project_id).where(project_members.c.user_id == user_id)
        query = query.where(projects.c.id.in_(members))
    return list(conn.execute(query).mappings())


def members_of_projects(conn: Connection) -> dict[int, list[RowMapping]]:
    query = (
        select(project_members.c.project_id, users.c.id, users.c.name, users.c.email)
        .join(users, users.c.id == project_members.c.user_id)
        .order_by(project_members.c.project_id, users.c.email)
    )
    out: dict[int, list[RowMapping]] = {}
    for row in conn.execute(query).mappings():
        out.setdefault(row["project_id"], []).append(row)
    return out


def remove_member(conn: Connection, project_id: int, user_id: int) -> bool:
    query = delete(project_members).where(
        project_members.c.project_id == project_id, project_members.c.user_id == user_id
    )
    return conn.execute(query).rowcount > 0
