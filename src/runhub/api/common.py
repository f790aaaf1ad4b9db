"""What every handler shares: authentication, the thread-pool hop, JSON responses."""

from __future__ import annotations

import time
from collections.abc import Callable
from threading import Lock
from typing import Any, TypeVar

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from runhub.errors import NotFound, TooManyRequests
from runhub.services.access import Principal

T = TypeVar("T")
_encoder = msgspec.json.Encoder()


def json_response(
    data: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(_encoder.encode(data), status_code, headers, media_type="application/json")


def created(new_id: int) -> Response:
    return json_response({"id": new_id}, 201)


def no_content() -> Response:
    return Response(status_code=204)


def path_id(request: Request, name: str) -> int:
    """A positive integer id from the path; anything else names no object (404)."""
    raw = request.path_params[name]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18 or int(raw) < 1:
        raise NotFound("The requested resource does not exist.")
    return int(raw)


class RateLimiter:
    """Fixed one-minute windows per user, in this process (off when limit is 0)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._windows: dict[int, tuple[int, int]] = {}
        self._lock = Lock()

    def check(self, user_id: int) -> None:
        if self.per_minute <= 0:
            return
        now = time.time()
        window = int(now // 60)
        with self._lock:
            current, count = self._windows.get(user_id, (window, 0))
            if current != window:
                count = 0
            count += 1
            self._windows[user_id] = (window, count)
        if count > self.per_minute:
            retry_after = max(1, int(60 - now % 60))
            raise TooManyRequests(headers={"Retry-After": str(retry_after)})


async def call(request: Request, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run `fn(engine, principal, *args)` in the thread pool (authenticated by middleware)."""
    who: Principal = request.state.principal
    return await run_in_threadpool(fn, request.app.state.engine, who, *args, **kwargs)
