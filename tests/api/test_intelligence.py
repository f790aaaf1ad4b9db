"""Golden tests of test intelligence over HTTP, on SQLite and PostgreSQL: each rule of the
README's "Test intelligence" on a small designed history (commit and branch, buckets,
base-run choice with the branch fallback, health states and evidence, the
infrastructure guard, history, access)."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from runhub.app import create_app
from runhub.services.health import analyze_pending
from runhub.services.outcomes import HealthRules
from runhub.settings import Settings

from ..helpers import Api, make_test
from .test_error_shape import assert_error_shape

Statuses = dict[str, str | list[str]]


def submit(
    api: Api,
    results: Statuses,
    *,
    commit: str | None = None,
    branch: str | None = None,
    config: str | None = None,
    source: str = "unit",
    complete: bool = True,
    project_id: int | None = None,
) -> int:
    """A run of `results` (name -> status, or statuses in order), with git fields."""
    fields = []
    if commit is not None:
        fields.append({"type": 1, "name": "Commit", "value": commit})
    if branch is not None:
        fields.append({"type": 1, "name": "Branch", "value": branch})
    extra: dict[str, Any] = {"config": config} if config else {}
    run_id = api.create_run(
        name=f"{source} run", source=source, fields=fields, project_id=project_id, **extra
    )
    thread_id = api.create_thread(run_id)
    tests = []
    for name, statuses in results.items():
        for status in [statuses] if isinstance(statuses, str) else statuses:
            tests.append(make_test(name, status))
    if tests:
        assert api.append(thread_id, tests).status_code == 204
    if complete:
        assert api.post(f"/automation/runs/{run_id}/complete").status_code == 204
    return run_id


def changes(api: Api, run_id: int, **params: Any) -> dict[str, Any]:
    response = api.get(f"/automation/runs/{run_id}/changes", **params)
    assert response.status_code == 200, response.text
    return response.json()


def health(api: Api, **params: Any) -> dict[str, dict[str, Any]]:
    response = api.get(f"/projects/{api.project_id}/automation/cases/health", **params)
    assert response.status_code == 200, response.text
    return {item["name"]: item for item in response.json()["result"]}


def case_id(api: Api, name: str) -> int:
    cases = api.get(f"/projects/{api.project_id}/automation/cases", per_page=100).json()
    return next(c["id"] for c in cases["result"] if c["name"] == name)


# --- commit and branch ----------------------------------------------------------------------


def test_commit_and_branch_come_from_run_fields_also_appended_later(api: Api) -> None:
    run_id = api.create_run(
        fields=[
            {"type": 3, "name": "commit", "value": "<i>html does not count</i>"},
            {"type": 1, "name": "Git SHA", "value": "1a2b3c"},
            {"type": 1, "name": "git", "value": "not the first"},
        ]
    )
    thread_id = api.create_thread(run_id)
    assert api.append(thread_id, [make_test("t")]).status_code == 204
    body = {"fields": [{"type": 2, "name": "git_branch", "value": "refs/heads/feature/x"}]}
    assert api.post(f"/automation/runs/{run_id}/append", body).status_code == 204
    history = api.get(f"/automation/cases/{case_id(api, 't')}/history").json()["result"]
    assert (history[0]["commit"], history[0]["branch"]) == ("1a2b3c", "feature/x")
    # Testmo's run object keeps exactly Testmo's properties.
    assert not {"commit", "branch", "vcs_commit"} & set(api.run(run_id)["result"])


# --- changes ---------------------------------------------------------------------------------


def test_buckets_against_the_base_run(api: Api) -> None:
    older = submit(api, {"a": "passed", "b": "failed", "h": "passed"})
    base = submit(
        api,
        {
            "a": "passed", "b": "failed", "c": "passed", "d": "passed", "e": "skipped",
            "g": "passed", "h": "failed", "n": "passed",
        },
    )  # fmt: skip
    run = submit(
        api,
        {
            "a": "failed",  # new failure
            "b": "failed",  # still failing
            "c": "passed",  # unchanged: not listed
            "e": "passed",  # neutral in the base: never listed
            "f": "passed",  # new test
            "g": ["failed", "passed"],  # a retry that passed: passed, unchanged
            "h": ["passed", "failed"],  # failed last, as in the base: still failing
            "n": "skipped",  # neutral now: never listed
            # d is missing
        },
        complete=False,  # changes work on running runs
    )
    body = changes(api, run)
    assert body["base_run_id"] == base
    assert body["counts"] == {
        "new_failure": 1, "still_failing": 2, "fixed": 0, "new_test": 1, "missing": 1,
    }  # fmt: skip
    assert body["total"] == 5
    items = {item["name"]: item for item in body["result"]}
    assert [i["bucket"] for i in body["result"]] == [
        "new_failure", "still_failing", "still_failing", "new_test", "missing",
    ]  # fmt: skip
    assert items["a"]["last_passed_run_id"] == base
    assert items["a"]["status_id"] == 2 and items["a"]["base_status_id"] == 1
    assert items["a"]["test_id"] is not None and items["d"]["test_id"] is None
    assert items["d"]["status_id"] is None and items["f"]["base_status_id"] is None
    assert "last_passed_run_id" not in items["b"]
    assert set(items["a"]) >= {"case_id", "key", "name", "folder", "bucket"}
    # A chosen base, a bucket filter, paging: counts stay over the whole run.
    body = changes(api, run, base_run_id=older, bucket="fixed,new_failure", per_page=15)
    assert body["base_run_id"] == older and body["total"] == 2
    assert [i["name"] for i in body["result"]] == ["a", "h"]  # h passed in older
    assert body["counts"]["new_test"] == 4  # c, e, f, g: absent from older
    assert [i["last_passed_run_id"] for i in body["result"]] == [base, older]


def test_last_passed_run_is_the_latest_whose_outcome_passed(api: Api) -> None:
    first = submit(api, {"t": "passed"})
    submit(api, {"t": ["passed", "failed"]})  # had a pass, but its outcome failed
    submit(api, {"t": "skipped"})
    base = submit(api, {"t": "failed"})
    base_fixed = submit(api, {"t": "passed"})
    run = submit(api, {"t": "failed"})
    (item,) = changes(api, run)["result"]
    assert item["bucket"] == "new_failure" and item["last_passed_run_id"] == base_fixed
    (item,) = changes(api, run, base_run_id=first)["result"]
    assert item["last_passed_run_id"] == base_fixed
    # The base of `base` is the skipped-only run: no outcome there, so nothing is listed.
    assert changes(api, base)["result"] == []


def test_base_run_choice_and_branch_fallback(api: Api) -> None:
    main = submit(api, {"t": "passed"}, branch="main")
    feature = submit(api, {"t": "passed"}, branch="feature-x")
    submit(api, {"t": "passed"}, branch="feature-x", config="Other")  # another config
    submit(api, {"t": "passed"}, branch="feature-x", complete=False)  # still running
    submit(api, {"t": "passed"}, source="other", branch="feature-x")  # another source
    assert changes(api, submit(api, {"t": "failed"}, branch="feature-x"))["base_run_id"] == feature
    # A branch with no earlier run: compared with main (or master).
    assert changes(api, submit(api, {"t": "failed"}, branch="feature-y"))["base_run_id"] == main
    # No branch: the latest such run of any branch.
    latest = submit(api, {"t": "passed"}, branch="feature-z")
    assert changes(api, submit(api, {"t": "passed"}))["base_run_id"] == latest
    # The config must match: the first run of a config has no base.
    first_of_config = submit(api, {"t": "passed"}, config="Linux")
    body = changes(api, first_of_config)
    assert body["base_run_id"] is None and body["total"] == 0 and body["result"] == []
    assert body["counts"] == dict.fromkeys(body["counts"], 0)


def test_master_is_a_fallback_too_and_foreign_bases_are_404(api: Api) -> None:
    master = submit(api, {"t": "passed"}, branch="master")
    topic = submit(api, {"t": "passed"}, branch="topic")
    assert changes(api, topic)["base_run_id"] == master
    foreign = submit(api, {"t": "passed"}, project_id=api.other_project_id)
    run = submit(api, {"t": "passed"})
    response = api.get(f"/automation/runs/{run}/changes", base_run_id=foreign)
    assert_error_shape(response, 404)
    assert_error_shape(api.get(f"/automation/runs/{run}/changes", base_run_id=10**9), 404)
    assert_error_shape(api.get(f"/automation/runs/{run}/changes", who="outsider"), 404)
    assert changes(api, run, who="viewer")["base_run_id"] == topic


# --- health ----------------------------------------------------------------------------------


def _history(api: Api, engine: Engine, rows: list[tuple[Statuses, str | None]]) -> list[int]:
    run_ids = [submit(api, results, commit=commit) for results, commit in rows]
    analyze_pending(engine, HealthRules())
    return run_ids


def test_health_states_and_evidence(api: Api, engine: Engine) -> None:
    flips = "PFPFPF"
    broken = "PPFFFFF"
    runs: list[tuple[Statuses, str | None]] = []
    for i in range(7):
        results: Statuses = {"healthy": "passed"}
        if i < 6:
            results["flips"] = "passed" if flips[i] == "P" else "failed"
        results["broken"] = "passed" if broken[i] == "P" else "failed"
        if i == 3:
            results["retried"] = ["failed", "passed"]
        elif i > 3:
            results["retried"] = "passed"
        if i in (5, 6):  # one commit, two outcomes
            results["commit"] = "passed" if i == 5 else "failed"
        if i == 6:
            results["new"] = "failed"
            results["skipped-only"] = "skipped"
        runs.append((results, "c-same" if i in (5, 6) else f"c{i}"))
    run_ids = _history(api, engine, runs)
    found = health(api)
    assert "skipped-only" not in found  # no outcome, no health
    assert {name: item["state"] for name, item in found.items()} == {
        "flips": "flaky", "retried": "flaky", "commit": "flaky", "broken": "broken",
        "new": "new", "healthy": "healthy",
    }  # fmt: skip
    assert found["flips"]["flip_rate"] == 1.0 and found["flips"]["results_considered"] == 6
    assert found["flips"]["evidence"] == [{"kind": "flips", "run_ids": run_ids[1:6]}]
    assert found["retried"]["evidence"] == [{"kind": "retry", "run_ids": [run_ids[3]]}]
    assert found["commit"]["evidence"] == [
        {"kind": "same_commit", "run_ids": [run_ids[5], run_ids[6]]}
    ]
    assert found["broken"]["failure_rate"] == round(5 / 7, 4)
    assert found["new"]["results_considered"] == 1 and found["new"]["last_status_id"] == 2
    # Flaky and broken first, then by flip rate.
    response = api.get(f"/projects/{api.project_id}/automation/cases/health")
    order = [item["name"] for item in response.json()["result"]]
    assert order[0] == "flips" and order[3] == "broken" and order[-1] in ("new", "healthy")
    assert set(order[:3]) == {"flips", "retried", "commit"}
    assert set(health(api, state="broken,new")) == {"broken", "new"}
    item = found["flips"]
    assert set(item) == {
        "case_id", "key", "name", "folder", "source_id", "state", "flip_rate",
        "failure_rate", "results_considered", "last_status_id", "evidence", "quarantined",
    }  # fmt: skip


def test_a_broken_environment_is_left_out(api: Api, engine: Engine) -> None:
    good = {f"t{i}": "passed" for i in range(20)}
    broken_env = {f"t{i}": "failed" for i in range(17)} | {f"t{i}": "passed" for i in (17, 18, 19)}
    _history(api, engine, [(good, None), (good, None), (broken_env, None), (good, None)])
    found = health(api)
    assert found["t0"]["results_considered"] == 3 and found["t0"]["state"] == "healthy"
    # Exactly 80 % failed is not more than 80 %: it counts.
    edge = {f"t{i}": "failed" for i in range(16)} | {f"t{i}": "passed" for i in range(16, 20)}
    _history(api, engine, [(edge, None)])
    assert health(api)["t0"]["results_considered"] == 4


def test_health_per_branch_and_source(api: Api, engine: Engine) -> None:
    for status, branch in (("passed", "main"), ("failed", "topic"), ("passed", "main")):
        submit(api, {"t": status}, branch=branch)
    submit(api, {"other": "passed"}, source="api")
    analyze_pending(engine, HealthRules())
    assert health(api)["t"]["results_considered"] == 3
    assert health(api, branch="main")["t"]["flip_rate"] == 0.0
    assert health(api, branch="topic")["t"]["state"] == "new"
    sources = {item["name"]: item["source_id"] for item in health(api).values()}
    assert set(health(api, source_id=sources["other"])) == {"other"}
    assert health(api, branch="nobody") == {}


def test_health_is_current_within_seconds_of_completion(
    api: Api, engine: Engine, settings: Settings
) -> None:
    """An app with its background analysis on (as `runhub serve` runs it, every second)
    folds a completed run in within 5 seconds."""
    app = create_app(replace(settings, analysis_interval_s=1.0), engine=engine)
    with TestClient(app) as client:
        live = Api(client, api.tokens, api.project_id, api.other_project_id)
        submit(live, {"fresh": "passed"})
        started = time.monotonic()
        while "fresh" not in health(live):
            assert time.monotonic() - started < 5, "not analysed within 5 s"
            time.sleep(0.1)
    assert health(api)["fresh"]["state"] == "new"


# --- history -----------------------------------------------------------------------------------


def test_history_newest_first_with_filters(api: Api) -> None:
    first = submit(api, {"t": "passed"}, commit="c1", branch="main", config="Linux")
    second = submit(api, {"t": ["failed", "passed"]}, commit="c2", branch="topic")
    body = api.get(f"/automation/cases/{case_id(api, 't')}/history").json()
    assert body["total"] == 3
    assert [(i["run_id"], i["status_id"]) for i in body["result"]] == [
        (second, 1), (second, 2), (first, 1),
    ]  # fmt: skip
    item = body["result"][-1]
    assert set(item) == {
        "test_id", "run_id", "run_name", "thread_id", "status_id", "elapsed", "created_at",
        "commit", "branch", "config_id",
    }  # fmt: skip
    assert (item["commit"], item["branch"], item["elapsed"]) == ("c1", "main", 1000)
    path = f"/automation/cases/{case_id(api, 't')}/history"
    assert api.get(path, branch="topic").json()["total"] == 2
    config_id = item["config_id"]
    assert [i["run_id"] for i in api.get(path, config_id=config_id).json()["result"]] == [first]
    assert api.get(path, who="viewer").status_code == 200
    assert_error_shape(api.get(path, who="outsider"), 404)


@pytest.mark.parametrize("name", ["state", "bucket"])
def test_unknown_names_are_422(api: Api, name: str) -> None:
    run = submit(api, {"t": "passed"})
    path = (
        f"/projects/{api.project_id}/automation/cases/health"
        if name == "state"
        else f"/automation/runs/{run}/changes"
    )
    valid = "flaky" if name == "state" else "fixed"
    body = assert_error_shape(api.get(path, **{name: f"{valid},nope"}), 422)
    assert list(body["errors"]) == [name] and "'nope'" in body["message"]


def test_reanalyze_rebuilds_health_under_new_settings(
    api: Api, engine: Engine, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from runhub.cli import main

    for _ in range(4):
        submit(api, {"t": "passed"})
    submit(api, {"t": "failed"}, complete=False)
    analyze_pending(engine, HealthRules())
    assert health(api)["t"]["results_considered"] == 4
    assert main(["db", "reanalyze", "--database", db_url]) == 0
    assert capsys.readouterr().out.startswith("4 completed runs queued for analysis")
    assert health(api) == {}  # until the runs are folded in again
    analyze_pending(engine, HealthRules(window=2))
    assert health(api)["t"]["results_considered"] == 2
