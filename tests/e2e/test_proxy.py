"""X-Forwarded-Proto/-For are honoured only from trusted proxies (--trusted-proxy)."""

from __future__ import annotations

import pytest

from .conftest import StartServer

pytestmark = pytest.mark.e2e

FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}


@pytest.mark.parametrize("trusted", [False, True])
def test_forwarded_headers_only_from_trusted_proxies(
    db_url: str, start_server: StartServer, trusted: bool
) -> None:
    args = ["--trusted-proxy", "127.0.0.1"] if trusted else []
    server = start_server(db_url, args=args)
    with server.client() as client:
        page = client.get(server.base_url + "/api/docs", headers=FORWARDED).text
    host = server.base_url.split("://", 1)[1]
    expected = "https" if trusted else "http"
    assert f'src="{expected}://{host}/api/docs/static/swagger-ui-bundle.js"' in page
