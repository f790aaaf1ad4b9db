"""`runhub automation:run:*` against the real server over plain HTTP, as a CI job runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from runhub.client.ci_metadata import MARKERS

from .conftest import RUNHUB, ServerProcess, free_port

pytestmark = pytest.mark.e2e
FIXTURES = Path(__file__).parents[3] / "shared" / "fixtures" / "junit"
REPORT = FIXTURES / "pytest" / "pytest-xunit1-failure-skip.xml"  # 5 tests


def client_env(**overrides: str) -> dict[str, str]:
    """The test's environment in CI mode, without RUNHUB_*/TESTMO_* settings and without the
    variables that tell a CI (the machine's own CI must not add metadata), plus `overrides`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("RUNHUB_", "TESTMO_")) and k not in MARKERS
    }
    return {**env, "CI": "true", **overrides}


def runhub(
    server: ServerProcess | None,
    *args: str,
    token: str | None = None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    env = client_env(**(env or {}))
    if server is not None:
        env["TESTMO_TOKEN"] = server.token if token is None else token
    return subprocess.run(
        [RUNHUB, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_submit_then_read_back(live_server: ServerProcess) -> None:
    done = runhub(
        live_server, "automation:run:submit", "--instance", live_server.base_url,
        "--project-id", str(live_server.project_id), "--name", "Nightly", "--source", "unit",
        "--results", str(REPORT), "--tags", "nightly",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "Collecting log files .." in lines
    assert "Found 1 result files with a total of 5 tests" in lines
    assert any(line.startswith("Created new test automation run (ID: ") for line in lines)
    assert lines[-1] == "Marked the run as completed"
    with live_server.client() as client:
        run = client.get(f"/projects/{live_server.project_id}/automation/runs").json()["result"][0]
    assert run["is_completed"] and run["total_count"] == 5 and run["tags"] == ["nightly"]


def test_parallel_threads_and_command_mode(live_server: ServerProcess, tmp_path: Path) -> None:
    base = ("--instance", live_server.base_url)
    created = runhub(
        live_server, "automation:run:create", *base, "--project-id", str(live_server.project_id),
        "--name", "Parallel", "--source", "unit",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    run_id = created.stdout.strip()
    assert run_id.isdigit()
    for _ in range(2):
        done = runhub(
            live_server, "automation:run:submit-thread", *base, "--run-id", run_id,
            "--results", str(REPORT), "--", "sh", "-c", "echo from-the-job; exit 3",
        )  # fmt: skip
        assert done.returncode == 3, done.stderr
        assert "from-the-job" in done.stdout
    done = runhub(live_server, "automation:run:complete", *base, "--run-id", run_id)
    assert done.returncode == 0 and done.stdout.strip() == "Marked the test run as completed"
    with live_server.client() as client:
        run = client.get(f"/automation/runs/{run_id}").json()["result"]
    assert run["is_completed"] and run["thread_count"] == 2 and run["total_count"] == 10
    output = run["threads"][0]["fields"][0]
    assert output["name"] == "Output" and "exit code 3" in output["value"]


def test_dry_run_needs_no_server_or_token(tmp_path: Path) -> None:
    done = runhub(
        None, "automation:run:submit", "--instance", f"http://127.0.0.1:{free_port()}",
        "--project-id", "1", "--name", "x", "--source", "unit", "--results", str(REPORT),
        "--dry-run",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Dry run: 5 tests from 1 files, nothing sent" in done.stdout


def test_errors_read_like_the_official_cli(live_server: ServerProcess) -> None:
    base = ("--instance", live_server.base_url, "--name", "x", "--source", "unit")
    results = ("--results", str(REPORT))
    bad_token = runhub(
        live_server, "automation:run:submit", *base, "--project-id", "1", *results,
        token="wrong",
    )  # fmt: skip
    assert bad_token.returncode == 1
    assert "Server response (401)" in bad_token.stderr
    assert "Please verify your Testmo API token" in bad_token.stderr
    unknown = runhub(live_server, "automation:run:submit", *base, "--project-id", "999", *results)
    assert unknown.returncode == 1 and "Server response (404)" in unknown.stderr
    no_token = runhub(None, "automation:run:create", *base, "--project-id", "1")
    assert no_token.returncode == 1
    assert "Missing Testmo API token (TESTMO_TOKEN environment variable)" in no_token.stderr
    bad_source = runhub(
        live_server, "automation:run:create", "--instance", live_server.base_url,
        "--project-id", "1", "--name", "x", "--source", "not one word",
    )  # fmt: skip
    assert bad_source.returncode == 1 and "Invalid source name" in bad_source.stderr


SHA = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"
GITHUB_ENV = {
    "GITHUB_ACTIONS": "true", "GITHUB_SHA": SHA, "GITHUB_REF": "refs/heads/main",
    "GITHUB_REF_NAME": "main", "GITHUB_REF_TYPE": "branch", "GITHUB_HEAD_REF": "",
    "GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "acme/app",
    "GITHUB_RUN_ID": "4242",
}  # fmt: skip
BUILD_URL = "https://github.com/acme/app/actions/runs/4242"


def test_submit_adds_the_ci_commit_branch_and_build_link(
    live_server: ServerProcess, tmp_path: Path
) -> None:
    """In a (fake) GitHub Actions job the run gets Commit and Branch fields and a Build link,
    except with --no-ci-metadata, outside a CI, or where the resources file has them."""
    assert runhub(
        None, "automation:resources:add-field", "--name", "git", "--type", "string",
        "--value", "abc", cwd=tmp_path,
    ).returncode == 0  # fmt: skip

    def submit(*extra: str, env: dict[str, str] | None) -> tuple[list[str], dict]:
        done = runhub(
            live_server, "automation:run:submit", "--instance", live_server.base_url,
            "--project-id", str(live_server.project_id), "--name", "CI", "--source", "unit",
            "--results", str(REPORT), *extra, env=env, cwd=tmp_path,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        created = next(line for line in lines if line.startswith("Created new test automation"))
        run_id = created.removeprefix("Created new test automation run (ID: ").rstrip(")")
        with live_server.client() as client:
            run = client.get(f"/automation/runs/{run_id}").json()["result"]
        return lines, run

    def stored(run: dict) -> tuple[list[tuple[int, str, str]], list[tuple[str, str]]]:
        fields = [(f["type"], f["name"], f["value"]) for f in run["fields"]]
        return fields, [(link["name"], link["url"]) for link in run["links"]]

    lines, run = submit(env=GITHUB_ENV)
    assert stored(run) == ([(1, "Commit", SHA), (1, "Branch", "main")], [("Build", BUILD_URL)])
    added = "Added CI metadata from GitHub Actions: commit 1a2b3c4, branch main, build link"
    assert added in lines and lines[-1] == "Marked the run as completed"

    lines, run = submit("--no-ci-metadata", env=GITHUB_ENV)
    assert stored(run) == ([], []) and not any(line.startswith("Added CI") for line in lines)
    lines, run = submit(env=None)  # no CI: the official CLI's lines only
    assert stored(run) == ([], []) and not any(line.startswith("Added CI") for line in lines)

    lines, run = submit("--resources", "testmo-resources.json", env=GITHUB_ENV)
    assert stored(run) == ([(1, "git", "abc"), (1, "Branch", "main")], [("Build", BUILD_URL)])
    assert "Found 1 fields, 0 links and 0 artifacts" in lines
    assert "Added CI metadata from GitHub Actions: branch main, build link" in lines


def test_create_adds_ci_metadata_and_prints_only_the_run_id(live_server: ServerProcess) -> None:
    done = runhub(
        live_server, "automation:run:create", "--instance", live_server.base_url,
        "--project-id", str(live_server.project_id), "--name", "CI", "--source", "unit",
        env={**GITHUB_ENV, "GITHUB_HEAD_REF": "feature/x", "GITHUB_REF_NAME": "7/merge"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.strip()
    assert run_id.isdigit()  # RUN_ID=$(runhub automation:run:create ...) still works
    assert "Added CI metadata from GitHub Actions: commit 1a2b3c4, branch feature/x" in done.stderr
    with live_server.client() as client:
        run = client.get(f"/automation/runs/{run_id}").json()["result"]
    assert [(f["name"], f["value"]) for f in run["fields"]] == [
        ("Commit", SHA),
        ("Branch", "feature/x"),
    ]
    assert [link["url"] for link in run["links"]] == [BUILD_URL]


def _write_large_report(path: Path, n: int) -> None:
    """N tests, ~450 bytes each: every 10th fails with a padded trace."""
    trace = "at pkg.Module.call(Module.java:42) " * 100
    with path.open("w") as out:
        out.write('<testsuites><testsuite name="large" time="12.5">\n')
        for i in range(n):
            head = f'<testcase classname="pkg.C{i % 50}" name="t{i}" time="0.01">'
            body = f'<failure message="boom {i}">{trace}</failure>' if i % 10 == 0 else ""
            out.write(f"{head}{body}<system-out>ran {i}</system-out></testcase>\n")
        out.write("</testsuite></testsuites>\n")


def _peak_rss_mib(server: ServerProcess, *args: str) -> tuple[int, float]:
    """Run the client in a fresh wrapper process (its only child), so the children's peak
    RSS is the client's own."""
    wrapper = (
        "import resource, subprocess, sys\n"
        "code = subprocess.run(sys.argv[1:]).returncode\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    env = client_env(TESTMO_TOKEN=server.token or "")
    done = subprocess.run(
        [sys.executable, "-c", wrapper, RUNHUB, *args],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    return done.returncode, int(done.stderr.strip().splitlines()[-1]) / 1024


def test_a_large_report_streams_in_bounded_memory(
    live_server: ServerProcess, tmp_path: Path
) -> None:
    n = 60_000
    report = tmp_path / "large.xml"
    _write_large_report(report, n)
    assert report.stat().st_size > 25 * 2**20
    code, rss_mib = _peak_rss_mib(
        live_server, "automation:run:submit", "--instance", live_server.base_url,
        "--project-id", str(live_server.project_id), "--name", "Large", "--source", "big",
        "--results", str(report),
    )  # fmt: skip
    assert code == 0
    # Holding 60,000 test dicts alone takes over 150 MiB; streaming stays near start-up size.
    assert rss_mib < 100, f"client peak RSS {rss_mib:.0f} MiB"
    with live_server.client() as client:
        runs = client.get(f"/projects/{live_server.project_id}/automation/runs").json()
        run = next(r for r in runs["result"] if r["name"] == "Large")
        single = client.get(f"/automation/runs/{run['id']}").json()["result"]
    assert run["total_count"] == n and run["failure_count"] == n // 10
    (thread,) = single["threads"]
    assert thread["elapsed"] == 12_500_000  # the suite time, sent before any test


def test_a_broken_report_creates_no_run(live_server: ServerProcess, tmp_path: Path) -> None:
    good, broken = tmp_path / "a.xml", tmp_path / "b.xml"
    _write_large_report(good, 2_000)
    broken.write_text('<testsuite name="cut"><testcase name="x"><failure>')
    with live_server.client() as client:
        path = f"/projects/{live_server.project_id}/automation/runs"
        before = client.get(path).json()["total"]
        done = runhub(
            live_server, "automation:run:submit", "--instance", live_server.base_url,
            "--project-id", str(live_server.project_id), "--name", "Cut", "--source", "big",
            "--results", str(good), str(broken),
        )  # fmt: skip
        assert done.returncode == 1
        assert f"Failed to parse file: {broken}" in done.stderr
        assert client.get(path).json()["total"] == before


def test_missing_result_files_fail_and_create_nothing(
    live_server: ServerProcess, tmp_path: Path
) -> None:
    """A typo in --results must not turn a build green with an empty run (issue 9, item 1)."""
    base = ("--instance", live_server.base_url)
    not_a_report = tmp_path / "notes.xml"
    not_a_report.write_text("<notes/>")
    with live_server.client() as client:
        runs_path = f"/projects/{live_server.project_id}/automation/runs"
        run_id = client.post(runs_path, json={"name": "Open", "source": "unit"}).json()["id"]
        before = client.get(runs_path).json()["total"]
        cases = [
            ([str(tmp_path / "nothere.xml")], "Result file does not exist: "),
            ([str(tmp_path / "reports" / "*.xml")], "Could not find any valid result files"),
            ([str(not_a_report)], "Could not find any valid result files"),
        ]
        for results, message in cases:
            for command in (
                ("automation:run:submit", "--project-id", str(live_server.project_id),
                 "--name", "Typo", "--source", "unit"),
                ("automation:run:submit-thread", "--run-id", str(run_id)),
            ):  # fmt: skip
                done = runhub(live_server, *command, *base, "--results", *results)
                assert done.returncode == 1, (command, results, done.stdout)
                assert message in done.stderr
                assert "Created new" not in done.stdout
        assert client.get(runs_path).json()["total"] == before
        run = client.get(f"/automation/runs/{run_id}").json()["result"]
        assert run["threads"] == [] and run["total_count"] == 0
