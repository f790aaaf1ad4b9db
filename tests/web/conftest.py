"""Web UI fixtures: the `api` users with passwords, and a signed-in client per role."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import pytest
from argon2 import PasswordHasher
from httpx2 import Response
from sqlalchemy import Engine
from starlette.testclient import TestClient

from runhub.db import accounts
from runhub.db.engine import write_tx

from ..helpers import Api, make_test

PASSWORD = "correct horse battery"
ROLES = ("admin", "member", "viewer", "outsider")
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@cache
def password_hash() -> str:
    """The test users' password hash, with argon2's cheapest parameters: a sign-in checks
    it with the parameters the hash names, so each of the thousands of sign-ins in these
    tests costs microseconds instead of 64 MiB and ~0.2 s (the server's own hashes, and
    the sign-in tests that create users through it, keep the real parameters)."""
    return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> TestClient:
    page = client.get("/signin")
    assert page.status_code == 200
    response = client.post(
        "/signin",
        data={"csrf_token": csrf_of(page.text), "email": email, "password": password},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return client


@dataclass
class Web:
    api: Api
    engine: Engine
    clients: dict[str, TestClient]
    new_client: Callable[..., TestClient]

    def __getitem__(self, role: str) -> TestClient:
        return self.clients[role]

    def post_form(self, role: str, path: str, data: dict[str, str], page: str) -> Response:
        client = self.clients[role]
        token = csrf_of(client.get(page).text)
        return client.post(path, data={"csrf_token": token, **data}, follow_redirects=False)


@pytest.fixture
def web(api: Api, engine: Engine) -> Web:
    with write_tx(engine) as conn:
        for role in ROLES:
            user = accounts.user_by_email(conn, f"{role}@example.com")
            assert user is not None
            accounts.update_user(conn, user["id"], password_hash=password_hash())
    app = api.client.app

    def new_client(ip: str = "testclient") -> TestClient:
        return TestClient(
            app, raise_server_exceptions=False, base_url="http://testserver", client=(ip, 50000)
        )

    clients = {role: sign_in(new_client(), f"{role}@example.com") for role in ROLES}
    return Web(api, engine, clients, new_client)


@dataclass
class Sample:
    run_id: int
    thread_id: int
    failed_test_id: int
    source_id: int


@pytest.fixture
def sample(web: Web) -> Sample:
    """A completed run of the Demo project: 3 passed, 2 failed, 1 skipped, with fields."""
    api = web.api
    run_id = api.create_run(
        name="Nightly",
        source="backend",
        tags=["nightly"],
        config="Linux",
        fields=[{"type": 4, "name": "Console", "value": "make test\nok"}],
        links=[{"name": "CI", "url": "https://ci.example.com/42"}],
    )
    thread_id = api.create_thread(run_id)
    tests = [make_test(f"test_ok_{i}") for i in range(3)]
    tests += [
        make_test(
            "test_broken",
            "failed",
            folder="pkg.Other",
            fields=[{"type": 4, "name": "Failure", "value": "AssertionError: 1 != 2",
                     "is_highlight": True}],
            artifacts=[{"name": "shot.png", "url": "https://ci.example.com/shot.png",
                        "mime_type": "image/png"}],
            file="tests/test_other.py",
            line=12,
        ),
        make_test("test_error", "error", folder="pkg.Other"),
        make_test("test_skip", "skipped"),
    ]  # fmt: skip
    assert api.append(thread_id, tests).status_code == 204
    assert api.post(f"/automation/runs/{run_id}/complete").status_code == 204
    listed = api.get(f"/automation/runs/{run_id}/tests", status_id="3").json()["result"]
    broken = next(t for t in listed if t["name"] == "test_broken")
    return Sample(run_id, thread_id, broken["id"], api.run(run_id)["result"]["source_id"])
