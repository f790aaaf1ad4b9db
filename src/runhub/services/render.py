"""API object shapes (reference §6) built from database rows."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from runhub.services.access import ROLE_IDS
from runhub.services.statuses import StatusTable
from runhub.timeutil import render as ts

Row = Mapping[Any, Any]  # a database row (SQLAlchemy RowMapping)

# Users have no display preferences in runhub yet; Testmo always sends strings here.
DEFAULT_TIMEZONE = "UTC"
DEFAULT_DATE_FORMAT = "YYYY-MM-DD"
DEFAULT_TIME_FORMAT = "HH:mm"


def field(row: Row) -> dict[str, Any]:
    meta = row["meta"]
    return {
        "type": row["type"],
        "name": row["name"],
        "value": row["value"],
        "meta": json.loads(meta) if meta else None,
        "is_highlight": bool(row["is_highlight"]),
    }


def artifact(row: Row) -> dict[str, Any]:
    return {
        "name": row["name"],
        "note": row["note"],
        "url": row["url"],
        "mime_type": row["mime_type"],
        "size": row["size"],
    }


def link(row: Row) -> dict[str, Any]:
    return {"name": row["name"], "note": row["note"], "url": row["url"]}


def thread_elapsed(row: Row) -> int:
    observed = row["elapsed_observed"] or 0
    return observed if observed > 0 else (row["elapsed_computed"] or 0)


def thread(
    row: Row,
    table: StatusTable,
    fields: Iterable[dict],
    artifacts: Iterable[dict],
) -> dict[str, Any]:
    return {
        "id": row["id"],
        "index": row["index"],
        "name": f"Thread {row['index']}",
        "status": row["status"],
        "elapsed": thread_elapsed(row),
        "is_completed": bool(row["is_completed"]),
        "artifacts": list(artifacts),
        "fields": list(fields),
        **table.counts_of(row),
        "created_at": ts(row["created_at"]),
        "created_by": row["created_by"],
        "completed_at": ts(row["completed_at"]),
        "completed_by": row["completed_by"],
    }


def run(
    row: Row,
    table: StatusTable,
    tags: list[str],
    totals: Row | None,
) -> dict[str, Any]:
    """A run's scalar properties and tags (list item); get-one adds resources and threads."""
    totals = totals or {}
    thread_count = int(totals.get("thread_count") or 0)
    thread_completed = int(totals.get("thread_completed_count") or 0)
    return {
        "id": row["id"],
        "project_id": row["project_id"],
        "source_id": row["source_id"],
        "name": row["name"],
        "status": row["status"],
        "config_id": row["config_id"],
        "milestone_id": row["milestone_id"],
        "elapsed": row["elapsed"],
        "is_completed": bool(row["is_completed"]),
        "tags": tags,
        **table.counts_of(totals),
        "thread_count": thread_count,
        "thread_active_count": thread_count - thread_completed,
        "thread_completed_count": thread_completed,
        "created_at": ts(row["created_at"]),
        "created_by": row["created_by"],
        "updated_at": ts(row["updated_at"]),
        "updated_by": row["updated_by"],
        "completed_at": ts(row["completed_at"]),
        "completed_by": row["completed_by"],
    }


def source(row: Row) -> dict[str, Any]:
    completed = row["completed_run_count"] or 0
    return {
        "id": row["id"],
        "project_id": row["project_id"],
        "name": row["name"],
        "status": row["status"],
        "is_retired": bool(row["is_retired"]),
        "run_count": row["run_count"],
        "test_count_average": round(row["test_count_sum"] / completed) if completed else 0,
        "elapsed_average": round(row["elapsed_sum"] / completed) if completed else 0,
        "ran_at": ts(row["ran_at"]),
        "created_at": ts(row["created_at"]),
        "created_by": row["created_by"],
        "updated_at": ts(row["updated_at"]),
        "updated_by": row["updated_by"],
        "retired_at": ts(row["retired_at"]),
        "retired_by": row["retired_by"],
    }


def milestone(row: Row, tags: list[str]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "project_id": row["project_id"],
        "root_id": row["root_id"] or row["id"],
        "parent_id": row["parent_id"],
        "type_id": row["type_id"],
        "name": row["name"],
        "note": row["note"],
        "is_started": bool(row["is_started"]),
        "is_completed": bool(row["is_completed"]),
        "start_date": row["start_date"],
        "due_date": row["due_date"],
        "automation_tags": tags,
        "issues": [],
        "links": [],
        "started_at": ts(row["started_at"]),
        "created_at": ts(row["created_at"]),
        "created_by": row["created_by"],
        "updated_at": ts(row["updated_at"]),
        "updated_by": row["updated_by"],
        "completed_at": ts(row["completed_at"]),
    }


def user(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "email": row["email"],
        "type": 1,
        "timezone": row["timezone"] or DEFAULT_TIMEZONE,
        "date_format": DEFAULT_DATE_FORMAT,
        "time_format": DEFAULT_TIME_FORMAT,
        "notifications": 1,
        "tfa_enabled": False,
        "is_active": bool(row["is_active"]),
        "is_forgotten": False,
        "is_api": bool(row["is_api"]),
        "role_id": ROLE_IDS.get(row["role"], 3),
        "groups": [],
        "created_at": ts(row["created_at"]),
        "created_by": row["created_by"],
        "updated_at": ts(row["updated_at"]),
        "updated_by": row["updated_by"],
    }


def current_user(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "timezone": row["timezone"] or DEFAULT_TIMEZONE,
        "date_format": DEFAULT_DATE_FORMAT,
        "time_format": DEFAULT_TIME_FORMAT,
    }
