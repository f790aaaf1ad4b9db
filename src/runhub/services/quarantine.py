"""Quarantine: known-flaky tests that CI may ignore, on the record, with a reason, an owner
and an end date (README "Quarantine"). Results keep their real status; runs keep Testmo's
status rules. Only the client's exit code (with --quarantine) changes.

The web UI's side is here too: the form of a test result page read as the API's body, a
test's record (every entry, with user names), the project's record by state, and a run's
failures that are quarantined."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import Connection, Engine, RowMapping

from runhub.api.schemas import QuarantineCreate
from runhub.db import accounts, views
from runhub.db import insights as insights_db
from runhub.db import quarantine as db
from runhub.db.engine import read_tx, write_tx
from runhub.errors import NotFound, invalid
from runhub.services import batches, webhooks
from runhub.services.access import Principal, can_see_project, require_write, visible_project
from runhub.services.outcomes import run_outcomes
from runhub.services.paging import PageRequest, envelope
from runhub.services.statuses import StatusTable
from runhub.timeutil import parse_query, utcnow
from runhub.timeutil import render as ts

MODES = {"mute": 1, "skip": 2}
MODE_NAMES = {number: name for name, number in MODES.items()}
STATES = db.STATES  # the views of the record: active, expired, removed


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
    batches.settle_project(engine, project_id)  # a test appended a moment ago has its case
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
        entry_id = db.insert_entry(
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
        webhooks.quarantine_changed(conn, entry_id, "added")
        return entry_id


def end(engine: Engine, who: Principal, entry_id: int) -> None:
    """End an entry (removed_at/by are set once; ending an ended entry changes nothing)."""
    with write_tx(engine) as conn:
        entry = db.entry_by_id(conn, entry_id)
        if entry is None or not can_see_project(conn, who, entry["project_id"]):
            raise NotFound("The quarantine entry does not exist or you do not have access to it.")
        require_write(who)
        now = utcnow()
        was_active = entry["removed_at"] is None and (
            entry["expires_at"] is None or entry["expires_at"] > now
        )
        db.end_entry(conn, entry_id, now, who.user_id)
        if was_active:
            webhooks.quarantine_changed(conn, entry_id, "ended")


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
            state="active" if active else "inactive",
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


# --- the web UI -------------------------------------------------------------------------------

_FORM_ERRORS = {
    "mode": "The mode must be mute or skip.",
    "reason": "The reason field takes at most 1,000 characters.",
    "owner": "The owner field takes at most 200 characters.",
    "expires_at": "The expires_at field must be an ISO 8601 date and time.",
}
_ERROR_PATH = re.compile(r"at `\$\.(\w+)`")


def parse_form(case_id: int, form: Mapping[str, str]) -> QuarantineCreate:
    """The web UI's quarantine form as the API's body, checked as the API checks it. Empty
    owner and expiry are none; the browser's CRLF line ends are one character each, as its
    textarea counts them."""
    data: dict[str, Any] = {
        "case_id": case_id,
        "mode": form.get("mode", ""),
        "reason": form.get("reason", "").replace("\r\n", "\n"),
    }
    for name in ("owner", "expires_at"):
        value = form.get(name, "").strip()
        if value:
            data[name] = value
    if not data["reason"].strip():
        raise invalid("reason", "The reason field is required.")
    try:
        return msgspec.convert(data, QuarantineCreate)
    except msgspec.ValidationError as exc:
        match = _ERROR_PATH.search(str(exc))
        field = match.group(1) if match else "body"
        raise invalid(field, _FORM_ERRORS.get(field, str(exc))) from None


def result_case(engine: Engine, who: Principal, test_id: int) -> RowMapping:
    """The result's row (project_id, case_id, ...) for a user who may quarantine its test:
    404 when it is not visible, 403 for viewers."""
    with read_tx(engine) as conn:
        row = views.result_by_id(conn, test_id)
        if row is None or not can_see_project(conn, who, row["project_id"]):
            raise NotFound("The test result does not exist or you do not have access to it.")
    require_write(who)
    return row


def create_from_form(engine: Engine, who: Principal, test_id: int, form: Mapping[str, str]) -> int:
    """Quarantine the test of a result from the web UI's form (nothing is stored on a 4xx)."""
    row = result_case(engine, who, test_id)
    return create(engine, who, row["project_id"], parse_form(row["case_id"], form))


def _state(row: Any, now: datetime) -> str:
    if row["removed_at"] is not None:
        return "removed"
    if row["expires_at"] is not None and row["expires_at"] <= now:
        return "expired"
    return "active"


