"""SQL for web UI sessions and failed sign-ins."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, delete, func, insert, or_, select, text

from runhub.db.engine import is_sqlite
from runhub.db.schema import sign_in_failures, users, web_sessions

# Classes (the first int4 key) of PostgreSQL's two-key advisory locks for sign-in; the
# second key is hashtext() of the email or the client address.
SIGN_IN_EMAIL_LOCK = 0x52480001
SIGN_IN_ADDRESS_LOCK = 0x52480002


def insert_session(conn: Connection, **values: Any) -> int:
    query = insert(web_sessions).values(**values).returning(web_sessions.c.id)
    return conn.execute(query).scalar_one()


def session_user(conn: Connection, session_hash: str, now: datetime) -> RowMapping | None:
    """The active user and CSRF token of an unexpired session."""
    query = (
        select(
            users.c.id,
            users.c.name,
            users.c.email,
            users.c.role,
            web_sessions.c.id.label("session_id"),
            web_sessions.c.csrf_token,
        )
        .join(users, users.c.id == web_sessions.c.user_id)
        .where(
            web_sessions.c.session_hash == session_hash,
            web_sessions.c.expires_at > now,
            users.c.is_active.is_(True),
        )
    )
    return conn.execute(query).mappings().first()


def delete_session(conn: Connection, session_hash: str) -> None:
    conn.execute(delete(web_sessions).where(web_sessions.c.session_hash == session_hash))


def delete_sessions_of_user(conn: Connection, user_id: int) -> None:
    conn.execute(delete(web_sessions).where(web_sessions.c.user_id == user_id))


def delete_expired_sessions(conn: Connection, now: datetime) -> None:
    conn.execute(delete(web_sessions).where(web_sessions.c.expires_at <= now))


def lock_sign_in(conn: Connection, email: str, client_ip: str) -> None:
    """Serialise sign-in attempts for the email and for the address until the transaction
    ends, across every process on the database, so that counting the recent failures and
    reserving one cannot interleave.

    SQLite: nothing to do; a write transaction (BEGIN IMMEDIATE) holds the database's write
    lock from its start. PostgreSQL: transaction-scoped advisory locks, always the email's
    before the address's (one order, so two attempts never wait for each other in a cycle).
    Two emails (or addresses) with the same hashtext() merely wait for each other.
    """
    if is_sqlite(conn):
        return
    lock = text("SELECT pg_advisory_xact_lock(CAST(:lock_class AS integer), hashtext(:key))")
    conn.execute(lock, {"lock_class": SIGN_IN_EMAIL_LOCK, "key": email})
    conn.execute(lock, {"lock_class": SIGN_IN_ADDRESS_LOCK, "key": client_ip})


def recent_failures(
    conn: Connection, email: str, client_ip: str, since: datetime
) -> tuple[int, int]:
    """(failures for the email, failures from the address) since `since`."""
    f = sign_in_failures
    by_email = select(func.count()).where(f.c.email == email, f.c.failed_at > since)
    by_ip = select(func.count()).where(f.c.client_ip == client_ip, f.c.failed_at > since)
    return conn.execute(by_email).scalar_one(), conn.execute(by_ip).scalar_one()


def record_failure(conn: Connection, email: str, client_ip: str, now: datetime) -> int:
    """Insert a failure (reserved before the password is checked); returns its id."""
    query = (
        insert(sign_in_failures)
        .values(email=email, client_ip=client_ip, failed_at=now)
        .returning(sign_in_failures.c.id)
    )
    return conn.execute(query).scalar_one()


def delete_failure(conn: Connection, failure_id: int) -> None:
    conn.execute(delete(sign_in_failures).where(sign_in_failures.c.id == failure_id))


def forget_failures(conn: Connection, email: str, before: datetime) -> None:
    """Drop the email's failures (after a good sign-in) and everybody's older than `before`."""
    f = sign_in_failures
    conn.execute(delete(f).where(or_(f.c.email == email, f.c.failed_at <= before)))
