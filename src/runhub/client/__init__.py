"""runhub client: submit results to runhub (or Testmo) from any JUnit report.

`Client`, `ApiError` and `ApiConnectionError` are imported on first use, so that the
`runhub` command starts fast when it needs no HTTP client (`--dry-run`, resources files).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runhub.client.api import ApiConnectionError, ApiError, Client

__all__ = ["ApiConnectionError", "ApiError", "Client"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from runhub.client import api

        return getattr(api, name)
    raise AttributeError(f"module 'runhub.client' has no attribute {name!r}")
