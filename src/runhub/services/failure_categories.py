"""Failure categories: Allure's `categories.json` as a project setting, shown as a label on
failure groups (README "Failure groups"). Plain functions, no SQL.

The file is an array of rules `{"name", "messageRegex", "traceRegex", "matchedStatuses",
...}` in order; the first rule that matches a group's sample failure names its category.
As in Allure, a regex must match the whole message (or trace), `.` matching newlines too;
a rule without a regex matches any text; without `matchedStatuses`, any status. A failure's
status is Allure's: `failed` for runhub's Failed status, `broken` for Error, Blocked and
the other failed statuses. Other keys (`description`, `flaky`, ...) are kept, not used.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import regex

from runhub.errors import invalid

MAX_RULES = 100
MAX_REGEX_CHARS = 2000
MAX_NAME_CHARS = 200
# A regex that takes longer than this on one failure text does not match it.
MATCH_TIMEOUT_S = 0.05
ALLURE_STATUSES = ("failed", "broken", "passed", "skipped", "unknown")


@dataclass(frozen=True)
class Category:
    name: str
    message: regex.Pattern[str] | None
    trace: regex.Pattern[str] | None
    statuses: frozenset[str] | None


def parse(document: Any) -> list[Category]:
    """The rules of a categories.json document (already decoded); a 422 names what is wrong."""
    if not isinstance(document, list):
        raise invalid("body", "The body must be a JSON array of categories.")
    if len(document) > MAX_RULES:
        raise invalid("body", f"At most {MAX_RULES} categories are allowed.")
    return [_rule(i, rule) for i, rule in enumerate(document)]


def _rule(index: int, rule: Any) -> Category:
    where = str(index)
    if not isinstance(rule, dict):
        raise invalid(where, f"The {where} field must be an object (a category).")
    name = rule.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_CHARS:
        raise invalid(
            f"{where}.name", f"The {where}.name field must have 1 to {MAX_NAME_CHARS} characters."
        )
    statuses = rule.get("matchedStatuses")
    if statuses is not None and (
        not isinstance(statuses, list) or any(s not in ALLURE_STATUSES for s in statuses)
    ):
        raise invalid(
            f"{where}.matchedStatuses",
            f"The {where}.matchedStatuses field must list some of: "
            + ", ".join(ALLURE_STATUSES)
            + ".",
        )
    return Category(
        name=name.strip(),
        message=_regex(rule, "messageRegex", where),
        trace=_regex(rule, "traceRegex", where),
        statuses=frozenset(statuses) if statuses is not None else None,
    )


def _regex(rule: dict[str, Any], key: str, where: str) -> regex.Pattern[str] | None:
    pattern = rule.get(key)
    if pattern is None:
        return None
    if not isinstance(pattern, str) or len(pattern) > MAX_REGEX_CHARS:
        raise invalid(
            f"{where}.{key}",
            f"The {where}.{key} field must have at most {MAX_REGEX_CHARS} characters.",
        )
    try:
        return regex.compile(pattern, regex.DOTALL)
    except regex.error as exc:
        raise invalid(
            f"{where}.{key}", f"The {where}.{key} field is not a valid regular expression: {exc}."
        ) from None


def load(stored: str | None) -> list[Category]:
    """The project's stored rules (validated when they were set)."""
    return parse(json.loads(stored)) if stored else []


def allure_status(system_name: str) -> str:
    return "failed" if system_name == "failed" else "broken"


def category_of(
    categories: list[Category], status: str, message: str | None, trace: str | None
) -> str | None:
    """The name of the first category that matches, or None."""
    for category in categories:
        if category.statuses is not None and status not in category.statuses:
            continue
        if category.message is not None and not _matches(category.message, message or ""):
            continue
        if category.trace is not None and not _matches(category.trace, trace or ""):
            continue
        return category.name
    return None


def _matches(pattern: regex.Pattern[str], text: str) -> bool:
    try:
        return pattern.fullmatch(text, timeout=MATCH_TIMEOUT_S) is not None
    except TimeoutError:
        return False
