"""A labelled corpus of real-looking test failures, one file per language (python.txt,
java.txt, javascript.txt (JS and TypeScript), go.txt, dotnet.txt, ruby.txt), for scoring the
grouping of failures by cause with pairwise precision and recall.

Format of a file (plain text, UTF-8)::

    # comment lines (only before the first record)
    === cause: py-keyerror-user_id
    status: failed
    test: test_profile_page
    folder: tests.web.test_users
    --- message
    KeyError: 'user_id'
    --- text
    Traceback (most recent call last):
      ...
    KeyError: 'user_id'

- A line starting with ``=== cause:`` starts a record (other lines starting with ``===``, such
  as go test's ``=== RUN``, are body text). The header lines ``status:`` (``failed`` or
  ``error``), ``test:`` and ``folder:`` follow, each exactly once, in any order; values are
  stripped. ``folder`` may be empty (some reporters write ``classname=""``).
- ``--- message`` then ``--- text`` (each alone on its line, exactly). The message body is
  the ``message`` attribute of the JUnit ``<failure>``/``<error>`` element; the single line
  ``(none)`` means the tool wrote no attribute (None). The text body is the element's
  content and runs to the next ``=== cause:`` line or the end of the file.
- Exactly one trailing newline is stripped from each body; everything else (tabs,
  indentation, blank lines, trailing spaces) is kept. So a body that really ends with a
  newline is followed by one blank line. Carriage returns cannot be represented.
- Cause names are unique across files (they carry the language as a prefix); a cause's
  records all live in one file.

Labelling rules (one cause = what a person triaging the run would call one root problem;
consistent with the failure-signature rules):

- A signature is the exception type, the message with its variable parts normalised, and
  the innermost stack frames that are not the test's own: the same failure reached from
  different tests (different test names, test files, test frames and line numbers) is one
  cause.
- Variable parts never split a cause: numbers, hex strings and addresses, UUIDs, hashes,
  ISO dates and times, durations (``1.234s``, ``30000ms``), IPv4/IPv6 addresses and ports,
  temporary paths, line and column numbers, object ids, request ids, PIDs, goroutine
  numbers.
- What tells causes apart: quoted identifiers (``'user_id'`` vs ``'order_id'``), locators
  (``#login`` vs ``#checkout``), the class and method of the innermost non-test frames,
  the exception type. Near-misses (same exception, another key, locator or throwing
  method) are causes of their own.
- Within a cause, the non-test frames between the throw and the test's own frames are the
  same (up to line numbers and the checkout path), so a cause never depends on how many of
  them a signature keeps. What varies is outside that span: framework frames below the
  test's (Surefire traces trimmed or not), runtime frames above a Go panic's function
  (absent when nothing recovered the panic), and a few reports carry no frames at all
  (pytest --tb=line).
- Test code is the test's own: test files and test classes (``tests/``, ``spec/``,
  ``test/``, ``__tests__/``, ``*.spec.ts``, ``*Test``/``*IT`` classes, ``*Tests`` classes,
  ``*_test.go``) and their shared support (conftest.py, tests/helpers, spec/support,
  com.acme.testing, Shop.Tests.Infrastructure). Go helpers in files without the ``_test``
  suffix (internal/testutil/db.go, golden.go) are not: their ``file.go:NN:`` locations
  belong to the signature.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CORPUS_DIR = Path(__file__).parent
STATUSES = frozenset({"failed", "error"})
HEADER_KEYS = ("status", "test", "folder")
RECORD_START = "=== cause:"
MESSAGE_MARK = "--- message"
TEXT_MARK = "--- text"
NO_MESSAGE = "(none)"


@dataclass(frozen=True)
class CorpusFailure:
    cause: str
    language: str  # the file stem: python, java, javascript, go, dotnet, ruby
    status: str  # "failed" or "error"
    test: str  # the test's name (JUnit testcase name)
    folder: str  # its class/file/suite, as a JUnit reporter puts it in classname
    message: str | None  # the failure element's message attribute; None if there is none
    text: str  # the failure element's body


def load_corpus(directory: Path | None = None) -> list[CorpusFailure]:
    """Every record of every ``*.txt`` file in *directory* (this package by default), files
    in name order, records in file order. Raises ValueError on a malformed record or a
    cause found in two files."""
    directory = CORPUS_DIR if directory is None else directory
    paths = sorted(directory.glob("*.txt"))
    if not paths:
        raise ValueError(f"no corpus files (*.txt) in {directory}")
    failures: list[CorpusFailure] = []
    home: dict[str, str] = {}
    for path in paths:
        for failure in parse_corpus(path.read_text(encoding="utf-8"), path.stem, source=path.name):
            first = home.setdefault(failure.cause, path.name)
            if first != path.name:
                raise ValueError(
                    f"{path.name}: cause {failure.cause!r} is also used in {first}; "
                    "cause names must be unique across files"
                )
            failures.append(failure)
    return failures


def parse_corpus(content: str, language: str, source: str = "<string>") -> list[CorpusFailure]:
    """The records of one corpus file's *content* (see the module docstring)."""
    lines = content.split("\n")
    if content.endswith("\n"):
        lines.pop()  # the file's final newline ends the last line, it is no empty line
    starts = [i for i, line in enumerate(lines) if line.startswith(RECORD_START)]
    preamble_end = starts[0] if starts else len(lines)
    for i in range(preamble_end):
        if lines[i].strip() and not lines[i].startswith("#"):
            raise ValueError(
                f"{source}:{i + 1}: text before the first {RECORD_START!r} line must be "
                f"a '#' comment or blank: {lines[i]!r}"
            )
    if not starts:
        raise ValueError(f"{source}: no records (no line starting with {RECORD_START!r})")
    bounds = zip(starts, [*starts[1:], len(lines)], strict=True)
    return [_record(lines, start, end, language, source) for start, end in bounds]


