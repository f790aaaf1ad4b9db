"""A run's commit and branch, read from its fields (decisions.md "Commit and branch").

Testmo has no such properties; its users add them as run fields, e.g.
`automation:resources:add-field --name git --type string --value $(git rev-parse HEAD)`.
The first string or text run field with a known name wins, also when appended later.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

COMMIT_NAMES = frozenset({"commit", "gitcommit", "git", "gitsha", "sha", "commitsha", "revision"})
BRANCH_NAMES = frozenset({"branch", "gitbranch", "ref", "gitref"})
TEXT_TYPES = (1, 2)  # string, text
MAX_LENGTH = 750


def normalised_name(name: str) -> str:
    return name.lower().replace(" ", "").replace("_", "").replace("-", "")


def commit_and_branch(fields: Iterable[Any]) -> tuple[str | None, str | None]:
    """The first commit and the first branch among `fields` (objects with type, name and
    value), in order; None where there is none."""
    commit = branch = None
    for field in fields:
        if field.type not in TEXT_TYPES or not field.value or not field.value.strip():
            continue
        kind = normalised_name(field.name)
        value = field.value.strip()
        if commit is None and kind in COMMIT_NAMES:
            commit = value[:MAX_LENGTH]
        elif branch is None and kind in BRANCH_NAMES:
            branch = value.removeprefix("refs/heads/")[:MAX_LENGTH] or None
    return commit, branch
