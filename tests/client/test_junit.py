"""runhub.client.junit against the fixture corpus, the CLI reference reader, generated
documents (hypothesis) and a large generated report (bounded memory)."""

from __future__ import annotations

import hashlib
import re
import tracemalloc
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
