"""JUnit XML reports → the test dicts the official `testmo` CLI 1.4.5 sends (reference §8.5).

`iter_tests(path)` streams one report: it parses with `defusedxml`'s iterparse (no DTDs, no
entity declarations, no external references) and drops every finished element, so memory
stays bounded by the largest single `<testcase>` whatever the size of the file.  Each
yielded dict is the JSON object the CLI would append for that testcase: `key`, `name`,
`status`, `folder`, `artifacts`, `fields` always; `elapsed`, `file`, `line`, `assertions`
only when known.  Truncation follows §8.7.

CLI quirks mirrored on purpose (so keys and fields stay identical on the wire):
* numeric character references other than those for ' " < > & are kept as literal text
  (`&#13;` stays `&#13;`), as fast-xml-parser does; CDATA and comments are left alone;
* attribute values are trimmed; `classname` (else `class`) counts only when non-empty;
* time: the first comma becomes a decimal point; JS `Math.round` (half up) to µs.

Intended differences from the CLI (runhub is better here):
1. No 1,000-entity limit: any number of `&lt;`, `&quot;`… is read (the CLI refuses the file).
2. Exponent times (`4.5e-05`) are read (CLI: no elapsed); a time holding both `,` and `.`
   (`2,503.1`) reads the comma as a thousands separator (CLI: no elapsed); `1.` reads as 1.
3. Tests are yielded in document order; the CLI emits a suite's child suites before its own
   testcases (only differs when a suite holds testcases *and* nested suites).
4. Rerun elements (`flakyFailure`, `flakyError`, `rerunFailure`, `rerunError`) each yield an
   extra result of the same test (status failure/error, their message, output and time)
   before the final result; pass `reruns=False` to get exactly the CLI's results.
5. Hostile or broken input raises `ReportError` instead of being half-read: DTDs/entities
   (never resolved: no network or file access), malformed XML, zero-byte files, and a root
   element other than `testsuites`/`testsuite` (the CLI silently sends 0 tests for those).
   Errors surface while iterating, so tests already yielded from a truncated file stay
   yielded; a caller that must be all-or-nothing should collect first.

TODO (not implemented, precisely):
* `[[PROPERTY|…]]`/`[[ATTACHMENT|…]]` markers: handled for the common forms only (see
  `_MARKER`); the CLI's exact treatment of malformed markers is not verified.
* Several `<system-out>` elements in one testcase are joined with a newline (CLI behaviour
  unverified).
* The rewriter script (`--results-rewriter`) is not supported here.
* Non-UTF-8/ASCII-compatible encodings (UTF-16) parse, but numeric references are then
  expanded instead of kept literal.
"""

from __future__ import annotations

import glob
import hashlib
import math
import mimetypes
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import defusedxml
import defusedxml.ElementTree as DET

EXTENSIONS = frozenset({".junit", ".log", ".report", ".reports", ".result", ".results", ".xml"})
SUITES = frozenset({"testsuites", "testsuite"})
STATUS_ELEMENTS = (("skipped", "Skipped"), ("failure", "Failure"), ("error", "Error"))
RERUN_ELEMENTS = {
    "flakyFailure": ("failure", "Failure"),
    "rerunFailure": ("failure", "Failure"),
    "flakyError": ("error", "Error"),
    "rerunError": ("error", "Error"),
}
UNNAMED_FOLDER = "Unnamed folder"

# §8.7 limits
MAX_STRING = 750
MAX_NOTE = 80
MAX_TEXT = 16_384
TEXT_KEEP = 8_182
TEXT_JOIN = "...\n\n[...]\n\n..."
MAX_ATTACHMENTS = 24
MAX_FIELDS = 24
MAX_STEPS = 99

FIELD_STRING, FIELD_TEXT, FIELD_HTML, FIELD_CONSOLE, FIELD_URL = 1, 2, 3, 4, 5
_TYPE_PREFIXES = {
    "string:": FIELD_STRING,
    "url:": FIELD_URL,
    "text:": FIELD_TEXT,
    "console:": FIELD_CONSOLE,
    "html:": FIELD_HTML,
}

