"""Retention settings and pinned runs (README "Retention"): how long a project keeps its
completed runs and the fields and artifacts of its passed results, and the runs kept
whatever the setting says. Plain rules, no SQL; the deleting is runhub.services.prune.

A project without a setting keeps everything forever. Pinned-ness is runhub's own: it is
never a property of Testmo's run object; the pin endpoints and the web UI show it."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, RowMapping

from runhub.api.schemas import RetentionUpdate
from runhub.db import accounts
from runhub.db import retention as db
from runhub.db.engine import read_tx, write_tx
from runhub.errors import NotFound, invalid
from runhub.services.access import Principal, require_admin, require_write, visible_project
from runhub.services.paging import PageRequest, envelope
from runhub.services.runs import visible_run
from runhub.timeutil import render as ts
from runhub.timeutil import utcnow

MIN_DAYS = 1
MAX_DAYS = 36500  # 100 years
FOREVER = "forever"
FIELDS = ("run_days", "passed_detail_days")


class Retention(NamedTuple):
    """One project's setting (None: forever)."""

    project_id: int
    run_days: int | None
    passed_detail_days: int | None


# --- settings -------------------------------------------------------------------------------


def check(run_days: int | None, passed_detail_days: int | None) -> None:
    """The rules of a setting; a 422 names the field that breaks them."""
    for name, value in zip(FIELDS, (run_days, passed_detail_days), strict=True):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise invalid(name, f"The {name} field must be a whole number of days or null.")
        if not MIN_DAYS <= value <= MAX_DAYS:
            raise invalid(
                name,
                f"The {name} field must be between {MIN_DAYS} and {MAX_DAYS} days, "
                "or null to keep forever.",
            )
    if run_days is not None and passed_detail_days is not None and passed_detail_days > run_days:
        raise invalid(
            "passed_detail_days",
            f"The passed_detail_days field ({passed_detail_days}) must not exceed "
            f"run_days ({run_days}): a run's details cannot outlive the run.",
        )


def parse_days(text: str | None, name: str) -> int | None:
    """Days as a user types them (CLI, web form): a number, or empty / "forever" for None."""
    value = (text or "").strip().lower()
    if value in ("", FOREVER):
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > 9:
        raise invalid(name, f"The {name} field must be a number of days or {FOREVER!r}.")
    days = int(value)
    check(*(days if n == name else None for n in FIELDS))
    return days


def setting_item(project_id: int, row: Any) -> dict[str, Any]:
    """The API's retention object (a project without a row keeps everything forever)."""
    return {
        "project_id": project_id,
        "run_days": row["run_days"] if row else None,
        "passed_detail_days": row["passed_detail_days"] if row else None,
        "updated_at": ts(row["updated_at"]) if row else None,
        "updated_by": row["updated_by"] if row else None,
    }


def get(engine: Engine, who: Principal, project_id: int) -> dict[str, Any]:
    """Anyone who sees the project reads its retention."""
    with read_tx(engine) as conn:
        visible_project(conn, who, project_id)
        return {
            "result": setting_item(project_id, db.retention_of(conn, project_id)),
            "expands": {},
        }


def current(conn: Connection, project_id: int) -> dict[str, Any]:
    """The project's setting (the CLI); 404 for a project that does not exist."""
    if accounts.project_by_id(conn, project_id) is None:
        raise NotFound(f"No project with id {project_id} exists.")
    return setting_item(project_id, db.retention_of(conn, project_id))


def store(
    conn: Connection,
    project_id: int,
    run_days: int | None,
    passed_detail_days: int | None,
    user_id: int | None,
) -> dict[str, Any]:
    """Check and store a project's setting (the API, the web UI and the CLI)."""
    check(run_days, passed_detail_days)
    if accounts.project_by_id(conn, project_id) is None:
        raise NotFound(f"No project with id {project_id} exists.")
    db.set_retention(conn, project_id, run_days, passed_detail_days, utcnow(), user_id)
    return setting_item(project_id, db.retention_of(conn, project_id))