def _record(lines: list[str], start: int, end: int, language: str, source: str) -> CorpusFailure:
    def fail(index: int, problem: str) -> ValueError:
        return ValueError(f"{source}:{index + 1}: {problem}")

    cause = lines[start][len(RECORD_START) :].strip()
    if not cause:
        raise fail(start, "empty cause name")
    headers: dict[str, str] = {}
    i = start + 1
    while i < end and lines[i] != MESSAGE_MARK:
        key, colon, value = lines[i].partition(":")
        key = key.strip()
        if not colon or key not in HEADER_KEYS:
            raise fail(
                i,
                f"record {cause!r}: expected a header line ({', '.join(HEADER_KEYS)}) "
                f"or {MESSAGE_MARK!r}, got {lines[i]!r}",
            )
        if key in headers:
            raise fail(i, f"record {cause!r}: header {key!r} given twice")
        headers[key] = value.strip()
        i += 1
    if i == end:
        raise fail(start, f"record {cause!r}: no {MESSAGE_MARK!r} line")
    missing = [key for key in HEADER_KEYS if key not in headers]
    if missing:
        raise fail(start, f"record {cause!r}: missing header {', '.join(missing)}")
    if headers["status"] not in STATUSES:
        raise fail(
            start,
            f"record {cause!r}: status must be one of {sorted(STATUSES)}, "
            f"got {headers['status']!r}",
        )
    if not headers["test"]:
        raise fail(start, f"record {cause!r}: empty test name")
    message_start = i + 1
    try:
        text_mark = lines.index(TEXT_MARK, message_start, end)
    except ValueError:
        raise fail(i, f"record {cause!r}: no {TEXT_MARK!r} line after {MESSAGE_MARK!r}") from None
    message_lines = lines[message_start:text_mark]
    message = None if message_lines == [NO_MESSAGE] else "\n".join(message_lines)
    return CorpusFailure(
        cause=cause,
        language=language,
        status=headers["status"],
        test=headers["test"],
        folder=headers["folder"],
        message=message,
        text="\n".join(lines[text_mark + 1 : end]),
    )
