"""`ci_metadata.detect`: each CI's documented variables give the commit, branch and build URL
of the job; pull requests, ref prefixes and empty values (issue 10)."""

from __future__ import annotations

import pytest

from runhub.client import ci_metadata
from runhub.client.ci_metadata import CiMetadata, detect

SHA = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"

GITHUB = {
    "GITHUB_ACTIONS": "true",
    "GITHUB_SHA": SHA,
    "GITHUB_REF": "refs/heads/main",
    "GITHUB_REF_NAME": "main",
    "GITHUB_REF_TYPE": "branch",
    "GITHUB_HEAD_REF": "",  # set, but empty, outside pull requests
    "GITHUB_SERVER_URL": "https://github.com",
    "GITHUB_REPOSITORY": "acme/app",
    "GITHUB_RUN_ID": "4242",
}
GITHUB_PR = {
    **GITHUB,
    "GITHUB_EVENT_NAME": "pull_request",
    "GITHUB_REF": "refs/pull/7/merge",
    "GITHUB_REF_NAME": "7/merge",
    "GITHUB_HEAD_REF": "feature/login",
}
AZURE = {
    "TF_BUILD": "True",
    "BUILD_SOURCEVERSION": SHA,
    "BUILD_SOURCEBRANCH": "refs/heads/release/2.0",
    "SYSTEM_COLLECTIONURI": "https://dev.azure.com/acme/",
    "SYSTEM_TEAMPROJECT": "Web App",
    "BUILD_BUILDID": "99",
}
AZURE_BUILD = "https://dev.azure.com/acme/Web%20App/_build/results?buildId=99"
BITBUCKET = {
    "BITBUCKET_BUILD_NUMBER": "31",
    "BITBUCKET_COMMIT": SHA,
    "BITBUCKET_BRANCH": "main",
    "BITBUCKET_REPO_FULL_NAME": "acme/app",
    "BITBUCKET_GIT_HTTP_ORIGIN": "http://bitbucket.org/acme/app",
}
JENKINS = {
    "JENKINS_URL": "https://jenkins.acme.com/",
    "GIT_COMMIT": SHA,
    "GIT_BRANCH": "origin/main",
    "BUILD_URL": "https://jenkins.acme.com/job/app/12/",
}


def meta(ci: str, branch: str | None = "main", build: str | None = None) -> CiMetadata:
    return CiMetadata(ci, SHA, branch, build)


