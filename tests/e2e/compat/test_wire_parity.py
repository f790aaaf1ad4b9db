"""For the same report, `runhub automation:run:submit` sends the same tests as the official
CLI: both submit to a recording HTTPS endpoint and the recorded test lists are compared."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from ..conftest import TlsFiles
from .conftest import FIXTURES, TESTMO_CLI

pytestmark = pytest.mark.e2e
RUNHUB = str(Path(sys.executable).parent / "runhub")

# One report per dialect with features worth comparing (properties, output, attachments,
# steps, failures, skips, errors); files the official CLI refuses are not listed.
REPORTS = [
    "pytest/pytest-xunit2-properties.xml",
    "jest/jest-junit-failures.xml",
    "mocha/mocha-junit-reporter-failures.xml",
    "phpunit/phpunit-fullPackage-attrs.xml",
    "rspec/rspec-junit-formatter.xml",
    "cucumber/cucumber-attachments.xml",
    "edge-cases/empty-system-out-err.xml",
    "edge-cases/nested-multi-level-xmpp.xml",
    "maven-surefire/surefire-failing-multiline-message.xml",
    "go/go-junit-report-pass-fail-skip.xml",
    "playwright/playwright-junit-93-tests.xml",
    "attachments/jenkins-attachments-per-test-and-suite.xml",
    "ant/ant-2009-crlf-entities.xml",
    "bazel/bazel-test-xml-failing.xml",
    "behave/behave-junit.xml",
    "cpp/googletest-failure.xml",
    "ctest/ctest-via-xunit-plugin-xslt.xml",
    "cypress/cypress-mocha-junit-reporter.xml",
    "dotnet/xunit-net-junit-transform.xml",
    "eslint/eslint-junit-formatter.xml",
    "gradle/gradle-junit4-skip-failure.xml",
    "jenkins/suite-properties-multiline.xml",
    "junit5-console/jabref-junit-vintage.xml",
    "maven-failsafe/failsafe-report-basic.xml",
    "minitest/minitest-reporters-junit.xml",
    "perl/prove-tap-junit.xml",
    "python-unittest/unittest-xml-reporting.xml",
    "rust/cargo2junit-large-output.xml",
    "scalatest/scalatest-sbt-properties.xml",
    "swift/xctest-junit.xml",
    "vitest/vitest-junit.xml",
]
# Fixtures left out on purpose (they differ as junit.py's "Intended differences" say):
# reruns (maven-surefire/*flaky*, *rerun*, rust/nextest-*), exponent times (cpp/cunit-failure,
# perl/perl-scientific-notation-time), document order (phpunit/phpunit-11-phpt,
# phpunit/phpunit-legacy-75-tests, edge-cases/jenkins-xsd-style), >1,000 entities
# (jest/jest-junit-large-600kb: the CLI refuses it), maven-failsafe/failsafe-summary.


class Recorder(BaseHTTPRequestHandler):
    """Answers like Testmo ({"id": 1} for creates, 204 otherwise) and records bodies."""

    log: list[tuple[str, Any]]

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        self.server.log.append((self.path, body))  # type: ignore[attr-defined]
        if self.path.endswith(("/automation/runs", "/threads")):
            payload = b'{"id": 1}'
            self.send_response(201)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        else:
            self.send_response(204)
            self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def recorder(tls_files: TlsFiles) -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    server.log = []  # type: ignore[attr-defined]
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(tls_files.cert_pem), str(tls_files.key_pem))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _tests_sent(
    tool: list[str], recorder: ThreadingHTTPServer, tls: TlsFiles, report: Path, tmp: Path
) -> list[dict[str, Any]]:
    recorder.log.clear()  # type: ignore[attr-defined]
    port = recorder.server_address[1]
    env = {
        "PATH": os.environ["PATH"],
        "TESTMO_TOKEN": "recorded",
        "NODE_EXTRA_CA_CERTS": str(tls.ca_pem),
        "SSL_CERT_FILE": str(tls.ca_pem),
        "CI": "true",
    }
    args = [
        "automation:run:submit", "--instance", f"https://127.0.0.1:{port}", "--project-id", "1",
        "--name", "parity", "--source", "parity", "--results", str(report),
    ]  # fmt: skip
    done = subprocess.run(
        [*tool, *args], env=env, cwd=tmp, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, (tool, done.stdout, done.stderr)
    tests: list[dict[str, Any]] = []
    for path, body in recorder.log:  # type: ignore[attr-defined]
        if path.endswith("/append") and "/threads/" in path:
            tests.extend(body["tests"])
    return tests


@pytest.mark.parametrize("name", REPORTS)
def test_same_tests_on_the_wire(
    name: str, recorder: ThreadingHTTPServer, tls_files: TlsFiles, tmp_path: Path
) -> None:
    report = FIXTURES / name
    if not report.exists():
        pytest.fail(f"fixture missing: {report}")
    official = _tests_sent([str(TESTMO_CLI)], recorder, tls_files, report, tmp_path)
    ours = _tests_sent([RUNHUB], recorder, tls_files, report, tmp_path)
    assert len(ours) == len(official)
    for mine, theirs in zip(ours, official, strict=True):
        assert mine == theirs, f"{name}: {theirs.get('name')!r}"