def _user_names(conn: Connection, rows: Sequence[Any]) -> dict[int, str]:
    ids = {row[k] for row in rows for k in ("created_by", "removed_by") if row[k] is not None}
    return {u["id"]: u["name"] for u in accounts.users_by_ids(conn, sorted(ids))}


def _with_names(
    found: dict[str, Any], row: Any, now: datetime, names: Mapping[int, str]
) -> dict[str, Any]:
    def name(user_id: int | None) -> str | None:
        return None if user_id is None else names.get(user_id, f"user #{user_id}")

    return {
        **found,
        "state": _state(row, now),
        "created_by_name": name(row["created_by"]),
        "removed_by_name": name(row["removed_by"]),
    }


def case_record(engine: Engine, who: Principal, test_id: int) -> dict[str, Any]:
    """A result's test's quarantine record: its active entry (or None) and every entry,
    newest first, with the names of who made and ended them."""
    now = utcnow()
    with read_tx(engine) as conn:
        row = views.result_by_id(conn, test_id)
        if row is None or not can_see_project(conn, who, row["project_id"]):
            raise NotFound("The test result does not exist or you do not have access to it.")
        rows = db.case_entries(conn, row["case_id"])
        names = _user_names(conn, rows)
    record = []
    for entry in rows:
        found = {
            "id": entry["id"],
            "mode": MODE_NAMES[entry["mode"]],
            "reason": entry["reason"],
            "owner": entry["owner"],
            "expires_at": ts(entry["expires_at"]),
            "created_at": ts(entry["created_at"]),
            "created_by": entry["created_by"],
            "removed_at": ts(entry["removed_at"]),
            "removed_by": entry["removed_by"],
        }
        record.append(_with_names(found, entry, now, names))
    active = next((e for e in record if e["state"] == "active"), None)
    return {"active": active, "record": record, "project_id": row["project_id"]}


def project_record(
    engine: Engine,
    who: Principal,
    project_id: int,
    page: PageRequest,
    *,
    state: str,
    source_ids: Sequence[int] | None,
    modes: Sequence[str] | None,
) -> dict[str, Any]:
    """A page of the project's entries in `state` (one of STATES), newest first, with the
    count of each state, user and source names and each test's latest result."""
    now = utcnow()
    mode_ids = {MODES[m] for m in modes} if modes else None
    with read_tx(engine) as conn:
        project = visible_project(conn, who, project_id)
        total, rows = db.list_entries(
            conn,
            project_id,
            now,
            state=state,
            source_ids=source_ids,
            case_ids=None,
            modes=mode_ids,
            offset=page.offset,
            limit=page.per_page,
        )
        counts = db.state_counts(conn, project_id, now, source_ids=source_ids, modes=mode_ids)
        names = _user_names(conn, rows)
        latest = insights_db.latest_results(conn, {row["case_id"] for row in rows})
        sources = views.names_in_project(conn, "sources", project_id)
    items = []
    for row in rows:
        found = _with_names(item(row, now), row, now, names)
        found["test_id"] = latest.get(row["case_id"])
        items.append(found)
    return {
        **envelope(page, total, items),
        "project": project,
        "counts": counts,
        "sources": sources,
        "source_names": {s["id"]: s["name"] for s in sources},
    }


def quarantined_failures(conn: Connection, run: Any) -> dict[int, int]:
    """case id -> mode (MODES) of the run's tests whose outcome failed and that have an
    active entry. Reads the source's active entries, then only those cases' results in the
    run (index case_id, id, within the run's id range): the cost is the number of entries,
    not the size of the run (about 5 ms for 1,000 entries on either backend). One join of
    the two would be a single query, but PostgreSQL plans it as a hash join over every
    result of the run (22 ms instead of 5)."""
    active = db.active_of_source(conn, run["project_id"], run["source_id"], utcnow())
    if not active:
        return {}
    table = StatusTable.cached(conn)
    rows = insights_db.case_results_in_run(conn, run["id"], active)
    outcomes, _ = run_outcomes(run["id"], rows, table.passed_ids, table.failed_ids)
    return {case_id: active[case_id] for case_id, o in outcomes.items() if not o.passed}


def run_failures(conn: Connection, run: RowMapping, failures: int) -> dict[str, int] | None:
    """Of a run's `failures` (its tests whose outcome is failed), how many are quarantined
    to mute (their failure does not fail the build) and to skip; None without failures."""
    if not failures:
        return None
    found = {"failures": failures, "muted": 0, "skipped": 0}
    for mode in quarantined_failures(conn, run).values():
        found["muted" if mode == MODES["mute"] else "skipped"] += 1
    return found
