"""Fields, artifacts and links from request bodies to table rows."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from runhub.api.schemas import ArtifactIn, FieldIn, LinkIn


def field_rows(
    fields: Iterable[FieldIn] | None,
    run_id: int,
    thread_id: int | None = None,
    test_id: int | None = None,
) -> list[dict[str, Any]]:
    return [
        {
            "run_id": run_id,
            "thread_id": thread_id,
            "test_id": test_id,
            "type": f.type,
            "name": f.name,
            "value": f.value,
            "meta": f.meta,
            "is_highlight": f.is_highlight,
        }
        for f in fields or ()
    ]


def artifact_rows(
    artifacts: Iterable[ArtifactIn] | None,
    run_id: int,
    thread_id: int | None = None,
    test_id: int | None = None,
) -> list[dict[str, Any]]:
    return [
        {
            "run_id": run_id,
            "thread_id": thread_id,
            "test_id": test_id,
            "name": a.name,
            "note": a.note,
            "url": a.url,
            "mime_type": a.mime_type,
            "size": a.size,
        }
        for a in artifacts or ()
    ]


def link_rows(links: Iterable[LinkIn] | None, run_id: int) -> list[dict[str, Any]]:
    return [{"run_id": run_id, "name": x.name, "note": x.note, "url": x.url} for x in links or ()]
