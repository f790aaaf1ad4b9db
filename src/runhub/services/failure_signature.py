"""A failed result's signature: what tells one cause of failure from another, read from its
failure text (README "Failure groups"). Plain functions over strings, no SQL.

A signature is three parts:
- the exception type (its last dotted name: `psycopg.OperationalError` -> `OperationalError`),
  or `AssertionError` for a bare pytest `assert`, `panic` for a Go panic, "" when none shows;
- the message: the exception's line and the lines that continue it (a Playwright call log,
  jest's Expected/Received), with their variable parts replaced by placeholders
  (`normalise`), source excerpts and repeated lines left out;
- the innermost stack frame that is neither the test's own (a test file, class or method)
  nor a library's or test framework's: the code under test where the failure surfaced.

Two failures with equal signatures are one group. Quoted identifiers, locators and names
are kept, so `KeyError: 'user_id'` and `KeyError: 'order_id'` stay apart.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

MAX_MESSAGE_LINES = 6
MAX_MESSAGE_CHARS = 500
MAX_TITLE_CHARS = 300
MAX_TEXT_CHARS = 64 * 1024
MAX_PASSES = 4  # only the first 64 KiB of a failure text is read

# --- normalisation --------------------------------------------------------------------------

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# A quoted token that names something (an identifier, key, locator or path): kept as it is,
# unless the whole token is itself a variable value (a number, UUID, hash, address...).
_QUOTED = re.compile(r"""(?P<q>['"`])(?P<body>[^'"`\s]{1,200})(?P=q)""")
_HEX_DIGITS = re.compile(r"[0-9a-fA-F]+")
# Applied in order; each replaces a kind of variable part by its placeholder.
_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, flags), placeholder)
    for pattern, placeholder, flags in (
        # Temporary paths: pytest's tmp_path, macOS and Windows temp folders, mktemp names.
        (
            r"(?:/private)?/(?:tmp|var/tmp|var/folders)/[^\s'\"`,;)\]}>]*"
            r"|[A-Za-z]:\\(?:Users\\[^\\\s]+\\AppData\\Local\\Temp|Windows\\Temp|Temp)"
            r"\\[^\s'\"`,;)\]}>]*",
            "<tmp>",
            re.IGNORECASE,
        ),
        (
            r"\b[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\b",
            "<uuid>",
            re.IGNORECASE,
        ),
        (
            r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?"
            r"(?:\s?Z|\s?[+-]\d{2}:?\d{2}|\s?UTC)?)?\b",
            "<date>",
            re.IGNORECASE,
        ),
        (r"\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b", "<time>", 0),
        # IPv6 (bracketed with an optional port, or bare with at least two colons) and IPv4.
        (r"\[[0-9a-f:.]*:[0-9a-f:.]*\](?::\d+)?", "<ip>", re.IGNORECASE),
        (
            r"(?<![\w:.])(?=[0-9a-f:]*\d)[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}(?![\w:])",
            "<ip>",
            re.IGNORECASE,
        ),
        (r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?\b", "<ip>", 0),
        (r"\b0x[0-9a-f]+\b", "<hex>", re.IGNORECASE),
        # Hashes and other hex runs: 7+ hex digits with at least one digit and one letter.
        (r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,}\b", "<hash>", re.IGNORECASE),
        (
            r"(?<![\w.])\d+(?:\.\d+)?\s?(?:ns|us|µs|ms|millis(?:econds?)?|s|secs?|seconds?"
            r"|m|mins?|minutes?|h|hours?)\b",
            "<duration>",
            0,
        ),
        # Numbers standing alone (not part of a name such as `user42` or `utf8`).
        (r"(?<![\w.])[-+]?\d+(?:[.,]\d+)*(?:e[-+]?\d+)?(?!\w)", "<n>", re.IGNORECASE),
    )
)
_SPACE = re.compile(r"\s+")
_URL_OR_PATH = re.compile(r"://|^/|\d")
# Quoted tokens are set aside as one private-use character each while the rules run.
_MARK = 0xF0000
_MARKS = re.compile("[\U000f0000-\U000ffffd]")


