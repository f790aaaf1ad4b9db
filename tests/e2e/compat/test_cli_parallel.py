"""A parallel CI job through the official CLI: `automation:run:create`, four
`automation:run:submit-thread` processes at the same time, then `automation:run:complete`
(reference §8.3). The threads' appends interleave on one run; the counts must add up."""

from __future__ import annotations

import os
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from ..conftest import ServerProcess, TlsFiles
from .conftest import TESTMO_CLI, Testmo

pytestmark = pytest.mark.e2e

# Status alias sent by the CLI -> runhub's status ID (decisions.md, "Statuses").
STATUS_IDS = {"passed": 1, "failure": 2, "skipped": 5, "error": 6}
# Per file: how many tests of each status. More than 250 tests per file, so that each
# process sends several append batches and the four processes' batches interleave.
PLANS: list[dict[str, int]] = [
    {"passed": 300, "failure": 7, "skipped": 3, "error": 1},
    {"passed": 251, "failure": 0, "skipped": 20, "error": 0},
    {"passed": 480, "failure": 12, "skipped": 0, "error": 5},
    {"passed": 90, "failure": 40, "skipped": 9, "error": 2},
]
CHILD_ELEMENT = {
    "passed": "",
    "failure": '<failure message="expected 1 got 2">assert 1 == 2</failure>',
    "skipped": '<skipped message="not on this platform"/>',
    "error": '<error message="setup crashed">RuntimeError in fixture</error>',
}


def write_junit(path: Path, job: int, plan: dict[str, int]) -> None:
    """A JUnit file whose testcases have the statuses in `plan` (keys unique per job)."""
    cases = []
    for status, count in plan.items():
        for n in range(count):
            body = CHILD_ELEMENT[status]
            cases.append(
                f'<testcase classname="job{job}.{status}" name="case_{n}" time="0.01">'
                f"{body}</testcase>"
            )
    total = sum(plan.values())
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<testsuites time="1.5"><testsuite name="job{job}" tests="{total}">'
        + "\n".join(cases)
        + "</testsuite></testsuites>\n",
        encoding="utf-8",
    )


def start_testmo(
    server: ServerProcess, tls: TlsFiles, cwd: Path, *args: str
) -> subprocess.Popen[str]:
    """Start the official CLI like the `testmo` fixture does, without waiting for it."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("RUNHUB_", "TESTMO_"))},
        "TESTMO_TOKEN": server.token or "",
        "NODE_EXTRA_CA_CERTS": str(tls.ca_pem),
        "CI": "true",
    }
    return subprocess.Popen(
        [str(TESTMO_CLI), *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_four_parallel_threads_add_up(
    tls_server: ServerProcess, tls_files: TlsFiles, testmo: Testmo, tmp_path: Path
) -> None:
    instance = tls_server.base_url
    created = testmo(
        "automation:run:create",
        "--instance", instance,
        "--project-id", str(tls_server.project_id),
        "--name", "Parallel",
        "--source", "parallel-ci",
    )  # fmt: skip
    assert created.returncode == 0, created.stdout + created.stderr
    assert created.stdout.strip().isdigit(), f"run id alone on stdout: {created.stdout!r}"
    run_id = created.stdout.strip()

    files = []
    for job, plan in enumerate(PLANS, start=1):
        files.append(tmp_path / f"job{job}.xml")
        write_junit(files[-1], job, plan)

    submit_thread = ("automation:run:submit-thread", "--instance", instance, "--run-id", run_id)
    processes = [
        start_testmo(tls_server, tls_files, tmp_path, *submit_thread, "--results", str(path))
        for path in files
    ]
    failures = []
    for proc in processes:
        try:
            out, err = proc.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        if proc.returncode != 0:
            failures.append(f"exit {proc.returncode}\n{out}\n{err}")
    assert not failures, "\n---\n".join(failures) + "\n" + tls_server.output()

    with tls_server.client() as client:
        active = client.get(f"/automation/runs/{run_id}").json()["result"]
    assert not active["is_completed"] and active["status"] == 4
    assert active["thread_count"] == 4 and active["thread_completed_count"] == 4

    completed = testmo("automation:run:complete", "--instance", instance, "--run-id", run_id)
    assert completed.returncode == 0, completed.stdout + completed.stderr

    with tls_server.client() as client:
        run = client.get(f"/automation/runs/{run_id}").json()["result"]
        tests_page = client.get(f"/automation/runs/{run_id}/tests").json()

    expected = Counter[str]()
    for plan in PLANS:
        expected.update(plan)
    assert run["is_completed"] and run["status"] == 3  # some failures
    assert run["elapsed"] is not None  # measure_elapsed: true by default
    assert (run["thread_count"], run["thread_completed_count"]) == (4, 4)
    assert run["thread_active_count"] == 0
    assert run["total_count"] == sum(expected.values()) == tests_page["total"]
    for status, status_id in STATUS_IDS.items():
        assert run[f"status{status_id}_count"] == expected[status], status
    assert run["failure_count"] == expected["failure"] + expected["error"]
    assert run["success_count"] == expected["passed"]

    threads = run["threads"]
    assert sorted(t["index"] for t in threads) == [1, 2, 3, 4]
    assert {t["name"] for t in threads} == {f"Thread {n}" for n in range(1, 5)}
    assert all(t["is_completed"] for t in threads)
    # Each thread holds exactly one file (which one depends on the race), so the threads'
    # totals are the files' totals in some order.
    assert sorted(t["total_count"] for t in threads) == sorted(sum(p.values()) for p in PLANS)
    count_keys = ["total_count", "success_count", "failure_count", "completed_count"]
    count_keys += [f"status{n}_count" for n in range(1, 25)]
    for key in count_keys:
        assert run[key] == sum(t[key] for t in threads), key
    per_thread = sorted(tuple(t[f"status{i}_count"] for i in STATUS_IDS.values()) for t in threads)
    assert per_thread == sorted(tuple(p[s] for s in STATUS_IDS) for p in PLANS)
    # The thread elapsed is each file's top-level time (1.5 s) as computed by the CLI.
    assert all(t["elapsed"] == 1_500_000 for t in threads)
