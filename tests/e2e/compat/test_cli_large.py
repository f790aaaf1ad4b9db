"""A 40,000-test JUnit report through the official CLI (160 append batches of 250 tests).

The report holds no character entities: the CLI's XML parser refuses a file with more than
1,000 entity references ("Entity expansion limit exceeded"). Besides checking that every
result arrives, the test measures the CLI end to end against runhub and the same CLI
against a closed port (it parses the file, then fails at its first request): the
difference is what the server costs. Run pytest with -s to see both numbers."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ..conftest import ServerProcess, free_port
from .conftest import Testmo

pytestmark = pytest.mark.e2e

SUITES, CASES = 400, 100
TOTAL = SUITES * CASES
# Maximum server time relative to the parse-only time; generous (CI machines vary), it
# only catches pathologies such as a per-test round trip or quadratic work.
MAX_SERVER_FACTOR = 10


def status_of(n: int) -> str:
    """The status of the n-th testcase (0-based, over the whole file)."""
    if n % 50 == 7:
        return "error"
    if n % 10 == 3:
        return "failure"
    if n % 25 == 11:
        return "skipped"
    return "passed"


def write_report(path: Path) -> dict[str, int]:
    """Write the report; return how many testcases have each status."""
    counts = {"passed": 0, "failure": 0, "skipped": 0, "error": 0}
    with path.open("w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        out.write(f'<testsuites name="large" tests="{TOTAL}" time="1234.5">\n')
        for s in range(SUITES):
            out.write(f'<testsuite name="suite_{s}" tests="{CASES}" time="3.0">\n')
            for c in range(CASES):
                n = s * CASES + c
                status = status_of(n)
                counts[status] += 1
                head = f'<testcase classname="pkg.mod{s}.Suite{s}" name="test_case_{c}"'
                if status == "passed":
                    out.write(f'{head} time="0.03"/>\n')
                elif status == "skipped":
                    out.write(f'{head}><skipped message="skipped on this platform"/></testcase>\n')
                else:
                    out.write(
                        f'{head} time="0.12"><{status} message="expected 1 but was 2" '
                        f'type="AssertionError">Traceback line one\n  at Suite{s} test {c}\n'
                        f"AssertionError expected 1 but was 2</{status}></testcase>\n"
                    )
            out.write("</testsuite>\n")
        out.write("</testsuites>\n")
    return counts


def test_forty_thousand_results(
    tls_server: ServerProcess, testmo: Testmo, tmp_path: Path, db_url: str
) -> None:
    report = tmp_path / "large.xml"
    counts = write_report(report)
    assert "&" not in report.read_text(encoding="utf-8")

    common = ("--project-id", str(tls_server.project_id), "--name", "Large", "--source", "big")
    common += ("--results", str(report))

    # (b) parse only: nobody listens on this port, so the first request fails.
    started = time.monotonic()
    parse_only = testmo(
        "automation:run:submit", "--instance", f"https://127.0.0.1:{free_port()}", *common
    )
    parse_s = time.monotonic() - started
    assert parse_only.returncode == 1, parse_only.stdout + parse_only.stderr
    assert "ECONNREFUSED" in parse_only.stdout + parse_only.stderr, parse_only.stderr

    # (a) end to end against runhub.
    started = time.monotonic()
    done = testmo("automation:run:submit", "--instance", tls_server.base_url, *common)
    total_s = time.monotonic() - started
    assert done.returncode == 0, done.stdout + done.stderr

    backend = db_url.split(":", 1)[0]
    line = (
        f"[{backend}] {TOTAL} tests: CLI end to end {total_s:.2f} s; "
        f"CLI parse only {parse_s:.2f} s; server share {total_s - parse_s:.2f} s"
    )
    print("\n" + line)
    (tmp_path / "timings.txt").write_text(line + "\n", encoding="utf-8")

    with tls_server.client() as client:
        [run] = client.get(f"/projects/{tls_server.project_id}/automation/runs").json()["result"]
        tests = client.get(
            f"/automation/runs/{run['id']}/tests", params={"per_page": 1000, "order": "asc"}
        )
        failed = client.get(
            f"/automation/runs/{run['id']}/tests", params={"status_id": "3", "per_page": 100}
        )
    assert tests.status_code == 200, tests.text
    page = tests.json()
    assert run["is_completed"] and run["thread_count"] == 1
    assert run["total_count"] == TOTAL == page["total"]
    assert len(page["result"]) == 1000 and page["last_page"] == TOTAL // 1000
    assert run["status1_count"] == counts["passed"]
    assert run["status2_count"] == counts["failure"]
    assert run["status5_count"] == counts["skipped"]
    assert run["status6_count"] == counts["error"]
    assert run["success_count"] == counts["passed"]
    assert run["failure_count"] == counts["failure"] + counts["error"]
    assert run["completed_count"] == TOTAL  # every status here is final
    assert run["status"] == 3
    assert failed.json()["total"] == counts["failure"] + counts["error"]
    # The first results arrive in file order with the CLI's folder and failure field.
    first_failure = next(t for t in page["result"] if t["status"] == 2)
    assert first_failure["folder"] == "pkg.mod0.Suite0" and first_failure["name"] == "test_case_3"
    [field] = first_failure["fields"]
    assert field["name"] == "Failure" and field["meta"]["message"] == "expected 1 but was 2"

    assert total_s - parse_s < MAX_SERVER_FACTOR * parse_s, line