def is_variable(token: str) -> bool:
    """Whether a token is a variable value as a whole (so it is normalised even in quotes)."""
    replaced = token
    for pattern, placeholder in _RULES:
        replaced = pattern.sub(placeholder, replaced)
    return bool(re.fullmatch(r"(?:<\w+>[\s.:,/-]*)+", replaced))


def normalise(text: str) -> str:
    """The text with its variable parts replaced by placeholders and its whitespace
    collapsed. Idempotent (the rules run again until nothing changes: a placeholder can
    make its neighbours look like another kind); quoted identifiers are kept as they are."""
    kept: list[str] = []

    def protect(match: re.Match[str]) -> str:
        body = match["body"]
        if is_variable(body) or ("/" in body and _URL_OR_PATH.search(body)):
            return match[0]  # a value, or a URL or path: normalised as the rest
        kept.append(match[0])
        return chr(_MARK + len(kept) - 1)

    out = _QUOTED.sub(protect, _ANSI.sub("", _MARKS.sub("\ufffd", text)))
    for _ in range(MAX_PASSES):
        before = out
        for pattern, placeholder in _RULES:
            out = pattern.sub(placeholder, out)
        if out == before:
            break
    out = _SPACE.sub(" ", out).strip()
    return _MARKS.sub(lambda m: kept[ord(m[0]) - _MARK], out)


# --- reading a failure text -----------------------------------------------------------------

# Stack frames of the languages runhub sees, each giving (file, function).
_PY_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line \d+, in (?P<func>\S+)')
_PYTEST_FRAME = re.compile(r"^(?P<file>[^\s:]+\.py):\d+: (?:in (?P<func>\S+)|[\w.]+)?$")
_PY_DEF = re.compile(r"^\s*(?:async )?def (?P<func>\w+)\(")
# Messages that say only that the test failed.
_EMPTY_MESSAGES = {"", "failed", "failure", "error", "fail", "test failed", "assertion failed"}
_AT_FRAME = re.compile(  # Java, Kotlin, JavaScript/TypeScript and .NET: `at ...`
    r"^\s*at (?:async )?(?P<func>[^\s(]+(?: \[as \w+\])?)"
    r"(?:\s?\((?P<args>[^)]*)\))?(?: in (?P<file>.+?):line \d+)?\s*$"
)
_VITEST_FRAME = re.compile(r"^\s*❯ (?:(?P<func>[^\s(]+) )?(?P<file>[^\s()]+):\d+:\d+$")
_JS_BARE_FRAME = re.compile(r"^\s*at (?:async )?(?P<file>[^\s()]+):\d+:\d+\)?$")
_RUBY_FRAME = re.compile(r"^\s*(?:#\s*)?(?P<file>[^\s:]+\.rb):\d+:in [`'](?P<func>[^'`]+)'")
_GO_FUNC = re.compile(r"^(?P<func>[\w./\-]+(?:\.\(\*?\w+\))?\.[\w.$]+)\(.*\)$")
_GO_FILE = re.compile(r"^\s+(?P<file>\S+\.go):\d+(?: \+0x[0-9a-f]+)?$")
_GO_ROUTINE = re.compile(r"^goroutine \d+ \[")
_GO_TESTLINE = re.compile(r"^\s*(?P<file>[\w.\-]+_test\.go):\d+: ")
# Cheap tests first: a line that has none of these is no frame / no exception line.
_MAYBE_FRAME = re.compile(r'File "|\.py:\d|\.rb:\d|\bat |\.go:\d|❯')
_MAYBE_HEADER = re.compile(
    r"Error|Exception|Failure|Fault|Assertion|Exit|Interrupt|Timeout|NotMet|NotFound|panic|^E "
)
_LINE_SUFFIX = re.compile(r":\d+(?::\d+)?$")
_SOURCE_EXCERPT = re.compile(r"^\s*>?\s*\d*\s*\|")  # jest/vitest code frames
_HEADER = re.compile(
    r"^\s*(?:Caused by:\s*|--->\s*|E\s+|Error:\s+(?=\w+(?:Error|Exception)\b))?"
    r"(?P<type>(?:[A-Za-z_$][\w$]*(?:\.|::))*(?:[A-Za-z_$][\w$]*?)?"
    r"(?:Error|Exception|Failure|Fault|Assertion|Exit|Interrupt|Timeout|NotMet|NotFound))"
    r"(?:\s?\[\w+\])?(?:\s*:\s*(?P<msg>.*)|\s*)$"
)
_GO_PANIC = re.compile(r"^\s*(?:panic|fatal error): (?P<msg>.*?)(?: \[recovered\])?$")
_PYTEST_ASSERT = re.compile(r"^E\s+(?P<msg>assert\b.*)$")
_NOISE = re.compile(
    r"^\s*(?:Traceback \(most recent call last\):|Call log:|Stack trace:|Stack Trace:"
    r"|--- FAIL: .*|=== (?:RUN|PAUSE|CONT) .*|FAIL\b.*|Failure/Error: .*|# \./.*|\.\.\. \d+ more"
    r"|● Test suite failed to run|\[signal [^\]]*\]|\w+\([\w:]+\) \[[^\]]+\]:"
    r"|During handling of the above exception.*|The above exception was the direct cause.*"
    r"|goroutine \d+ \[.*\]:|-+ ?End of (?:inner exception )?stack trace.*-*|\^+|~+)\s*$"
)

