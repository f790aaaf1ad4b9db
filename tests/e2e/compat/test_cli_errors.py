"""What a user of the official CLI sees when something is wrong: the exit code and the
messages runhub's error bodies make the CLI print (reference §2.2: `Server response (CODE):
message`, a token hint on 401, one `Validation:` line per field on 422)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from ..conftest import ServerProcess
from .conftest import FIXTURES, Testmo

pytestmark = pytest.mark.e2e

REPORT = FIXTURES / "rust" / "nextest-basic.xml"
TOO_MANY_ENTITIES = FIXTURES / "jest" / "jest-junit-large-600kb.xml"
NOT_WELL_FORMED = FIXTURES / "malformed" / "MALFORMED-truncated-pytest.xml"


def submit(
    server: ServerProcess,
    testmo: Testmo,
    *args: str,
    project_id: int | None = None,
    results: Path = REPORT,
    token: str | None = None,
) -> subprocess.CompletedProcess[str]:
    return testmo(
        "automation:run:submit",
        "--instance", server.base_url,
        "--project-id", str(project_id or server.project_id),
        "--name", "Errors",
        "--source", "compat",
        "--results", str(results),
        *args,
        token=token,
    )  # fmt: skip


def output(done: subprocess.CompletedProcess[str]) -> str:
    return done.stdout + done.stderr


def run_count(server: ServerProcess) -> int:
    with server.client() as client:
        answer = client.get(f"/projects/{server.project_id}/automation/runs")
    assert answer.status_code == 200, answer.text
    return answer.json()["total"]


def test_wrong_token(tls_server: ServerProcess, testmo: Testmo) -> None:
    done = submit(tls_server, testmo, token="not-a-real-token")
    text = output(done)
    assert done.returncode == 1, text
    assert "Server response (401): Invalid or revoked API token." in text
    assert "Please verify your Testmo API token" in text
    assert run_count(tls_server) == 0


def test_unknown_project(tls_server: ServerProcess, testmo: Testmo) -> None:
    done = submit(tls_server, testmo, project_id=987654)
    text = output(done)
    assert done.returncode == 1, text
    assert "Server response (404): The project does not exist" in text
    assert "Please verify" not in text
    assert run_count(tls_server) == 0


def test_submit_thread_to_a_completed_run(tls_server: ServerProcess, testmo: Testmo) -> None:
    first = submit(tls_server, testmo)
    assert first.returncode == 0, output(first)
    found = re.search(r"Created new test automation run \(ID: (\d+)\)", first.stdout)
    assert found, first.stdout
    run_id = int(found[1])

    done = testmo(
        "automation:run:submit-thread",
        "--instance", tls_server.base_url,
        "--run-id", str(run_id),
        "--results", str(REPORT),
    )  # fmt: skip
    text = output(done)
    assert done.returncode == 1, text
    assert (
        f"Server response (422): Automation run {run_id} is completed"
        " and cannot receive new threads." in text
    )
    assert "Validation:" not in text  # not a field problem: `errors` is empty
    with tls_server.client() as client:
        run = client.get(f"/automation/runs/{run_id}").json()["result"]
    assert run["thread_count"] == 1 and run["total_count"] == 3


def test_unknown_milestone_name(tls_server: ServerProcess, testmo: Testmo) -> None:
    done = submit(tls_server, testmo, "--milestone", "Sprint 99")
    text = output(done)
    assert done.returncode == 1, text
    assert "Server response (422): " in text
    assert "Validation: No milestone named 'Sprint 99' exists in this project." in text
    assert run_count(tls_server) == 0  # a 422 stores nothing


def test_unknown_milestone_and_config_ids(tls_server: ServerProcess, testmo: Testmo) -> None:
    for option, thing in (("--milestone-id", "milestone"), ("--config-id", "configuration")):
        done = submit(tls_server, testmo, option, "4242")
        text = output(done)
        assert done.returncode == 1, text
        validation = [line for line in text.splitlines() if line.startswith("Validation: ")]
        assert len(validation) == 1, text
        assert thing in validation[0] and "this project" in validation[0], text
    assert run_count(tls_server) == 0


def test_complete_an_unknown_run(tls_server: ServerProcess, testmo: Testmo) -> None:
    done = testmo("automation:run:complete", "--instance", tls_server.base_url, "--run-id", "777")
    text = output(done)
    assert done.returncode == 1, text
    assert "Server response (404): The automation run does not exist" in text


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # nothing reaches the database
def test_reports_the_cli_refuses_send_nothing(tls_server: ServerProcess, testmo: Testmo) -> None:
    """The CLI parses every file before its first request: a file it cannot read stops it
    (the server never hears of the run); `--ignore-parse-error` uploads the rest."""
    for report, reason in (
        (TOO_MANY_ENTITIES, "Entity expansion limit exceeded: 1001 > 1000"),
        (NOT_WELL_FORMED, "Invalid"),
    ):
        done = submit(tls_server, testmo, results=report)
        text = output(done)
        assert done.returncode == 1, text
        assert f"Failed to parse file: {report}" in text and reason in text, text
    assert run_count(tls_server) == 0

    done = testmo(
        "automation:run:submit",
        "--instance", tls_server.base_url,
        "--project-id", str(tls_server.project_id),
        "--name", "Partly readable",
        "--source", "compat",
        "--ignore-parse-error",
        "--results", str(TOO_MANY_ENTITIES), str(NOT_WELL_FORMED), str(REPORT),
    )  # fmt: skip
    assert done.returncode == 0, output(done)
    with tls_server.client() as client:
        (run,) = client.get(f"/projects/{tls_server.project_id}/automation/runs").json()["result"]
    assert run["total_count"] == 3 and run["is_completed"]
