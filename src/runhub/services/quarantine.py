"""Quarantine: known-flaky tests that CI may ignore, on the record, with a reason, an owner
and an end date (README "Quarantine"). Results keep their real status; runs keep Testmo's
status rules. Only the client's exit code (with --quarantine) changes."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, RowMapping

from runhub.api.schemas import QuarantineCreate
from runhub.db import quarantine as db
from runhub.db.engine import read_tx, write_tx
from runhub.errors import NotFound, invalid
from runhub.services.access import Principal, can_see_project, require_write, visible_project
from runhub.services.paging import PageRequest, envelope
from runhub.timeutil import parse_query, utcnow
from runhub.timeutil import render as ts

MODES = {"mute": 1, "skip": 2}
MODE_NAMES = {number: name for name, number in MODES.items()}


def item(row: Any, now: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "case_id": row["case_id"],
        "key": row["key"],
        "name": row["name"],
        "folder": row["folder"],
        "source_id": row["source_id"],
        "mode": MODE_NAMES[row["mode"]],
        "reason": row["reason"],
        "owner": row["owner"],
        "expires_at": ts(row["expires_at"]),
        "is_active": row["removed_at"] is None
        and (row["expires_at"] is None or row["expires_at"] > now),
        "created_at": ts(row["created_at"]),
        "created_by": row["created_by"],
        "removed_at": ts(row["removed_at"]),
        "removed_by": row["removed_by"],
    }


def _case_for(conn: Connection, project_id: int, body: QuarantineCreate) -> RowMapping:
    case_id = body.case_id
    if case_id is None:
        if body.key is None or body.source_id is None:
            raise invalid("case_id", "The case_id field is required (or key with source_id).")
        case_id = db.case_by_key(conn, body.source_id, body.key)
        if case_id is None:
            raise NotFound("No automation case has that key in that source.")
    case = db.lock_case(conn, case_id)
    if case is None or case["project_id"] != project_id:
        raise NotFound("The automation case does not exist in this project.")
    return case


def create(engine: Engine, who: Principal, project_id: int, body: QuarantineCreate) -> int:
    now = utcnow()
    expires_at = None
    if body.expires_at is not None:
        try:
            expires_at = parse_query(body.expires_at)
        except (ValueError, OverflowError):
            raise invalid(
                "expires_at", "The expires_at field must be an ISO 8601 date and time."
            ) from None
        if expires_at <= now:
            raise invalid("expires_at", "The expires_at field must be in the future.")
    if not body.reason.strip():
        raise invalid("reason", "The reason field is required.")
    with write_tx(engine) as conn:
        visible_project(conn, who, project_id)
        require_write(who)
        case = _case_for(conn, project_id, body)
        existing = db.active_for_case(conn, case["id"], now)
        if existing is not None:
            raise invalid(
                "case_id",
                f"The automation case {case['id']} already has an active quarantine entry "
                f"(id {existing}); end it first.",
            )
        return db.insert_entry(
            conn,
            project_id=project_id,
            source_id=case["source_id"],
            case_id=case["id"],
            mode=MODES[body.mode],
            reason=body.reason.strip(),
            owner=(body.owner or "").strip() or None,
            expires_at=expires_at,
            created_at=now,
            created_by=who.user_id,
        )


def end(engine: Engine, who: Principal, entry_id: int) -> None:
    """End an entry (removed_at/by are set once; ending an ended entry changes nothing)."""
    with write_tx(engine) as conn:
        entry = db.entry_by_id(conn, entry_id)
        if entry is None or not can_see_project(conn, who, entry["project_id"]):
            raise NotFound("The quarantine entry does not exist or you do not have access to it.")
        require_write(who)
        db.end_entry(conn, entry_id, utcnow(), who.user_id)


def list_entries(
    engine: Engine,
    who: Principal,
    project_id: int,
    page: PageRequest,
    *,
    active: bool,
    source_ids: Sequence[int] | None,
    case_ids: Sequence[int] | None,
    modes: Sequence[str] | None,
) -> dict[str, Any]:
    now = utcnow()
    with read_tx(engine) as conn:
        visible_project(conn, who, project_id)
        total, rows = db.list_entries(
            conn,
            project_id,
            now,
            active=active,
            source_ids=source_ids,
            case_ids=case_ids,
            modes={MODES[m] for m in modes} if modes else None,
            offset=page.offset,
            limit=page.per_page,
        )
    return envelope(page, total, [item(row, now) for row in rows])


def active_modes(conn: Connection, case_ids: Collection[int]) -> dict[int, str]:
    """case id -> "mute" or "skip" for the cases with an active entry."""
    found = db.active_modes(conn, case_ids, utcnow())
    return {case_id: MODE_NAMES[mode] for case_id, mode in found.items()}