# Frames of a test: a test file, test class or test function (or the result's own folder).
_TEST_FILE = re.compile(
    r"(?:^|[/\\])(?:tests?|specs?|__tests__|e2e|testing)[/\\]"
    r"|(?:^|[/\\])(?:test_[^/\\]*|[^/\\]*_(?:test|spec)|conftest)\.\w+$"
    r"|\.(?:test|spec|e2e)\.[cm]?[jt]sx?$"
    r"|(?:Tests?|IT|Spec|TestCase)\.(?:java|kt|scala|groovy|cs|fs|vb)$",
    re.IGNORECASE,
)
_TEST_NAME = re.compile(
    r"(?:^|[.:/$])(?:[Tt]est\w*|[\w$]*(?:Tests?|IT|Spec|TestCase|Steps)(?:\$\w+)*)"
    r"(?:\.|$)|\btests?\b|(?:^|\.)(?:Tests?|UnitTests|IntegrationTests)\.|block \(\d+ levels?\)"
)
# Frames of the language's runtime, libraries and test frameworks.
_LIBRARY = re.compile(
    r"^(?:java|javax|jdk|sun|com\.sun|kotlin|kotlinx|scala|groovy|org\.junit|junit|org\.testng"
    r"|org\.assertj|org\.hamcrest|org\.opentest4j|org\.mockito|org\.apache\.maven"
    r"|org\.gradle|org\.springframework|io\.kotest|System|Microsoft|NUnit|Xunit|xunit"
    r"|FluentAssertions|Moq|Castle|MSTest|runtime|testing|reflect|sync"
    r"|org\.postgresql|com\.mysql|Npgsql|MySqlConnector|StackExchange)\."
    r"|site-packages|dist-packages|[/\\]lib[/\\]python\d|_pytest|pluggy|<frozen|unittest[/\\]"
    r"|node_modules|node:|^internal[/\\]|<anonymous>"
    r"|[/\\]go[/\\]src[/\\]|[/\\]pkg[/\\]mod[/\\]|github\.com/stretchr/testify"
    r"|[/\\]gems[/\\]|[/\\]ruby[/\\]\d|<internal:|rspec-|minitest"
)


@dataclass(frozen=True)
class Signature:
    exception: str
    message: str
    frame: str
    # The failure's own first message line, not normalised (not part of the signature):
    # what Allure's messageRegex of a category is matched against without a JUnit message.
    raw_message: str = field(default="", compare=False)

    @property
    def key(self) -> str:
        """The signature as stored and compared: type, message and frame."""
        return f"{self.exception}|{self.message}|{self.frame}"

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.key.encode()).hexdigest()

    @property
    def title(self) -> str:
        """A line that names the cause: `KeyError: 'user_id' (in orders.total)`."""
        head = self.message.split(" \u23ce ")[0]
        title = f"{self.exception}: {head}" if self.exception and head else self.exception or head
        if self.frame:
            title = f"{title} (in {self.frame})" if title else f"in {self.frame}"
        title = title or "Failed without a failure text"
        return title if len(title) <= MAX_TITLE_CHARS else title[: MAX_TITLE_CHARS - 1] + "…"


