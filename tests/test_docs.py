"""The README and docs link only to files that a clone has (issue 9, item 15)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_relative_links_resolve_inside_the_repository() -> None:
    documents = [ROOT / "README.md", ROOT / "bench" / "README.md", *ROOT.glob("docs/*.md")]
    checked = 0
    for document in documents:
        for target in LINK.findall(document.read_text()):
            if re.match(r"^[a-z]+:", target):  # https:, mailto:
                continue
            path = (document.parent / target).resolve()
            assert path.is_relative_to(ROOT), f"{document.name} links outside: {target}"
            assert path.exists(), f"{document.name} links to a missing file: {target}"
            checked += 1
    assert checked > 3