def set_retention(
    engine: Engine, who: Principal, project_id: int, body: RetentionUpdate
) -> dict[str, Any]:
    """Replace the project's setting (admins; others who see the project get 403)."""
    check(body.run_days, body.passed_detail_days)
    with write_tx(engine) as conn:
        visible_project(conn, who, project_id)
        require_admin(who)
        item = store(conn, project_id, body.run_days, body.passed_detail_days, who.user_id)
    return {"result": item, "expands": {}}


def retention_of_all_projects(conn: Connection) -> list[Retention]:
    """Every project that keeps something for a limited time, by project id (for pruning)."""
    return [
        Retention(r["project_id"], r["run_days"], r["passed_detail_days"])
        for r in db.all_retention(conn)
    ]


def retention_of_projects(conn: Connection, project_ids: Collection[int]) -> dict[int, Any]:
    """The API objects of these projects' settings (the admin page)."""
    rows = db.retention_of_projects(conn, project_ids)
    return {pid: setting_item(pid, rows.get(pid)) for pid in project_ids}


def describe(item: Mapping[str, Any]) -> str:
    """One line for people: "runs 90 days, passed results' details 14 days"."""

    def days(value: int | None) -> str:
        return FOREVER if value is None else f"{value} day{'s' if value != 1 else ''}"

    return (
        f"runs {days(item['run_days'])}, "
        f"passed results' fields and artifacts {days(item['passed_detail_days'])}"
    )


# --- pins ---------------------------------------------------------------------------------


def pin_item(run_id: int, project_id: int, row: Any) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "project_id": project_id,
        "is_pinned": row is not None,
        "pinned_at": ts(row["pinned_at"]) if row else None,
        "pinned_by": row["pinned_by"] if row else None,
    }


def pin_state(engine: Engine, who: Principal, run_id: int) -> dict[str, Any]:
    with read_tx(engine) as conn:
        run = visible_run(conn, who, run_id)
        return {
            "result": pin_item(run_id, run["project_id"], db.pin_of(conn, run_id)),
            "expands": {},
        }


def pin(engine: Engine, who: Principal, run_id: int) -> dict[str, Any]:
    """Pin a run (members and admins): kept whatever the retention says. Pinning a pinned
    run changes nothing (it keeps who pinned it first, and when)."""
    with write_tx(engine) as conn:
        run = visible_run(conn, who, run_id)
        require_write(who)
        db.pin(conn, run_id, run["project_id"], utcnow(), who.user_id)
        row = db.pin_of(conn, run_id)
    return {"result": pin_item(run_id, run["project_id"], row), "expands": {}}


def unpin(engine: Engine, who: Principal, run_id: int) -> None:
    """Unpin a run (members and admins); unpinning an unpinned run changes nothing."""
    with write_tx(engine) as conn:
        visible_run(conn, who, run_id)
        require_write(who)
        db.unpin(conn, run_id)


def is_pinned(conn: Connection, run_id: int) -> bool:
    return db.pin_of(conn, run_id) is not None


def pinned_run_ids(conn: Connection, project_id: int) -> list[int]:
    return db.pinned_run_ids(conn, project_id)


def pinned_among(
    engine: Engine, who: Principal, project_id: int, run_ids: Collection[int]
) -> set[int]:
    """Which of these runs of the project are pinned (the run list's badges)."""
    with read_tx(engine) as conn:
        visible_project(conn, who, project_id)
        return db.pinned_among(conn, run_ids) if run_ids else set()


def list_pins(engine: Engine, who: Principal, project_id: int, page: PageRequest) -> dict[str, Any]:
    with read_tx(engine) as conn:
        visible_project(conn, who, project_id)
        total, rows = db.project_pins(conn, project_id, page.offset, page.per_page)
    return envelope(page, total, [_pinned_run(row) for row in rows])


def _pinned_run(row: RowMapping) -> dict[str, Any]:
    return {
        "run_id": row["run_id"],
        "name": row["name"],
        "source_id": row["source_id"],
        "is_completed": bool(row["is_completed"]),
        "created_at": ts(row["created_at"]),
        "pinned_at": ts(row["pinned_at"]),
        "pinned_by": row["pinned_by"],
    }