@dataclass(frozen=True)
class _Frame:
    file: str
    func: str
    line_no: int


def signature(
    message: str | None,
    text: str | None,
    *,
    exception_type: str | None = None,
    test_name: str = "",
    folder: str = "",
) -> Signature:
    """The signature of a failure from its message (a JUnit `message`), its text (the
    failure's body) and its `type` when the reporter gave one; the test's name and folder
    tell its own frames apart."""
    body = _ANSI.sub("", (text or "")[:MAX_TEXT_CHARS])
    head = _ANSI.sub("", (message or "")[:MAX_TEXT_CHARS])
    if head.strip().lower() not in _EMPTY_MESSAGES and head.strip() not in body:
        body = f"{head}\n{body}" if body else head
    lines = body.splitlines()
    frames, frame_lines, python_order = _frames(lines)
    exception, message_lines = _header(lines, frame_lines, python_order)
    if not exception and exception_type:
        exception = exception_type.strip()
    if not message_lines:
        message_lines = _first_lines(lines, frame_lines)
    first = next((line.strip() for line in message_lines if line.strip()), "")
    raw_message = f"{exception}: {first}" if exception and first else exception or first
    exception = re.split(r"\.|::", exception)[-1] if exception else ""
    return Signature(
        exception=exception,
        message=_message(message_lines),
        frame=_frame(frames, python_order, test_name, folder),
        raw_message=raw_message[:MAX_MESSAGE_CHARS],
    )


def _frames(lines: list[str]) -> tuple[list[_Frame], set[int], bool]:
    """The stack frames found, in text order; the indexes of the lines that are frames;
    whether the text is Python's (innermost frame last) rather than the others' (innermost
    first)."""
    frames: list[_Frame] = []
    frame_lines: set[int] = set()
    python = False
    for i, line in enumerate(lines):
        if not _MAYBE_FRAME.search(line):
            # A Go function line is a frame when the next line is its file.
            m = _GO_FUNC.match(line) if i + 1 < len(lines) else None
            if m and (f := _GO_FILE.match(lines[i + 1])):
                frames.append(_Frame(f["file"], m["func"], i))
            continue
        starts_at = "at " in line  # Java, JavaScript, .NET: tried first, most frames are
        if starts_at and (m := _JS_BARE_FRAME.match(line)):
            frame_lines.add(i)
            frames.append(_Frame(m["file"], "", i))
        elif starts_at and (m := _AT_FRAME.match(line)):
            frame_lines.add(i)
            args = m["args"] or ""
            file = m["file"] or (args if _LINE_SUFFIX.search(args) else "")
            frames.append(_Frame(_LINE_SUFFIX.sub("", file), m["func"], i))
        elif m := _VITEST_FRAME.match(line):
            frame_lines.add(i)
            frames.append(_Frame(m["file"], m["func"] or "", i))
        elif m := _PY_FRAME.match(line) or _PYTEST_FRAME.match(line):
            frame_lines.add(i)
            python = True
            func = m["func"] or _enclosing_def(lines, i)
            if not func and frames and frames[-1].file == m["file"]:
                continue  # pytest's closing `file.py:12: KeyError` of the frame before
            frames.append(_Frame(m["file"], func, i))
        elif m := _RUBY_FRAME.match(line):
            frame_lines.add(i)
            frames.append(_Frame(m["file"], m["func"], i))
        elif _GO_FILE.match(line):
            frame_lines.add(i)  # the file line of the Go function line before it
        elif m := _GO_TESTLINE.match(line):  # not a frame line: it carries the message
            frames.append(_Frame(m["file"], "", i))
    return frames, frame_lines, python


def _enclosing_def(lines: list[str], index: int) -> str:
    """pytest's long tracebacks name a frame's function only in its source excerpt."""
    for line in reversed(lines[:index]):
        if m := _PY_DEF.match(line):
            return m["func"]
        if _PYTEST_FRAME.match(line):
            break
    return ""


