"""JUnit XML reports → the test dicts the official `testmo` CLI 1.4.5 sends (reference §8.5).

`iter_tests(path)` streams one report: it parses with expat, hardened as `defusedxml` does
it (any DTD, entity declaration or external reference is refused, never resolved), and
builds an element tree for one `<testcase>` at a time, so memory stays bounded by the
largest single testcase whatever the size of the file; of its text only what §8.7 can send
is kept (difference 6), so a huge text or attribute value costs linear time and bounded
memory.  Each yielded dict is the JSON object the CLI would append for that testcase: `key`, `name`,
`status`, `folder`, `artifacts`, `fields` always; `elapsed`, `file`, `line`, `assertions`
only when known.  Truncation follows §8.7.

CLI quirks mirrored on purpose (so keys and fields stay identical on the wire):
* numeric character references other than those for ' " < > & are kept as literal text
  (`&#13;` stays `&#13;`), as fast-xml-parser does; CDATA and comments are left alone;
* attribute values keep literal newlines and tabs (no XML attribute-value normalisation;
  CRLF/CR become LF as everywhere) and are trimmed; `classname` (else `class`) counts only
  when non-empty;
* element text: each run of text between tags is trimmed, CDATA is kept verbatim (`_text`);
* only the first `<system-out>`, `<system-err>` and `<properties>` of a testcase count;
  `[[ATTACHMENT|…]]`/`[[PROPERTY|…]]` markers are recognised line by line, at line start;
* non-URL attachments are string fields named as given (`attachment`, repeated as is);
  URLs are those matching the CLI's `^http?s://` (so `http://` is not one);
* time: the first comma becomes a decimal point; JS `Math.round` (half up) to µs.

Intended differences from the CLI (runhub is better here); the fixtures under
shared/fixtures/junit that differ from the CLI on the wire, all for these reasons, are
named in brackets:
1. No 1,000-entity limit: any number of `&lt;`, `&quot;`… is read (the CLI refuses the
   file) [jest/jest-junit-large-600kb.xml].
2. Exponent times (`4.5e-05`) are read (CLI: no elapsed); a time holding both `,` and `.`
   (`2,503.1`) reads the comma as a thousands separator (CLI: no elapsed); `1.` reads as 1
   [cpp/cunit-failure.xml, perl/perl-scientific-notation-time.xml].
3. Tests are yielded in document order; the CLI emits a suite's child suites before its own
   testcases (only differs when a suite holds testcases *and* nested suites)
   [edge-cases/jenkins-xsd-style.xml, phpunit/phpunit-legacy-75-tests.xml,
   phpunit/phpunit-11-phpt.xml].
4. Rerun elements (`flakyFailure`, `flakyError`, `rerunFailure`, `rerunError`) each yield an
   extra result of the same test (status failure/error, their message, else `<stackTrace>`,
   output and time) before the final result; pass `reruns=False` to get exactly the CLI's
   results [maven-surefire/surefire*-flaky*, *-rerun*, *-reruns*, rust/nextest-*,
   rust/quick-junit-all-elements.xml, stress/STRESS-jenkins-synthetic-huge.xml].
5. Hostile or broken input raises `ReportError` instead of being half-read: DTDs/entities
   (never resolved: no network or file access), malformed XML, zero-byte files, and a root
   element other than `testsuites`/`testsuite` (the CLI silently sends 0 tests for those)
   [maven-failsafe/failsafe-summary.xml].
   Errors surface while iterating, so tests already yielded from a truncated file stay
   yielded; a caller that must be all-or-nothing calls `scan` first (a counting pass that
   builds no test and raises exactly where `iter_tests` would).
6. Huge text is read in bounded memory, as its ends: an attribute value over 768 KiB as its
   first and last 256 KiB or so (the part left out is only checked for well-formedness, and
   an error there gives no line), and a line of output over 192 Ki characters, when matched
   against the marker patterns, as its first and last 64 Ki (whitespace at either end
   apart). All that §8.7 sends of a value comes from its ends, so the tests are the same,
   except the key of a test whose name or classname is that long (hashed from what is
   kept), such an attribute value whose first or last non-whitespace character or, for an
   attachment URL, last `/` is not in what is kept, and such a marker line whose middle
   holds `]`, `=` or U+2028/U+2029 [no fixture is that large].
7. A `line` or `assertions` over 2^31-1 (the server's bound, which would refuse the whole
   batch) is left out, as is one of thousands of digits.

TODO (not implemented, precisely):
* Attachment MIME types come from Python's built-in table plus `_MIME_DB` overrides; the
  CLI uses mime-db, so rare extensions may get a different (or no) `mime_type`.
* A processing instruction inside element text does not split the text for trimming
  (fast-xml-parser trims on both sides of it).
* The rewriter script (`--results-rewriter`) is not supported here.
* Non-UTF-8/ASCII-compatible encodings (UTF-16) parse, but numeric references are then
  expanded, attribute newlines normalised and CDATA trimmed, unlike the CLI.
"""

