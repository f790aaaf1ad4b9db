"""Failure groups: the failed results of a completed run grouped by the signature of their
failure text, kept per project with first and last seen (README "Failure groups").

Grouping happens off the append path, when the health analysis folds a completed run in
(services.health.analyze_pending), in the same transaction. A run is grouped once;
`runhub db reanalyze` forgets every group and groups all runs again in id order.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, RowMapping

from runhub.db import failure_groups as db
from runhub.db import runs as runs_db
from runhub.db.engine import read_tx, write_tx
from runhub.errors import NotFound
from runhub.services import failure_categories
from runhub.services.access import Principal, require_write, visible_project
from runhub.services.failure_categories import Category, allure_status, category_of
from runhub.services.failure_signature import signature
from runhub.services.paging import PageRequest, envelope
from runhub.services.runs import visible_run
from runhub.services.statuses import StatusTable
from runhub.timeutil import render as ts
from runhub.timeutil import utcnow

SAMPLE_MESSAGE_CHARS = 4_000
SAMPLE_TEXT_CHARS = 16_000
TOP_DAYS = 14


def group_run(conn: Connection, run_id: int) -> int:
    """Group the failed results of a completed run (once); returns how many were grouped."""
    run = runs_db.run_by_id(conn, run_id)
    if run is None or not run["is_completed"] or db.is_grouped(conn, run_id):
        return 0
    table = StatusTable.cached(conn)
    failed = db.failed_results(conn, run_id, table.failed_ids)
    if not failed:
        return 0
    texts = db.failure_fields(conn, [r["id"] for r in failed])
    system_names = {r["id"]: r["system_name"] for r in table.rows}
    new: dict[str, dict[str, Any]] = {}
    digest_of: list[str] = []
    for result in failed:
        message, text, exception_type = failure_text(texts.get(result["id"], []))
        sig = signature(
            message,
            text,
            exception_type=exception_type,
            test_name=result["name"],
            folder=result["folder"],
        )
        digest = sig.digest
        digest_of.append(digest)
        if digest not in new:
            new[digest] = {
                "project_id": run["project_id"],
                "digest": digest,
                "signature": sig.key,
                "title": sig.title,
                "sample_test_id": result["id"],
                "sample_status": allure_status(system_names.get(result["status_id"], "")),
                "sample_message": (message or sig.raw_message)[:SAMPLE_MESSAGE_CHARS] or None,
                "sample_text": (text or "")[:SAMPLE_TEXT_CHARS] or None,
                "first_seen_run_id": run_id,
                "first_seen_at": run["created_at"],
                "last_seen_run_id": run_id,
                "last_seen_at": run["created_at"],
                "run_count": 0,
                "result_count": 0,
            }
    ids = db.ensure_groups(conn, run["project_id"], list(new.values()))
    members: dict[int, list[tuple[int, int]]] = {}
    for result, digest in zip(failed, digest_of, strict=True):
        members.setdefault(ids[digest], []).append((result["id"], result["case_id"]))
    db.record_run(conn, run, members, run["created_at"])
    return len(failed)


def failure_text(fields: list[RowMapping]) -> tuple[str | None, str | None, str | None]:
    """(message, text, exception type) of a result: its first highlighted text or console
    field (else its first such field), the message and type from the field's meta."""
    if not fields:
        return None, None, None
    field = fields[0]
    meta: dict[str, Any] = {}
    if field["meta"]:
        try:
            decoded = json.loads(field["meta"])
        except ValueError:
            decoded = None
        meta = decoded if isinstance(decoded, dict) else {}
    message, exception_type = meta.get("message"), meta.get("type")
    return (
        message if isinstance(message, str) else None,
        field["value"],
        exception_type if isinstance(exception_type, str) else None,
    )


# --- reading ---------------------------------------------------------------------------------


def _item(row: Any, category: str | None, case_ids: list[int]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "title": row["title"],
        "signature": row["signature"],
        "count": row["count"],
        "case_ids": case_ids,
        "first_seen_run_id": row["first_seen_run_id"],
        "first_seen_at": ts(row["first_seen_at"]),
        "last_seen_run_id": row["last_seen_run_id"],
        "run_count": row["run_count"],
        "is_new": row["is_new"],
        "category": category,
    }


def _labels(conn: Connection, project_id: int, group_ids: list[int]) -> dict[int, str | None]:
    """Each group's category under the project's categories (none: no sample is read)."""
    categories = _categories(conn, project_id)
    if not categories:
        return {}
    return {
        group_id: category_of(
            categories, row["sample_status"], row["sample_message"], row["sample_text"]
        )
        for group_id, row in db.samples(conn, group_ids).items()
    }


