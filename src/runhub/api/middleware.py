"""ASGI middleware: API authentication and the access log."""

from __future__ import annotations

import logging
import time
from typing import Any

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runhub.api.common import RateLimiter, json_response
from runhub.api.metrics import RequestMetrics
from runhub.db.engine import read_tx
from runhub.errors import ApiError
from runhub.services.access import Principal
from runhub.services.auth import authenticate

access_log = logging.getLogger("runhub.access")

API_PREFIX = "/api/v1/"
PUBLIC_API_PATHS = frozenset({"/api/v1/openapi.json"})


def _principal(engine: Engine, authorization: str | None) -> Principal:
    with read_tx(engine) as conn:
        return authenticate(conn, authorization)


class ApiAuthMiddleware:
    """Every /api/v1 request carries a valid Bearer token, checked before the body is read."""

    def __init__(self, app: ASGIApp, engine: Engine, rate_limiter: RateLimiter) -> None:
        self.app = app
        self.engine = engine
        self.rate_limiter = rate_limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(API_PREFIX) or path in PUBLIC_API_PATHS:
            await self.app(scope, receive, send)
            return
        authorization = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
                break
        try:
            who = await run_in_threadpool(_principal, self.engine, authorization)
            scope.setdefault("state", {})["user_id"] = who.user_id
            self.rate_limiter.check(who.user_id)
        except ApiError as exc:
            response = json_response(exc.body(), exc.status_code, exc.headers)
            await response(scope, receive, send)
            return
        scope["state"]["principal"] = who
        await self.app(scope, receive, send)


class GZipReadsMiddleware:
    """Compress GET answers (lists can be large); writes answer 201/204 with tiny bodies and
    skip the compression wrapper, which cost ingest about 8% of its time."""

    def __init__(self, app: ASGIApp, minimum_size: int = 4096, compresslevel: int = 4) -> None:
        self.app = app
        self.gzip_app = GZipMiddleware(app, minimum_size=minimum_size, compresslevel=compresslevel)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            await self.gzip_app(scope, receive, send)
        else:
            await self.app(scope, receive, send)


class AccessLogMiddleware:
    """Per request: one log line (method, path, status, duration, user id; never the token)
    and the process metrics."""

    def __init__(self, app: ASGIApp, metrics: RequestMetrics, log_lines: bool = True) -> None:
        self.app = app
        self.metrics = metrics
        self.log_lines = log_lines

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: dict[str, Any] = {"code": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            duration_s = time.perf_counter() - started
            self.metrics.observe(scope["method"], status["code"], duration_s)
            # No `return` in this block: it would swallow the app's exception, and the
            # error handler outside would never answer (no JSON 500, nothing logged).
            if self.log_lines:
                access_log.info(
                    "%s %s %s %.1fms user=%s",
                    scope["method"],
                    scope["path"],
                    status["code"],
                    duration_s * 1000,
                    scope.get("state", {}).get("user_id", "-"),
                )
