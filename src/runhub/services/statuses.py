"""Result statuses: alias resolution, categories and the derived counters."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from runhub.db import catalog
from runhub.db.schema import STATUS_SLOTS

COUNT_KEYS = tuple(f"status{n}_count" for n in STATUS_SLOTS)

NEUTRAL, SUCCESS, FAILURE, RUNNING = 1, 2, 3, 4
CACHE_MAX_AGE_S = 5.0


@dataclass(frozen=True)
class StatusTable:
    rows: tuple[dict, ...]
    active_alias_to_id: Mapping[str, int]
    passed_ids: frozenset[int]
    failed_ids: frozenset[int]
    final_ids: frozenset[int]

    @classmethod
    def load(cls, conn: Connection) -> StatusTable:
        aliases_by_status: dict[int, list[str]] = {}
        for alias in catalog.all_aliases(conn):
            aliases_by_status.setdefault(alias["status_id"], []).append(alias["alias"])
        rows = tuple(
            {**dict(s), "aliases": aliases_by_status.get(s["id"], [])}
            for s in catalog.all_statuses(conn)
        )
        active = {r["id"] for r in rows if r["is_active"]}
        return cls(
            rows=rows,
            active_alias_to_id={
                a: sid for sid, names in aliases_by_status.items() if sid in active for a in names
            },
            passed_ids=frozenset(r["id"] for r in rows if r["is_passed"]),
            failed_ids=frozenset(r["id"] for r in rows if r["is_failed"]),
            final_ids=frozenset(r["id"] for r in rows if r["is_final"]),
        )

    @classmethod
    def cached(cls, conn: Connection, max_age_s: float = CACHE_MAX_AGE_S) -> StatusTable:
        """The table as loaded at most `max_age_s` ago by this process (the append hot path
        reads it on every request; status changes reach other processes within that time)."""
        key = conn.engine.url.render_as_string()
        now = time.monotonic()
        hit = _cache.get(key)
        if hit is not None and now - hit[0] < max_age_s:
            return hit[1]
        table = cls.load(conn)
        _cache[key] = (now, table)
        return table

    @staticmethod
    def forget() -> None:
        """Drop the cache (after statuses change in this process)."""
        _cache.clear()

    def category(self, status_id: int) -> int:
        """2 when the status is passed, 3 when failed, 1 (neutral) otherwise."""
        if status_id in self.passed_ids:
            return SUCCESS
        if status_id in self.failed_ids:
            return FAILURE
        return NEUTRAL

    def ids_in_categories(self, categories: set[int]) -> list[int]:
        return sorted(r["id"] for r in self.rows if self.category(r["id"]) in categories)

    def counts(self, per_status: Mapping[int, Any]) -> dict[str, int]:
        """The counter properties of a run or thread from its per-status counts."""
        return self._counts([int(per_status.get(n, 0) or 0) for n in STATUS_SLOTS])

    def counts_of(self, row: Mapping[str, Any] | None) -> dict[str, int]:
        """counts() from a row with `status<N>_count` columns (None: all zero)."""
        if row is None:
            return self._counts([0] * len(STATUS_SLOTS))
        return self._counts([int(row.get(key) or 0) for key in COUNT_KEYS])

    def _counts(self, values: list[int]) -> dict[str, int]:
        out: dict[str, int] = {"untested_count": 0}
        out.update(zip(COUNT_KEYS, values, strict=True))
        success = failure = completed = 0
        for i, n in enumerate(STATUS_SLOTS):
            value = values[i]
            if value:
                if n in self.passed_ids:
                    success += value
                if n in self.failed_ids:
                    failure += value
                if n in self.final_ids:
                    completed += value
        out["success_count"] = success
        out["failure_count"] = failure
        out["completed_count"] = completed
        out["total_count"] = sum(values)
        return out

    def expand(self) -> list[dict]:
        """The `statuses` expand: every active status."""
        keys = (
            "id",
            "name",
            "system_name",
            "color",
            "is_final",
            "is_untested",
            "is_passed",
            "is_failed",
        )
        return [
            {**{k: r[k] for k in keys}, "aliases": list(r["aliases"])}
            for r in self.rows
            if r["is_active"]
        ]


_cache: dict[str, tuple[float, StatusTable]] = {}
