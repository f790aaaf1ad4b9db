"""ASGI middleware: API authentication and the access log."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.middleware.gzip import GZipMiddleware
from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runhub.api.common import RateLimiter, json_response
from runhub.api.metrics import UNMATCHED_ROUTE, Metrics
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


REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._-]{1,128}")


def request_id(scope: Scope) -> str:
    """The client's X-Request-Id if it is sane (1..128 of [A-Za-z0-9._-]), else a new one."""
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            given = value.decode("latin-1")
            if REQUEST_ID_RE.fullmatch(given):
                return given
            break
    return uuid.uuid4().hex


def route_template(scope: Scope) -> str:
    """The path template of the route that answered (or would have answered, for requests
    refused before routing), never the raw path."""
    route = scope.get("route")
    if route is None:
        app = scope.get("app")
        for candidate in getattr(getattr(app, "router", None), "routes", ()):
            if candidate.matches(scope)[0] != Match.NONE:
                route = candidate
                break
    if isinstance(route, Mount):
        return route.path + "/{path}"
    return getattr(route, "path", None) or UNMATCHED_ROUTE


class AccessLogMiddleware:
    """Per request: a request id (X-Request-Id, both ways), one log line (method, path,
    status, duration, user id, request id; never the token) and the request metrics."""

    def __init__(
        self, app: ASGIApp, metrics: Metrics, log_lines: bool = True, log_format: str = "plain"
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.log_lines = log_lines
        self.json_lines = log_format == "json"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        rid = request_id(scope)
        scope.setdefault("state", {})["request_id"] = rid
        status: dict[str, Any] = {"code": 500, "bytes": 0}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", rid.encode("ascii")))
                message = {**message, "headers": headers}
            elif message["type"] == "http.response.body":
                status["bytes"] += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            duration_s = time.perf_counter() - started
            route = route_template(scope)
            self.metrics.observe_request(scope["method"], route, status["code"], duration_s)
            # No `return` in this block: it would swallow the app's exception, and the
            # error handler outside would never answer (no JSON 500, nothing logged).
            if self.log_lines:
                self._log(scope, route, rid, status, duration_s)

    def _log(
        self, scope: Scope, route: str, rid: str, status: dict[str, Any], duration_s: float
    ) -> None:
        user = scope.get("state", {}).get("user_id", "-")
        if not self.json_lines:
            access_log.info(
                "%s %s %s %.1fms user=%s request_id=%s",
                scope["method"],
                scope["path"],
                status["code"],
                duration_s * 1000,
                user,
                rid,
            )
            return
        client = scope.get("client")
        line = {
            "ts": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": "info",
            "request_id": rid,
            "method": scope["method"],
            "path": scope["path"],
            "route": route,
            "status": status["code"],
            "duration_ms": round(duration_s * 1000, 1),
            "bytes": status["bytes"],
            "client": client[0] if client else None,
            "user_id": None if user == "-" else user,
        }
        access_log.info("%s", json.dumps(line, separators=(",", ":")))
