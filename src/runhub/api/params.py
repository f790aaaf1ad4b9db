"""Query-string parsing with decisions.md's rules; each bad value is a 422 naming it."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from runhub.errors import invalid
from runhub.services.paging import PageRequest
from runhub.timeutil import parse_query

LIST_PAGE_SIZES = (15, 25, 50, 100)
MAX_INT = 2**63 - 1  # ids and offsets are 64-bit in the database
TRUE, FALSE = ("true", "1"), ("false", "0")


def is_id_text(value: str) -> bool:
    """ASCII digits of a number that fits a 64-bit id (str.isdigit also takes "²")."""
    return value.isascii() and value.isdigit() and len(value) <= 19 and int(value) <= MAX_INT


def _get(query: Mapping[str, str], name: str) -> str | None:
    value = query.get(name)
    if value is None or value.strip() == "":
        return None
    if "\x00" in value:
        raise invalid(name, f"The {name} parameter must not contain NUL characters.")
    return value.strip()


def text(query: Mapping[str, str], name: str) -> str | None:
    return _get(query, name)


def positive_int(query: Mapping[str, str], name: str) -> int | None:
    value = _get(query, name)
    if value is None:
        return None
    if not is_id_text(value) or int(value) < 1:
        raise invalid(name, f"The {name} parameter must be a positive integer.")
    return int(value)


def page_request(
    query: Mapping[str, str],
    sizes: Collection[int] = LIST_PAGE_SIZES,
    size_range: tuple[int, int] | None = None,
    default_size: int = 100,
) -> PageRequest:
    page = positive_int(query, "page") or 1
    per_page = positive_int(query, "per_page")
    if per_page is None:
        per_page = default_size
    elif size_range is not None:
        low, high = size_range
        if not low <= per_page <= high:
            raise invalid("per_page", f"The per_page parameter must be between {low} and {high}.")
    elif per_page not in sizes:
        allowed = ", ".join(str(s) for s in sizes)
        raise invalid("per_page", f"The per_page parameter must be one of {allowed}.")
    if (page - 1) * per_page > MAX_INT:
        raise invalid("page", "The page parameter is too large.")
    return PageRequest(page=page, per_page=per_page)


def id_list(query: Mapping[str, str], name: str) -> list[int] | None:
    value = _get(query, name)
    if value is None:
        return None
    parts = [p.strip() for p in value.split(",") if p.strip()]
    if not parts or not all(is_id_text(p) for p in parts):
        raise invalid(name, f"The {name} parameter must be a comma-separated list of ids.")
    return [int(p) for p in parts]


def choice_list(query: Mapping[str, str], name: str, allowed: Collection[int]) -> set[int] | None:
    values = id_list(query, name)
    if values is None:
        return None
    if any(v not in allowed for v in values):
        options = ", ".join(str(a) for a in sorted(allowed))
        raise invalid(name, f"The {name} parameter accepts only {options}.")
    return set(values)


def string_list(query: Mapping[str, str], name: str) -> list[str] | None:
    value = _get(query, name)
    if value is None:
        return None
    return [p.strip() for p in value.split(",") if p.strip()]


def name_list(query: Mapping[str, str], name: str, allowed: Sequence[str]) -> list[str] | None:
    """A comma-separated list of names, each one of `allowed`."""
    values = string_list(query, name)
    if not values:
        return None
    unknown = [v for v in values if v not in allowed]
    if unknown:
        options = ", ".join(allowed)
        message = f"Unknown {name} {unknown[0]!r}; the {name} parameter accepts {options}."
        raise invalid(name, message)
    return list(dict.fromkeys(values))


def boolean(query: Mapping[str, str], name: str) -> bool | None:
    value = _get(query, name)
    if value is None:
        return None
    lowered = value.lower()
    if lowered in TRUE:
        return True
    if lowered in FALSE:
        return False
    raise invalid(name, f"The {name} parameter must be true, false, 1 or 0.")


def timestamp(query: Mapping[str, str], name: str) -> datetime | None:
    value = _get(query, name)
    if value is None:
        return None
    try:
        return parse_query(value)
    except (ValueError, OverflowError):  # OverflowError: 0001-01-01T00:00+01:00 in UTC
        raise invalid(name, f"The {name} parameter must be an ISO 8601 date and time.") from None


def order_desc(query: Mapping[str, str], default: str = "desc") -> bool:
    value = (_get(query, "order") or default).lower()
    if value not in ("asc", "desc"):
        raise invalid("order", "The order parameter must be asc or desc.")
    return value == "desc"


def sort(query: Mapping[str, str], allowed: Collection[str], default: str) -> str:
    value = _get(query, "sort") or default
    if value not in allowed:
        raise invalid("sort", f"The sort parameter must be one of {', '.join(sorted(allowed))}.")
    return value


def expands(query: Mapping[str, str], allowed: Collection[str]) -> tuple[str, ...]:
    names = string_list(query, "expands") or []
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise invalid(
            "expands",
            f"Unknown expand {unknown[0]!r}; this endpoint supports {', '.join(allowed)}.",
        )
    return tuple(dict.fromkeys(names))


def run_filters(query: Mapping[str, str]) -> dict[str, Any]:
    """The run-list filters (API and web UI alike), as `RunQuery` keyword arguments."""
    statuses = choice_list(query, "status", (2, 3, 4))
    return {
        "source_ids": id_list(query, "source_id"),
        "config_ids": id_list(query, "config_id"),
        "milestone_ids": id_list(query, "milestone_id"),
        "creator_ids": id_list(query, "created_by"),
        "statuses": sorted(statuses) if statuses else None,
        "tags": string_list(query, "tags"),
        "created_after": timestamp(query, "created_after"),
        "created_before": timestamp(query, "created_before"),
    }