from __future__ import annotations

import glob
import hashlib
import math
import mimetypes
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.parsers import expat

import defusedxml

from runhub.client.junit_bytes import CDATA_TAG, SNIFF, KeepNumericRefs

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
MAX_COUNT = 2**31 - 1  # the server's bound for line and assertions
MAX_NOTE = 80
MAX_TEXT = 16_384
TEXT_KEEP = 8_182
TEXT_JOIN = "...\n\n[...]\n\n..."
MAX_ATTACHMENTS = 24
MAX_FIELDS = 24
MAX_STEPS = 99

FIELD_STRING, FIELD_TEXT, FIELD_HTML, FIELD_CONSOLE, FIELD_URL = 1, 2, 3, 4, 5
_TYPES = dict(zip(("string", "text", "html", "console", "url"), range(1, 6), strict=True))

_TIME = re.compile(r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")
_INT = re.compile(r"^[0-9]+$")
# JavaScript's `\s`/`trim()` set and `.` (no line terminators), to match the CLI's regexes.
_JS_WS = " \t\n\v\f\r\u00a0\u1680\u2028\u2029\u202f\u205f\u3000\ufeff" + "".join(
    map(chr, range(0x2000, 0x200B))
)
_S = "[" + _JS_WS + "]"
_DOT = "[^\n\r\u2028\u2029]"
_STEP = re.compile(r"^step\d*", re.IGNORECASE | re.ASCII)
_STEP_STATUS = re.compile(r"^step\d*\[([^\]]+)\]+", re.IGNORECASE | re.ASCII)
_ATTACHMENT_NAME = re.compile(r"^attachment", re.IGNORECASE)
_TYPE_HINT = re.compile(f"^(string|url|text|console|html):{_DOT}*\\Z")
_URL = re.compile(r"^http?s://")
_LINE_ATTACHMENT = re.compile(f"^{_S}*\\[\\[ATTACHMENT\\|([^\\]]+)\\]\\]")
_LINE_PROPERTY = re.compile(f"^{_S}*\\[\\[PROPERTY\\|([^=]+)=({_DOT}+)\\]\\]\\Z")
_LINE_PROPERTY_START = re.compile(f"^{_S}*\\[\\[PROPERTY\\|({_DOT}+)\\]\\]\\Z")
_PROPERTY_END = "[[/PROPERTY]]"  # the CLI searches a line for /\s*\[\[\/PROPERTY\]\]/


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
            while chunk := stream.read(SNIFF):
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


def _trim(value: str) -> str:
    return value.strip(_JS_WS)


def _attr(attrs: Mapping[str, str], name: str) -> str | None:
    value = attrs.get(name)  # None, like an empty or blank value, means "not given"
    return None if value is None else (value.strip(_JS_WS) or None)


def _text(element: ET.Element) -> str | None:
    """An element's own text as fast-xml-parser builds it: each run of text between tags
    trimmed, CDATA sections kept verbatim, all concatenated; None when that is empty. The
    walker collects it into `text` (`_Runs`, bounded) for the elements whose text is read."""
    return element.text or None


def parse_seconds(value: str | None) -> int | None:
    """Seconds → µs (half up), None when absent, non-numeric, non-finite or negative."""
    if value is None:
        return None
    value = value.strip()
    if not (value.isascii() and value.replace(".", "", 1).isdigit()):  # not plain `12.5`
        comma = "," in value
        value = value.replace(",", "") if comma and "." in value else value.replace(",", ".", 1)
        if not _TIME.match(value):
            return None
    seconds = float(value)
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return math.floor(seconds * 1_000_000 + 0.5)


def _elapsed(attrs: Mapping[str, str]) -> int | None:
    for name in ("time", "duration"):
        value = attrs.get(name)
        if value is not None and (elapsed := parse_seconds(value.strip(_JS_WS))) is not None:
            return elapsed
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


def _status_field(element: ET.Element, label: str, rerun: bool = False) -> dict[str, Any] | None:
    """Console field for a skipped/failure/error (or rerun) element; None without info."""
    value, meta = _text(element), {}
    if rerun and value is None and (trace := element.find("stackTrace")) is not None:
        value = _text(trace)  # surefire's rerun elements
    for name in ("message", "type"):  # the first one known is the value, later ones meta
        if (attr := _attr(element.attrib, name)) is not None:
            if value is None:
                value = attr
            else:
                meta[name] = _cut(attr)
    if value is None:
        return None
    field: dict[str, Any] = {"type": FIELD_CONSOLE, "name": label}
    if meta:
        field["meta"] = meta
    field["value"] = _cut_text(value)
    field["is_highlight"] = True
    return field


_MIME = mimetypes.MimeTypes(filenames=())  # Python's built-in table only, not /etc/mime.types
# Where Python's table and the CLI's (mime-db) disagree, for extensions likely in reports.
_MIME_DB = {
    "xml": "application/xml", "log": "text/plain", "ini": "text/plain", "yaml": "text/yaml",
    "yml": "text/yaml", "js": "application/javascript", "ts": "video/mp2t",
    "sh": "application/x-sh", "java": "text/x-java-source", "c": "text/x-c", "h": "text/x-c",
    "wav": "audio/wave", "pl": "application/x-perl", "py": "", "pyc": "", "o": "", "a": "",
    "tgz": "", "srt": "application/x-subrip", "opus": "audio/ogg", "aac": "audio/x-aac",
    "mht": "", "mhtml": "", "bat": "application/x-msdownload", "exe": "application/x-msdos-program",
}  # fmt: skip
_Fields = list[dict[str, Any]]


def _basename(value: str) -> str:
    """Node's posix `path.basename`: the part after the last `/` (trailing ones ignored)."""
    return value.rstrip("/").rpartition("/")[2]


def _mime_type(file_name: str) -> str | None:
    """The CLI's `mime-types` lookup: by the text after the last dot, lower-cased."""
    ext = f"x.{file_name}".rpartition(".")[2].lower()
    if not ext:
        return None
    mime = _MIME_DB.get(ext)
    return (mime or None) if mime is not None else _MIME.types_map[True].get("." + ext)


def _steps_field(steps: list[tuple[str | None, str]]) -> dict[str, Any] | None:
    if not steps:
        return None
    parts = ["<test-steps>"]
    for status, content in steps[:MAX_STEPS]:
        attr = f' status="{status}"' if status else ""
        parts.append(f"<test-step{attr}>{content}</test-step>\n")
    parts.append("</test-steps>")
    return _field(FIELD_HTML, "Steps", "".join(parts))


# -- bounded text ---------------------------------------------------------------------------
# Text is collected as it comes, in pieces joined once, and only what §8.7 can send is kept:
# no reader looks further than 16,384 characters from either end of a value, so a long
# stretch of text is kept as its first and last _KEEP characters (see `_Clip`). Output is
# scanned for marker lines as it comes (`_Output`), so markers anywhere in it still count.

_KEEP = 1 << 16  # characters kept at either end of a long stretch of text
_LINE_WS = _JS_WS.replace("\n", "")


class _Clip:
    """A string received piece by piece: kept whole up to 3 × _KEEP characters, beyond that
    as its first and last _KEEP. So `value()` starts and ends with the same _KEEP
    characters as the whole string, and is over 2 × _KEEP long if the whole is; so is the
    concatenation of clipped strings. Appending costs linear time."""

    __slots__ = ("head", "parts", "size")

    def __init__(self) -> None:
        self.head: str | None = None  # the first _KEEP characters, once the middle is gone
        self.parts: list[str] = []
        self.size = 0  # characters in parts

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.size += len(text)
        if self.size > 3 * _KEEP:
            joined = "".join(self.parts)
            if self.head is None:
                self.head, joined = joined[:_KEEP], joined[_KEEP:]
            self.parts, self.size = [joined[-_KEEP:]], _KEEP

    def __bool__(self) -> bool:
        return self.size > 0 or self.head is not None

    def value(self) -> str:
        rest = "".join(self.parts)
        return rest if self.head is None else self.head + rest[-_KEEP:]


class _Text:
    """Text received piece by piece. Whole while short; past 3 × _KEEP characters as a
    `_Clip` of each of its leading whitespace, its middle (first to last non-whitespace
    character) and its trailing whitespace, so that `value()` and `trimmed()` give each
    reader the same characters as the whole text and its trimmed form would, however long
    the whitespace at either end."""

    __slots__ = ("parts", "size", "ends")

    def __init__(self) -> None:
        self.parts: list[str] = []  # while short
        self.size = 0
        self.ends: tuple[_Clip, _Clip, _Clip] | None = None  # lead, body, trail once long

    def add(self, text: str) -> None:
        if self.ends is None:
            self.parts.append(text)
            self.size += len(text)
            if self.size <= 3 * _KEEP:
                return
            text = "".join(self.parts)
            self.parts, self.ends = [], (_Clip(), _Clip(), _Clip())
        lead, body, trail = self.ends
        if not body:
            content = text.lstrip(_JS_WS)
            if len(content) < len(text):
                lead.add(text[: len(text) - len(content)])
            text = content
        content = text.rstrip(_JS_WS)
        if content:
            if trail:
                body.add(trail.value())
                self.ends = (lead, body, _Clip())
            body.add(content)
        if len(content) < len(text):
            self.ends[2].add(text[len(content) :])

    def __bool__(self) -> bool:
        return self.size > 0 or self.ends is not None

    def value(self) -> str:
        if self.ends is None:
            return "".join(self.parts)
        return "".join(clip.value() for clip in self.ends)

    def trimmed(self) -> str:
        if self.ends is None:
            return "".join(self.parts).strip(_JS_WS)
        return self.ends[1].value()


class _Blank:
    """Whitespace held back while it may still end a run of text: its first line, middle
    lines and last line each a `_Clip`, so that replaying it gives `_Output` the same lines
    (up to whitespace-only lines in the middle, which all go to the same collector)."""

    __slots__ = ("first", "middle", "last")

    def __init__(self, text: str) -> None:
        self.first, self.last = _Clip(), _Clip()
        self.middle: _Clip | None = None  # from its first newline to its last
        self.add(text)

    def add(self, text: str) -> None:
        middle = self.middle
        if middle is None:
            newline = text.find("\n")
            if newline < 0:
                self.first.add(text)
                return
            self.first.add(text[:newline])
            self.middle = middle = _Clip()
            text = text[newline:]
        newline = text.rfind("\n") + 1
        if not newline:
            self.last.add(text)
            return
        if self.last:
            middle.add(self.last.value())
            self.last = _Clip()
        middle.add(text[:newline])
        if newline < len(text):
            self.last.add(text[newline:])

    def pieces(self) -> list[str]:
        middle = self.middle.value() if self.middle is not None else ""
        return [self.first.value(), middle, self.last.value()]


class _Runs:
    """An element's own text as `_text` reads it, as it comes: each run of text between tags
    trimmed (whitespace is held back until more text follows in the same run), CDATA
    sections verbatim. Kept whole while short; past 3 × _KEEP characters passed on as it
    comes to a `_Text`, or for output to an `_Output`, which keep what can be sent."""

    __slots__ = ("output", "parts", "size", "sink", "started", "held", "held_size", "blank")

    def __init__(self, output: bool) -> None:
        self.output = output  # a `<system-out>`/`<system-err>`'s text
        self.parts: list[str] = []  # the text, while short
        self.size = 0
        self.sink: _Text | _Output | None = None  # where it goes once long
        self.started = False  # the run has had non-whitespace
        self.held: list[str] = []  # whitespace since its last non-whitespace character
        self.held_size = 0
        self.blank: _Blank | None = None  # instead of `held`, once that grows long

    def data(self, text: str) -> None:
        if not self.started:
            text = text.lstrip(_JS_WS)
            if not text:
                return
            self.started = True
        content = text.rstrip(_JS_WS)
        if content:
            if self.held_size or self.blank is not None:
                self._release()
            if self.sink is None:
                self.parts.append(content)
                self.size += len(content)
                if self.size > 3 * _KEEP:
                    self._grow()
            else:
                self.sink.add(content)
            if len(content) == len(text):
                return
            text = text[len(content) :]
        if self.blank is not None:
            self.blank.add(text)
            return
        self.held.append(text)
        self.held_size += len(text)
        if self.held_size > 3 * _KEEP:
            self.blank = _Blank("".join(self.held))
            self.held, self.held_size = [], 0

    def _add(self, text: str) -> None:
        if self.sink is None:
            self.parts.append(text)
            self.size += len(text)
            if self.size > 3 * _KEEP:
                self._grow()
        else:
            self.sink.add(text)

    def _grow(self) -> None:
        self.sink = _Output() if self.output else _Text()
        self.sink.add("".join(self.parts))
        self.parts = []

    def _release(self) -> None:
        pieces = self.blank.pieces() if self.blank is not None else self.held
        for piece in pieces:
            self._add(piece)
        self.held, self.held_size, self.blank = [], 0, None

    def boundary(self) -> None:
        """A tag: the run ends (whitespace held back is dropped), a new one starts."""
        self.started = False
        self.held, self.held_size, self.blank = [], 0, None

    def verbatim(self, text: str) -> None:
        self._add(text)


class _Output:
    """A `<system-out>`/`<system-err>`'s text read line by line as it comes, as the CLI
    reads it: `[[ATTACHMENT|…]]` and `[[PROPERTY|…]]` marker lines are taken out, the other
    lines are the console output. Only what can be sent is kept: the first attachments,
    steps and fields, and the output as a `_Text`. A line is a `_Text` too, so one over
    3 × _KEEP characters is matched against the marker patterns as its first and last
    _KEEP (leading and trailing whitespace apart)."""

    __slots__ = ("attachments", "properties", "kinds", "output", "line", "block", "any")

    def __init__(self) -> None:
        self.attachments: list[tuple[str, str]] = []
        self.properties: list[tuple[str, str, bool]] = []
        self.kinds = [0, 0, 0]  # properties kept: attachments, steps, fields
        self.output = _Text()
        self.line = _Text()  # the line being received
        self.block: tuple[str, _Text] | None = None  # an open [[PROPERTY|name]]: name, value
        self.any = False  # any text came (else the CLI reads no output at all)

    def add(self, text: str) -> None:
        if not text:
            return
        self.any = True
        line = self.line
        start = 0
        if line:  # a line has begun
            newline = text.find("\n")
            if newline < 0:
                line.add(text)
                return
            line.add(text[:newline])
            self._line(line.value())
            self.line = line = _Text()
            start = newline + 1
        end = max(start, text.rfind("\n") + 1)
        if end > start:
            self._lines(text, start, end)
        if end < len(text):
            line.add(text[end:])

    def finish(self) -> None:
        """The text ended: its last line (maybe empty) counts, an open block closes."""
        if self.any:
            self._line(self.line.value())
            if self.block is not None:
                self._close(self.block)

    def _lines(self, text: str, pos: int, end: int) -> None:
        """The whole lines text[pos:end] (it ends with a newline): runs of plain lines go
        to the output (or the open block) in one piece, marker lines one by one."""
        while pos < end:
            if self.block is not None:
                found = text.find(_PROPERTY_END, pos, end)
                if found < 0:
                    self.block[1].add(text[pos:end])
                    return
                start = max(pos, text.rfind("\n", pos, found) + 1)
                if start > pos:
                    self.block[1].add(text[pos:start])
                self._close(self.block)  # the closing line is dropped
                pos = text.find("\n", found, end) + 1
                continue
            start = self._marker(text, pos, end)
            if start < 0:
                self.output.add(text[pos:end])
                return
            if start > pos:
                self.output.add(text[pos:start])
            newline = text.find("\n", start, end)
            self._line(text[start:newline])
            pos = newline + 1

    @staticmethod
    def _marker(text: str, pos: int, end: int) -> int:
        """Start of the first line in text[pos:end] that may be a marker line, else -1."""
        found = text.find("[[", pos, end)
        while found >= 0:
            if text.startswith(("ATTACHMENT|", "PROPERTY|"), found + 2):
                start = max(pos, text.rfind("\n", pos, found) + 1)
                if not text[start:found].strip(_LINE_WS):
                    return start
            found = text.find("[[", found + 2, end)
        return -1

    def _line(self, line: str) -> None:
        if "[[" not in line:  # no marker: the usual case
            target = self.output if self.block is None else self.block[1]
            target.add(line)
            target.add("\n")
        elif self.block is not None:
            if _PROPERTY_END in line:
                self._close(self.block)
            else:
                self.block[1].add(line)
                self.block[1].add("\n")
        elif match := _LINE_ATTACHMENT.match(line):
            if len(self.attachments) < MAX_ATTACHMENTS:
                self.attachments.append(("attachment", _trim(match.group(1))))
        elif match := _LINE_PROPERTY.match(line):
            self._property(_trim(match.group(1)), _trim(match.group(2)), False)
        elif match := _LINE_PROPERTY_START.match(line):
            self.block = (_trim(match.group(1)), _Text())
        else:
            self.output.add(line)
            self.output.add("\n")

    def _close(self, block: tuple[str, _Text]) -> None:
        self.block = None
        if value := block[1].trimmed():
            self._property(block[0], value, True)

    def _property(self, name: str, value: str, multiline: bool) -> None:
        # `_Extras.result` sends no more than the first MAX_* of each kind
        kind = 0 if _ATTACHMENT_NAME.match(name) else 1 if _STEP.match(name) else 2
        if self.kinds[kind] < (MAX_ATTACHMENTS, MAX_STEPS, MAX_FIELDS)[kind]:
            self.kinds[kind] += 1
            self.properties.append((name, value, multiline))


# -- per-testcase collection ----------------------------------------------------------------


class _Extras:
    """Attachments, fields and steps of one testcase's output and properties, in the CLI's
    order: output markers first, then the first `<properties>`."""

    def __init__(self) -> None:
        self.attachments: list[tuple[str, str]] = []
        self.output_fields: list[dict[str, Any]] = []
        self.properties: list[tuple[str, str, bool]] = []

    def add_output(self, output: _Output, label: str) -> None:
        """What a `<system-out>`/`<system-err>` gave: its marker lines, then its console
        field (the rest, trimmed), as the CLI reads them."""
        self.attachments += output.attachments
        self.properties += output.properties
        value = output.output.trimmed()
        if value:
            self.output_fields.append(_field(FIELD_CONSOLE, label, value))

    def result(self) -> tuple[_Fields, _Fields, _Fields, dict[str, Any] | None]:
        """(artifacts, attachment fields: first of all, property fields: after the status and
        output ones, the steps field)."""
        fields: list[dict[str, Any]] = []
        steps: list[tuple[str | None, str]] = []
        attachments = list(self.attachments)
        for name, value, multiline in self.properties:
            if _ATTACHMENT_NAME.match(name):
                attachments.append((name, value))
                continue
            if _STEP.match(name):
                status = _STEP_STATUS.match(name)
                steps.append((_trim(status.group(1)) if status else None, value))
                continue
            hint = _TYPE_HINT.match(name)
            hint_name = hint.group(1) if hint else "text" if multiline else "string"
            if name.startswith(hint_name + ":"):
                name = name[len(hint_name) + 1 :]
            kind = _TYPES[hint_name]
            if kind == FIELD_URL and not _URL.match(value):
                kind = FIELD_STRING
            fields.append(_field(kind, name, value))
        artifacts: list[dict[str, Any]] = []
        attachment_fields: list[dict[str, Any]] = []
        for name, value in attachments[:MAX_ATTACHMENTS]:
            if not _URL.match(value):
                attachment_fields.append(_field(FIELD_STRING, name, value, None))
                continue
            named = value.endswith(("/", "\\"))  # then the CLI uses the attachment's name
            artifact: dict[str, Any] = {"name": _cut(name if named else _basename(value))}
            artifact["url"] = _cut(value)
            if not named and (mime := _mime_type(_basename(value))):
                artifact["mime_type"] = _cut(mime)
            artifacts.append(artifact)
        return artifacts, attachment_fields, fields, _steps_field(steps)


def _output_fields(element: ET.Element, extras: _Extras) -> None:
    for tag, label in (("system-out", "Output"), ("system-err", "Errors")):
        output = element.find(tag)  # the CLI reads the first one only
        if not isinstance(output, _Node):
            continue
        if output.output is not None:  # long: scanned as it came
            extras.add_output(output.output, label)
        elif output.text and "[[" in output.text:  # short, with a marker line maybe
            scanned = _Output()
            scanned.add(output.text)
            scanned.finish()
            extras.add_output(scanned, label)
        elif output.text and (value := _trim(output.text)):  # short, output only
            extras.output_fields.append(_field(FIELD_CONSOLE, label, value))


def _properties(element: ET.Element, extras: _Extras) -> None:
    properties = element.find("properties")  # the first one only, as the CLI
    for prop in properties.findall("property") if properties is not None else ():
        name = _attr(prop.attrib, "name")
        if name is None:
            continue
        value = _attr(prop.attrib, "value")
        if value is not None:
            extras.properties.append((name, value, False))
        elif (text := _text(prop)) is not None:
            extras.properties.append((name, _trim(text), True))


# What of an element's text is read, by its place in a testcase.
_PLAIN, _CASE, _VALUE, _OUTPUT, _RERUN, _PROPERTIES = range(6)
_STATUS_TAGS = frozenset(tag for tag, _ in STATUS_ELEMENTS)


class _Node(ET.Element):
    """An element of a testcase's tree. The text of it that is read (`_text`) is collected
    while it is open, by `runs`, and set as its `text` when it closes; a long one of a
    `<system-out>`/`<system-err>` is scanned into `output` instead. `handler` takes its
    character data (None: nobody reads it)."""

    role = _PLAIN
    runs: _Runs | None = None
    output: _Output | None = None
    handler: Callable[[str], None] | None = None
    firsts = 0  # bits of the children read only once (`_CASE_FIRSTS`…) that came already

    def close(self) -> None:
        runs = self.runs
        if runs is None:
            return
        sink = runs.sink
        if sink is None:
            self.text = "".join(runs.parts)
        elif isinstance(sink, _Output):
            sink.finish()
            self.output = sink
        else:
            self.text = sink.value()


# children of a testcase, and of a rerun element, whose first one only counts, as bits
_CASE_FIRSTS = {"system-out": 1, "system-err": 2, "properties": 4}
_RERUN_FIRSTS = {"system-out": 1, "system-err": 2, "stackTrace": 4}


def _testcase(
    attrs: Mapping[str, str], case: _Node | None, report: Report, reruns: bool
) -> list[dict[str, Any]]:
    """The results of one testcase (its attributes, and its tree when it has children): its
    rerun attempts (when `reruns`), then its result."""
    name = _attr(attrs, "name")
    if name is None:
        return []
    folder = _attr(attrs, "classname") or _attr(attrs, "class")
    key = hashlib.sha256((f"{folder}.{name}" if folder else name).encode()).hexdigest()
    name, folder = name[:MAX_STRING], folder[:MAX_STRING] if folder else UNNAMED_FOLDER
    results: list[dict[str, Any]] = []
    test: dict[str, Any]
    if case is not None:  # children: status elements, output, properties, reruns
        base: dict[str, Any] = {"key": key, "name": name, "status": "passed", "folder": folder}
        if reruns:
            results.extend(_reruns(case, base))
        status, artifacts, fields = _outcome(case)
        test = dict(base, status=status, artifacts=artifacts, fields=fields)
    else:  # the common case: a passed test and nothing else
        test = {"key": key, "name": name, "status": "passed", "folder": folder}
        test["artifacts"], test["fields"] = [], []
    elapsed = _elapsed(attrs)
    if elapsed is not None:
        test["elapsed"] = elapsed
        report.tests_elapsed_us += elapsed
    results.append(test)
    file = _attr(attrs, "file") if "file" in attrs else None
    line = _attr(attrs, "line") if "line" in attrs else None
    if file is not None or line is not None:
        for result in results:
            if file is not None:
                result["file"] = file[:MAX_STRING]
            if line is not None and (number := _count(line)) is not None:
                result["line"] = number
    assertions = _attr(attrs, "assertions") if "assertions" in attrs else None
    if assertions is not None and (number := _count(assertions)) is not None:
        test["assertions"] = number
    report.tests += len(results)
    return results


def _count(value: str) -> int | None:
    """A line or assertions count the server takes (0..2^31-1); anything larger, or a
    number of thousands of digits (Python refuses to convert those), is left out."""
    if not _INT.match(value) or len(value.lstrip("0")) > 10:
        return None
    number = int(value)
    return number if number <= MAX_COUNT else None


def _reruns(case: ET.Element, base: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for child in case:
        rerun = RERUN_ELEMENTS.get(_local(child.tag))
        if rerun is None:
            continue
        status, label = rerun
        rerun_extras = _Extras()
        _output_fields(child, rerun_extras)
        status_field = _status_field(child, label, True)
        fields = ([status_field] if status_field else []) + rerun_extras.output_fields
        attempt = dict(base, status=status, artifacts=[], fields=fields[:MAX_FIELDS])
        elapsed = _elapsed(child.attrib)
        if elapsed is not None:
            attempt["elapsed"] = elapsed
        yield attempt


def _outcome(case: ET.Element) -> tuple[str, _Fields, _Fields]:
    """(status, artifacts, fields) from a testcase's child elements."""
    extras = _Extras()
    status_fields: list[dict[str, Any]] = []
    status = "passed"
    for tag, label in STATUS_ELEMENTS:
        for element in case.findall(tag):
            status = tag
            field = _status_field(element, label)
            if field is not None:
                status_fields.append(field)
    _output_fields(case, extras)
    _properties(case, extras)
    artifacts, attachment_fields, fields, steps = extras.result()
    listed = (status_fields + extras.output_fields + fields)[:MAX_FIELDS]
    return status, artifacts, attachment_fields + listed + ([steps] if steps else [])


# -- streaming ------------------------------------------------------------------------------


def iter_tests(
    path: Path, report: Report | None = None, *, reruns: bool = True
) -> Iterator[dict[str, Any]]:
    """Stream the API-ready test dicts of one report, in document order.

    `report`, when given, is updated as parsing goes (`elapsed_us`, counts).  Raises
    `ReportError` (while iterating) for anything that is not a readable JUnit report."""
    report = report if report is not None else Report(path, None)
    yield from _parse(_Walker(path, report, reruns, build=True))


def scan(path: Path, *, reruns: bool = True) -> Report:
    """Check a whole report and count it without building any test: the `Report` holds
    what `iter_tests` would yield (`tests`, `tests_elapsed_us`, `elapsed_us`), so a caller
    can refuse a broken file before sending anything and then stream it.  Raises
    `ReportError` exactly where `iter_tests` would."""
    report = Report(path, None)
    for _ in _parse(_Walker(path, report, reruns, build=False)):
        pass
    return report


def _parse(walker: _Walker) -> Iterator[dict[str, Any]]:
    path = walker.path
    try:
        stream = path.open("rb")
    except OSError as exc:
        raise ReportError(f"{path}: cannot read the file: {exc.strerror or exc}") from exc
    with stream:
        if not stream.read(1):
            raise ReportError(f"{path}: empty file (0 bytes), not a JUnit report")
        stream.seek(0)
        source = KeepNumericRefs(stream)
        try:
            while chunk := source.read(SNIFF):
                walker.parser.Parse(chunk, False)
                yield from walker.take()
            walker.parser.Parse(b"", True)
            yield from walker.take()
        except expat.ExpatError as exc:
            raise ReportError(f"{path}: not well-formed XML: {exc}") from exc
        except defusedxml.DefusedXmlException as exc:
            raise ReportError(
                f"{path}: refused: DTDs, entity declarations and external references are not "
                f"allowed in a report ({type(exc).__name__})"
            ) from exc


class _Walker:
    """Expat handlers, hardened as defusedxml's parser (any DTD, entity declaration or
    external reference raises). With `build`, each testcase becomes an element tree and
    then its results; suites keep just their times, so memory is bounded by the largest
    testcase. Without, testcases are only counted."""

    def __init__(self, path: Path, report: Report, reruns: bool, build: bool) -> None:
        self.path, self.report, self.reruns, self.build = path, report, reruns, build
        self.ready: list[dict[str, Any]] = []
        self.depth = 0  # open elements
        # per open suite: [own µs, child suites, chain µs of the last child, depth]
        self.suites: list[list[Any]] = []
        self.case_depth = 0  # depth of the testcase being read, 0 outside one
        self.case_named = False
        self.case_tag = ""  # with build: the testcase's tag and attributes
        self.case_attrs: dict[str, str] = {}
        self.open: list[_Node] = []  # with build: the testcase's open elements, once it has
        # a child (a testcase without children needs no tree)
        parser = expat.ParserCreate(None, "}")
        parser.buffer_text = True
        parser.buffer_size = SNIFF
        parser.StartElementHandler = self._start
        parser.EndElementHandler = self._end
        parser.StartDoctypeDeclHandler = self._refuse_dtd
        parser.EntityDeclHandler = self._refuse_entity
        parser.UnparsedEntityDeclHandler = self._refuse_unparsed_entity
        parser.ExternalEntityRefHandler = self._refuse_external
        self.parser = parser

    def take(self) -> list[dict[str, Any]]:
        ready, self.ready = self.ready, []
        return ready

    def _start(self, name: str, attrs: dict[str, str]) -> None:
        self.depth += 1
        if self.case_depth:  # inside a testcase
            if self.build:
                if not self.open:  # its first child: only now is a tree worth building
                    case = _Node(self.case_tag, self.case_attrs)
                    case.role = _CASE
                    self.open.append(case)
                node = self._child(self.open[-1], name, attrs)
                self.open.append(node)
                self.parser.CharacterDataHandler = node.handler  # None: its text is not read
            elif (
                self.reruns
                and self.case_named
                and self.depth == self.case_depth + 1
                and _local(name) in RERUN_ELEMENTS
            ):
                self.report.tests += 1
            return
        tag = _local(name)
        if tag in SUITES:
            self.suites.append([_elapsed(attrs), 0, None, self.depth])
        elif self.depth == 1:
            raise ReportError(
                f"{self.path}: not a JUnit report (root element <{tag}>, expected "
                "<testsuites> or <testsuite>)"
            )
        elif tag == "testcase" and self.suites and self.suites[-1][3] == self.depth - 1:
            self.case_depth = self.depth  # a direct child of a suite
            if self.build:
                self.case_tag, self.case_attrs = name, attrs
            elif _attr(attrs, "name") is not None:
                self.case_named = True
                self.report.tests += 1
                self.report.tests_elapsed_us += _elapsed(attrs) or 0

    def _end(self, name: str) -> None:
        self.depth -= 1
        if not self.case_depth:
            if self.suites and self.suites[-1][3] == self.depth + 1:  # a suite closes
                own, children, child_chain, _ = self.suites.pop()
                chain = own if own is not None else (child_chain if children == 1 else None)
                if self.suites:
                    self.suites[-1][1] += 1
                    self.suites[-1][2] = chain
                else:
                    self.report.elapsed_us = chain
            return
        if self.depth >= self.case_depth:  # an element inside the testcase closes
            if self.build:
                self.open.pop().close()
                parent = self.open[-1]
                if parent.runs is not None:
                    parent.runs.boundary()
                self.parser.CharacterDataHandler = parent.handler
            return
        self.case_depth, self.case_named = 0, False  # the testcase closes
        if self.build:
            case = self.open.pop() if self.open else None
            if case is not None:  # it had children, so text may have been collected
                self.parser.CharacterDataHandler = None
            self.ready += _testcase(self.case_attrs, case, self.report, self.reruns)

    def _child(self, parent: _Node, name: str, attrs: dict[str, str]) -> _Node:
        """A new element in a testcase, and what of its text is read: a status or rerun
        element's, a `stackTrace`'s and a `property`'s text (`_Text`), and the first
        `<system-out>`/`<system-err>` of the testcase or of a rerun element (`_Output`)."""
        if parent.runs is not None:
            parent.runs.boundary()
        elif parent.handler is not None:  # a CDATA section's element: only the text
            parent.handler = None  # before its first child is read, as `_text` did
        if name == CDATA_TAG:  # its text goes verbatim into the parent's
            node = _Node(name, attrs)
            node.handler = parent.runs.verbatim if parent.runs is not None else None
            return node  # no part of the tree
        role = parent.role
        kind = _PLAIN
        if role == _CASE:
            if name in _STATUS_TAGS:
                kind = _VALUE
            elif first := _CASE_FIRSTS.get(name, 0):  # the CLI reads the first one only
                if not parent.firsts & first:
                    parent.firsts |= first
                    kind = _PROPERTIES if name == "properties" else _OUTPUT
            elif self.reruns and _local(name) in RERUN_ELEMENTS:
                kind = _RERUN
        elif role == _RERUN:
            first = _RERUN_FIRSTS.get(name, 0)
            if first and not parent.firsts & first:
                parent.firsts |= first
                kind = _VALUE if name == "stackTrace" else _OUTPUT
        elif role == _PROPERTIES and name == "property":
            kind = _VALUE
        node = _Node(name, attrs)
        if kind != _PLAIN:
            node.role = kind
            if kind != _PROPERTIES:
                node.runs = runs = _Runs(kind == _OUTPUT)
                node.handler = runs.data
        parent.append(node)
        return node

    def _refuse_dtd(self, name: str, *ids: Any) -> None:
        raise defusedxml.DTDForbidden(name, *ids[:2])

    def _refuse_entity(self, name: str, _is_param: int, value: str | None, *rest: Any) -> None:
        raise defusedxml.EntitiesForbidden(name, value, *rest)

    def _refuse_unparsed_entity(self, name: str, *rest: Any) -> None:
        raise defusedxml.EntitiesForbidden(name, None, *rest)

    def _refuse_external(self, context: str, *rest: Any) -> int:
        raise defusedxml.ExternalReferenceForbidden(context, *rest)
