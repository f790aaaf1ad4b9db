"""runhub.client.junit against the fixture corpus, the CLI reference reader, generated
documents (hypothesis) and a large generated report (bounded memory)."""

from __future__ import annotations

import hashlib
import math
import re
import time
import tracemalloc
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runhub.client import junit
from runhub.client.junit import (
    Report,
    ReportError,
    expand_results,
    is_result_file,
    iter_tests,
    parse_seconds,
    scan,
)
from tests.e2e.compat.junit_expect import expected_tests

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "junit"
SOURCES = FIXTURES / "SOURCES.md"
REJECTED = {  # well-formed or not, these are not JUnit reports: ReportError
    "malformed/MALFORMED-not-xml.xml",
    "malformed/MALFORMED-plain-text.xml",
    "malformed/MALFORMED-surefire-unclosed-cdata.xml",
    "malformed/MALFORMED-truncated-pytest.xml",
    "malformed/MALFORMED-wtr-template-lt-in-attribute.xml",
    "malformed/MALFORMED-zero-bytes.xml",
    "malformed/NONJUNIT-suites-case-elements.xml",
    "malformed/NONJUNIT-wrong-root-element.xml",
    "malformed/SECURITY-xxe-external-entity.xml",
    "malformed/SECURITY-xxe-oob-dtd-fragment.dtd.xml",
    "maven-failsafe/failsafe-summary.xml",
    "dotnet-trx/dotnet-nunit-netcoreapp3.1.trx",
    "dotnet-trx/dotnet-xunit.trx",
}
# Intended difference 2 (module docstring): runhub reads exponent and thousands-separator
# times, the CLI sends no elapsed for them.
_MORE_TIMES = re.compile(r'(?:time|duration)=["\'][^"\']*(?:[0-9][eE][+-]?[0-9]|,[0-9]+\.)')
RERUN_TAGS = {
    "flakyFailure": "failure",
    "rerunFailure": "failure",
    "flakyError": "error",
    "rerunError": "error",
}


def _fixtures() -> list[str]:
    return sorted(
        str(p.relative_to(FIXTURES))
        for p in FIXTURES.rglob("*")
        if p.is_file() and p.suffix != ".md"
    )


def _declared_counts() -> dict[str, int]:
    """Testcase element counts per file from SOURCES.md (`N tc / …`)."""
    counts: dict[str, int] = {}
    section = ""
    for line in SOURCES.read_text().splitlines():
        if line.startswith("### "):
            section = line[4:].split()[0]
        found = re.match(r"^\| `([^`]+)` \|.*?\| ([0-9]+) tc / ", line)
        if found and section:
            counts[f"{section}{found[1]}"] = int(found[2])
    return counts


def _stdlib_statuses(path: Path) -> tuple[int, Counter[str], Counter[str]]:
    """Independent count with the standard parser (fixtures are trusted): testcase elements,
    final statuses of named testcases, and rerun attempts per status."""
    root = ET.parse(path).getroot()
    elements = 0
    statuses: Counter[str] = Counter()
    reruns: Counter[str] = Counter()
    for case in root.iter("testcase"):
        elements += 1
        if not (case.get("name") or "").strip():
            continue
        status = "passed"
        for tag in ("skipped", "failure", "error"):
            if case.find(tag) is not None:
                status = tag
        statuses[status] += 1
        for child in case:
            if child.tag in RERUN_TAGS:
                reruns[RERUN_TAGS[child.tag]] += 1
    return elements, statuses, reruns


ALL = _fixtures()
ACCEPTED = [name for name in ALL if name not in REJECTED]


def test_corpus_is_all_covered() -> None:
    assert len(ALL) >= 130
    assert set(ALL) >= REJECTED


@pytest.mark.parametrize("name", ACCEPTED)
def test_counts_per_status_equal_the_file(name: str) -> None:
    path = FIXTURES / name
    assert is_result_file(path)
    elements, statuses, reruns = _stdlib_statuses(path)
    declared = _declared_counts().get(name)
    if declared is not None:
        assert elements == declared
    finals = Counter(t["status"] for t in iter_tests(path, reruns=False))
    assert finals == statuses
    everything = Counter(t["status"] for t in iter_tests(path))
    assert everything == statuses + reruns


