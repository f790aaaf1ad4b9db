"""Administration: users, tokens, projects, membership, milestones (CLI and, later, web UI)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from runhub.db import accounts, catalog
from runhub.services.access import ROLES
from runhub.services.auth import hash_password, new_token
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


def bootstrap(conn: Connection) -> str | None:
    """On a database without users: create an admin and return a new token for it."""
    if accounts.count_users(conn) > 0:
        return None
    user_id = create_user(conn, BOOTSTRAP_EMAIL, "Administrator", "admin")
    return new_token(conn, user_id, "bootstrap token")[1]
