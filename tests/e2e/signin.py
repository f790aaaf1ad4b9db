"""Helpers for sign-in tests against the real server: the bootstrap password, and sign-ins
sent at once, each from its own client (and source address) with the form's CSRF token."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx2 as httpx

from .conftest import ServerProcess

BOOTSTRAP_EMAIL = "admin@runhub.local"
PASSWORD_PREFIX = "Web UI password (shown once): "
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def bootstrap_password(server: ServerProcess) -> str:
    for line in server.stdout.splitlines():
        if line.startswith(PASSWORD_PREFIX):
            return line[len(PASSWORD_PREFIX) :].strip()
    raise AssertionError(f"no web UI password printed\n{server.output()}")


def sign_in_at_once(
    server: ServerProcess, attempts: list[tuple[str, str, str]]
) -> list[httpx.Response]:
    """Each (email, password, source address) on its own client, as a browser does: GET
    the form (CSRF cookie and token), then all POSTs released together by a barrier."""
    barrier = threading.Barrier(len(attempts), timeout=120)

    def attempt(email: str, password: str, address: str) -> httpx.Response:
        transport = httpx.HTTPTransport(local_address=address)
        with httpx.Client(base_url=server.base_url, transport=transport, timeout=120) as client:
            form = client.get("/signin")
            assert form.status_code == 200, form.text
            match = CSRF.search(form.text)
            assert match, "the sign-in page has no CSRF token"
            barrier.wait()
            response = client.post(
                "/signin",
                data={"csrf_token": match.group(1), "email": email, "password": password},
                follow_redirects=False,
            )
            response.read()
            return response

    with ThreadPoolExecutor(max_workers=len(attempts)) as pool:
        futures = [pool.submit(attempt, *a) for a in attempts]
        return [f.result(timeout=300) for f in futures]


def sign_in_once(server: ServerProcess, email: str, password: str, address: str) -> int:
    return sign_in_at_once(server, [(email, password, address)])[0].status_code
