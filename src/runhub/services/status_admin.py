"""Administrators edit result statuses: name, colour, aliases, flags; new ones in 7..24."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from runhub.db import catalog
from runhub.db.schema import STATUS_SLOTS
from runhub.services.admin import AdminError
from runhub.services.statuses import StatusTable

FIRST_FREE_SLOT = 7
_ALIAS = re.compile(r"^[a-z0-9_]{1,64}$")
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


@dataclass(frozen=True)
class StatusChange:
    name: str
    color: str
    aliases: Sequence[str]
    is_passed: bool
    is_failed: bool
    is_final: bool
    is_active: bool = True


def parse_aliases(text: str) -> list[str]:
    return sorted({a.strip().lower() for a in re.split(r"[,\s]+", text) if a.strip()})


def _check(conn: Connection, status_id: int, change: StatusChange) -> dict[str, object]:
    name = change.name.strip()
    if not 1 <= len(name) <= 100:
        raise AdminError("the status name must be 1 to 100 characters")
    if not _COLOR.match(change.color):
        raise AdminError("the colour must look like #2e9e5b")
    if change.is_passed and change.is_failed:
        raise AdminError("a status cannot be passed and failed at once")
    bad = [a for a in change.aliases if not _ALIAS.match(a)]
    if bad:
        raise AdminError(f"aliases are 1-64 characters of a-z 0-9 _: {bad[0]!r}")
    taken = {a["alias"]: a["status_id"] for a in catalog.all_aliases(conn)}
    clash = [a for a in change.aliases if taken.get(a, status_id) != status_id]
    if clash:
        raise AdminError(f"the alias {clash[0]!r} belongs to status {taken[clash[0]]} already")
    return {
        "name": name,
        "color": change.color.lower(),
        "is_passed": change.is_passed,
        "is_failed": change.is_failed,
        "is_final": change.is_final,
        "is_active": change.is_active,
    }


def update_status(conn: Connection, status_id: int, change: StatusChange) -> None:
    if not any(s["id"] == status_id for s in catalog.all_statuses(conn)):
        raise AdminError(f"no status with id {status_id}")
    values = _check(conn, status_id, change)
    catalog.update_status(conn, status_id, **values)
    catalog.replace_aliases(conn, status_id, list(change.aliases))
    StatusTable.forget()


def create_status(conn: Connection, change: StatusChange) -> int:
    """The new status takes the lowest free slot of 7..24."""
    used = {s["id"] for s in catalog.all_statuses(conn)}
    free = [n for n in STATUS_SLOTS if n >= FIRST_FREE_SLOT and n not in used]
    if not free:
        raise AdminError("every status slot (7..24) is taken")
    status_id = free[0]
    values = _check(conn, status_id, change)
    system_name = re.sub(r"[^a-z0-9_]+", "_", str(values["name"]).lower()).strip("_")
    catalog.insert_status(
        conn, id=status_id, system_name=system_name or f"status{status_id}", is_untested=False,
        **values,
    )  # fmt: skip
    catalog.replace_aliases(conn, status_id, list(change.aliases))
    StatusTable.forget()
    return status_id
