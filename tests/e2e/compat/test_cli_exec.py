"""The official CLI running a test command after `--` (reference §8.1 exit codes, §8.6):
it exits with the command's exit code, uploads the captured output as the thread's console
field and the measured wall time as `elapsed_observed`; `--exec-stop-error` stops before
any request when the command fails."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from ..conftest import ServerProcess
from .conftest import Testmo

pytestmark = pytest.mark.e2e

CONSOLE = 4
# The report says the suite took 30 s; the command takes a fraction of that, so the
# thread's elapsed tells which of the two the server used.
REPORT = """<?xml version="1.0" encoding="UTF-8"?>
<testsuites time="30.0">
  <testsuite name="exec" tests="2" failures="1" time="30.0">
    <testcase classname="exec.Suite" name="passes" time="10.0"/>
    <testcase classname="exec.Suite" name="fails" time="20.0">
      <failure message="boom">stack</failure>
    </testcase>
  </testsuite>
</testsuites>
"""
COMMAND = ("sh", "-c", "echo hello; echo oops >&2; sleep 0.3; exit 3")


def _report(tmp_path: Path) -> Path:
    path = tmp_path / "report.xml"
    path.write_text(REPORT, encoding="utf-8")
    return path


def _runs(server: ServerProcess) -> list[dict]:
    with server.client() as client:
        response = client.get(f"/projects/{server.project_id}/automation/runs")
    assert response.status_code == 200, response.text
    return response.json()["result"]


def _submit(
    server: ServerProcess, testmo: Testmo, report: Path, name: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    return testmo(
        "automation:run:submit",
        "--instance", server.base_url,
        "--project-id", str(server.project_id),
        "--name", name,
        "--source", "exec-unit",
        "--results", str(report),
        *extra,
    )  # fmt: skip


def test_submit_runs_the_command_and_uploads_its_output(
    tls_server: ServerProcess, testmo: Testmo, tmp_path: Path
) -> None:
    report = _report(tmp_path)
    done = _submit(tls_server, testmo, report, "Exec", "--", *COMMAND)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "hello" in done.stdout  # not suppressed: the command's output is passed through

    runs = _runs(tls_server)
    assert len(runs) == 1, runs
    with tls_server.client() as client:
        run = client.get(f"/automation/runs/{runs[0]['id']}").json()["result"]
    assert run["is_completed"] and run["total_count"] == 2
    assert (run["status1_count"], run["status2_count"]) == (1, 1)

    [thread] = run["threads"]
    assert thread["is_completed"] and thread["index"] == 1
    consoles = [f for f in thread["fields"] if f["type"] == CONSOLE and f["name"] == "Output"]
    assert len(consoles) == 1, thread["fields"]
    output = consoles[0]["value"]
    assert output.startswith("Executing: " + " ".join(COMMAND)), output
    assert "hello" in output and "oops" in output
    exited = re.search(r"Exited after ([0-9.]+) seconds with exit code 3\s*$", output)
    assert exited, output
    seconds = float(exited.group(1))
    assert 0.3 <= seconds < 30

    # elapsed comes from elapsed_observed (the measured ~0.3 s), not from the report's 30 s.
    assert 300_000 <= thread["elapsed"] < 30_000_000, thread["elapsed"]
    assert abs(thread["elapsed"] - seconds * 1_000_000) < 1_000_000
    # measure_elapsed is false for `submit`: the run takes its longest thread.
    assert run["elapsed"] == thread["elapsed"]


def test_exit_code_zero_passes_through(
    tls_server: ServerProcess, testmo: Testmo, tmp_path: Path
) -> None:
    report = _report(tmp_path)
    quiet = ("--exec-suppress", "--", "sh", "-c", "echo quiet")
    done = _submit(tls_server, testmo, report, "Exec ok", *quiet)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "quiet" not in done.stdout  # --exec-suppress hides the command's stdout
    [run] = _runs(tls_server)
    with tls_server.client() as client:
        [thread] = client.get(f"/automation/runs/{run['id']}").json()["result"]["threads"]
    [console] = [f for f in thread["fields"] if f["type"] == CONSOLE]
    assert "quiet" in console["value"]  # ... but it is still uploaded
    assert console["value"].rstrip().endswith("with exit code 0")


def test_exec_stop_error_creates_no_run(
    tls_server: ServerProcess, testmo: Testmo, tmp_path: Path
) -> None:
    report = _report(tmp_path)
    failing = ("--exec-stop-error", "--", "sh", "-c", "echo broken; exit 5")
    done = _submit(tls_server, testmo, report, "Exec stop", *failing)
    assert done.returncode == 5, done.stdout + done.stderr
    assert _runs(tls_server) == []


def test_submit_thread_passes_the_exit_code_and_output(
    tls_server: ServerProcess, testmo: Testmo, tmp_path: Path
) -> None:
    report = _report(tmp_path)
    created = testmo(
        "automation:run:create",
        "--instance", tls_server.base_url,
        "--project-id", str(tls_server.project_id),
        "--name", "Exec threads",
        "--source", "exec-unit",
    )  # fmt: skip
    assert created.returncode == 0, created.stdout + created.stderr
    run_id = created.stdout.strip()
    done = testmo(
        "automation:run:submit-thread",
        "--instance", tls_server.base_url,
        "--run-id", run_id,
        "--results", str(report),
        "--", *COMMAND,
    )  # fmt: skip
    assert done.returncode == 3, done.stdout + done.stderr
    stopped = testmo(
        "automation:run:submit-thread",
        "--instance", tls_server.base_url,
        "--run-id", run_id,
        "--results", str(report),
        "--exec-stop-error",
        "--", "sh", "-c", "exit 7",
    )  # fmt: skip
    assert stopped.returncode == 7, stopped.stdout + stopped.stderr

    with tls_server.client() as client:
        run = client.get(f"/automation/runs/{run_id}").json()["result"]
    assert run["thread_count"] == 1  # the stopped job added no thread
    [thread] = run["threads"]
    assert thread["is_completed"] and 300_000 <= thread["elapsed"] < 30_000_000
    [console] = [f for f in thread["fields"] if f["type"] == CONSOLE]
    assert console["name"] == "Output" and "hello" in console["value"]
    assert "with exit code 3" in console["value"]
