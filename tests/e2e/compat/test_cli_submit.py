"""`testmo automation:run:submit` (the official CLI 1.4.5) against runhub, read back via the API.

Real reports of many tools go through the CLI unchanged; what runhub stores must be what
the CLI sent (computed independently by `junit_expect`), and run resources, tags, configs
and milestones given on the command line must land on the run.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from ..conftest import ServerProcess, runhub_cli
from .conftest import FIXTURES, TESTMO_CLI, Testmo
from .junit_expect import Expected, expected_tests

pytestmark = pytest.mark.e2e

# One representative report per tool (the CLI parses each; none has over 1,000 entities).
DIALECTS = {
    "pytest": "pytest/pytest-xunit2-properties.xml",
    "maven-surefire": "maven-surefire/surefire-email-test.xml",
    "jest": "jest/jest-junit-failures.xml",
    "mocha": "mocha/mocha-junit-reporter-failures.xml",
    "go": "go/gotestsum-junitxml.xml",
    "rust-nextest": "rust/nextest-flaky-and-retries.xml",
    "rust-quick-junit": "rust/quick-junit-all-elements.xml",
    "phpunit": "phpunit/phpunit-nested-suites.xml",
    "rspec": "rspec/rspec-junit-formatter.xml",
    "cucumber": "cucumber/cucumber-junit-xml-formatter-all-statuses.xml",
    "playwright": "playwright/playwright-junit-93-tests.xml",
    "vitest": "vitest/vitest-junit.xml",
    "googletest": "cpp/googletest-failure.xml",
    "dotnet": "dotnet/junitxml-testlogger-docs-sample.xml",
}
CREATED = re.compile(r"Created new test automation run \(ID: (\d+)\)")


def submit(
    server: ServerProcess,
    testmo: Testmo,
    *args: str,
    results: Path,
    name: str = "Compat run",
    **kw: Any,
) -> int:
    """Run `automation:run:submit ARGS` with source `compat`; the new run's id."""
    done = testmo(
        "automation:run:submit",
        "--instance", server.base_url,
        "--project-id", str(server.project_id),
        "--name", name,
        "--source", "compat",
        *args,
        "--results", str(results),
        **kw,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"testmo exited {done.returncode}:\n{output}"
    found = CREATED.search(done.stdout)
    assert found, f"no run id in the CLI's output:\n{output}"
    return int(found[1])


def get_run(server: ServerProcess, run_id: int, expands: str = "") -> dict[str, Any]:
    query = {"expands": expands} if expands else {}
    with server.client() as client:
        answer = client.get(f"/automation/runs/{run_id}", params=query)
    assert answer.status_code == 200, answer.text
    return answer.json()


def run_tests(server: ServerProcess, run_id: int) -> list[dict[str, Any]]:
    with server.client() as client:
        answer = client.get(f"/automation/runs/{run_id}/tests", params={"per_page": 1000})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["next_page"] is None, "a dialect file with over 1000 tests"
    return body["result"]


def _squash(text: str) -> str:
    return " ".join(text.split())


def _status_field_problems(expected: list[Expected], stored: list[dict[str, Any]]) -> list[str]:
    """Every non-passed test with failure/error/skipped text has it as a highlighted
    console field named after its status (the deciding element's text is among them)."""
    by_key: dict[str, list[dict[str, Any]]] = {}
    for test in stored:
        by_key.setdefault(test["key"], []).append(test)
    problems = []
    for test in expected:
        if test.status == "passed" or test.message is None:
            continue
        want = _squash(test.message)[:60]
        fields = [f for t in by_key.get(test.key, []) for f in t["fields"]]
        if not any(
            f["type"] == 4
            and f["is_highlight"] is True
            and f["name"] == test.status.capitalize()
            and _squash(f["value"]).startswith(want)
            for f in fields
        ):
            problems.append(f"{test.name!r}: no highlighted console field {want!r}: {fields}")
    return problems


def test_reference_reader_matches_the_documented_example(tmp_path: Path) -> None:
    """junit_expect against the CLI's observed payload (reference §8.3, §8.5)."""
    report = tmp_path / "report.xml"
    report.write_text(
        '<testsuites><testsuite name="s"><testsuite name="inner">'
        '<testcase classname=" pkg.A " name="ok1" time="0,25"/>'
        '<testcase class="pkg.A" name="f1" time="1"><skipped/><error message="x"/>'
        '<failure message="boom" type="AssertionError">stack trace</failure></testcase>'
        '</testsuite><testcase name="s1" time="-1"><skipped/></testcase>'
        '<testcase name=" "/></testsuite></testsuites>'
    )
    ok1, f1, s1 = expected_tests(report) or []
    assert ok1.key == "7cc48c25e14c79cf72884fbbc545bdb43533da307a8da12c628ca8ad32ce50d1"
    assert (ok1.status, ok1.elapsed, ok1.folder) == ("passed", 250000, "pkg.A")
    assert (f1.status, f1.elapsed, f1.message) == ("error", 1000000, "x")
    assert s1.key == "e8bc163c82eee18733288c7d4ac636db3a6deb013ef2d37b68322be20edc45cc"
    assert (s1.status, s1.elapsed, s1.folder) == ("skipped", None, None)
    assert expected_tests(FIXTURES / "jest" / "jest-junit-large-600kb.xml") is None


def check_dialect(server: ServerProcess, testmo: Testmo, dialect: str, path: Path) -> list[str]:
    """What is wrong with the run the CLI made from `path` (empty when all is right)."""
    expected = expected_tests(path)
    assert expected, f"{dialect}: {path.name} is not a report the CLI parses with tests"
    run_id = submit(server, testmo, results=path, name=dialect)
    run = get_run(server, run_id)["result"]
    stored = run_tests(server, run_id)
    problems: list[str] = []

    def check(ok: bool, what: str) -> None:
        if not ok:
            problems.append(f"{dialect} ({path.name}): {what}")

    failed = any(t.status in ("failure", "error") for t in expected)
    check(run["is_completed"], "run not completed")
    check(run["status"] == (3 if failed else 2), f"run status {run['status']}")
    threads = run["threads"]
    check(len(threads) == 1, f"{len(threads)} threads, expected 1")
    check(all(t["is_completed"] for t in threads), "thread not completed")
    check(run["total_count"] == len(expected), f"total_count {run['total_count']}")
    counts = Counter(t.status_id for t in expected)
    for status_id in range(1, 25):
        got = run[f"status{status_id}_count"]
        check(got == counts[status_id], f"status{status_id}_count {got} != {counts[status_id]}")
    want = Counter(
        (t.key, t.name, t.folder or "Unnamed folder", t.status_id, t.elapsed) for t in expected
    )
    got_tests = Counter(
        (t["key"], t["name"], t["folder"], t["status"], t["elapsed"]) for t in stored
    )
    check(not want - got_tests, f"missing tests {list(want - got_tests)[:3]}")
    check(not got_tests - want, f"unexpected tests {list(got_tests - want)[:3]}")
    check({t["thread_id"] for t in stored} <= {t["id"] for t in threads}, "thread_id")
    for problem in _status_field_problems(expected, stored):
        check(False, problem)
    return problems


def test_reports_of_many_tools_are_stored_as_the_cli_sent_them(
    tls_server: ServerProcess, testmo: Testmo
) -> None:
    problems: list[str] = []
    statuses: set[str] = set()
    for dialect, relative in DIALECTS.items():
        problems += check_dialect(tls_server, testmo, dialect, FIXTURES / relative)
        statuses |= {t.status for t in expected_tests(FIXTURES / relative) or () if t.message}
    assert not problems, "\n".join(problems)
    assert statuses == {"failure", "error", "skipped"}, "the reports cover every status field"


def add_resource(tmp_path: Path, command: str, *args: str, stdin: str | None = None) -> None:
    """`testmo automation:resources:COMMAND ...` into testmo-resources.json (no HTTP); text,
    console and HTML field values come on a pipe, as the CLI requires."""
    done = subprocess.run(
        [str(TESTMO_CLI), f"automation:resources:{command}", *args],
        cwd=tmp_path,
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith(("RUNHUB_", "TESTMO_"))},
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_resources_file_lands_on_the_run(
    tls_server: ServerProcess, testmo: Testmo, tmp_path: Path
) -> None:
    report = tmp_path / "report.html"
    report.write_text("<html><body>42 passed</body></html>\n")
    add_resource(tmp_path, "add-field", "--type", "string", "--name", "Version", "--value", "2.3.1")
    url = "https://ci.example.com/builds/42"
    add_resource(tmp_path, "add-field", "--type", "url", "--name", "Build", "--value", url)
    add_resource(tmp_path, "add-field", "--type", "text", "--name", "Notes", stdin="two\nlines\n")
    add_resource(tmp_path, "add-field", "--type", "console", "--name", "Env", stdin="CI=true\n")
    add_resource(tmp_path, "add-field", "--type", "html", "--name", "Summary", stdin="<b>ok</b>")
    add_resource(
        tmp_path, "add-link", "--name", "Repository",
        "--url", "https://git.example.com/repo", "--note", "Source code",
    )  # fmt: skip
    add_resource(tmp_path, "add-link", "--name", "Pipeline", "--url", "https://ci.example.com/p/7")
    add_resource(
        tmp_path, "add-artifact", "--name", "report.html",
        "--url", "https://files.example.com/report.html", "--note", "HTML report",
        "--file", str(report),
    )  # fmt: skip
    add_resource(
        tmp_path, "add-artifact", "--name", "logs.zip", "--url", "https://files.example.com/l.zip"
    )
    results = FIXTURES / DIALECTS["pytest"]
    run_id = submit(
        tls_server, testmo, "--resources", "testmo-resources.json", results=results, cwd=tmp_path
    )
    run = get_run(tls_server, run_id)["result"]

    fields = sorted((f["type"], f["name"], f["value"]) for f in run["fields"])
    assert fields == [
        (1, "Version", "2.3.1"),
        (2, "Notes", "two\nlines"),
        (3, "Summary", "<b>ok</b>"),
        (4, "Env", "CI=true"),
        (5, "Build", url),
    ]
    assert sorted(run["links"], key=lambda link: link["name"]) == [
        {"name": "Pipeline", "note": None, "url": "https://ci.example.com/p/7"},
        {"name": "Repository", "note": "Source code", "url": "https://git.example.com/repo"},
    ]
    assert sorted(run["artifacts"], key=lambda a: a["name"]) == [
        {
            "name": "logs.zip",
            "note": None,
            "url": "https://files.example.com/l.zip",
            "mime_type": None,
            "size": None,
        },
        {
            "name": "report.html",
            "note": "HTML report",
            "url": "https://files.example.com/report.html",
            "mime_type": "text/html",
            "size": report.stat().st_size,
        },
    ]
    # The CLI does not copy run resources to the thread it creates.
    (thread,) = run["threads"]
    assert thread["fields"] == [] and thread["artifacts"] == []


def test_tags_config_and_milestones(tls_server: ServerProcess, testmo: Testmo) -> None:
    server, results = tls_server, FIXTURES / DIALECTS["rspec"]

    def milestone(name: str, *tags: str) -> int:
        tag_args = [a for tag in tags for a in ("--automation-tag", tag)]
        project = str(server.project_id)
        args = ("admin", "create-milestone", project, name, *tag_args, "--database", server.db_url)
        return int(runhub_cli(*args))

    sprint, release = milestone("Sprint 5"), milestone("Release 2")
    nightly = milestone("R1", "nightly")

    first = submit(
        server, testmo, "--tags", "smoke", "api", "smoke",
        "--config", "Chrome", "--milestone", "Sprint 5", results=results,
    )  # fmt: skip
    answer = get_run(server, first, expands="configs,milestones")
    run = answer["result"]
    assert run["tags"] == ["api", "smoke"]
    configs = {c["id"]: c["name"] for c in answer["expands"]["configs"]}
    assert configs == {run["config_id"]: "Chrome"}
    assert run["milestone_id"] == sprint
    assert {m["id"]: m["name"] for m in answer["expands"]["milestones"]} == {sprint: "Sprint 5"}

    # The config is found again by name, not created twice; the milestone is taken by id.
    by_id = submit(
        server, testmo, "--config", "Chrome", "--milestone-id", str(release), results=results
    )
    second = get_run(server, by_id)["result"]
    assert second["config_id"] == run["config_id"]
    assert second["milestone_id"] == release and second["tags"] == []

    # No milestone option: the run's tag links it to the milestone with that automation tag.
    tagged = get_run(server, submit(server, testmo, "--tags", "nightly", results=results))
    assert tagged["result"]["milestone_id"] == nightly
    untagged = get_run(server, submit(server, testmo, "--tags", "weekly", results=results))
    assert untagged["result"]["milestone_id"] is None