def run_groups(engine: Engine, who: Principal, run_id: int, page: PageRequest) -> dict[str, Any]:
    """A page of the run's failure groups, largest first, each with its failures here."""
    with read_tx(engine) as conn:
        run = visible_run(conn, who, run_id)
        total, rows = db.run_groups(conn, run_id, page.offset, page.per_page)
        labels = _labels(conn, run["project_id"], [r["id"] for r in rows])
    items = []
    for row in rows:
        is_new = row["first_seen_run_id"] == run_id
        case_ids = json.loads(row["case_ids"])
        item = _item({**row, "is_new": is_new}, labels.get(row["id"]), case_ids)
        item["test_ids"] = json.loads(row["test_ids"])
        items.append(item)
    return envelope(page, total, items)


def project_groups(
    engine: Engine,
    who: Principal,
    project_id: int,
    page: PageRequest,
    *,
    source_ids: list[int] | None,
    created_after: datetime | None,
) -> dict[str, Any]:
    """A page of the project's failure groups, most recently seen first. `count` is the
    group's failures in its last seen run; `is_new`, whether that run is its only one."""
    with read_tx(engine) as conn:
        visible_project(conn, who, project_id)
        total, rows = db.project_groups(
            conn,
            project_id,
            source_ids=source_ids,
            created_after=created_after,
            offset=page.offset,
            limit=page.per_page,
        )
        ids = [r["id"] for r in rows]
        case_ids = db.case_ids_of_groups(conn, ids)
        last_counts = db.last_run_counts(conn, rows)
        labels = _labels(conn, project_id, ids)
    items = []
    for row in rows:
        item = _item(
            {
                **row,
                "count": last_counts.get(row["id"], 0),
                "is_new": row["first_seen_run_id"] == row["last_seen_run_id"],
            },
            labels.get(row["id"]),
            case_ids[row["id"]],
        )
        item["result_count"] = row["result_count"]
        items.append(item)
    return envelope(page, total, items)


def group_tests(engine: Engine, who: Principal, group_id: int, page: PageRequest) -> dict[str, Any]:
    """A page of the group's failed results, newest first, with their run and case."""
    with read_tx(engine) as conn:
        visible_group(conn, who, group_id)
        total, rows = db.group_tests_page(conn, group_id, page.offset, page.per_page)
    items = [{**row, "created_at": ts(row["created_at"])} for row in rows]
    return envelope(page, total, items)


def visible_group(conn: Connection, who: Principal, group_id: int) -> RowMapping:
    group = db.group_by_id(conn, group_id)
    if group is None:
        raise NotFound("The failure group does not exist or you do not have access to it.")
    try:
        visible_project(conn, who, group["project_id"])
    except NotFound:
        raise NotFound(
            "The failure group does not exist or you do not have access to it."
        ) from None
    return group


def _categories(conn: Connection, project_id: int) -> list[Category]:
    row = db.categories(conn, project_id)
    return failure_categories.load(row["rules"]) if row else []


# --- for the web UI --------------------------------------------------------------------------

GROUP_PAGE_RUNS = 50


def group_view(engine: Engine, who: Principal, group_id: int) -> dict[str, Any]:
    """A group with its sample failure, its latest runs (oldest first, for a chart) and
    its affected tests."""
    with read_tx(engine) as conn:
        group = visible_group(conn, who, group_id)
        project = visible_project(conn, who, group["project_id"])
        recent = db.group_runs_of(conn, group_id, GROUP_PAGE_RUNS)
        affected = db.group_cases(conn, group_id, limit=200)
        categories = _categories(conn, group["project_id"])
    return {
        "group": dict(group),
        "project": dict(project),
        "category": category_of(
            categories, group["sample_status"], group["sample_message"], group["sample_text"]
        ),
        "runs": list(reversed([dict(r) for r in recent])),
        "cases": [dict(c) for c in affected],
    }


def top_groups(engine: Engine, who: Principal, project_id: int, limit: int = 10) -> list[dict]:
    """The project's groups with the most failures in the last 14 days."""
    since = utcnow() - timedelta(days=TOP_DAYS)
    with read_tx(engine) as conn:
        visible_project(conn, who, project_id)
        rows = db.top_groups(conn, project_id, since, limit)
        labels = _labels(conn, project_id, [r["id"] for r in rows])
    return [{**dict(row), "category": labels.get(row["id"])} for row in rows]


# --- categories ------------------------------------------------------------------------------


def get_categories(engine: Engine, who: Principal, project_id: int) -> list[Any]:
    with read_tx(engine) as conn:
        visible_project(conn, who, project_id)
        row = db.categories(conn, project_id)
    return json.loads(row["rules"]) if row else []


def set_categories(engine: Engine, who: Principal, project_id: int, document: Any) -> list[Any]:
    """Replace the project's categories with an Allure categories.json document."""
    failure_categories.parse(document)  # a 422 names the first bad rule
    with write_tx(engine) as conn:
        visible_project(conn, who, project_id)
        require_write(who)
        db.set_categories(conn, project_id, json.dumps(document), utcnow(), who.user_id)
    return list(document)
