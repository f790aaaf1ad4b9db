"""What the official CLI (1.4.5) submits for a JUnit XML file: an independent reference reader.

Mirrors the CLI's parser (fast-xml-parser 4, reference §8.5) closely enough to predict, per
testcase, the key, the status alias and the elapsed microseconds: attribute values are
trimmed, numeric character references other than those for ' " < > & stay literal, and a
file with more than 1,000 entity expansions is refused. The fixtures are trusted test data,
so the standard library's parser is fine here.
"""

from __future__ import annotations

import hashlib
import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

EXTENSIONS = {".junit", ".log", ".report", ".reports", ".result", ".results", ".xml"}
MAX_ENTITY_EXPANSIONS = 1000  # fast-xml-parser's default maxTotalExpansions
STATUS_IDS = {"passed": 1, "failure": 2, "skipped": 5, "error": 6}  # decisions.md defaults

# The references fast-xml-parser expands (and counts) without `htmlEntities`; &amp; is
# expanded but not counted; any other numeric reference is kept as literal text.
_COUNTED = re.compile(r"&(apos|#39|#x27|gt|#62|#x3E|lt|#60|#x3C|quot|#34|#x22);")
_KEPT = {"#38", "#x26", "#39", "#x27", "#62", "#x3E", "#60", "#x3C", "#34", "#x22"}
_NUMERIC = re.compile(r"&(#[0-9]+|#x[0-9a-fA-F]+);")
_NUMBER = re.compile(r"^[+-]?([0-9]*\.)?[0-9]+$")  # validator.isNumeric


@dataclass(frozen=True)
class Expected:
    key: str  # sha256 hex of "folder.name" (or of "name" without a folder)
    name: str
    folder: str | None
    status: str  # passed, failure, skipped or error
    elapsed: int | None  # microseconds
    message: str | None  # text of the deciding failure/error/skipped element, if any

    @property
    def status_id(self) -> int:
        return STATUS_IDS[self.status]


def _attr(element: ET.Element, name: str) -> str | None:
    value = element.get(name)
    return value.strip() if value is not None and value.strip() else None


def _micros(element: ET.Element) -> int | None:
    for name in ("time", "duration"):
        value = _attr(element, name)
        if value is not None:
            value = value.replace(",", ".", 1)
            if _NUMBER.match(value) and float(value) >= 0:
                return math.floor(float(value) * 1_000_000 + 0.5)  # JavaScript Math.round
    return None


def _status_text(element: ET.Element) -> str | None:
    text = (element.text or "").strip() or None
    return text or _attr(element, "message") or _attr(element, "type")


def _test(case: ET.Element) -> Expected | None:
    name = _attr(case, "name")
    if name is None:
        return None
    folder = _attr(case, "classname") or _attr(case, "class")
    status, message = "passed", None
    for tag in ("skipped", "failure", "error"):  # last present wins: error > failure > skipped
        found = case.findall(tag)
        if found:
            status, message = tag, _status_text(found[-1])
    key_source = f"{folder}.{name}" if folder is not None else name
    key = hashlib.sha256(key_source.encode()).hexdigest()
    return Expected(key, name, folder, status, _micros(case), message)


def _walk(element: ET.Element) -> list[Expected]:
    # The CLI takes child suites first (testsuite, then testsuites), then the testcases.
    tests: list[Expected] = []
    for tag in ("testsuite", "testsuites"):
        for child in element.findall(tag):
            tests += _walk(child)
    for case in element.findall("testcase"):
        test = _test(case)
        if test is not None:
            tests.append(test)
    return tests


def expected_tests(path: Path) -> list[Expected] | None:
    """The tests the CLI submits for `path`, in order; None if the CLI would reject or skip
    the file (or this reader cannot predict it: not well-formed for the standard parser)."""
    if path.suffix.lower() not in EXTENSIONS:
        return None
    content = path.read_text(encoding="utf-8-sig", errors="replace")
    if "<testsuite" not in content or "<!DOCTYPE" in content or "<!ENTITY" in content:
        return None
    if len(_COUNTED.findall(content)) > MAX_ENTITY_EXPANSIONS:
        return None
    content = _NUMERIC.sub(lambda m: m[0] if m[1] in _KEPT else "&amp;" + m[0][1:], content)
    try:
        root = ET.fromstring(content)
    except ET.ParseError:
        return None
    holder = ET.Element("document")  # the parsed document holds the root element
    holder.append(root)
    return _walk(holder)
