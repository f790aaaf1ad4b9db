"""Test intelligence in the web UI, on SQLite and PostgreSQL, over a designed history: the
run page's comparison with its base (counts, flaky failures apart from new failures,
badges, previous/next run), its changes list, the compare page, a result's health,
evidence, "broke between" and history chart, the project's tests page, the source
charts' x axis; access and escaping."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine

from runhub.services import run_summary
from runhub.services.health import analyze_pending
from runhub.services.outcomes import HealthRules
from runhub.services.test_lists import percentile
from runhub.web.charts import tick_indices

from ..api.test_intelligence import Statuses, submit
from ..helpers import make_test
from .conftest import Web
from .test_escaping import ESCAPED, EVIL

P, F = "passed", "failed"
# Six runs of one source on main; the last one is the run under test, the fifth its base.
HISTORY: dict[str, list[str | None]] = {
    "flaky_one": [P, F, P, F, P, F],  # flips every run: flaky; failed now, passed in base
    "regressed": [P, P, P, P, P, F],  # a new failure
    "fixed_one": [F, F, F, F, F, P],  # fixed (broken until now)
    "broken_one": [F, F, F, F, F, F],  # still failing, broken
    "stable": [P, P, P, P, P, P],
    "fresh": [None, None, None, None, None, P],  # a new test
    "gone": [P, P, P, P, P, None],  # missing
}


@dataclass
class Designed:
    runs: list[int]  # oldest first

    @property
    def run(self) -> int:
        return self.runs[-1]

    @property
    def base(self) -> int:
        return self.runs[-2]


def _submit_history(web: Web, names: dict[str, str] | None = None) -> Designed:
    names = names or {}
    runs = []
    for i in range(6):
        results: Statuses = {
            names.get(name, name): statuses[i]
            for name, statuses in HISTORY.items()
            if statuses[i] is not None
        }
        runs.append(submit(web.api, results, commit=f"c{i + 1}abcdef", branch="main"))
    return Designed(runs)


@pytest.fixture
def designed(web: Web, engine: Engine) -> Designed:
    found = _submit_history(web)
    analyze_pending(engine, HealthRules())
    return found


def _row_of(page: str, name: str) -> str:
    row = r"(?:(?!</tr>).)*"  # within one row
    match = re.search(rf'<tr class="[^"]*">{row}>{name}</a>{row}</tr>', page, re.S)
    assert match, f"no row for {name}"
    return match.group(0)


def _badges(page: str, name: str) -> list[str]:
    return re.findall(r'<span class="ibadge ibadge-(\w+)"', _row_of(page, name))


def _bucket_counts(page: str) -> dict[str, int]:
    found = re.findall(r'data-bucket-count="(\w+)">([\d,]+)<', page)
    return {name: int(count.replace(",", "")) for name, count in found}


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html)).strip()


# --- the run page ----------------------------------------------------------------------------


def test_run_page_compares_with_its_base_and_badges_the_tests(
    web: Web, designed: Designed
) -> None:
    page = web["viewer"].get(f"/runs/{designed.run}").text
    base = designed.base
    assert (
        f'Compared with <a href="/runs/{base}">run #{base}</a> <span class="muted">(commit '
        "<code>c5abcde</code>, branch main)</span>"
    ) in page
    assert _bucket_counts(page) == {
        "new_failure": 2, "still_failing": 1, "fixed": 1, "new_test": 1, "missing": 1,
    }  # fmt: skip
    triage = re.search(r"<p class=\"triage\" data-triage>.*?</p>", page, re.S)
    assert triage and _text(triage.group(0)).startswith("1 new failure, 1 flaky failure")
    assert "3 failing tests in all" in _text(triage.group(0))
    # Flaky failures are told apart from new failures: their own badge, no "New failure".
    assert _badges(page, "flaky_one") == ["flaky"]
    assert 'class="cat-3 known-flaky"' in _row_of(page, "flaky_one")
    assert _badges(page, "regressed") == ["new_failure"]
    assert _badges(page, "broken_one") == ["broken"]
    assert _badges(page, "fixed_one") == ["fixed"]
    assert _badges(page, "fresh") == ["new_test"]
    assert _badges(page, "stable") == []
    # The run's own commit and branch; the previous run of the source (there is no next).
    assert "<code title=\"c6abcdef\">c6abcdef</code>" in page and "<dd>main</dd>" in page
    assert f'<a href="/runs/{base}" rel="prev">‹ Previous run #{base}</a>' in page
    assert 'rel="next"' not in page.split("</nav>", 2)[1]  # the run navigation
    middle = web["viewer"].get(f"/runs/{designed.runs[2]}").text
    assert f'href="/runs/{designed.runs[3]}" rel="next">Next run #{designed.runs[3]}' in middle


def test_the_stored_summary_and_a_live_count_agree(
    web: Web, designed: Designed, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = f"/runs/{designed.run}"
    stored = web["viewer"].get(path).text
    from runhub.db import insights

    with engine.begin() as conn:
        insights.forget_changes(conn)
    live = web["viewer"].get(path).text
    assert _bucket_counts(live) == _bucket_counts(stored)
    assert "1 new failure" in _text(live) and "1 flaky failure" in _text(live)
    # Too big to count on a page view, and not analysed: the page says so.
    monkeypatch.setattr(run_summary, "LIVE_LIMIT", 5)
    waiting = web["viewer"].get(path).text
    assert _bucket_counts(waiting) == {}
    assert "made when the run has been analysed" in waiting
    assert _badges(waiting, "regressed") == ["new_failure"]  # badges need no summary


def test_a_stored_summary_against_an_older_base_is_not_used(web: Web, engine: Engine) -> None:
    """A run that completes after a later one becomes that one's base: the page counts
    again against it instead of showing the stored counts."""
    submit(web.api, {"a": P, "b": P})
    slow = submit(web.api, {"a": F, "b": P}, complete=False)
    run = submit(web.api, {"a": P, "b": F})
    analyze_pending(engine, HealthRules())
    assert _bucket_counts(web["viewer"].get(f"/runs/{run}").text)["new_failure"] == 1
    assert web.api.post(f"/automation/runs/{slow}/complete").status_code == 204
    page = web["viewer"].get(f"/runs/{run}").text
    assert f'Compared with <a href="/runs/{slow}">' in page
    assert _bucket_counts(page)["new_failure"] == 1 and _bucket_counts(page)["fixed"] == 1


def test_a_running_run_is_compared_live_and_a_first_run_has_no_base(web: Web) -> None:
    first = submit(web.api, {"a": P, "b": P}, branch="main")
    page = web["viewer"].get(f"/runs/{first}").text
    assert "No earlier completed run of this source on main to compare with." in page
    assert _bucket_counts(page) == {} and "data-triage" not in page
    running = submit(web.api, {"a": F, "b": P, "c": P}, branch="main", complete=False)
    page = web["viewer"].get(f"/runs/{running}").text
    assert _bucket_counts(page) == {
        "new_failure": 1, "still_failing": 0, "fixed": 0, "new_test": 1, "missing": 0,
    }  # fmt: skip
    assert _badges(page, "a") == ["new_failure"] and _badges(page, "c") == ["new_test"]


def test_changes_section_lists_a_bucket_paged(web: Web, designed: Designed) -> None:
    client, run = web["viewer"], f"/runs/{designed.run}"
    page = client.get(f"{run}?changes=new_failure").text
    section = page.split('id="changes-h"', 1)[1].split("</section>", 1)[0]
    assert re.findall(r'<a href="/results/\d+">(\w+)</a>', section) == ["flaky_one", "regressed"]
    assert "ibadge-flaky" in section  # the flaky one says so
    assert f'last passed in <a href="/runs/{designed.base}">run #{designed.base}</a>' in section
    assert 'class="count change change-new_failure active"' in page
    missing = client.get(f"{run}?changes=missing").text.split('id="changes-h"', 1)[1]
    assert "gone" in missing.split("</section>", 1)[0]
    both = client.get(f"{run}?changes=fixed,new_test&page=1").text
    assert "2 changes" in both
    assert client.get(f"{run}?changes=nope").status_code == 422
    assert client.get(f"{run}?changes=fixed&changes_page=0").status_code == 422


# --- the compare page ------------------------------------------------------------------------


def test_compare_page_with_any_base_of_the_project(web: Web, designed: Designed) -> None:
    client, first = web["viewer"], designed.runs[0]
    page = client.get(f"/runs/{designed.run}/compare").text
    assert _bucket_counts(page)["new_failure"] == 2  # the default base
    assert "chosen by runhub" in page
    page = client.get(f"/runs/{designed.run}/compare?base={first}").text
    # Against the first run: flaky_one P->F and regressed P->F are new failures, fixed_one
    # F->P, broken_one still failing, fresh new, gone missing.
    assert _bucket_counts(page) == {
        "new_failure": 2, "still_failing": 1, "fixed": 1, "new_test": 1, "missing": 1,
    }  # fmt: skip
    assert f'<option value="{first}" selected>' in page  # the recent runs to choose from
    assert page.count("<option value=") >= 5
    fixed = client.get(f"/runs/{designed.run}/compare?base={first}&bucket=fixed").text
    section = fixed.split('id="changes-h"', 1)[1]
    assert re.findall(r'<a href="/results/\d+">(\w+)</a>', section) == ["fixed_one"]
    assert f"?base={first}&amp;bucket=missing" in fixed  # filter links keep the base
    foreign = submit(web.api, {"x": P}, project_id=web.api.other_project_id)
    response = client.get(f"/runs/{designed.run}/compare?base={foreign}")
    assert response.status_code == 404
    assert "The base run does not exist in this run" in response.text
    assert 'name="base"' in response.text  # the form stays
    assert client.get(f"/runs/{designed.run}/compare?base=x").status_code == 422
    assert client.get(f"/runs/{designed.run}/compare?bucket=x").status_code == 422
    assert web["outsider"].get(f"/runs/{designed.run}/compare").status_code == 404


# --- the test result page --------------------------------------------------------------------


def _result_id(web: Web, run_id: int, name: str) -> int:
    tests = web.api.get(f"/automation/runs/{run_id}/tests").json()["result"]
    return next(t["id"] for t in tests if t["name"] == name)


def test_result_page_health_evidence_chart_and_broke_between(
    web: Web, designed: Designed
) -> None:
    client, run, base = web["viewer"], designed.run, designed.base
    page = client.get(f"/results/{_result_id(web, run, 'regressed')}").text
    broke = re.search(r'<p class="broke" data-broke>.*?</p>', page, re.S)
    assert broke, "no broke-between line"
    assert _text(broke.group(0)) == (
        f"Broke between run #{base} (commit c5abcde, branch main), where it last passed, "
        f"and this run, run #{run} (commit c6abcde, branch main)."
    )
    assert re.search(r'ibadge-healthy"[^>]*>Healthy<', page)  # one failure after passes
    flaky = client.get(f"/results/{_result_id(web, run, 'flaky_one')}").text
    assert re.search(r"<h1>flaky_one .*ibadge-flaky[^<]*>Flaky</span></h1>", flaky)
    evidence = re.search(r'<li data-evidence="flips">.*?</li>', flaky, re.S)
    assert evidence, "no flips evidence"
    assert "Its outcome keeps changing: flip rate 1.00 over its last 6 runs" in _text(
        evidence.group(0)
    )
    assert re.findall(r'href="/runs/(\d+)">#', evidence.group(0)) == [
        str(r) for r in designed.runs[1:]
    ]
    assert "data-broke" in flaky  # a new failure too, though flaky
    # The chart: six bars, oldest first, the current one outlined, run and commit on hover.
    bars = re.findall(r'<a href="/results/(\d+)"><rect( class="current")?', flaky)
    assert len(bars) == 6 and bars[-1][1] == ' class="current"'
    assert f"<title>Run #{run} unit run: Failed, 1 ms · commit c6abcdef · " in flaky
    assert f'text-anchor="middle">#{designed.runs[0]}</text>' in flaky  # the x axis
    broken = client.get(f"/results/{_result_id(web, run, 'broken_one')}").text
    assert "It failed in each of its last runs." in broken and "data-broke" not in broken
    stable = client.get(f"/results/{_result_id(web, run, 'stable')}").text
    assert "No sign of flakiness in its last 6 runs" in stable
    retried = submit(web.api, {"retried": [F, P]})
    page = client.get(f"/results/{_result_id(web, retried, 'retried')}").text
    assert "Not analysed yet" in page
    assert web["outsider"].get(f"/results/{_result_id(web, run, 'regressed')}").status_code == 404


def test_retry_and_same_commit_evidence_in_words(web: Web, engine: Engine) -> None:
    first = submit(web.api, {"t": [F, P], "u": P}, commit="same1234567")
    second = submit(web.api, {"t": P, "u": F}, commit="same1234567")
    analyze_pending(engine, HealthRules())
    page = web["viewer"].get(f"/results/{_result_id(web, second, 't')}").text
    retry = re.search(r'<li data-evidence="retry">.*?</li>', page, re.S)
    assert retry and _text(retry.group(0)) == (
        f"Failed and passed in the same run (a retry passed) in 1 run: #{first}"
    )
    page = web["viewer"].get(f"/results/{_result_id(web, second, 'u')}").text
    same = re.search(r'<li data-evidence="same_commit">.*?</li>', page, re.S)
    assert same and _text(same.group(0)) == (
        f"Passed and failed on the same commit same1234567, in 2 runs: #{first}, #{second}"
    )


# --- the project's tests page ----------------------------------------------------------------


def _listed(page: str) -> list[str]:
    table = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in page else ""
    return re.findall(r'<a href="/results/\d+">(\w+)</a>', table)


def test_tests_page_tabs_and_filters(web: Web, designed: Designed, engine: Engine) -> None:
    client, path = web["viewer"], f"/projects/{web.api.project_id}/tests"
    assert _listed(client.get(path).text) == ["flaky_one"]  # flaky is the first tab
    assert _listed(client.get(f"{path}?tab=broken").text) == ["broken_one"]
    failing = client.get(f"{path}?tab=failing").text
    # broken_one 6/6, fixed_one 5/6, flaky_one 3/6, regressed 1/6
    assert _listed(failing) == ["broken_one", "fixed_one", "flaky_one", "regressed"]
    assert "ibadge-broken" in failing and "100%" in failing
    tabs = re.findall(r'<a href="([^"]+)"(?: aria-current="page")?>([^<]+) <span', failing)
    assert [label for _, label in tabs] == ["Flaky", "Broken"]
    assert 'aria-current="page">Most failing' in failing
    # Slowest: by median duration over the last results.
    api = web.api
    run_id = api.create_run(name="timed", source="unit")
    thread_id = api.create_thread(run_id)
    timed = [make_test("slow", elapsed=9_000_000), make_test("quick", elapsed=10)]
    assert api.append(thread_id, timed).status_code == 204
    slowest = client.get(f"{path}?tab=slowest").text
    assert _listed(slowest)[:1] == ["slow"] and _listed(slowest)[-1] == "quick"
    assert "<td class=\"num\">9.0 s</td><td class=\"num\">9.0 s</td>" in slowest
    # A source filter; a branch filter (health per branch: only main has results).
    other = submit(api, {"elsewhere": F}, source="other")
    analyze_pending(engine, HealthRules())
    source_id = api.run(other)["result"]["source_id"]
    assert _listed(client.get(f"{path}?tab=failing&source_id={source_id}").text) == ["elsewhere"]
    assert _listed(client.get(f"{path}?tab=failing&branch=main").text)[0] == "broken_one"
    assert _listed(client.get(f"{path}?tab=failing&branch=nobody").text) == []
    assert '<option value="main">' in failing  # the branches to choose from
    assert client.get(f"{path}?tab=nope").status_code == 422
    assert client.get(f"{path}?per_page=7").status_code == 422
    assert web["outsider"].get(path).status_code == 404
    runs_page = client.get(f"/projects/{api.project_id}").text
    assert f'<a href="/projects/{api.project_id}/tests">Tests</a>' in runs_page


def test_percentiles_and_ticks() -> None:
    assert percentile([], 0.5) is None
    assert percentile([4, 1, 3, 2], 0.5) == 2 and percentile([4, 1, 3, 2], 0.95) == 4
    assert percentile(list(range(1, 101)), 0.95) == 95
    assert tick_indices(3) == [0, 1, 2]
    assert tick_indices(100) == [0, 20, 40, 59, 79, 99]


def test_source_charts_label_their_x_axis(web: Web) -> None:
    runs = [submit(web.api, {"t": P}) for _ in range(3)]
    source_id = web.api.run(runs[0])["result"]["source_id"]
    page = web["viewer"].get(f"/sources/{source_id}").text
    for run_id in runs:
        assert len(re.findall(rf'text-anchor="\w+">#{run_id}</text>', page)) == 2  # both
    assert page.count(">Run id, oldest to newest</text>") == 2


# --- escaping --------------------------------------------------------------------------------


def test_names_are_escaped_on_the_intelligence_pages(web: Web, engine: Engine) -> None:
    evil = {name: f"{name} {EVIL}" for name in HISTORY}
    designed = _submit_history(web, evil)
    analyze_pending(engine, HealthRules())
    api = web.api
    tests = api.get(f"/automation/runs/{designed.run}/tests").json()["result"]
    result_ids = [t["id"] for t in tests]
    project = api.project_id
    paths = [
        f"/runs/{designed.run}",
        f"/runs/{designed.run}?changes=new_failure,still_failing,fixed,new_test,missing",
        f"/runs/{designed.run}/compare?base={designed.runs[0]}",
        *[f"/projects/{project}/tests?tab={tab}" for tab in ("flaky", "broken", "failing")],
        f"/projects/{project}/tests?tab=slowest",
        *[f"/results/{i}" for i in result_ids],
    ]
    for path in paths:
        page = web["admin"].get(path)
        assert page.status_code == 200, path
        assert "<script>alert" not in page.text, path
        assert ESCAPED in page.text, path
        assert re.findall(r"<script[^>]*>", page.text) == [
            '<script src="/static/runhub.js" defer>'
        ], path


def test_axis_durations_are_short() -> None:
    from runhub.web.charts import axis_duration

    assert [axis_duration(v) for v in (550, 1100, 3_400_000, 150e6, 4320e6)] == [
        "550 µs", "1 ms", "3.4 s", "2.5 min", "1.2 h",
    ]  # fmt: skip