@pytest.mark.parametrize("name", ACCEPTED)
def test_same_keys_statuses_elapsed_as_the_cli(name: str) -> None:
    path = FIXTURES / name
    expected = expected_tests(path)
    if expected is None:
        # Intended difference 1: the CLI refuses this file (over 1,000 entities); runhub
        # reads every test of it.
        named = sum(_stdlib_statuses(path)[1].values())
        assert named > 0 and sum(1 for _ in iter_tests(path, reruns=False)) == named
        return
    ours = list(iter_tests(path, reruns=False))
    # intended difference 3: document order; compare as multisets
    assert sorted((t["key"], t["status"]) for t in ours) == sorted(
        (e.key, e.status) for e in expected
    )
    by_key: dict[tuple[str, str], list[int | None]] = {}
    for t in ours:
        by_key.setdefault((t["key"], t["status"]), []).append(t.get("elapsed"))
    wanted: dict[tuple[str, str], list[int | None]] = {}
    for e in expected:
        wanted.setdefault((e.key, e.status), []).append(e.elapsed)
    more_times = bool(_MORE_TIMES.search(path.read_text(errors="replace")))
    for k, values in wanted.items():
        got = by_key[k]
        if more_times:
            assert {w for w in values if w is not None} <= set(got)
            assert len(got) == len(values)
        else:
            assert sorted(got, key=str) == sorted(values, key=str)
    names = {(t["key"], t["name"], t["folder"]) for t in ours}
    assert names == {(e.key, e.name[:750], (e.folder or "Unnamed folder")[:750]) for e in expected}


@pytest.mark.parametrize("name", sorted(REJECTED))
def test_broken_hostile_and_non_junit_files_raise(name: str) -> None:
    with pytest.raises(ReportError, match=re.escape(str(FIXTURES / name))) as streamed:
        list(iter_tests(FIXTURES / name))
    with pytest.raises(ReportError) as scanned:
        scan(FIXTURES / name)
    assert str(scanned.value) == str(streamed.value)


@pytest.mark.parametrize("reruns", [True, False])
def test_scan_counts_what_iter_tests_yields(reruns: bool) -> None:
    for name in ACCEPTED:
        streamed = Report(FIXTURES / name, None)
        tests = list(iter_tests(FIXTURES / name, streamed, reruns=reruns))
        scanned = scan(FIXTURES / name, reruns=reruns)
        assert (scanned.tests, scanned.tests_elapsed_us, scanned.elapsed_us) == (
            len(tests),
            streamed.tests_elapsed_us,
            streamed.elapsed_us,
        ), name