def _header(lines: list[str], frame_lines: set[int], python_order: bool) -> tuple[str, list[str]]:
    """The exception type and its message lines: the last `Caused by:` (the root cause)
    or, in Python, the last exception line (the one raised); otherwise the first."""
    found: list[tuple[int, str, str]] = []
    for i, line in enumerate(lines):
        if i in frame_lines or not _MAYBE_HEADER.search(line):
            continue
        if m := _HEADER.match(line):
            found.append((i, m["type"], m["msg"] or ""))
        elif m := _GO_PANIC.match(line):
            found.append((i, "panic", m["msg"]))
        elif m := _PYTEST_ASSERT.match(line):
            found.append((i, "AssertionError", m["msg"]))
    if not found:
        return "", []
    caused = [f for f in found if lines[f[0]].lstrip().startswith(("Caused by:", "--->"))]
    pytest_lines = [f for f in found if lines[f[0]].startswith("E ")]
    if caused:
        index, exception, first = caused[-1]
    elif pytest_lines:
        index, exception, first = pytest_lines[0]
    elif python_order:
        index, exception, first = found[-1]
    else:
        index, exception, first = found[0]
    message = [first] if first.strip() else []
    for i in range(index + 1, len(lines)):
        line = lines[i]
        if i in frame_lines or _HEADER.match(line) or _GO_PANIC.match(line):
            break
        if _GO_ROUTINE.match(line) or _GO_FUNC.match(line):
            break
        if pytest_lines and not line.startswith("E "):
            break
        message.append(line[1:] if pytest_lines else line)
    return exception, message


def _first_lines(lines: list[str], frame_lines: set[int]) -> list[str]:
    """Without an exception line: the text's first lines that are not frames (a Go
    `file_test.go:12:` prefix left out)."""
    found: list[str] = []
    for i, line in enumerate(lines):
        if i in frame_lines:
            if found:
                break
            continue
        found.append(_GO_TESTLINE.sub("", line))
    return found


def _message(lines: list[str]) -> str:
    kept: list[str] = []
    for line in lines:
        if line.strip() == "Require stack:":
            break  # jest's list of the files that imported the module: the tests' own
        if not line.strip() or _SOURCE_EXCERPT.match(line) or _NOISE.match(line):
            continue
        normal = normalise(line)
        if normal and normal not in kept:
            kept.append(normal)
        if len(kept) == MAX_MESSAGE_LINES:
            break
    joined = " \u23ce ".join(kept)
    return joined[:MAX_MESSAGE_CHARS]


def _frame(frames: list[_Frame], python_order: bool, test_name: str, folder: str) -> str:
    """The innermost frame of the code under test, as `file:function` or a qualified
    method name; "" when every frame is the test's own or a library's."""
    ordered = list(reversed(frames)) if python_order else frames
    for frame in ordered:
        where = f"{frame.file} {frame.func}"
        if _LIBRARY.search(frame.func) or _LIBRARY.search(frame.file):
            continue
        if _is_test_frame(frame, test_name, folder):
            continue
        return _frame_name(frame) or where.strip()
    return ""


def _is_test_frame(frame: _Frame, test_name: str, folder: str) -> bool:
    func = re.sub(r"\[as \w+\]|\$\d+|<[^>]*>", "", frame.func)
    if frame.file and _TEST_FILE.search(frame.file):
        return True
    if func and (_TEST_NAME.search(func) or (test_name and func.endswith(test_name))):
        return True
    # A method of the result's own class (Java, .NET: the folder is the test class); in
    # Go the folder is the package, whose own functions are the code under test.
    rest = func[len(folder) + 1 :] if folder and func.startswith(folder + ".") else ""
    return bool(len(folder) > 3 and rest and re.fullmatch(r"[\w$]+", rest))


def _frame_name(frame: _Frame) -> str:
    func = normalise(re.sub(r"\$\d+|\[as \w+\]", "", frame.func)).replace(" ", "")
    file = re.split(r"[/\\]", frame.file)[-1] if frame.file else ""
    if "." in func.strip(".") or not file:
        return func
    return f"{file}:{func}" if func else file
