"""The quarantine CI contract end to end (README "Quarantine"): the real `runhub` client
with `--quarantine -- COMMAND` against a real server, on both backends: none muted, some
muted, all muted, expired, removed, and the list unreachable."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from .conftest import ServerProcess
from .test_client_api import FaultProxy
from .test_client_cli import runhub

pytestmark = pytest.mark.e2e

REPORT = """<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="suite" tests="3">
  <testcase classname="pkg.Login" name="test_ok"/>
  <testcase classname="pkg.Login" name="test_flaky_a"><failure message="t">t</failure></testcase>
  <testcase classname="pkg.Search" name="test_flaky_b"><failure message="r">r</failure></testcase>
</testsuite>
"""
FAILING = ("test_flaky_a", "test_flaky_b")


class Setup:
    def __init__(self, server: ServerProcess, tmp_path: Path) -> None:
        self.server = server
        self.report = tmp_path / "junit.xml"
        self.report.write_text(REPORT)
        self.api = server.client()

    def submit(self, *extra: str, instance: str | None = None, command: bool = True) -> Any:
        args = [
            "automation:run:submit", "--instance", instance or self.server.base_url,
            "--project-id", str(self.server.project_id), "--name", "Nightly",
            "--source", "unit", "--results", str(self.report), "--quarantine", *extra,
        ]  # fmt: skip
        if command:
            args += ["--", "sh", "-c", "exit 3"]
        return runhub(self.server, *args)

    def case_ids(self) -> dict[str, int]:
        path = f"/projects/{self.server.project_id}/automation/cases"
        return {c["name"]: c["id"] for c in self.api.get(path).json()["result"]}

    def mute(self, name: str, **body: Any) -> int:
        path = f"/projects/{self.server.project_id}/automation/quarantine"
        payload = {"case_id": self.case_ids()[name], "mode": "mute", "reason": f"{name} flakes"}
        response = self.api.post(path, json={**payload, **body})
        assert response.status_code == 201, response.text
        return int(response.json()["id"])


@pytest.fixture
def setup(live_server: ServerProcess, tmp_path: Path) -> Iterator[Setup]:
    s = Setup(live_server, tmp_path)
    first = s.submit(command=False)  # the cases exist once a run has them
    assert first.returncode == 1, first.stdout  # no entries yet: two real failures
    yield s
    s.api.close()


def test_none_some_and_all_muted(setup: Setup) -> None:
    done = setup.submit()
    assert done.returncode == 3, done.stdout  # the command's own exit code
    assert "Quarantine: 2 of 2 failed results are not quarantined:" in done.stdout
    setup.mute("test_flaky_a", owner="team-login")
    done = setup.submit()
    assert done.returncode == 3
    assert "1 of 2 failed results are not quarantined" in done.stdout
    assert "pkg.Search > test_flaky_b" in done.stdout
    setup.mute("test_flaky_b")
    done = setup.submit()
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    owner = " (owner: team-login)"
    assert f"Quarantined failure: pkg.Login > test_flaky_a: test_flaky_a flakes{owner}" in lines
    assert "Quarantined failure: pkg.Search > test_flaky_b: test_flaky_b flakes" in lines
    assert lines[-1] == "Quarantine: all 2 failed results are quarantined; exiting 0"
    # Without a command the flag gates on the results: all muted, 0.
    assert setup.submit(command=False).returncode == 0
    # The stored results keep their real status; the run is a failure as in Testmo.
    path = f"/projects/{setup.server.project_id}/automation/runs"
    newest = setup.api.get(path).json()["result"][0]
    assert newest["status"] == 3 and newest["failure_count"] == 2


def test_a_command_that_fails_without_failed_results_is_not_excused(
    setup: Setup, tmp_path: Path
) -> None:
    setup.mute("test_flaky_a")
    setup.mute("test_flaky_b")
    skipped = REPORT.replace("<failure", "<skipped").replace("</failure>", "</skipped>")
    setup.report.write_text(skipped)
    done = setup.submit()
    assert done.returncode == 3
    assert "the command failed but no result failed" in done.stdout


def test_expired_and_removed_entries_do_not_mute(setup: Setup) -> None:
    soon = (datetime.now(UTC) + timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    setup.mute("test_flaky_a", expires_at=soon)
    entry_b = setup.mute("test_flaky_b")
    assert setup.submit().returncode == 0
    time.sleep(2.2)
    done = setup.submit()
    assert done.returncode == 3 and "pkg.Login > test_flaky_a" in done.stdout
    setup.mute("test_flaky_a")  # a new entry after the expired one
    assert setup.submit().returncode == 0
    assert setup.api.delete(f"/automation/quarantine/{entry_b}").status_code == 204
    done = setup.submit()
    assert done.returncode == 3 and "pkg.Search > test_flaky_b" in done.stdout
    assert setup.submit(command=False).returncode == 1


def test_an_unreachable_list_hides_nothing(setup: Setup) -> None:
    setup.mute("test_flaky_a")
    setup.mute("test_flaky_b")
    proxy = FaultProxy(setup.server.base_url)
    proxy.target = re.compile(r"/automation/quarantine")
    proxy.plan = [(503, {"Retry-After": "0"})] * 10
    try:
        done = setup.submit("--max-retries", "1", instance=proxy.url)
        assert done.returncode == 3, done.stdout
        assert "could not read the quarantine list" in done.stderr
        assert "nothing is excused" in done.stderr
        done = setup.submit("--max-retries", "1", instance=proxy.url, command=False)
        assert done.returncode == 1
    finally:
        proxy.close()


def test_submit_thread_and_the_list_command(setup: Setup) -> None:
    setup.mute("test_flaky_a", owner="web")
    entry = setup.mute("test_flaky_b", mode="skip")
    server = setup.server
    created = runhub(
        server, "automation:run:create", "--instance", server.base_url,
        "--project-id", str(server.project_id), "--name", "Parallel", "--source", "unit",
    )  # fmt: skip
    run_id = created.stdout.strip()
    done = runhub(
        server, "automation:run:submit-thread", "--instance", server.base_url,
        "--run-id", run_id, "--results", str(setup.report), "--quarantine",
    )  # fmt: skip
    assert done.returncode == 1  # test_flaky_b is quarantined to skip, not to mute
    listed = runhub(
        server, "automation:quarantine:list", "--instance", server.base_url,
        "--project-id", str(server.project_id), "--source", "unit", "--format", "json",
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    entries = json.loads(listed.stdout)
    modes = {e["name"]: e["mode"] for e in entries}
    assert modes == {"test_flaky_a": "mute", "test_flaky_b": "skip"}
    text = runhub(
        server, "automation:quarantine:list", "--instance", server.base_url,
        "--project-id", str(server.project_id), "--source", "unit", "--mode", "skip",
    )  # fmt: skip
    assert text.stdout.splitlines() == ["skip\tpkg.Search\ttest_flaky_b\t\t\ttest_flaky_b flakes"]
    assert entry
    missing = runhub(
        server, "automation:quarantine:list", "--instance", server.base_url,
        "--project-id", str(server.project_id), "--source", "nope",
    )  # fmt: skip
    assert missing.returncode == 1 and "No source named 'nope'" in missing.stderr
