"""Depths of the background stages' queues, read at scrape time for /metrics."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Select, func, select

from runhub.db.schema import (
    analysis_queue,
    automation_run_batches,
    prune_queue,
    webhook_deliveries,
)
from runhub.db.webhooks import PENDING


@dataclass(frozen=True)
class QueueDepth:
    """One queue: its label on `runhub_queue_depth` and the query counting its items."""

    queue: str
    description: str
    query: Select


QUEUE_DEPTHS: list[QueueDepth] = [
    QueueDepth(
        "expansion_batches",
        "appended batches not yet expanded into results",
        select(func.count()).select_from(automation_run_batches),
    ),
    QueueDepth(
        "expansion_tests",
        "tests in the appended batches not yet expanded",
        select(func.coalesce(func.sum(automation_run_batches.c.test_count), 0)),
    ),
    QueueDepth(
        "analysis_runs",
        "completed runs waiting to be folded into case health",
        select(func.count()).select_from(analysis_queue),
    ),
    QueueDepth(
        "webhook_deliveries",
        "webhook deliveries not yet delivered (due or waiting to be retried)",
        select(func.count()).where(webhook_deliveries.c.state == PENDING),
    ),
    QueueDepth(
        "prune_runs",
        "runs whose rows retention still has to remove",
        select(func.count()).select_from(prune_queue),
    ),
]


def queue_depths(conn: Connection) -> dict[str, int]:
    """Each queue's depth, by its label."""
    return {q.queue: int(conn.execute(q.query).scalar_one()) for q in QUEUE_DEPTHS}
