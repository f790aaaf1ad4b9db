"""SQL for statuses, configs, milestones and automation sources."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    RowMapping,
    Table,
    and_,
    delete,
    func,
    insert,
    literal,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import ColumnElement

from runhub.db.schema import (
    ELAPSED_SUM_MAX_US,
    automation_sources,
    configs,
    milestone_tags,
    milestones,
    saturating_add,
    status_aliases,
    statuses,
)


def all_statuses(conn: Connection) -> list[RowMapping]:
    return list(conn.execute(select(statuses).order_by(statuses.c.id)).mappings())


def all_aliases(conn: Connection) -> list[RowMapping]:
    query = select(status_aliases).order_by(status_aliases.c.status_id, status_aliases.c.alias)
    return list(conn.execute(query).mappings())


def get_or_create(
    conn: Connection, table: Table, match: dict[str, Any], defaults: dict[str, Any]
) -> int:
    """Id of the row matching `match` (a unique index), inserting it first if needed.

    INSERT ... ON CONFLICT DO NOTHING makes concurrent creators agree on one row.
    """
    where = and_(*(table.c[k] == v for k, v in match.items()))
    found = conn.execute(select(table.c.id).where(where)).scalar()
    if found is not None:
        return found
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    conn.execute(dialect_insert(table).values(**match, **defaults).on_conflict_do_nothing())
    return conn.execute(select(table.c.id).where(where)).scalar_one()


def source_id_for_name(
    conn: Connection, project_id: int, name: str, now: datetime, user_id: int
) -> int:
    return get_or_create(
        conn,
        automation_sources,
        {"project_id": project_id, "name": name},
        {"created_at": now, "created_by": user_id},
    )


def config_id_for_name(conn: Connection, project_id: int, name: str, now: datetime) -> int:
    return get_or_create(
        conn, configs, {"project_id": project_id, "name": name}, {"created_at": now}
    )


def config_in_project(conn: Connection, project_id: int, config_id: int) -> bool:
    query = select(configs.c.id).where(
        configs.c.id == config_id, configs.c.project_id == project_id
    )
    return conn.execute(query).first() is not None


def milestone_in_project(conn: Connection, project_id: int, milestone_id: int) -> bool:
    query = select(milestones.c.id).where(
        milestones.c.id == milestone_id, milestones.c.project_id == project_id
    )
    return conn.execute(query).first() is not None


def milestone_id_by_name(conn: Connection, project_id: int, name: str) -> int | None:
    query = (
        select(milestones.c.id)
        .where(milestones.c.project_id == project_id, milestones.c.name == name)
        .order_by(milestones.c.created_at.desc(), milestones.c.id.desc())
        .limit(1)
    )
    return conn.execute(query).scalar()


def milestone_for_tags(conn: Connection, project_id: int, tags: Sequence[str]) -> int | None:
    """The newest not-completed milestone whose automation tags share one of `tags`."""
    query = (
        select(milestones.c.id)
        .join(milestone_tags, milestone_tags.c.milestone_id == milestones.c.id)
        .where(
            milestone_tags.c.project_id == project_id,
            milestone_tags.c.tag.in_(list(tags)),
            milestones.c.is_completed.is_(False),
        )
        .order_by(milestones.c.created_at.desc(), milestones.c.id.desc())
        .limit(1)
    )
    return conn.execute(query).scalar()


def insert_milestone(conn: Connection, tags: Sequence[str], **values: Any) -> int:
    milestone_id = conn.execute(
        insert(milestones).values(**values).returning(milestones.c.id)
    ).scalar_one()
    if tags:
        conn.execute(
            insert(milestone_tags),
            [
                {"milestone_id": milestone_id, "tag": t, "project_id": values["project_id"]}
                for t in tags
            ],
        )
    return milestone_id


def milestone_by_id(conn: Connection, milestone_id: int) -> RowMapping | None:
    return (
        conn.execute(select(milestones).where(milestones.c.id == milestone_id)).mappings().first()
    )


def tags_of_milestones(conn: Connection, ids: Sequence[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {i: [] for i in ids}
    if ids:
        query = (
            select(milestone_tags.c.milestone_id, milestone_tags.c.tag)
            .where(milestone_tags.c.milestone_id.in_(ids))
            .order_by(milestone_tags.c.milestone_id, milestone_tags.c.tag)
        )
        for milestone_id, tag in conn.execute(query):
            out[milestone_id].append(tag)
    return out


def page_milestones(
    conn: Connection,
    project_id: int,
    conditions: list[ColumnElement[bool]],
    sort: str,
    descending: bool,
    offset: int,
    limit: int,
) -> tuple[int, list[RowMapping]]:
    where = and_(milestones.c.project_id == project_id, *conditions)
    total = conn.execute(select(func.count()).select_from(milestones).where(where)).scalar_one()
    column = milestones.c[sort]
    order = (column.desc(), milestones.c.id.desc()) if descending else (column, milestones.c.id)
    rows = conn.execute(
        select(milestones).where(where).order_by(*order).offset(offset).limit(limit)
    )
    return total, list(rows.mappings())


def milestone_tag_filter(tags: Sequence[str]) -> ColumnElement[bool]:
    return milestones.c.id.in_(
        select(milestone_tags.c.milestone_id).where(milestone_tags.c.tag.in_(list(tags)))
    )


def names_by_ids(conn: Connection, table: Table, ids: Sequence[int]) -> list[RowMapping]:
    if not ids:
        return []
    query = select(table.c.id, table.c.name).where(table.c.id.in_(list(ids))).order_by(table.c.id)
    return list(conn.execute(query).mappings())


def names_by_ids_of(
    conn: Connection, wanted: Mapping[str, tuple[Table, Sequence[int]]]
) -> dict[str, list[RowMapping]]:
    """names_by_ids() of several tables in one round trip: {key: (table, ids)} ->
    {key: rows by id} (a UNION ALL; each branch reads its table's primary key)."""
    out: dict[str, list[RowMapping]] = {key: [] for key in wanted}
    parts = [
        select(literal(key).label("kind"), table.c.id, table.c.name).where(
            table.c.id.in_(list(ids))
        )
        for key, (table, ids) in wanted.items()
        if ids
    ]
    if parts:
        query = union_all(*parts) if len(parts) > 1 else parts[0]
        for row in conn.execute(query).mappings():
            out[row["kind"]].append(row)
        for rows in out.values():
            rows.sort(key=lambda r: r["id"])
    return out


def source_by_id(conn: Connection, source_id: int) -> RowMapping | None:
    query = select(automation_sources).where(automation_sources.c.id == source_id)
    return conn.execute(query).mappings().first()


def page_sources(
    conn: Connection,
    project_id: int,
    is_retired: bool | None,
    sort: str,
    descending: bool,
    offset: int,
    limit: int,
) -> tuple[int, list[RowMapping]]:
    t = automation_sources
    where = and_(
        t.c.project_id == project_id,
        *([t.c.is_retired.is_(is_retired)] if is_retired is not None else []),
    )
    total = conn.execute(select(func.count()).select_from(t).where(where)).scalar_one()
    column = t.c[sort]
    order = (column.desc(), t.c.id.desc()) if descending else (column, t.c.id)
    rows = conn.execute(select(t).where(where).order_by(*order).offset(offset).limit(limit))
    return total, list(rows.mappings())


def record_source_run(conn: Connection, source_id: int, now: datetime) -> None:
    t = automation_sources
    conn.execute(
        update(t).where(t.c.id == source_id).values(run_count=t.c.run_count + 1, ran_at=now)
    )


def record_source_completion(
    conn: Connection,
    source_id: int,
    status: int,
    tests: int,
    elapsed: int,
    now: datetime,
    user_id: int,
) -> None:
    t = automation_sources
    conn.execute(
        update(t)
        .where(t.c.id == source_id)
        .values(
            completed_run_count=t.c.completed_run_count + 1,
            test_count_sum=t.c.test_count_sum + tests,
            elapsed_sum=saturating_add(t.c.elapsed_sum, elapsed, ELAPSED_SUM_MAX_US),
            status=status,
            updated_at=now,
            updated_by=user_id,
        )
    )


def project_source_counts(conn: Connection, project_id: int) -> tuple[int, int]:
    t = automation_sources
    query = select(func.count(), func.count().filter(t.c.is_retired.is_(True))).where(
        t.c.project_id == project_id
    )
    total, retired = conn.execute(query).one()
    return total, retired


def project_milestone_counts(conn: Connection, project_id: int) -> tuple[int, int]:
    t = milestones
    query = select(func.count(), func.count().filter(t.c.is_completed.is_(True))).where(
        t.c.project_id == project_id
    )
    total, completed = conn.execute(query).one()
    return total, completed


def insert_status(conn: Connection, **values: Any) -> None:
    conn.execute(insert(statuses).values(**values))


def update_status(conn: Connection, status_id: int, **values: Any) -> None:
    conn.execute(update(statuses).where(statuses.c.id == status_id).values(**values))


def replace_aliases(conn: Connection, status_id: int, aliases: Sequence[str]) -> None:
    conn.execute(delete(status_aliases).where(status_aliases.c.status_id == status_id))
    if aliases:
        conn.execute(
            insert(status_aliases), [{"alias": a, "status_id": status_id} for a in aliases]
        )