_TIME = re.compile(r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")
_INT = re.compile(r"^[0-9]+$")
_STEP = re.compile(r"^step[^\[]*(?:\[([^\]]*)\])?$", re.IGNORECASE)
_MARKER = re.compile(
    r"\[\[ATTACHMENT\|([^\]]*)\]\]"
    r"|\[\[PROPERTY\|([^\]=]*)=([^\]]*)\]\]"
    r"|\[\[PROPERTY\|([^\]=]*)\]\](.*?)\[\[/PROPERTY\]\]",
    re.DOTALL,
)
# What the reference-keeping filter must look at: CDATA/comment openers and numeric refs.
_TOKEN = re.compile(rb"<!\[CDATA\[|<!--|&#(x[0-9a-fA-F]+|[0-9]+);")
_KEPT_REFS = frozenset({b"38", b"x26", b"39", b"x27", b"62", b"x3E", b"60", b"x3C", b"34", b"x22"})
_TAIL = 32  # longest partial token carried between chunks
_SNIFF = 1 << 16


class ReportError(Exception):
    """A report that cannot be read: message says which file and why."""


@dataclass
class Report:
    """One parsed file; filled in while `iter_tests` runs, complete once it is exhausted."""

    path: Path
    elapsed_us: int | None  # top-level time of the root suite chain, µs; None if absent
    tests: int = 0  # results yielded (rerun attempts included)
    tests_elapsed_us: int = 0  # Σ elapsed of the yielded final results


# -- file discovery ---------------------------------------------------------------------


def is_result_file(path: Path) -> bool:
    """A JUnit candidate as the CLI sees it: a known extension and `<testsuite` somewhere."""
    if path.suffix.lower() not in EXTENSIONS or not path.is_file():
        return False
    needle = b"<testsuite"
    try:
        with path.open("rb") as stream:
            carry = b""
            while chunk := stream.read(_SNIFF):
                if needle in carry + chunk:
                    return True
                carry = chunk[-(len(needle) - 1) :]
    except OSError:
        return False
    return False


def expand_results(patterns: Sequence[str]) -> list[Path]:
    """Each argument is a file or a glob pattern (`**` recursive); files only, deduplicated,
    in argument order (matches of one pattern sorted)."""
    seen: set[Path] = set()
    found: list[Path] = []
    for pattern in patterns:
        names = sorted(glob.glob(pattern, recursive=True)) if glob.has_magic(pattern) else [pattern]
        for name in names:
            path = Path(name)
            if path.is_file() and path not in seen:
                seen.add(path)
                found.append(path)
    return found


# -- value helpers ------------------------------------------------------------------------


def _local(tag: object) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _attr(element: ET.Element, name: str) -> str | None:
    value = element.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def _text(element: ET.Element) -> str | None:
    return (element.text or "").strip() or None


def parse_seconds(value: str | None) -> int | None:
    """Seconds → µs (half up), None when absent, non-numeric, non-finite or negative."""
    if value is None:
        return None
    value = value.strip()
    value = value.replace(",", "") if "," in value and "." in value else value.replace(",", ".", 1)
    if not _TIME.match(value):
        return None
    seconds = float(value)
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return math.floor(seconds * 1_000_000 + 0.5)


def _elapsed(element: ET.Element) -> int | None:
    for name in ("time", "duration"):
        value = _attr(element, name)
        if value is not None:
            return parse_seconds(value)
    return None


def _cut(value: str, limit: int = MAX_STRING) -> str:
    return value[:limit]


def _cut_text(value: str) -> str:
    if len(value) <= MAX_TEXT:
        return value
    return value[:TEXT_KEEP] + TEXT_JOIN + value[-TEXT_KEEP:]


def _field(kind: int, name: str, value: str, highlight: bool | None = False) -> dict[str, Any]:
    if kind in (FIELD_TEXT, FIELD_CONSOLE):
        value = _cut_text(value)
    elif kind == FIELD_HTML:
        value = value[:MAX_TEXT]
    else:
        value = _cut(value)
    field: dict[str, Any] = {"type": kind, "name": _cut(name), "value": value}
    if highlight is not None:
        field["is_highlight"] = highlight
    return field


def _status_field(element: ET.Element, label: str) -> dict[str, Any] | None:
    """Console field for a skipped/failure/error (or rerun) element; None without info."""
    message, kind = _attr(element, "message"), _attr(element, "type")
    text = _text(element)
    if text is None:
        trace = element.find("stackTrace")
        text = _text(trace) if trace is not None else None
    meta: dict[str, str] = {}
    if text is not None:
        value = text
        if message is not None:
            meta["message"] = _cut(message)
        if kind is not None:
            meta["type"] = _cut(kind)
    elif message is not None:
        value = message
        if kind is not None:
            meta["type"] = _cut(kind)
    elif kind is not None:
        value = kind
    else:
        return None
    field: dict[str, Any] = {"type": FIELD_CONSOLE, "name": label}
    if meta:
        field["meta"] = meta
    field["value"] = _cut_text(value)
    field["is_highlight"] = True
    return field


# -- per-testcase collection ----------------------------------------------------------------


class _Extras:
    """Attachments, property fields and steps of one testcase, in the CLI's order."""

    def __init__(self) -> None:
        self.attachments: list[tuple[str, str]] = []
        self.marker_fields: list[dict[str, Any]] = []
        self.property_fields: list[dict[str, Any]] = []
        self.steps: list[tuple[str | None, str]] = []

    def add_property(self, name: str, value: str, multiline: bool, markers: bool = False) -> None:
        target = self.marker_fields if markers else self.property_fields
        for prefix, kind in _TYPE_PREFIXES.items():
            if name.startswith(prefix):
                name = name[len(prefix) :]
                if kind == FIELD_URL and not value.startswith("https://"):
                    kind = FIELD_STRING
                target.append(_field(kind, name, value))
                return
        if name.lower().startswith("attachment"):
            self.attachments.append((name, value))
            return
        step = _STEP.match(name)
        if step:
            self.steps.append((step.group(1) or None, value))
            return
        target.append(_field(FIELD_TEXT if multiline else FIELD_STRING, name, value))

    def scan_output(self, text: str) -> str:
        """Take the markers out of a system-out/err text; returns the remainder."""

        def take(match: re.Match[str]) -> str:
            if match.group(1) is not None:
                self.attachments.append(("attachment", match.group(1).strip()))
            elif match.group(2) is not None:
                self.add_property(match.group(2).strip(), match.group(3).strip(), False, True)
            else:
                self.add_property(match.group(4).strip(), match.group(5).strip(), True, True)
            return ""

        return _MARKER.sub(take, text) if "[[" in text else text

    def artifacts_and_fields(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        artifacts: list[dict[str, Any]] = []
        fields: list[dict[str, Any]] = []
        counts: dict[str, int] = {}
        for name, value in self.attachments[:MAX_ATTACHMENTS]:
            if value.startswith("https://"):
                base = value.rstrip()
                file_name = name if base.endswith(("/", "\\")) else re.split(r"[/\\]", base)[-1]
                artifact: dict[str, Any] = {"name": _cut(file_name), "url": _cut(value)}
                mime = mimetypes.guess_type(file_name)[0]
                if mime:
                    artifact["mime_type"] = _cut(mime)
                artifacts.append(artifact)
            else:
                counts[name] = counts.get(name, 0) + 1
                label = name if counts[name] == 1 else f"{name}{counts[name]}"
                fields.append(_field(FIELD_STRING, label, value, None))
        return artifacts, fields

    def steps_field(self) -> dict[str, Any] | None:
        if not self.steps:
            return None
        parts = ["<test-steps>"]
        for status, content in self.steps[:MAX_STEPS]:
            attr = f' status="{status}"' if status else ""
            parts.append(f"<test-step{attr}>{content}</test-step>\n")
        parts.append("</test-steps>")
        return _field(FIELD_HTML, "Steps", "".join(parts))


def _output_fields(element: ET.Element, extras: _Extras | None) -> list[dict[str, Any]]:
    fields = []
    for tag, label in (("system-out", "Output"), ("system-err", "Errors")):
        texts = [child.text or "" for child in element.findall(tag)]
        text = "\n".join(t for t in texts if t.strip())
        if extras is not None:
            text = extras.scan_output(text)
        text = text.strip()
        if text:
            fields.append(_field(FIELD_CONSOLE, label, text))
    return fields


def _testcase(case: ET.Element, report: Report, reruns: bool) -> Iterator[dict[str, Any]]:
    name = _attr(case, "name")
    if name is None:
        return
    folder = _attr(case, "classname") or _attr(case, "class")
    key = hashlib.sha256((f"{folder}.{name}" if folder else name).encode()).hexdigest()
    base: dict[str, Any] = {
        "key": key,
        "name": _cut(name),
        "status": "passed",
        "folder": _cut(folder or UNNAMED_FOLDER),
    }
    file = _attr(case, "file")
    line = _attr(case, "line")

    def located(test: dict[str, Any]) -> dict[str, Any]:
        if file is not None:
            test["file"] = _cut(file)
        if line is not None and _INT.match(line):
            test["line"] = int(line)
        return test

    if reruns:
        for child in case:
            rerun = RERUN_ELEMENTS.get(_local(child.tag))
            if rerun is None:
                continue
            status, label = rerun
            fields = [f for f in [_status_field(child, label)] if f] + _output_fields(child, None)
            attempt = dict(base, status=status, artifacts=[], fields=fields[:MAX_FIELDS])
            elapsed = _elapsed(child)
            if elapsed is not None:
                attempt["elapsed"] = elapsed
            report.tests += 1
            yield located(attempt)

    extras = _Extras()
    status_fields: list[dict[str, Any]] = []
    status = "passed"
    for tag, label in STATUS_ELEMENTS:
        for element in case.findall(tag):
            status = tag
            field = _status_field(element, label)
            if field is not None:
                status_fields.append(field)
    output = _output_fields(case, extras)
    for properties in case.findall("properties"):
        for prop in properties.findall("property"):
            prop_name = _attr(prop, "name")
            if prop_name is None:
                continue
            value = prop.get("value")
            if value is not None:
                extras.add_property(prop_name, value.strip(), False)
            else:
                extras.add_property(prop_name, (prop.text or "").strip(), True)
    artifacts, attachment_fields = extras.artifacts_and_fields()
    listed = (status_fields + output + extras.marker_fields + extras.property_fields)[:MAX_FIELDS]
    steps = extras.steps_field()
    test = dict(base, status=status, artifacts=artifacts)
    test["fields"] = attachment_fields + listed + ([steps] if steps else [])
    elapsed = _elapsed(case)
    if elapsed is not None:
        test["elapsed"] = elapsed
        report.tests_elapsed_us += elapsed
    located(test)
    assertions = _attr(case, "assertions")
    if assertions is not None and _INT.match(assertions):
        test["assertions"] = int(assertions)
    report.tests += 1
    yield test


# -- streaming ------------------------------------------------------------------------------


class _KeepNumericRefs:
    """A read-only byte stream that escapes numeric character references (outside CDATA and
    comments) other than those for ' " < > &, so the parser keeps them literal like the CLI."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._carry = b""
        self._until: bytes | None = None  # end marker of the CDATA/comment we are in
        self._eof = False

    def read(self, size: int = -1) -> bytes:
        while not self._eof:
            chunk = self._raw.read(max(size, _SNIFF))
            if not chunk:
                self._eof = True
            out = self._filter(self._carry + chunk, final=not chunk)
            if out:
                return out
        out, self._carry = self._carry, b""
        return out

    def _filter(self, data: bytes, final: bool) -> bytes:
        out: list[bytes] = []
        pos = 0
        while True:
            if self._until is not None:
                end = data.find(self._until, pos)
                if end < 0:
                    keep = len(data) if final else max(pos, len(data) - len(self._until) + 1)
                    out.append(data[pos:keep])
                    pos = keep
                    break
                end += len(self._until)
                out.append(data[pos:end])
                pos, self._until = end, None
                continue
            match = _TOKEN.search(data, pos)
            if match is None:
                keep = len(data) if final else max(pos, len(data) - _TAIL)
                out.append(data[pos:keep])
                pos = keep
                break
            out.append(data[pos : match.start()])
            token = match.group(0)
            if token.startswith(b"<!["):
                self._until = b"]]>"
            elif token.startswith(b"<!-"):
                self._until = b"-->"
            elif match.group(1) not in _KEPT_REFS:
                token = b"&amp;" + token[1:]
            out.append(token)
            pos = match.end()
        self._carry = data[pos:]
        return b"".join(out)


def iter_tests(
    path: Path, report: Report | None = None, *, reruns: bool = True
) -> Iterator[dict[str, Any]]:
    """Stream the API-ready test dicts of one report, in document order.

    `report`, when given, is updated as parsing goes (`elapsed_us`, counts).  Raises
    `ReportError` (while iterating) for anything that is not a readable JUnit report."""
    report = report if report is not None else Report(path, None)
    try:
        stream = path.open("rb")
    except OSError as exc:
        raise ReportError(f"{path}: cannot read the file: {exc.strerror or exc}") from exc
    with stream:
        if not stream.read(1):
            raise ReportError(f"{path}: empty file (0 bytes), not a JUnit report")
        stream.seek(0)
        events = DET.iterparse(_KeepNumericRefs(stream), ("start", "end"), forbid_dtd=True)
        yield from _walk(path, events, report, reruns)


def _walk(
    path: Path, events: Iterator[tuple[str, Any]], report: Report, reruns: bool
) -> Iterator[dict[str, Any]]:
    stack: list[ET.Element] = []
    suites: list[list[Any]] = []  # per open suite: [own µs, child suites, chain µs of child]
    in_case = 0
    try:
        for event, element in events:
            tag = _local(element.tag)
            if event == "start":
                if not stack and tag not in SUITES:
                    raise ReportError(
                        f"{path}: not a JUnit report (root element <{tag}>, expected "
                        "<testsuites> or <testsuite>)"
                    )
                stack.append(element)
                if tag in SUITES and not in_case:
                    suites.append([_elapsed(element), 0, None])
                elif tag == "testcase":
                    in_case += 1
                continue
            stack.pop()
            if tag == "testcase":
                in_case -= 1
            parent = stack[-1] if stack else None
            parent_is_suite = parent is not None and _local(parent.tag) in SUITES and not in_case
            if tag == "testcase":
                if parent_is_suite:
                    yield from _testcase(element, report, reruns)
            elif tag in SUITES and not in_case:
                own, children, child_chain = suites.pop()
                chain = own if own is not None else (child_chain if children == 1 else None)
                if suites:
                    suites[-1][1] += 1
                    suites[-1][2] = chain
                else:
                    report.elapsed_us = chain
            if parent_is_suite and parent is not None:
                parent.remove(element)  # bounded memory: nothing finished stays in the tree
    except ET.ParseError as exc:
        raise ReportError(f"{path}: not well-formed XML: {exc}") from exc
    except defusedxml.DefusedXmlException as exc:
        raise ReportError(
            f"{path}: refused: DTDs, entity declarations and external references are not "
            f"allowed in a report ({type(exc).__name__})"
        ) from exc
