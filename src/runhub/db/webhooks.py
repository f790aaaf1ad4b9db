"""SQL of webhooks: endpoints, the delivery outbox and attempts (the rules are in
runhub.services.webhooks and runhub.services.webhook_delivery)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, and_, delete, func, insert, select, update

from runhub.db.engine import id_chunks
from runhub.db.schema import (
    analysis_queue,
    automation_case_health,
    automation_cases,
    automation_runs,
    failure_group_runs,
    failure_groups,
    webhook_attempts,
    webhook_deliveries,
    webhook_endpoints,
)

endpoints = webhook_endpoints
deliveries = webhook_deliveries
attempts = webhook_attempts

PENDING, DELIVERED, FAILED = 1, 2, 3

# --- endpoints -------------------------------------------------------------------------------


def insert_endpoint(conn: Connection, **values: Any) -> int:
    return conn.execute(insert(endpoints).values(**values).returning(endpoints.c.id)).scalar_one()


def endpoint_by_id(conn: Connection, endpoint_id: int) -> RowMapping | None:
    query = select(endpoints).where(endpoints.c.id == endpoint_id)
    return conn.execute(query).mappings().first()


def update_endpoint(conn: Connection, endpoint_id: int, **values: Any) -> None:
    conn.execute(update(endpoints).where(endpoints.c.id == endpoint_id).values(**values))


def delete_endpoint(conn: Connection, endpoint_id: int) -> None:
    """The endpoint, its deliveries and their attempts."""
    of_endpoint = select(deliveries.c.id).where(deliveries.c.endpoint_id == endpoint_id)
    conn.execute(delete(attempts).where(attempts.c.delivery_id.in_(of_endpoint)))
    conn.execute(delete(deliveries).where(deliveries.c.endpoint_id == endpoint_id))
    conn.execute(delete(endpoints).where(endpoints.c.id == endpoint_id))


def project_endpoints(
    conn: Connection, project_id: int, offset: int = 0, limit: int | None = None
) -> tuple[int, list[RowMapping]]:
    where = endpoints.c.project_id == project_id
    total = conn.execute(select(func.count()).select_from(endpoints).where(where)).scalar_one()
    query = select(endpoints).where(where).order_by(endpoints.c.id).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return total, list(conn.execute(query).mappings())


def active_endpoints(conn: Connection, project_id: int) -> list[RowMapping]:
    """The project's active endpoints (index project_id, id): the one query an event costs
    a project without webhooks."""
    query = select(endpoints.c.id, endpoints.c.events).where(
        endpoints.c.project_id == project_id, endpoints.c.is_active.is_(True)
    )
    return list(conn.execute(query.order_by(endpoints.c.id)).mappings())


def fail_pending(conn: Connection, endpoint_id: int) -> None:
    """End an endpoint's pending deliveries as failed (it was deactivated)."""
    conn.execute(
        update(deliveries)
        .where(deliveries.c.endpoint_id == endpoint_id, deliveries.c.state == PENDING)
        .values(state=FAILED, next_attempt_at=None)
    )


# --- the outbox ------------------------------------------------------------------------------


def insert_deliveries(conn: Connection, rows: Sequence[dict[str, Any]]) -> list[int]:
    ids = []
    for row in rows:  # few rows (one per subscribed endpoint); ids in order
        query = insert(deliveries).values(**row).returning(deliveries.c.id)
        ids.append(conn.execute(query).scalar_one())
    return ids


def any_due(conn: Connection, now: datetime) -> bool:
    """Whether a delivery is due (a read, so an idle worker never takes a write lock)."""
    query = select(deliveries.c.id).where(_due(now)).limit(1)
    return conn.execute(query).first() is not None


def _due(now: datetime) -> Any:
    return and_(deliveries.c.state == PENDING, deliveries.c.next_attempt_at <= now)


def claim_due(conn: Connection, now: datetime, lease_until: datetime, limit: int) -> list[int]:
    """Take up to `limit` due deliveries for this worker: their next_attempt_at moves to
    `lease_until`, so no other worker takes them before then (PostgreSQL: rows another
    transaction is claiming are skipped; SQLite: the write transaction excludes others)."""
    query = select(deliveries.c.id).where(_due(now)).order_by(deliveries.c.next_attempt_at)
    query = query.limit(limit)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list(conn.execute(query).scalars())
    if ids:
        conn.execute(
            update(deliveries).where(deliveries.c.id.in_(ids)).values(next_attempt_at=lease_until)
        )
    return ids


def deliveries_with_endpoints(conn: Connection, ids: Collection[int]) -> list[RowMapping]:
    """The deliveries with their endpoint's url, secret, format and active flag."""
    query = (
        select(
            deliveries,
            endpoints.c.url,
            endpoints.c.secret,
            endpoints.c.format,
            endpoints.c.is_active,
        )
        .join(endpoints, endpoints.c.id == deliveries.c.endpoint_id)
        .where(deliveries.c.id.in_(sorted(ids)))
        .order_by(deliveries.c.id)
    )
    return list(conn.execute(query).mappings())


