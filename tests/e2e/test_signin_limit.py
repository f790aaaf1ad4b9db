"""The failed sign-in limit under attempts sent at once, against the real server with 2
worker processes, on SQLite and PostgreSQL (decisions.md "Web UI": the failure is reserved
in one serialised transaction before the password is checked)."""

from __future__ import annotations

from collections import Counter

import pytest

from .conftest import StartServer
from .signin import BOOTSTRAP_EMAIL, bootstrap_password, sign_in_at_once, sign_in_once

pytestmark = pytest.mark.e2e

WORKERS = 2
LIMIT = 10  # failed sign-ins per email or address within the window (decisions.md)


def test_concurrent_wrong_passwords_are_checked_at_most_the_limit(
    db_url: str, start_server: StartServer
) -> None:
    server = start_server(db_url, args=["--workers", str(WORKERS)])
    password = bootstrap_password(server)
    responses = sign_in_at_once(server, [(BOOTSTRAP_EMAIL, "wrong password", "127.0.0.1")] * 40)
    statuses = Counter(r.status_code for r in responses)
    # 401 is a checked (and refused) password, 429 a refusal without a check.
    assert statuses == {401: LIMIT, 429: 40 - LIMIT}, statuses
    for response in responses:
        if response.status_code == 429:
            assert int(response.headers["retry-after"]) > 0
    # Within the window even the right password is refused, from any address.
    assert sign_in_once(server, BOOTSTRAP_EMAIL, password, "127.0.0.1") == 429
    assert sign_in_once(server, BOOTSTRAP_EMAIL, password, "127.0.0.2") == 429
    # Another address is not limited for another account (nothing leaked across keys).
    assert sign_in_once(server, "nobody@example.com", "wrong password", "127.0.0.3") == 401
