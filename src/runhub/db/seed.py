"""Rows every runhub database starts with: the six default result statuses."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import Connection, insert

from runhub.db.schema import status_aliases, statuses


class DefaultStatus(NamedTuple):
    id: int
    name: str
    color: str
    aliases: tuple[str, ...]
    is_passed: bool
    is_failed: bool
    is_final: bool


# decisions.md, "Statuses".
DEFAULT_STATUSES = (
    DefaultStatus(1, "Passed", "#2e9e5b", ("passed", "pass", "success", "ok"), True, False, True),
    DefaultStatus(2, "Failed", "#d64541", ("failed", "failure", "fail"), False, True, True),
    DefaultStatus(3, "Retest", "#e5a100", ("retest",), False, False, False),
    DefaultStatus(4, "Blocked", "#8e5fc2", ("blocked",), False, True, True),
    DefaultStatus(
        5,
        "Skipped",
        "#8a94a6",
        ("skipped", "skip", "ignored", "pending", "disabled"),
        False,
        False,
        True,
    ),
    DefaultStatus(6, "Error", "#b8336a", ("error", "errored", "broken"), False, True, True),
)


def insert_default_statuses(conn: Connection) -> None:
    conn.execute(
        insert(statuses),
        [
            {
                "id": s.id,
                "name": s.name,
                "system_name": s.name.lower(),
                "color": s.color,
                "is_final": s.is_final,
                "is_untested": False,
                "is_passed": s.is_passed,
                "is_failed": s.is_failed,
                "is_active": True,
            }
            for s in DEFAULT_STATUSES
        ],
    )
    conn.execute(
        insert(status_aliases),
        [{"alias": a, "status_id": s.id} for s in DEFAULT_STATUSES for a in s.aliases],
    )
