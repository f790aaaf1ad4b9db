"""Who may see and change what (decisions.md, "Roles")."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, RowMapping

from runhub.db import accounts
from runhub.errors import Forbidden, NotFound

ROLES = ("admin", "member", "viewer")
ROLE_IDS = {"admin": 1, "member": 2, "viewer": 3}


@dataclass(frozen=True)
class Principal:
    """The user a request acts as (a token acts with its user's role)."""

    user_id: int
    name: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def visible_project(conn: Connection, who: Principal, project_id: int) -> RowMapping:
    """The project, or 404 when it does not exist or the user cannot see it."""
    project = accounts.project_by_id(conn, project_id)
    if project is None or not can_see_project(conn, who, project_id):
        raise NotFound("The project does not exist or you do not have access to it.")
    return project


def can_see_project(conn: Connection, who: Principal, project_id: int) -> bool:
    return who.is_admin or accounts.is_member(conn, project_id, who.user_id)


def require_write(who: Principal) -> None:
    """Members and admins may submit results; viewers only read."""
    if who.role == "viewer":
        raise Forbidden("Your role (viewer) can read but not create or change automation runs.")


def require_admin(who: Principal) -> None:
    if not who.is_admin:
        raise Forbidden("Only administrators may do this.")
