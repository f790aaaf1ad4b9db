"""`automation:run:submit`/`create` add the CI's commit, branch and build link to the run's
resources where the user gave none, and say so in one line (issue 10)."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest

from runhub.cli import automation_run, main
from runhub.client import ci_metadata
from runhub.client.resources import Resources

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "junit"
REPORT = str(FIXTURES / "pytest" / "pytest-xunit1-failure-skip.xml")
SHA = "0123456789abcdef0123456789abcdef01234567"
GITLAB = {
    "GITLAB_CI": "true",
    "CI_COMMIT_SHA": SHA,
    "CI_COMMIT_BRANCH": "main",
    "CI_JOB_URL": "https://gitlab.example.com/acme/app/-/jobs/5",
}


@pytest.fixture
def ci_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No CI of the machine's own; the test sets the one it wants."""
    for name in ci_metadata.MARKERS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def added(resources: Resources, *, off: bool = False) -> str:
    out = io.StringIO()
    automation_run._add_ci_metadata(argparse.Namespace(no_ci_metadata=off), resources, out)
    return out.getvalue()


def test_fields_and_link_are_added_with_one_line(ci_env: pytest.MonkeyPatch) -> None:
    for name, value in GITLAB.items():
        ci_env.setenv(name, value)
    resources = Resources(fields=[{"type": "string", "name": "Version", "value": "2"}])
    line = "Added CI metadata from GitLab CI: commit 0123456, branch main, build link\n"
    assert added(resources) == line
    assert resources.api_fields() == [
        {"type": 1, "name": "Version", "value": "2"},
        {"type": 1, "name": "Commit", "value": SHA},
        {"type": 1, "name": "Branch", "value": "main"},
    ]
    assert resources.api_links() == [{"name": "Build", "url": GITLAB["CI_JOB_URL"]}]


@pytest.mark.parametrize(
    ("fields", "links", "what"),
    [
        ([("Git SHA", "abc")], [], ["branch main", "build link"]),
        ([("git_branch", "x")], [], ["commit 0123456", "build link"]),
        ([], ["build"], ["commit 0123456", "branch main"]),
        ([("revision", "1"), ("Ref", "x")], ["BUILD"], []),
    ],
)
def test_what_the_user_gave_is_kept(
    ci_env: pytest.MonkeyPatch, fields: list[tuple[str, str]], links: list[str], what: list[str]
) -> None:
    for name, value in GITLAB.items():
        ci_env.setenv(name, value)
    resources = Resources(
        fields=[{"type": "string", "name": n, "value": v} for n, v in fields],
        links=[{"name": n, "url": "https://ci.example.com/1"} for n in links],
    )
    before = len(resources.fields) + len(resources.links)
    line = f"Added CI metadata from GitLab CI: {', '.join(what)}\n" if what else ""
    assert added(resources) == line
    assert len(resources.fields) + len(resources.links) == before + len(what)


def test_nothing_outside_a_ci_or_when_turned_off(ci_env: pytest.MonkeyPatch) -> None:
    resources = Resources()
    assert added(resources) == "" and not resources.has_any()
    ci_env.setenv("GITLAB_CI", "true")  # detected, but every variable missing
    assert added(resources) == "" and not resources.has_any()
    for name, value in GITLAB.items():
        ci_env.setenv(name, value)
    assert added(resources, off=True) == "" and not resources.has_any()


def test_a_commit_that_is_no_sha_is_shown_whole(ci_env: pytest.MonkeyPatch) -> None:
    ci_env.setenv("JENKINS_URL", "https://jenkins.example.com/")
    ci_env.setenv("GIT_COMMIT", "r1234")
    assert added(Resources()) == "Added CI metadata from Jenkins: commit r1234\n"


def test_dry_run_says_what_would_be_added(
    ci_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in GITLAB.items():
        ci_env.setenv(name, value)
    base = ["automation:run:submit", "--instance", "http://127.0.0.1:9", "--project-id", "1",
            "--name", "n", "--source", "unit", "--results", REPORT, "--dry-run"]  # fmt: skip
    assert main(base) == 0
    out = capsys.readouterr().out
    assert "Added CI metadata from GitLab CI: commit 0123456, branch main, build link" in out
    assert main([*base, "--no-ci-metadata"]) == 0
    assert "Added CI metadata" not in capsys.readouterr().out


@pytest.mark.parametrize("command", ["automation:run:submit", "automation:run:create"])
def test_no_ci_metadata_is_in_the_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    assert "--no-ci-metadata" in capsys.readouterr().out


def test_submit_thread_has_no_ci_metadata_option(capsys: pytest.CaptureFixture[str]) -> None:
    """The run exists already; its creator added the metadata once."""
    with pytest.raises(SystemExit):
        main(["automation:run:submit-thread", "--help"])
    assert "--no-ci-metadata" not in capsys.readouterr().out
