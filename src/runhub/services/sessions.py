"""Web UI sign-in: sessions, CSRF tokens and the failed sign-in limit (decisions.md "Web UI").

The session cookie carries 256 random bits; only their sha256 is stored, like API tokens.
Each session has its own CSRF token, which every form of the UI posts back.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from sqlalchemy import Engine

from runhub.db import accounts
from runhub.db import sessions as db
from runhub.db.engine import read_tx, write_tx
from runhub.services.access import Principal
from runhub.services.auth import PasswordChecksBusy, hash_password, verify_password
from runhub.timeutil import utcnow

SESSION_MAX_AGE_S = 14 * 24 * 3600
SIGN_IN_WINDOW_S = 15 * 60
SIGN_IN_MAX_FAILURES = 10


class SignInRefused(Exception):
    """Wrong email or password, or a deactivated user (the message never says which)."""


class TooManySignIns(Exception):
    def __init__(self, retry_after_s: int) -> None:
        super().__init__("Too many failed sign-ins; wait and try again.")
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class WebSession:
    principal: Principal
    email: str
    csrf_token: str
    session_hash: str


@dataclass(frozen=True)
class NewSession:
    session_id: str
    csrf_token: str
    max_age_s: int


def hash_session(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


@cache
def _dummy_hash() -> str:
    """Verified against when the email is unknown, so both cases take as long."""
    return hash_password(secrets.token_urlsafe(16))


def sign_in(
    engine: Engine,
    email: str,
    password: str,
    client_ip: str,
    *,
    max_age_s: int = SESSION_MAX_AGE_S,
    max_failures: int = SIGN_IN_MAX_FAILURES,
    window_s: int = SIGN_IN_WINDOW_S,
) -> NewSession:
    email = email.strip().lower()[:320]
    client_ip = client_ip[:64]
    now = utcnow()
    since = now - timedelta(seconds=window_s)
    # Count and reserve in one transaction, serialised across processes (db.lock_sign_in):
    # under the limit, the attempt is recorded as a failure before its password is checked,
    # so attempts sent at once cannot all pass the count. A good password forgets it below.
    with write_tx(engine) as conn:
        db.lock_sign_in(conn, email, client_ip)
        by_email, by_ip = db.recent_failures(conn, email, client_ip, since)
        if by_email >= max_failures or by_ip >= max_failures:
            raise TooManySignIns(window_s)
        reserved = db.record_failure(conn, email, client_ip, now)
        user = accounts.user_by_email(conn, email)
    password_hash = user["password_hash"] if user is not None else None
    # The slow hash runs outside any transaction: it must not hold SQLite's write lock.
    try:
        checked = verify_password(password_hash or _dummy_hash(), password)
    except PasswordChecksBusy:
        # Refused with 503 before the check: not a failure, so give the reservation back.
        with write_tx(engine) as conn:
            db.delete_failure(conn, reserved)
        raise
    good = checked and password_hash is not None
    if not good or user is None or not user["is_active"]:
        raise SignInRefused("Wrong email or password.")  # the reserved failure stays
    session_id = secrets.token_urlsafe(32)
    csrf_token = secrets.token_urlsafe(32)
    with write_tx(engine) as conn:
        db.forget_failures(conn, email, since)
        db.delete_expired_sessions(conn, now)
        db.insert_session(
            conn,
            session_hash=hash_session(session_id),
            user_id=user["id"],
            csrf_token=csrf_token,
            created_at=now,
            expires_at=now + timedelta(seconds=max_age_s),
        )
    return NewSession(session_id, csrf_token, max_age_s)


def resolve(engine: Engine, session_id: str | None) -> WebSession | None:
    """The signed-in user of a session cookie, or None (unknown, expired, deactivated)."""
    if not session_id or len(session_id) > 200:
        return None
    session_hash = hash_session(session_id)
    with read_tx(engine) as conn:
        row = db.session_user(conn, session_hash, utcnow())
    if row is None:
        return None
    return WebSession(
        principal=Principal(user_id=row["id"], name=row["name"], role=row["role"]),
        email=row["email"],
        csrf_token=row["csrf_token"],
        session_hash=session_hash,
    )


def sign_out(engine: Engine, session: WebSession) -> None:
    with write_tx(engine) as conn:
        db.delete_session(conn, session.session_hash)


def csrf_matches(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())
