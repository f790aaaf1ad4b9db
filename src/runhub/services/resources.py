"""Fields, artifacts and links from request bodies to table rows (tuples in the column
order of runhub.db.ingest, for its bulk insert)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from runhub.api.schemas import ArtifactIn, FieldIn, LinkIn


def field_rows(
    fields: Iterable[FieldIn] | None,
    run_id: int,
    thread_id: int | None = None,
    test_id: int | None = None,
) -> list[tuple[Any, ...]]:
    """Rows in ingest.FIELD_COLUMNS order; `meta` as JSON text."""
    return [
        (
            run_id,
            thread_id,
            test_id,
            f.type,
            f.name,
            f.value,
            json.dumps(f.meta, ensure_ascii=False) if f.meta is not None else None,
            f.is_highlight,
        )  # fmt: skip
        for f in fields or ()
    ]


def artifact_rows(
    artifacts: Iterable[ArtifactIn] | None,
    run_id: int,
    thread_id: int | None = None,
    test_id: int | None = None,
) -> list[tuple[Any, ...]]:
    """Rows in ingest.ARTIFACT_COLUMNS order."""
    return [
        (run_id, thread_id, test_id, a.name, a.note, a.url, a.mime_type, a.size)
        for a in artifacts or ()
    ]


def link_rows(links: Iterable[LinkIn] | None, run_id: int) -> list[dict[str, Any]]:
    return [{"run_id": run_id, "name": x.name, "note": x.note, "url": x.url} for x in links or ()]