def record_attempt(
    conn: Connection,
    delivery_id: int,
    *,
    attempted_at: datetime,
    response_code: int | None,
    error: str | None,
    elapsed_ms: int,
    state: int,
    next_attempt_at: datetime | None,
) -> None:
    conn.execute(
        insert(attempts).values(
            delivery_id=delivery_id,
            attempted_at=attempted_at,
            response_code=response_code,
            error=error[:500] if error else None,
            elapsed_ms=elapsed_ms,
        )
    )
    values: dict[str, Any] = {
        "attempts": deliveries.c.attempts + 1,
        "state": state,
        "next_attempt_at": next_attempt_at,
        "last_response_code": response_code,
    }
    if state == DELIVERED:
        values["delivered_at"] = attempted_at
    conn.execute(
        update(deliveries)
        .where(deliveries.c.id == delivery_id, deliveries.c.state == PENDING)
        .values(**values)
    )


def delivery_by_id(conn: Connection, delivery_id: int) -> RowMapping | None:
    query = select(deliveries).where(deliveries.c.id == delivery_id)
    return conn.execute(query).mappings().first()


def endpoint_deliveries(
    conn: Connection, endpoint_id: int, offset: int, limit: int
) -> tuple[int, list[RowMapping]]:
    """A page of an endpoint's deliveries, newest first (without payloads)."""
    where = deliveries.c.endpoint_id == endpoint_id
    total = conn.execute(select(func.count()).select_from(deliveries).where(where)).scalar_one()
    columns = [c for c in deliveries.c if c.name != "payload"]
    query = select(*columns).where(where).order_by(deliveries.c.id.desc())
    return total, list(conn.execute(query.offset(offset).limit(limit)).mappings())


def attempts_of(conn: Connection, delivery_ids: Collection[int]) -> dict[int, list[RowMapping]]:
    found: dict[int, list[RowMapping]] = {i: [] for i in delivery_ids}
    for chunk in id_chunks(delivery_ids):
        query = select(attempts).where(attempts.c.delivery_id.in_(chunk)).order_by(attempts.c.id)
        for row in conn.execute(query).mappings():
            found[row["delivery_id"]].append(row)
    return found


def prune_finished(conn: Connection, before: datetime) -> int:
    """Forget delivered and failed deliveries created before `before`, with their attempts."""
    old = select(deliveries.c.id).where(
        deliveries.c.state != PENDING, deliveries.c.created_at < before
    )
    ids = list(conn.execute(old.limit(1000)).scalars())
    if ids:
        conn.execute(delete(attempts).where(attempts.c.delivery_id.in_(ids)))
        conn.execute(delete(deliveries).where(deliveries.c.id.in_(ids)))
    return len(ids)


# --- what events read ------------------------------------------------------------------------


def queued_by_completion(conn: Connection, run_id: int) -> bool:
    """Whether the queued run was queued by its completion (queued_at is its completed_at),
    not again by `runhub db reanalyze` (whose folds send no events)."""
    query = (
        select(analysis_queue.c.run_id)
        .join(automation_runs, automation_runs.c.id == analysis_queue.c.run_id)
        .where(
            analysis_queue.c.run_id == run_id,
            analysis_queue.c.queued_at == automation_runs.c.completed_at,
        )
    )
    return conn.execute(query).first() is not None


def health_states(conn: Connection, case_ids: Collection[int], branch: str) -> dict[int, int]:
    """case id -> stored health state on `branch`, for the given cases."""
    found: dict[int, int] = {}
    health = automation_case_health
    for chunk in id_chunks(case_ids):
        query = select(health.c.case_id, health.c.state).where(
            health.c.branch == branch, health.c.case_id.in_(chunk)
        )
        found.update({case_id: state for case_id, state in conn.execute(query)})
    return found


def cases_by_ids(conn: Connection, case_ids: Collection[int]) -> dict[int, RowMapping]:
    found: dict[int, RowMapping] = {}
    cases = automation_cases
    for chunk in id_chunks(case_ids):
        query = select(
            cases.c.id, cases.c.key, cases.c.name, cases.c.folder, cases.c.source_id
        ).where(cases.c.id.in_(chunk))
        found.update({row["id"]: row for row in conn.execute(query).mappings()})
    return found


def new_groups_of_run(conn: Connection, run_id: int) -> list[RowMapping]:
    """The failure groups first seen in the run, largest first: id, title, count."""
    query = (
        select(failure_groups.c.id, failure_groups.c.title, failure_group_runs.c.count)
        .join(failure_group_runs, failure_group_runs.c.group_id == failure_groups.c.id)
        .where(failure_group_runs.c.run_id == run_id, failure_groups.c.first_seen_run_id == run_id)
        .order_by(failure_group_runs.c.count.desc(), failure_groups.c.id)
    )
    return list(conn.execute(query).mappings())
