"""A signed-in user's own account: API tokens (shown once) and password."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from runhub.db import accounts
from runhub.db.engine import read_tx, write_tx
from runhub.errors import NotFound
from runhub.services.access import Principal
from runhub.services.admin import AdminError, check_password
from runhub.services.auth import hash_password, new_token, verify_password
from runhub.timeutil import utcnow

TOKEN_NAME_MAX = 200


def tokens(engine: Engine, who: Principal) -> list[Any]:
    with read_tx(engine) as conn:
        return accounts.tokens_of_user(conn, who.user_id)


def create_token(engine: Engine, who: Principal, name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= TOKEN_NAME_MAX:
        raise AdminError(f"the token name must be 1 to {TOKEN_NAME_MAX} characters")
    with write_tx(engine) as conn:
        return new_token(conn, who.user_id, name)[1]


def revoke_token(engine: Engine, who: Principal, token_id: int) -> None:
    with write_tx(engine) as conn:
        token = accounts.token_by_id(conn, token_id)
        if token is None or token["user_id"] != who.user_id:
            raise NotFound("No such token of yours.")
        accounts.revoke_token(conn, token_id, utcnow())


def change_password(engine: Engine, who: Principal, current: str, new: str) -> None:
    """Other sessions of the user stay signed in (set-password signs out everywhere)."""
    check_password(new)
    with read_tx(engine) as conn:
        user = accounts.user_by_id(conn, who.user_id)
    if user is None or not verify_password(user["password_hash"], current):
        raise AdminError("the current password is wrong")
    with write_tx(engine) as conn:
        accounts.update_user(
            conn, who.user_id, password_hash=hash_password(new), updated_at=utcnow()
        )
