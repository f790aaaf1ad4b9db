"""Paging: the one page envelope every list answers with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PageRequest:
    page: int
    per_page: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


def envelope(
    request: PageRequest, total: int, items: list[Any], expands: dict[str, Any] | None = None
) -> dict[str, Any]:
    last_page = max(1, -(-total // request.per_page))
    page = request.page
    body: dict[str, Any] = {
        "page": page,
        "prev_page": page - 1 if 1 < page <= last_page + 1 else None,
        "next_page": page + 1 if page < last_page else None,
        "last_page": last_page,
        "per_page": request.per_page,
        "total": total,
        "result": items,
    }
    if expands is not None:
        body["expands"] = expands
    return body