CASES: list[tuple[str, dict[str, str], CiMetadata | None]] = [
    ("no CI", {"CI": "true", "HOME": "/root"}, None),
    ("GitHub Actions push", GITHUB,
     meta("GitHub Actions", build="https://github.com/acme/app/actions/runs/4242")),
    ("GitHub Actions pull request", GITHUB_PR,
     meta("GitHub Actions", "feature/login", "https://github.com/acme/app/actions/runs/4242")),
    ("GitHub Actions tag", {**GITHUB, "GITHUB_REF_NAME": "v1.0", "GITHUB_REF_TYPE": "tag"},
     meta("GitHub Actions", None, "https://github.com/acme/app/actions/runs/4242")),
    ("GitHub Actions without GITHUB_REF_TYPE",
     {**GITHUB, "GITHUB_REF_TYPE": "", "GITHUB_REF_NAME": ""},
     meta("GitHub Actions", build="https://github.com/acme/app/actions/runs/4242")),
    ("GitHub Actions Enterprise server URL with a slash",
     {**GITHUB, "GITHUB_SERVER_URL": "https://git.acme.com/"},
     meta("GitHub Actions", build="https://git.acme.com/acme/app/actions/runs/4242")),
    ("GitHub Actions without a run id", {**GITHUB, "GITHUB_RUN_ID": ""},
     meta("GitHub Actions")),
    ("GITHUB_ACTIONS not true", {**GITHUB, "GITHUB_ACTIONS": "false"}, None),
    ("GitLab CI branch pipeline", {
        "GITLAB_CI": "true", "CI_COMMIT_SHA": SHA, "CI_COMMIT_BRANCH": "main",
        "CI_JOB_URL": "https://gitlab.com/acme/app/-/jobs/5",
        "CI_PIPELINE_URL": "https://gitlab.com/acme/app/-/pipelines/3",
    }, meta("GitLab CI", build="https://gitlab.com/acme/app/-/jobs/5")),
    ("GitLab CI merge request pipeline", {
        "GITLAB_CI": "true", "CI_COMMIT_SHA": SHA,
        "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "feature/login",
        "CI_PIPELINE_URL": "https://gitlab.com/acme/app/-/pipelines/3",
    }, meta("GitLab CI", "feature/login", "https://gitlab.com/acme/app/-/pipelines/3")),
    ("Jenkins with the Git plugin (origin/ dropped)", JENKINS,
     meta("Jenkins", build="https://jenkins.acme.com/job/app/12/")),
    ("Jenkins multibranch", {
        "JENKINS_URL": "https://jenkins.acme.com/", "GIT_COMMIT": SHA, "BRANCH_NAME": "main",
    }, meta("Jenkins")),
    ("Jenkins multibranch pull request", {
        **JENKINS, "GIT_BRANCH": "PR-12", "BRANCH_NAME": "PR-12", "CHANGE_BRANCH": "fix/x",
    }, meta("Jenkins", "fix/x", "https://jenkins.acme.com/job/app/12/")),
    ("Jenkins branch named origin-something", {**JENKINS, "GIT_BRANCH": "origin-x"},
     meta("Jenkins", "origin-x", "https://jenkins.acme.com/job/app/12/")),
    ("CircleCI", {
        "CIRCLECI": "true", "CIRCLE_SHA1": SHA, "CIRCLE_BRANCH": "main",
        "CIRCLE_BUILD_URL": "https://circleci.com/gh/acme/app/77",
    }, meta("CircleCI", build="https://circleci.com/gh/acme/app/77")),
    ("Buildkite", {
        "BUILDKITE": "true", "BUILDKITE_COMMIT": SHA, "BUILDKITE_BRANCH": "main",
        "BUILDKITE_BUILD_URL": "https://buildkite.com/acme/app/builds/8",
    }, meta("Buildkite", build="https://buildkite.com/acme/app/builds/8")),
    ("Buildkite build of HEAD", {
        "BUILDKITE": "true", "BUILDKITE_COMMIT": "HEAD", "BUILDKITE_BRANCH": "main",
    }, CiMetadata("Buildkite", None, "main", None)),
    ("Azure Pipelines (refs/heads/ dropped)", AZURE, meta("Azure Pipelines", "release/2.0",
                                                          AZURE_BUILD)),
    ("Azure Pipelines pull request", {
        **AZURE, "BUILD_REASON": "PullRequest", "BUILD_SOURCEBRANCH": "refs/pull/5/merge",
        "SYSTEM_PULLREQUEST_SOURCEBRANCH": "refs/heads/feature/login",
    }, meta("Azure Pipelines", "feature/login", AZURE_BUILD)),
    ("Azure Pipelines tag", {**AZURE, "BUILD_SOURCEBRANCH": "refs/tags/v1"},
     meta("Azure Pipelines", None, AZURE_BUILD)),
    ("Bitbucket Pipelines", BITBUCKET,
     meta("Bitbucket Pipelines", build="https://bitbucket.org/acme/app/pipelines/results/31")),
    ("Bitbucket Pipelines from the origin", {**BITBUCKET, "BITBUCKET_REPO_FULL_NAME": ""},
     meta("Bitbucket Pipelines", build="http://bitbucket.org/acme/app/pipelines/results/31")),
    ("Bitbucket Pipelines tag (no branch)", {**BITBUCKET, "BITBUCKET_BRANCH": ""},
     meta("Bitbucket Pipelines", None, "https://bitbucket.org/acme/app/pipelines/results/31")),
    ("empty and blank values are skipped", {
        "CIRCLECI": "true", "CIRCLE_SHA1": "", "CIRCLE_BRANCH": "  ", "CIRCLE_BUILD_URL": "",
    }, CiMetadata("CircleCI")),
    ("values are stripped", {
        "CIRCLECI": "true", "CIRCLE_SHA1": f" {SHA}\n", "CIRCLE_BRANCH": " main ",
    }, meta("CircleCI")),
    ("a build URL that is no http(s) URL is dropped", {**JENKINS, "BUILD_URL": "job/app/12"},
     meta("Jenkins")),
    ("refs/heads/ alone is no branch", {**JENKINS, "GIT_BRANCH": "refs/heads/"},
     meta("Jenkins", None, "https://jenkins.acme.com/job/app/12/")),
    ("GitHub Actions wins over a leaked JENKINS_URL", {**JENKINS, **GITHUB},
     meta("GitHub Actions", build="https://github.com/acme/app/actions/runs/4242")),
]  # fmt: skip


@pytest.mark.parametrize(("environ", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_detect(environ: dict[str, str], expected: CiMetadata | None) -> None:
    assert detect(environ) == expected


def test_every_ci_is_covered_and_found_by_its_marker_alone() -> None:
    names = {c[2].ci for c in CASES if c[2] is not None}
    found = {marker: detect({marker: "true"}) for marker in ci_metadata.MARKERS}
    assert {m.ci for m in found.values() if m} == names
    assert len(names) == 7 and all(m == CiMetadata(m.ci) for m in found.values() if m)
    assert detect({"TF_BUILD": "True"}) == CiMetadata("Azure Pipelines")


@pytest.mark.parametrize(
    ("name", "commit", "branch"),
    [
        ("Commit", True, False),
        ("git", True, False),
        ("Git SHA", True, False),
        ("git-commit", True, False),
        ("commit_sha", True, False),
        ("REVISION", True, False),
        ("sha", True, False),
        ("Branch", False, True),
        ("git_branch", False, True),
        ("Git Ref", False, True),
        ("ref", False, True),
        ("Commit message", False, False),
        ("Build", False, False),
    ],
)
def test_field_names_follow_the_servers_rule(name: str, commit: bool, branch: bool) -> None:
    assert ci_metadata.is_commit_field(name) is commit
    assert ci_metadata.is_branch_field(name) is branch


def test_build_link_name_is_case_insensitive() -> None:
    assert ci_metadata.is_build_link("build") and ci_metadata.is_build_link(" BUILD ")
    assert not ci_metadata.is_build_link("Build log")