def test_external_entities_never_touch_files_or_network(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    doc = tmp_path / "xxe.xml"
    doc.write_text(
        f'<?xml version="1.0"?><!DOCTYPE t [<!ENTITY x SYSTEM "file://{secret}">]>'
        '<testsuite><testcase name="&x;"/></testsuite>'
    )
    with pytest.raises(ReportError, match="DTD"):
        list(iter_tests(doc))
    bomb = tmp_path / "bomb.xml"
    bomb.write_text(
        '<!DOCTYPE t [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        '<testsuite><testcase name="&b;"/></testsuite>'
    )
    with pytest.raises(ReportError):
        list(iter_tests(bomb))


def test_many_standard_entities_are_fine(tmp_path: Path) -> None:
    doc = tmp_path / "entities.xml"
    body = "&lt;&gt;&quot;&amp;&apos;" * 5000
    doc.write_text(
        f'<testsuite><testcase name="t"><failure>{body}</failure></testcase></testsuite>'
    )
    (test,) = iter_tests(doc)
    assert test["status"] == "failure"
    assert test["fields"][0]["value"].startswith("<>\"&'<>")


def test_observed_cli_body_for_one_case(tmp_path: Path) -> None:
    """§8.3's observed append body, rebuilt from an equivalent report."""
    doc = tmp_path / "r.xml"
    doc.write_text(
        '<testsuites time="3.5"><testsuite name="s">'
        '<testcase classname="pkg.A" name="ok1" time="0.25" file="a.js" line="12" assertions="3">'
        '<properties><property name="attachment" value="https://ci/files/shot.png"/>'
        '<property name="attachment2" value="local/file.txt"/>'
        '<property name="priority" value="high"/>'
        '<property name="url:ticket" value="https://jira/x-1"/>'
        '<property name="step[passed]" value="open page"/></properties>'
        "<system-out>hello out</system-out></testcase>"
        '<testcase classname="pkg.A" name="f1" time="1">'
        '<failure message="boom" type="AssertionError">stack trace</failure></testcase>'
        '<testcase name="s1"><skipped/></testcase>'
        "</testsuite></testsuites>"
    )
    report = Report(doc, None)
    ok1, f1, s1 = iter_tests(doc, report)
    assert report.elapsed_us == 3_500_000
    assert ok1 == {
        "key": "7cc48c25e14c79cf72884fbbc545bdb43533da307a8da12c628ca8ad32ce50d1",
        "name": "ok1",
        "status": "passed",
        "folder": "pkg.A",
        "artifacts": [
            {"name": "shot.png", "url": "https://ci/files/shot.png", "mime_type": "image/png"}
        ],
        "fields": [
            {"type": 1, "name": "attachment2", "value": "local/file.txt"},
            {"type": 4, "name": "Output", "value": "hello out", "is_highlight": False},
            {"type": 1, "name": "priority", "value": "high", "is_highlight": False},
            {"type": 5, "name": "ticket", "value": "https://jira/x-1", "is_highlight": False},
            {
                "type": 3,
                "name": "Steps",
                "value": (
                    '<test-steps><test-step status="passed">open page</test-step>\n</test-steps>'
                ),
                "is_highlight": False,
            },
        ],
        "elapsed": 250000,
        "file": "a.js",
        "line": 12,
        "assertions": 3,
    }
    assert f1["fields"] == [
        {
            "type": 4,
            "name": "Failure",
            "meta": {"message": "boom", "type": "AssertionError"},
            "value": "stack trace",
            "is_highlight": True,
        }
    ]
    assert f1["elapsed"] == 1_000_000 and f1["artifacts"] == []
    assert s1 == {
        "key": "e8bc163c82eee18733288c7d4ac636db3a6deb013ef2d37b68322be20edc45cc",
        "name": "s1",
        "status": "skipped",
        "folder": "Unnamed folder",
        "artifacts": [],
        "fields": [],
    }


def test_reruns_are_yielded_before_the_final_result() -> None:
    tests = list(iter_tests(FIXTURES / "rust" / "quick-junit-all-elements.xml"))
    case5 = [t for t in tests if t["name"] == "testcase5"]
    assert [t["status"] for t in case5] == ["failure", "error", "failure"]
    assert len({t["key"] for t in case5}) == 1
    assert case5[1]["fields"][0]["value"] == "retry error stack trace"
    assert case5[1]["fields"][0]["meta"] == {"type": "retry error type"}
    assert case5[1]["fields"][1] == {
        "type": 4,
        "name": "Output",
        "value": "retry error system output",
        "is_highlight": False,
    }
    case4 = [t["status"] for t in tests if t["name"] == "testcase4"]
    assert case4 == ["failure", "error", "passed"]


def test_numeric_references_stay_literal_like_the_cli(tmp_path: Path) -> None:
    doc = tmp_path / "refs.xml"
    doc.write_text(
        '<testsuite><testcase name="a&#13;b &#60;c&#x3E;"><failure>x&#10;y'
        "<![CDATA[ &#13; ]]></failure><system-out><!-- &#1; -->out</system-out>"
        "</testcase></testsuite>"
    )
    (test,) = iter_tests(doc)
    assert test["name"] == "a&#13;b <c>"
    assert test["key"] == hashlib.sha256(b"a&#13;b <c>").hexdigest()
    assert test["fields"][0]["value"] == "x&#10;y &#13; "  # CDATA is never trimmed


def test_text_attributes_and_output_markers_like_the_cli(tmp_path: Path) -> None:
    """Expected value recorded from the official CLI 1.4.5 for this exact document."""
    doc = tmp_path / "cli.xml"
    doc.write_bytes(
        b'<testsuite><testcase name="t" classname="c">'
        b'<failure message="one\r\ntwo\rthree\n\tfour " type="T">  <![CDATA[  kept  ]]>  tail '
        b"</failure><system-out>  before\n[[ATTACHMENT|/tmp/shot.png]]\n"
        b"  [[ATTACHMENT|https://h/a/b.png]]\n[[ATTACHMENT|note.txt]]\n[[PROPERTY|k = v ]]\n"
        b"[[PROPERTY|multi]]\n l1\nl2\n[[/PROPERTY]]\nmid [[ATTACHMENT|x]]\nafter\n</system-out>"
        b"<system-out>second, ignored</system-out><properties>"
        b'<property name="step1[ passed ]" value="s1"/><property name="url:Link" value="http://p"/>'
        b'<property name="attachment" value="https://h/r.log"/><property name="empty"/>'
        b'</properties><properties><property name="ignored" value="x"/></properties>'
        b"</testcase></testsuite>"
    )
    (test,) = iter_tests(doc)
    assert test["artifacts"] == [
        {"name": "b.png", "url": "https://h/a/b.png", "mime_type": "image/png"},
        {"name": "r.log", "url": "https://h/r.log", "mime_type": "text/plain"},
    ]
    steps = '<test-steps><test-step status="passed">s1</test-step>\n</test-steps>'
    assert test["fields"] == [
        {"type": 1, "name": "attachment", "value": "/tmp/shot.png"},
        {"type": 1, "name": "attachment", "value": "note.txt"},
        {
            "type": 4,
            "name": "Failure",
            "meta": {"message": "one\ntwo\nthree\n\tfour", "type": "T"},
            "value": "  kept  tail",
            "is_highlight": True,
        },
        {"type": 4, "name": "Output", "value": "before\nmid [[ATTACHMENT|x]]\nafter",
         "is_highlight": False},
        {"type": 1, "name": "k", "value": "v", "is_highlight": False},
        {"type": 2, "name": "multi", "value": "l1\nl2", "is_highlight": False},
        {"type": 1, "name": "Link", "value": "http://p", "is_highlight": False},
        {"type": 3, "name": "Steps", "value": steps, "is_highlight": False},
    ]  # fmt: skip


def test_attribute_newlines_survive_chunk_boundaries(tmp_path: Path) -> None:
    doc = tmp_path / "many.xml"
    cases = (
        f'<testcase name="t{i}"><failure message="m{"x" * i}\r\n\t{i}" type="a\rb"/></testcase>'
        for i in range(700)
    )
    doc.write_bytes(("<testsuite>" + "".join(cases) + "</testsuite>").encode())
    tests = list(iter_tests(doc))
    assert len(tests) == 700
    for i, test in enumerate(tests):
        field = test["fields"][0]
        assert (field["value"], field["meta"]) == (f"m{'x' * i}\n\t{i}", {"type": "a\nb"})


def test_times() -> None:
    assert parse_seconds("1,5") == 1_500_000
    assert parse_seconds("0.0000005") == 1  # half up, like Math.round
    assert parse_seconds("4.5e-05") == 45  # intended difference 2
    assert parse_seconds("2,503.1") == 2_503_100_000  # intended difference 2
    assert parse_seconds("-1") is None
    assert parse_seconds("abc") is None
    assert parse_seconds("inf") is None
    assert parse_seconds("1_0") is None
    assert parse_seconds("9" * 400) is None  # overflows to infinity
    assert parse_seconds("٣") is None  # a non-ASCII digit


@given(st.text(alphabet="0123456789.,-+eE _٣\u00a0", max_size=12))
def test_plain_times_take_a_shortcut_to_the_same_answer(value: str) -> None:
    text = value.strip()
    text = text.replace(",", "") if "," in text and "." in text else text.replace(",", ".", 1)
    expected = None
    if re.fullmatch(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", text):
        seconds = float(text)
        if seconds >= 0 and seconds != float("inf"):
            expected = int(seconds * 1_000_000 + 0.5)
    assert parse_seconds(value) == expected


def test_truncation(tmp_path: Path) -> None:
    doc = tmp_path / "big.xml"
    long_name = "n" * 800
    doc.write_text(
        f'<testsuite><testcase classname="c" name="{long_name}"><failure>{"x" * 20000}y</failure>'
        + "<properties>"
        + "".join(f'<property name="p{i}" value="v"/>' for i in range(30))
        + "</properties></testcase></testsuite>"
    )
    (test,) = iter_tests(doc)
    assert test["name"] == "n" * 750
    assert test["key"] == hashlib.sha256(f"c.{long_name}".encode()).hexdigest()
    value = test["fields"][0]["value"]
    assert value == "x" * 8182 + "...\n\n[...]\n\n..." + "x" * 8181 + "y"
    assert len(test["fields"]) == 24


def test_file_detection_and_globs(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    good = tmp_path / "sub" / "a.XML"
    good.write_text("<testsuites/>")
    (tmp_path / "b.txt").write_text("<testsuite/>")
    (tmp_path / "c.xml").write_text("<other/>")
    late = tmp_path / "late.log"
    late.write_bytes(b" " * 200_000 + b"<testsuite/>")
    assert is_result_file(good) and is_result_file(late)
    assert not is_result_file(tmp_path / "b.txt") and not is_result_file(tmp_path / "c.xml")
    assert not is_result_file(tmp_path / "sub")
    found = expand_results(
        [str(tmp_path / "**" / "*.*"), str(good), str(tmp_path / "missing.xml"), str(late)]
    )
    assert found == sorted(found)  # one pattern: sorted; repeats and missing files dropped
    assert set(found) == {good, late, tmp_path / "b.txt", tmp_path / "c.xml"}
    assert [p for p in found if is_result_file(p)] == sorted([good, late])


# -- generated documents --------------------------------------------------------------------

_TEXT = st.text(
    st.characters(blacklist_categories=("Cs", "Cc", "Cn"), blacklist_characters="\ufeff"),
    min_size=1,
    max_size=12,
).filter(lambda s: s.strip() == s and s.strip() != "")
_CASE = st.tuples(
    _TEXT,  # name
    st.one_of(st.none(), _TEXT),  # classname
    st.sampled_from(["passed", "failure", "error", "skipped"]),
    st.one_of(st.none(), st.integers(-5_000_000, 50_000_000)),  # µs
    st.booleans(),  # comma decimal separator
)


def _suite(draw: Any, depth: int) -> tuple[str, list[tuple[Any, ...]]]:
    cases = draw(st.lists(_CASE, max_size=4))
    parts, flat = [], []
    for name, classname, status, micros, comma in cases:
        attrs = f"name={quoteattr(name)}"
        if classname is not None:
            attrs += f" classname={quoteattr(classname)}"
        if micros is not None:
            whole, fraction = divmod(abs(micros), 1_000_000)
            seconds = f"{'-' if micros < 0 else ''}{whole}.{fraction:06d}"
            attrs += f' time="{seconds.replace(".", ",") if comma else seconds}"'
        body = (
            ""
            if status == "passed"
            else f"<{status} message={quoteattr(name)}>{escape(name)}</{status}>"
        )
        parts.append(f"<testcase {attrs}>{body}</testcase>")
        flat.append(
            (name, classname, status, micros if micros is not None and micros >= 0 else None)
        )
    if depth < 3:
        for _ in range(draw(st.integers(0, 2))):
            xml, inner = _suite(draw, depth + 1)
            parts.append(xml)
            flat += inner
    return f'<testsuite name="s{depth}">{"".join(parts)}</testsuite>', flat


@st.composite
def _documents(draw: Any) -> tuple[str, list[tuple[Any, ...]]]:
    xml, flat = _suite(draw, 0)
    if draw(st.booleans()):
        xml = f"<testsuites>{xml}</testsuites>"
    return '<?xml version="1.0" encoding="UTF-8"?>' + xml, flat


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_documents())
def test_generated_documents_parse_to_the_generated_tests(
    tmp_path_factory: pytest.TempPathFactory, document: tuple[str, list[tuple[Any, ...]]]
) -> None:
    xml, flat = document
    path = tmp_path_factory.mktemp("gen") / "gen.xml"
    path.write_bytes(b"\xef\xbb\xbf" + xml.encode())  # with a BOM
    got = [
        (
            t["name"],
            None if t["folder"] == "Unnamed folder" else t["folder"],
            t["status"],
            t.get("elapsed"),
        )
        for t in iter_tests(path)
    ]
    assert got == [(n, c if c != "Unnamed folder" else None, s, m) for n, c, s, m in flat]
    for test, (name, classname, _, _) in zip(iter_tests(path), flat, strict=True):
        source = f"{classname}.{name}" if classname else name
        assert test["key"] == hashlib.sha256(source.encode()).hexdigest()


# -- bounded memory ----------------------------------------------------------------------------


def test_a_50_mb_report_streams_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "huge.xml"
    output = "log line with &lt;markup&gt; " * 200  # ~6 KB per test
    case = (
        '<testcase classname="pkg.Huge" name="t{i}" time="0.001"><failure message="m">'
        "trace {i}</failure><system-out>" + output + "</system-out></testcase>\n"
    )
    with path.open("w") as out:
        out.write('<testsuites time="1"><testsuite name="huge">')
        for i in range(8_500):
            out.write(case.format(i=i))
        out.write("</testsuite></testsuites>")
    size = path.stat().st_size
    assert size > 50_000_000
    report = Report(path, None)
    tracemalloc.start()
    try:
        count = sum(1 for _ in iter_tests(path, report))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 8_500 and report.elapsed_us == 1_000_000
    print(f"peak {peak} bytes for a {size}-byte report")
    assert peak < size / 20, f"peak {peak} bytes for a {size}-byte report"


def test_nested_suites_late_properties_negative_times_and_chain_elapsed(tmp_path: Path) -> None:
    doc = tmp_path / "nested.xml"
    doc.write_text(
        '<testsuites><testsuite name="outer" time="2,5">'
        '<testcase classname=" c " name=" a " time="-1"><skipped message="later"/></testcase>'
        '<testsuite name="inner"><testcase name="b" duration="0.5"/></testsuite>'
        '<testsuite name="empty"/>'
        '<properties><property name="suite" value="never sent"/></properties>'
        "<system-out>suite output, never sent</system-out>"
        "</testsuite></testsuites>"
    )
    report = Report(doc, None)
    a, b = iter_tests(doc, report)
    assert (a["name"], a["folder"], a["status"], "elapsed" in a) == ("a", "c", "skipped", False)
    assert a["key"] == hashlib.sha256(b"c.a").hexdigest()
    assert a["fields"] == [{"type": 4, "name": "Skipped", "value": "later", "is_highlight": True}]
    assert b["elapsed"] == 500_000 and b["fields"] == []
    assert report.elapsed_us == 2_500_000  # the single root suite chain
    assert report.tests == 2


# -- huge text (issue 9, item 8) ----------------------------------------------------------------
# The reference: how the parser read text before it was bounded — whole strings, joined and
# then truncated (`_text`, `_Extras.scan_output`, `_cut_text` of the previous version).

_WS = " \t\n\v\f\r\u00a0\u1680\u2028\u2029\u202f\u205f\u3000\ufeff" + "".join(
    map(chr, range(0x2000, 0x200B))
)
_JOIN = "...\n\n[...]\n\n..."


def _cut_text(value: str) -> str:
    return value if len(value) <= 16_384 else value[:8_182] + _JOIN + value[-8_182:]


def _whole_text(events: list[tuple[str, str]]) -> str:
    """`_text` of an element from its events: ("data", text) within a run, ("cdata", text),
    ("tag", "") between runs (a child element's start or end)."""
    runs: list[str] = [""]
    parts: list[str] = []
    for kind, text in events:
        if kind == "data":
            runs[-1] += text
        elif kind == "cdata":
            parts += [runs[-1].strip(_WS), text]
            runs.append("")
        else:
            parts.append(runs[-1].strip(_WS))
            runs.append("")
    return "".join([*parts, runs[-1].strip(_WS)])


_ATTACHMENT_LINE = re.compile(f"^[{_WS}]*\\[\\[ATTACHMENT\\|([^\\]]+)\\]\\]")
_PROPERTY_LINE = re.compile(f"^[{_WS}]*\\[\\[PROPERTY\\|([^=]+)=([^\n\r\u2028\u2029]+)\\]\\]\\Z")
_PROPERTY_START = re.compile(f"^[{_WS}]*\\[\\[PROPERTY\\|([^\n\r\u2028\u2029]+)\\]\\]\\Z")


def _whole_scan(text: str) -> tuple[list[str], list[tuple[str, str, bool]], str]:
    """The previous `scan_output`: (attachments, properties, output), whole."""
    attachments: list[str] = []
    properties: list[tuple[str, str, bool]] = []
    output: list[str] = []
    lines = iter(text.split("\n"))
    for line in lines:
        if match := _ATTACHMENT_LINE.match(line):
            attachments.append(match.group(1).strip(_WS))
        elif match := _PROPERTY_LINE.match(line):
            properties.append((match.group(1).strip(_WS), match.group(2).strip(_WS), False))
        elif match := _PROPERTY_START.match(line):
            inner: list[str] = []
            for inner_line in lines:
                if "[[/PROPERTY]]" in inner_line:
                    break
                inner.append(inner_line + "\n")
            if value := "".join(inner).strip(_WS):
                properties.append((match.group(1).strip(_WS), value, True))
        else:
            output.append(line + "\n")
    return attachments, properties, "".join(output).strip(_WS)


def _sent(value: str) -> tuple[str, str, int]:
    """All that §8.7 can send of a value: 16,384 characters from either end, and whether
    it is longer than that."""
    return value[:16_384], value[-16_384:], min(len(value), 16_385)


def _kind(name: str) -> int:
    return (
        0 if re.match("^attachment", name, re.I) else 1 if re.match(r"^step\d*", name, re.I) else 2
    )


# Text made of pieces, some repeated up to 120,000 times (over the 3 × 64 Ki characters at
# which collected text starts to be clipped). Repeated units hold no `[`, `]`, `=` or line
# separator, so a clipped marker line still reads the same (intended difference 6).
_UNIT = st.sampled_from(["x", "ab", " ", "\t", "\n", " \n", "\n\n ", "\u00a0", "é日", "a b\n"])
_PIECE = st.one_of(
    st.text(alphabet="ab \t\n\u00a0\u2028[]|=/:", max_size=8),
    st.sampled_from(
        [
            "[[ATTACHMENT|a.txt]]", " [[ATTACHMENT|https://h/b.png]]", "[[PROPERTY|k=v]]",
            "[[PROPERTY|multi]]", "[[/PROPERTY]]", "[[PROPERTY|step1=s]]", "[[ATTACHMENT|",
            "[[PROPERTY|attachment2=x]]", "\n[[PROPERTY|text:t]]\n",
        ]
    ),
    st.builds(lambda unit, n: unit * n, _UNIT, st.sampled_from([1, 3, 1_000, 40_000, 120_000])),
)  # fmt: skip
_EVENTS = st.lists(
    st.one_of(
        st.tuples(st.just("data"), _PIECE),
        st.tuples(st.just("cdata"), _PIECE),
        st.tuples(st.just("tag"), st.just("")),
    ),
    max_size=14,
)


def _collect(events: list[tuple[str, str]], tag: str) -> junit._Node:
    """An element of a testcase whose text the parser reads, fed `events` and closed."""
    node = junit._Node(tag, {})
    node.runs = runs = junit._Runs(tag == "system-out")
    for kind, text in events:
        if kind == "data":
            runs.data(text)
        elif kind == "cdata":
            runs.boundary()
            runs.verbatim(text)
            runs.boundary()
        else:
            runs.boundary()
    node.close()
    return node


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_EVENTS)
def test_bounded_text_sends_what_the_whole_text_would(events: list[tuple[str, str]]) -> None:
    """Text collected piece by piece, and clipped once long, gives every field the same
    value, after §8.7's truncation, as the whole text joined and then truncated."""
    whole = _whole_text(events)
    value = junit._text(_collect(events, "failure"))
    assert (value is None) == (whole == "")
    assert _sent(value or "") == _sent(whole)
    assert _sent((value or "").strip(_WS)) == _sent(whole.strip(_WS))

    case = junit._Node("testcase", {})
    case.append(_collect(events, "system-out"))
    extras = junit._Extras()
    junit._output_fields(case, extras)
    attachments, properties, text = _whole_scan(whole) if whole else ([], [], "")
    assert [_sent(url) for _, url in extras.attachments] == [_sent(a) for a in attachments[:24]]
    kept = [
        [p for p in properties if _kind(p[0]) == kind][:cap]
        for kind, cap in enumerate((24, 99, 24))
    ]
    got = [[p for p in extras.properties if _kind(p[0]) == kind] for kind in range(3)]
    sent = [[(n[:750], _sent(v), multi) for n, v, multi in group] for group in got]
    assert sent == [[(n[:750], _sent(v), multi) for n, v, multi in group] for group in kept]
    field = {"type": 4, "name": "Output", "value": _cut_text(text), "is_highlight": False}
    assert extras.output_fields == ([field] if text else [])


def _log(n: int, start: int = 0) -> tuple[str, str]:
    """n log lines: (as written, as read)."""
    lines = "".join(
        f"{i:07d} GET &lt;/items/{i % 97}&gt; took {i % 13} ms\n" for i in range(start, start + n)
    )
    return lines, lines.replace("&lt;", "<").replace("&gt;", ">")


def test_huge_output_and_attribute_parse_to_the_cli_truncation_in_bounded_memory(
    tmp_path: Path,
) -> None:
    """10 MiB of output (marker lines at its start, middle and end, a CDATA section) and a
    25 MiB attribute: the test is what the whole text, truncated, gives; memory stays a
    small multiple of what is kept (the previous parser: 155 MB, the whole text twice)."""
    head, head_text = _log(1_000)
    middle, middle_text = _log(130_000, 1_000)
    tail, tail_text = _log(130_000, 131_000)
    first = "\n  [[ATTACHMENT|https://ci/first.png]]\n" + "[[PROPERTY|notes]]\n"
    end = "[[/PROPERTY]]\n"  # the closing marker's line goes on after the CDATA section
    last = "[[PROPERTY|k = v]]\n"
    output = first + head + middle + end + "<![CDATA[ <raw> ]]>" + tail + last
    message = "".join(f"{i:07d} expected &quot;{i}&quot;\n\t" for i in range(700_000))
    doc = tmp_path / "huge.xml"
    doc.write_text(
        '<testsuite><testcase classname="big" name="t">'
        f'<error type="E" message="{message}"/><failure message="m">trace</failure>'
        f"<system-out>{output}</system-out></testcase></testsuite>"
    )
    assert doc.stat().st_size > 32 << 20
    tracemalloc.start()
    try:
        (test,) = iter_tests(doc)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    whole = _whole_text(
        [
            ("data", first + head_text + middle_text + end),
            ("cdata", " <raw> "),
            ("data", tail_text + last),
        ]
    )
    attachments, properties, printed = _whole_scan(whole)
    assert attachments == ["https://ci/first.png"]
    assert [(name, multi) for name, _, multi in properties] == [("notes", True), ("k", False)]
    assert test["artifacts"] == [
        {"name": "first.png", "url": "https://ci/first.png", "mime_type": "image/png"}
    ]
    assert test["fields"] == [
        {"type": 4, "name": "Failure", "meta": {"message": "m"}, "value": "trace",
         "is_highlight": True},
        {"type": 4, "name": "Error", "meta": {"type": "E"},
         "value": _cut_text(message.replace("&quot;", '"').strip()), "is_highlight": True},
        {"type": 4, "name": "Output", "value": _cut_text(printed), "is_highlight": False},
        {"type": 2, "name": "notes", "value": _cut_text(properties[0][1]), "is_highlight": False},
        {"type": 1, "name": "k", "value": "v", "is_highlight": False},
    ]  # fmt: skip
    assert test["status"] == "error"
    assert peak < 8 << 20, f"peak {peak} bytes"


@pytest.mark.parametrize("extra", [0, 1, 2, 3, 4, 5, 6, 7])
def test_a_long_attribute_value_is_cut_between_characters(tmp_path: Path, extra: int) -> None:
    """Over 768 KiB a value is cut to its ends: wherever the cuts fall in multi-byte
    characters and references, the field is the whole value truncated."""
    unit = "é&quot;日&amp;\n&#233;" + "x" * extra  # `&#233;` stays literal, as the CLI reads it
    value = unit * (1_100_000 // len(unit))
    doc = tmp_path / "value.xml"
    doc.write_text(
        f'<testsuite><testcase name="t"><error message=" {value} "/></testcase></testsuite>'
    )
    (test,) = iter_tests(doc)
    read = value.replace("&quot;", '"').replace("&amp;", "&").strip()
    assert test["fields"][0]["value"] == _cut_text(read)


@pytest.mark.parametrize("bad", [b"<", b"&bad;", b"& ", b"\xff", b"\x01"])
def test_a_broken_long_attribute_value_still_raises(tmp_path: Path, bad: bytes) -> None:
    """The middle of a long value is not kept but still checked."""
    doc = tmp_path / "bad.xml"
    value = b"a" * 1_500_000 + bad + b"b" * 1_500_000
    doc.write_bytes(
        b'<testsuite><testcase name="t"><error message="' + value + b'"/></testcase></testsuite>'
    )
    with pytest.raises(ReportError, match="not well-formed XML: .* in an attribute value over"):
        list(iter_tests(doc))
    latin1 = tmp_path / "latin1.xml"
    latin1.write_bytes(
        b'<?xml version="1.0" encoding="ISO-8859-1"?><testsuite><testcase name="t"><error '
        b'message="' + value.replace(bad, b"\xff") + b'"/></testcase></testsuite>'
    )
    (test,) = iter_tests(latin1)  # any byte is a character in ISO-8859-1
    assert test["fields"][0]["value"].startswith("a" * 8_182 + _JOIN)


def test_long_comments_are_skipped_as_before(tmp_path: Path) -> None:
    doc = tmp_path / "comment.xml"
    body = ("- é x " * 100_000).encode()
    doc.write_bytes(
        b'<testsuite><testcase name="t"><system-out>a<!--' + body + b"-->b</system-out>"
        b"</testcase></testsuite>"
    )
    (test,) = iter_tests(doc)
    assert test["fields"] == [{"type": 4, "name": "Output", "value": "ab", "is_highlight": False}]
    for broken in (body + b"--" + body, body + b"-"):  # `--` inside, `-` before `-->`
        doc.write_bytes(
            b'<testsuite><testcase name="t"><!--' + broken + b"--></testcase></testsuite>"
        )
        with pytest.raises(ReportError, match="not well-formed"):
            list(iter_tests(doc))


def _cpu_seconds(path: Path) -> float:
    best = math.inf
    for _ in range(3):
        start = time.process_time()
        for _ in iter_tests(path):
            pass
        best = min(best, time.process_time() - start)
    return best


@pytest.mark.parametrize("where", ["output", "attribute"])
def test_parse_time_grows_linearly_with_the_text(tmp_path: Path, where: str) -> None:
    """8 times the text takes about 7 times the CPU time (the previous parser, quadratic:
    over 30 times for the attribute, 10 to 20 for the output, where the copying only starts
    to dominate at this size); the bound, twice linear, leaves room for noise (best of 3
    runs of CPU time)."""
    times = []
    for mib in (4, 32):
        doc = tmp_path / f"{mib}.xml"
        text = "x" * 60 + "\n"
        body = text * ((mib << 20) // len(text))
        element = (
            f"<system-out>{body}</system-out>"
            if where == "output"
            else f'<error message="{body}"/>'
        )
        doc.write_text(f'<testsuite><testcase name="t">{element}</testcase></testsuite>')
        times.append(_cpu_seconds(doc))
    assert times[1] < 14 * times[0], f"{times[1]:.3f} s for 32 MiB, {times[0]:.3f} s for 4 MiB"


def test_collecting_a_huge_output_costs_about_what_reading_it_does(tmp_path: Path) -> None:
    """`iter_tests` on 32 MiB of output takes about the CPU time of `scan`, which reads the
    same file and collects no text (1.25 times; the previous parser, which joined the text
    piece by piece: 6 times)."""
    doc = tmp_path / "out.xml"
    body = ("x" * 60 + "\n") * ((32 << 20) // 61)
    doc.write_text(
        f'<testsuite><testcase name="t"><system-out>{body}</system-out></testcase></testsuite>'
    )
    scanned = math.inf
    for _ in range(3):
        start = time.process_time()
        scan(doc)
        scanned = min(scanned, time.process_time() - start)
    collected = _cpu_seconds(doc)
    assert collected < 3 * scanned, f"iter_tests {collected:.3f} s, scan {scanned:.3f} s"


def test_line_and_assertions_beyond_the_servers_bound_are_left_out(tmp_path: Path) -> None:
    """A count the server would refuse (> 2^31-1) fails a whole batch, and thousands of
    digits once crashed the parser (Python's int digit limit): both are left out."""
    report = tmp_path / "counts.xml"
    report.write_text(
        '<testsuite name="s">'
        '<testcase classname="c" name="ok" file="a.py" line="0012" assertions="3"/>'
        f'<testcase classname="c" name="big" line="{2**31}" assertions="{"9" * 5000}"/>'
        f'<testcase classname="c" name="edge" line="{2**31 - 1}" assertions="000"/>'
        "</testsuite>"
    )
    tests = {t["name"]: t for t in junit.iter_tests(report)}
    assert (tests["ok"]["line"], tests["ok"]["assertions"]) == (12, 3)
    assert "line" not in tests["big"] and "assertions" not in tests["big"]
    assert (tests["edge"]["line"], tests["edge"]["assertions"]) == (2**31 - 1, 0)
    assert junit.scan(report).tests == 3
