"""API tokens (stored as sha256, shown once) and passwords (argon2).

Each argon2 hash or check takes 64 MiB (argon2-cffi's default memory cost) while it runs,
so a process computes at most `concurrent` of them at a time (RUNHUB_PASSWORD_CHECKS):
a few more callers wait a short while for their turn, any others get ServerBusy (503).
That bounds the memory of sign-in floods (decisions.md "Web UI").
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from sqlalchemy import Connection

from runhub.db import accounts
from runhub.errors import ServerBusy, Unauthorized
from runhub.services.access import Principal
from runhub.settings import DEFAULT_PASSWORD_CHECKS
from runhub.timeutil import utcnow

TOKEN_PREFIX = "runhub_"
_hasher = PasswordHasher()
WAITING_PER_CHECK = 4  # callers that may wait, per concurrent check
CHECK_WAIT_S = 5.0  # the longest a caller waits for its turn
BUSY_RETRY_AFTER_S = 5


class PasswordChecksBusy(ServerBusy):
    def __init__(self) -> None:
        super().__init__(
            "The server is busy checking passwords; try again in a few seconds.",
            headers={"Retry-After": str(BUSY_RETRY_AFTER_S)},
        )


class PasswordCheckLimit:
    """At most `concurrent` holders at once; up to `waiting` more callers wait at most
    `wait_s` each, the others are refused at once. Works across threads (the thread pool
    the web handlers run sync code in)."""

    def __init__(
        self, concurrent: int, waiting: int | None = None, wait_s: float = CHECK_WAIT_S
    ) -> None:
        if concurrent < 1:
            raise ValueError("at least one password check at a time")
        self.concurrent = concurrent
        self.max_waiting = concurrent * WAITING_PER_CHECK if waiting is None else waiting
        self.wait_s = wait_s
        self._slots = threading.BoundedSemaphore(concurrent)
        self._lock = threading.Lock()
        self._waiting = 0

    @contextmanager
    def slot(self) -> Iterator[None]:
        if not self._slots.acquire(blocking=False):
            with self._lock:
                if self._waiting >= self.max_waiting:
                    raise PasswordChecksBusy()
                self._waiting += 1
            try:
                acquired = self._slots.acquire(timeout=self.wait_s)
            finally:
                with self._lock:
                    self._waiting -= 1
            if not acquired:
                raise PasswordChecksBusy()
        try:
            yield
        finally:
            self._slots.release()


_limit = PasswordCheckLimit(DEFAULT_PASSWORD_CHECKS)


def limit_password_checks(concurrent: int) -> None:
    """Set this process's bound (the app factory calls it with RUNHUB_PASSWORD_CHECKS)."""
    global _limit
    if concurrent != _limit.concurrent:
        _limit = PasswordCheckLimit(concurrent)


def hash_token(token: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is enough and keeps auth cheap.
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(conn: Connection, user_id: int, name: str) -> tuple[int, str]:
    """Create a token for the user; returns (token id, token). The token is not stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token_id = accounts.insert_token(
        conn,
        user_id=user_id,
        name=name,
        token_hash=hash_token(token),
        token_prefix=token[: len(TOKEN_PREFIX) + 4],
        created_at=utcnow(),
    )
    return token_id, token


def authenticate(conn: Connection, authorization: str | None) -> Principal:
    if not authorization:
        raise Unauthorized("Missing API token: send 'Authorization: Bearer <token>'.")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("Malformed Authorization header: use 'Bearer <token>'.")
    row = accounts.user_for_token_hash(conn, hash_token(token))
    if row is None:
        raise Unauthorized("Invalid or revoked API token.")
    return Principal(user_id=row["id"], name=row["name"], role=row["role"])


def hash_password(password: str) -> str:
    """The argon2 hash; PasswordChecksBusy when the process is computing enough of them."""
    with _limit.slot():
        return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether the password matches; PasswordChecksBusy as for hash_password."""
    if not password_hash:
        return False
    with _limit.slot():
        try:
            return _hasher.verify(password_hash, password)
        except VerificationError:
            return False
