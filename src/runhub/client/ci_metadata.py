"""The commit, branch and build URL of the CI job the client runs in, read from the CI's own
environment variables (issue 10). `detect` is pure: it reads only the mapping it is given.

`automation:run:submit` and `automation:run:create` add them to the new run as `Commit` and
`Branch` string fields and a `Build` link, unless the resources file already has them; the
server reads a run's commit and branch from such fields (`is_commit_field`,
`is_branch_field` give its naming rule).

CIs, by the variable that detects them (each CI's documented variables; an empty or
missing one is skipped), then commit; branch; build URL:
- GitHub Actions, `GITHUB_ACTIONS=true`: `GITHUB_SHA`; `GITHUB_HEAD_REF` for a pull
  request, else `GITHUB_REF_NAME` when `GITHUB_REF_TYPE=branch`;
  `$GITHUB_SERVER_URL/$GITHUB_REPOSITORY/actions/runs/$GITHUB_RUN_ID`.
- GitLab CI, `GITLAB_CI=true`: `CI_COMMIT_SHA`; `CI_COMMIT_BRANCH`, else
  `CI_MERGE_REQUEST_SOURCE_BRANCH_NAME`; `CI_JOB_URL`, else `CI_PIPELINE_URL`.
- CircleCI, `CIRCLECI=true`: `CIRCLE_SHA1`; `CIRCLE_BRANCH`; `CIRCLE_BUILD_URL`.
- Buildkite, `BUILDKITE=true`: `BUILDKITE_COMMIT`; `BUILDKITE_BRANCH`; `BUILDKITE_BUILD_URL`.
- Azure Pipelines, `TF_BUILD=True`: `BUILD_SOURCEVERSION`; `SYSTEM_PULLREQUEST_SOURCEBRANCH`
  for a pull request, else `BUILD_SOURCEBRANCH`;
  `$SYSTEM_COLLECTIONURI$SYSTEM_TEAMPROJECT/_build/results?buildId=$BUILD_BUILDID`.
- Bitbucket Pipelines, `BITBUCKET_BUILD_NUMBER` set: `BITBUCKET_COMMIT`; `BITBUCKET_BRANCH`;
  `https://bitbucket.org/$BITBUCKET_REPO_FULL_NAME/pipelines/results/$BITBUCKET_BUILD_NUMBER`
  (else the same path under `BITBUCKET_GIT_HTTP_ORIGIN`).
- Jenkins, `JENKINS_URL` set: `GIT_COMMIT`; `CHANGE_BRANCH` for a pull request, else
  `GIT_BRANCH` without `origin/`, else `BRANCH_NAME`; `BUILD_URL`.

Jenkins is tried last: `JENKINS_URL` is the only hint it gives, and it is the one most
likely to leak into another CI's environment. A branch is never `refs/heads/...` (the
prefix is dropped) and never a tag or a pull request's merge ref; a commit is never a
symbolic name such as `HEAD` (Buildkite may send one). A build URL that is not http(s)
with a host is dropped, as the server would refuse the link.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

# The server's rule for which run fields hold the commit and the branch.
from runhub.services.vcs import BRANCH_NAMES, COMMIT_NAMES
from runhub.services.vcs import normalised_name as normalised

BUILD_LINK = "Build"
MAX_URL_LENGTH = 2048  # the server's limit for a link's URL


@dataclass(frozen=True)
class CiMetadata:
    """What a CI's environment tells about the job; None where it tells nothing."""

    ci: str
    commit: str | None = None
    branch: str | None = None
    build_url: str | None = None


def is_commit_field(name: str) -> bool:
    return normalised(name) in COMMIT_NAMES


def is_branch_field(name: str) -> bool:
    return normalised(name) in BRANCH_NAMES


def is_build_link(name: str) -> bool:
    return name.strip().lower() == BUILD_LINK.lower()


def detect(environ: Mapping[str, str]) -> CiMetadata | None:
    """The metadata of the first CI whose marker variable is set; None outside a known CI.

    A detected CI whose variables are missing or empty gives a CiMetadata with fewer (or
    no) values, never a partial or malformed one."""
    env = _Env(environ)
    for marker, must_be_true, read in _DETECTORS:
        value = env(marker)
        if value is not None and (not must_be_true or value.lower() == "true"):
            found = read(env)
            return CiMetadata(
                ci=found.ci,
                commit=_commit(found.commit),
                branch=_branch(found.branch),
                build_url=_url(found.build_url),
            )
    return None


class _Env:
    """Variables with surrounding white space removed; empty reads as missing (None)."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def __call__(self, *names: str) -> str | None:
        """The first of `names` that has a value."""
        for name in names:
            value = (self._environ.get(name) or "").strip()
            if value:
                return value
        return None

    def all(self, *names: str) -> list[str] | None:
        """Every one of `names`' values, or None if any is missing."""
        values = [self(name) for name in names]
        return None if any(v is None for v in values) else [v for v in values if v]


