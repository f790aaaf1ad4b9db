"""Administration: users, tokens, projects, membership, milestones (CLI and, later, web UI)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Engine

from runhub.db import accounts, catalog, sessions
from runhub.db.engine import read_tx, write_tx
from runhub.services.access import ROLES, Principal, require_admin
from runhub.services.auth import hash_password, new_token
from runhub.services.statuses import StatusTable
from runhub.timeutil import utcnow

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_TAG = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
BOOTSTRAP_EMAIL = "admin@runhub.local"


class AdminError(ValueError):
    """A request an administrator can correct (unknown user, duplicate email, bad value)."""


def _user(conn: Connection, email: str) -> Any:
    user = accounts.user_by_email(conn, email.strip().lower())
    if user is None:
        raise AdminError(f"no user with email {email!r}")
    return user


def _project(conn: Connection, project_id: int) -> Any:
    project = accounts.project_by_id(conn, project_id)
    if project is None:
        raise AdminError(f"no project with id {project_id}")
    return project


def create_user(
    conn: Connection, email: str, name: str, role: str = "member", password: str | None = None
) -> int:
    email = email.strip().lower()
    if not _EMAIL.match(email) or len(email) > 320:
        raise AdminError(f"not an email address: {email!r}")
    if not 1 <= len(name.strip()) <= 750:
        raise AdminError("the name must be 1 to 750 characters")
    if role not in ROLES:
        raise AdminError(f"role must be one of {', '.join(ROLES)}")
    if accounts.user_by_email(conn, email) is not None:
        raise AdminError(f"a user with email {email!r} exists already")
    if password:
        check_password(password)
    return accounts.insert_user(
        conn,
        email=email,
        name=name.strip(),
        role=role,
        password_hash=hash_password(password) if password else None,
        is_active=True,
        is_api=False,
        created_at=utcnow(),
    )


def create_token(conn: Connection, email: str, label: str = "CLI token") -> tuple[int, str]:
    return new_token(conn, _user(conn, email)["id"], label)


def revoke_token(conn: Connection, token_id: int) -> None:
    if accounts.token_by_id(conn, token_id) is None:
        raise AdminError(f"no token with id {token_id}")
    accounts.revoke_token(conn, token_id, utcnow())


def list_tokens(conn: Connection, email: str) -> list[Any]:
    return accounts.tokens_of_user(conn, _user(conn, email)["id"])


def create_project(conn: Connection, name: str) -> int:
    if not 1 <= len(name.strip()) <= 750:
        raise AdminError("the project name must be 1 to 750 characters")
    return accounts.insert_project(conn, name=name.strip(), is_completed=False, created_at=utcnow())


def add_member(conn: Connection, project_id: int, email: str) -> bool:
    _project(conn, project_id)
    return accounts.add_member(conn, project_id, _user(conn, email)["id"], utcnow())


def create_milestone(
    conn: Connection, project_id: int, name: str, automation_tags: Sequence[str] = ()
) -> int:
    _project(conn, project_id)
    if not 1 <= len(name.strip()) <= 750:
        raise AdminError("the milestone name must be 1 to 750 characters")
    bad = [t for t in automation_tags if not _TAG.match(t)]
    if bad:
        raise AdminError(f"automation tags are 1-64 characters of A-Z a-z 0-9 _ -: {bad[0]!r}")
    return catalog.insert_milestone(
        conn,
        sorted(set(automation_tags)),
        project_id=project_id,
        name=name.strip(),
        type_id=1,
        is_started=False,
        is_completed=False,
        created_at=utcnow(),
    )


MIN_PASSWORD_LENGTH = 8


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AdminError(f"the password must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > 1024:
        raise AdminError("the password must be at most 1024 characters")


def set_password(conn: Connection, email: str, password: str) -> None:
    """Set a user's web UI password (argon2); signs the user out everywhere."""
    check_password(password)
    user = _user(conn, email)
    accounts.update_user(
        conn, user["id"], password_hash=hash_password(password), updated_at=utcnow()
    )
    sessions.delete_sessions_of_user(conn, user["id"])


def set_role(conn: Connection, actor_id: int, user_id: int, role: str) -> None:
    if role not in ROLES:
        raise AdminError(f"role must be one of {', '.join(ROLES)}")
    if user_id == actor_id and role != "admin":
        raise AdminError("you cannot take the admin role from yourself")
    _user_by_id(conn, user_id)
    accounts.update_user(conn, user_id, role=role, updated_at=utcnow(), updated_by=actor_id)


def set_active(conn: Connection, actor_id: int, user_id: int, active: bool) -> None:
    """Deactivated users can neither sign in nor use their API tokens."""
    if user_id == actor_id and not active:
        raise AdminError("you cannot deactivate yourself")
    _user_by_id(conn, user_id)
    accounts.update_user(conn, user_id, is_active=active, updated_at=utcnow(), updated_by=actor_id)
    if not active:
        sessions.delete_sessions_of_user(conn, user_id)


def remove_member(conn: Connection, project_id: int, user_id: int) -> bool:
    _project(conn, project_id)
    return accounts.remove_member(conn, project_id, user_id)


def _user_by_id(conn: Connection, user_id: int) -> Any:
    user = accounts.user_by_id(conn, user_id)
    if user is None:
        raise AdminError(f"no user with id {user_id}")
    return user


def bootstrap(conn: Connection) -> str | None:
    """On a database without users: create an admin and return a new token for it."""
    if accounts.count_users(conn) > 0:
        return None
    user_id = create_user(conn, BOOTSTRAP_EMAIL, "Administrator", "admin")
    return new_token(conn, user_id, "bootstrap token")[1]


def bootstrap_password(conn: Connection) -> str:
    """A random web UI password for the bootstrap admin (printed once by `runhub serve`)."""
    password = secrets.token_urlsafe(12)
    set_password(conn, BOOTSTRAP_EMAIL, password)
    return password


def overview(engine: Engine, who: Principal, section: str) -> dict[str, Any]:
    """What an admin page lists: users, projects with members, or statuses."""
    require_admin(who)
    with read_tx(engine) as conn:
        if section == "users":
            return {"users": accounts.all_users(conn)}
        if section == "projects":
            from runhub.services.retention import retention_of_projects

            found = accounts.all_projects(conn)
            return {
                "projects": found,
                "retention": retention_of_projects(conn, [p["id"] for p in found]),
                "members": accounts.members_of_projects(conn),
                "users": accounts.all_users(conn),
            }
        return {"statuses": StatusTable.load(conn).rows}


def perform(engine: Engine, who: Principal, action: Callable[[Connection], Any]) -> Any:
    """Run one administrative change in a write transaction (admins only)."""
    require_admin(who)
    with write_tx(engine) as conn:
        return action(conn)
