"""API tokens (stored as sha256, shown once) and passwords (argon2)."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from sqlalchemy import Connection

from runhub.db import accounts
from runhub.errors import Unauthorized
from runhub.services.access import Principal
from runhub.timeutil import utcnow

TOKEN_PREFIX = "runhub_"
_hasher = PasswordHasher()


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
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except VerificationError:
        return False