def _github(env: _Env) -> CiMetadata:
    # GITHUB_HEAD_REF is set only for pull_request(_target) events; GITHUB_REF_NAME is then
    # "<number>/merge", and for a tag push the tag's name: neither is a branch.
    branch = env("GITHUB_HEAD_REF")
    if branch is None and env("GITHUB_REF_TYPE") == "branch":
        branch = env("GITHUB_REF_NAME")
    if branch is None and env("GITHUB_REF_TYPE") is None:  # runners before GITHUB_REF_TYPE
        ref = env("GITHUB_REF") or ""
        branch = ref if ref.startswith("refs/heads/") else None
    parts = env.all("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")
    build = None
    if parts:
        server, repository, run_id = parts
        build = f"{server.rstrip('/')}/{repository}/actions/runs/{run_id}"
    return CiMetadata("GitHub Actions", env("GITHUB_SHA"), branch, build)


def _gitlab(env: _Env) -> CiMetadata:
    return CiMetadata(
        "GitLab CI",
        env("CI_COMMIT_SHA"),
        env("CI_COMMIT_BRANCH", "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME"),
        env("CI_JOB_URL", "CI_PIPELINE_URL"),
    )


def _circleci(env: _Env) -> CiMetadata:
    return CiMetadata("CircleCI", env("CIRCLE_SHA1"), env("CIRCLE_BRANCH"), env("CIRCLE_BUILD_URL"))


def _buildkite(env: _Env) -> CiMetadata:
    return CiMetadata(
        "Buildkite", env("BUILDKITE_COMMIT"), env("BUILDKITE_BRANCH"), env("BUILDKITE_BUILD_URL")
    )


def _azure(env: _Env) -> CiMetadata:
    # For a pull request BUILD_SOURCEBRANCH is refs/pull/<id>/merge; the source branch is
    # in SYSTEM_PULLREQUEST_SOURCEBRANCH. A tag build's refs/tags/... is no branch.
    ref = env("SYSTEM_PULLREQUEST_SOURCEBRANCH", "BUILD_SOURCEBRANCH")
    branch = None if ref is None or ref.startswith(("refs/pull/", "refs/tags/")) else ref
    parts = env.all("SYSTEM_COLLECTIONURI", "SYSTEM_TEAMPROJECT", "BUILD_BUILDID")
    build = None
    if parts:
        collection, project, build_id = parts
        build = (
            f"{collection.rstrip('/')}/{quote(project)}/_build/results?buildId={quote(build_id)}"
        )
    return CiMetadata("Azure Pipelines", env("BUILD_SOURCEVERSION"), branch, build)


def _bitbucket(env: _Env) -> CiMetadata:
    number = env("BITBUCKET_BUILD_NUMBER")
    repository = env("BITBUCKET_REPO_FULL_NAME")
    origin = env("BITBUCKET_GIT_HTTP_ORIGIN")
    build = None
    if repository:
        build = f"https://bitbucket.org/{repository}/pipelines/results/{number}"
    elif origin:
        build = f"{origin.rstrip('/')}/pipelines/results/{number}"
    return CiMetadata(
        "Bitbucket Pipelines", env("BITBUCKET_COMMIT"), env("BITBUCKET_BRANCH"), build
    )


def _jenkins(env: _Env) -> CiMetadata:
    # CHANGE_BRANCH: a multibranch job's pull request source branch (BRANCH_NAME is then
    # "PR-<n>"). GIT_BRANCH (the Git plugin) names the remote: "origin/main".
    branch = env("CHANGE_BRANCH")
    if branch is None:
        git_branch = env("GIT_BRANCH")
        branch = git_branch.removeprefix("origin/") if git_branch else env("BRANCH_NAME")
    return CiMetadata("Jenkins", env("GIT_COMMIT"), branch, env("BUILD_URL"))


# (marker variable, whether it must be "true" rather than just set, reader), in order.
_DETECTORS: tuple[tuple[str, bool, Callable[[_Env], CiMetadata]], ...] = (
    ("GITHUB_ACTIONS", True, _github),
    ("GITLAB_CI", True, _gitlab),
    ("CIRCLECI", True, _circleci),
    ("BUILDKITE", True, _buildkite),
    ("TF_BUILD", True, _azure),
    ("BITBUCKET_BUILD_NUMBER", False, _bitbucket),
    ("JENKINS_URL", False, _jenkins),
)
MARKERS = tuple(marker for marker, _, _ in _DETECTORS)
"""The variables that tell the CIs apart: without any of them, `detect` finds no CI."""


def _commit(value: str | None) -> str | None:
    return None if value is None or value.upper() == "HEAD" else value


def _branch(value: str | None) -> str | None:
    if value is None:
        return None
    return value.removeprefix("refs/heads/") or None


def _url(value: str | None) -> str | None:
    if value is None or len(value) > MAX_URL_LENGTH:
        return None
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        return None
    return value if parts.scheme in ("http", "https") and host else None
