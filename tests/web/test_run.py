"""The run page (failures first, filters, paging across statuses, polling) and the test
result page (fields, artifacts, file:line, history)."""

from __future__ import annotations

import re

from ..helpers import make_test
from .conftest import Sample, Web


def _names(html: str) -> list[str]:
    return re.findall(r'<a href="/results/\d+">([^<]+)</a>', html)


def _bars(html: str) -> list[tuple[str, str]]:
    """(result id, ' class="current"' or '') of each bar of a history chart."""
    return re.findall(r'<a href="/results/(\d+)"><rect( class="current")?', html)


def test_run_page_shows_header_counts_fields_and_failures_first(web: Web, sample: Sample) -> None:
    page = web["viewer"].get(f"/runs/{sample.run_id}").text
    assert "Nightly" in page and "backend" in page and "Linux" in page and "nightly" in page
    assert 'data-status-count="1">3<' in page and 'data-status-count="2">1<' in page
    assert '<pre class="console">make test\nok</pre>' in page
    assert 'href="https://ci.example.com/42"' in page
    names = _names(page)
    assert names[:2] == ["test_broken", "test_error"]  # failed statuses first
    assert names[-1].startswith("test_ok_") and set(names) >= {"test_skip"}
    assert "data-poll" not in page  # completed runs do not poll
    assert "pkg.Other" in page and "pkg.Suite" in page  # folder group rows


def test_run_page_filters(web: Web, sample: Sample) -> None:
    client, run = web["member"], f"/runs/{sample.run_id}"
    assert _names(client.get(f"{run}?status=2,4,6").text) == ["test_broken", "test_error"]
    assert _names(client.get(f"{run}?status=5").text) == ["test_skip"]
    assert _names(client.get(f"{run}?folder=pkg.Oth").text) == ["test_broken", "test_error"]
    assert _names(client.get(f"{run}?q=BROK").text) == ["test_broken"]
    assert _names(client.get(f"{run}?q=ok_1&status=1").text) == ["test_ok_1"]
    assert len(_names(client.get(f"{run}?thread={sample.thread_id}").text)) == 6
    assert "No tests match" in client.get(f"{run}?q=%25").text  # LIKE wildcards are literal


def test_paging_walks_every_test_once_across_statuses(web: Web) -> None:
    api = web.api
    run_id = api.create_run(name="Big")
    threads = [api.create_thread(run_id), api.create_thread(run_id)]
    statuses = ["passed", "failed", "skipped", "passed", "error"]
    tests = [make_test(f"t{i:03d}", statuses[i % 5]) for i in range(230)]
    assert api.append(threads[0], tests[:120]).status_code == 204
    assert api.append(threads[1], tests[120:]).status_code == 204
    seen: list[str] = []
    for page in (1, 2, 3):
        html = web["admin"].get(f"/runs/{run_id}?page={page}").text
        seen += _names(html)
    assert sorted(seen) == sorted(t["name"] for t in tests)
    # Failed (status 2) then error (6) first, passed (1) last.
    assert all(n in {t["name"] for t in tests if t["status"] == "failed"} for n in seen[:46])
    assert all(n in {t["name"] for t in tests if t["status"] == "passed"} for n in seen[-92:])
    assert "page 3 of 3" in web["admin"].get(f"/runs/{run_id}?page=3").text
    one_thread = web["admin"].get(f"/runs/{run_id}?thread={threads[1]}&page=2").text
    assert len(_names(one_thread)) == 10
    assert "No tests match" in web["admin"].get(f"/runs/{run_id}?page=9").text


def test_a_pages_tests_are_grouped_by_folder_within_each_status(web: Web) -> None:
    api = web.api
    run_id = api.create_run(name="Interleaved")
    thread_id = api.create_thread(run_id)
    folders = ["b.Second", "a.First", "c.Third"]
    tests = [
        make_test(f"t{i:02d}", "failed" if i % 4 == 0 else "passed", folders[i % 3])
        for i in range(24)
    ]
    assert api.append(thread_id, tests).status_code == 204
    html = web["admin"].get(f"/runs/{run_id}").text
    headings = re.findall(r'<tr class="folder"><th[^>]*><a [^>]*>([^<]+)</a>', html)
    # failed: one group per folder, then passed: one group per folder, each sorted
    assert headings == sorted(folders) * 2
    names = _names(html)
    failed = [t["name"] for t in tests if t["status"] == "failed"]
    assert sorted(names[: len(failed)]) == sorted(failed)
    by_folder = {f: [t["name"] for t in tests if t["folder"] == f] for f in folders}
    for folder, group in by_folder.items():  # arrival order kept inside a folder
        shown = [n for n in names if n in group]
        failed_first = [n for n in group if n in failed] + [n for n in group if n not in failed]
        assert shown == failed_first, folder


def test_running_run_polls_its_counts(web: Web) -> None:
    api = web.api
    run_id = api.create_run(name="Live")
    thread_id = api.create_thread(run_id)
    page = web["viewer"].get(f"/runs/{run_id}").text
    assert f'data-poll="/runs/{run_id}/counts.json"' in page
    assert api.append(thread_id, [make_test("a"), make_test("b", "failed")]).status_code == 204
    counts = web["viewer"].get(f"/runs/{run_id}/counts.json").json()
    assert counts == {
        "status": 4,
        "is_completed": False,
        "elapsed": None,
        "total_count": 2,
        "thread_count": 1,
        "thread_active_count": 1,
        "counts": {"1": 1, "2": 1},
    }


def test_result_page_shows_failure_artifacts_file_line_and_history(
    web: Web, sample: Sample
) -> None:
    page = web["viewer"].get(f"/results/{sample.failed_test_id}").text
    assert '<pre class="console highlight">AssertionError: 1 != 2</pre>' in page
    assert '<img class="artifact-image" src="https://ci.example.com/shot.png"' in page
    assert "tests/test_other.py:12" in page
    assert len(_bars(page)) == 1


def test_history_links_results_of_the_same_case_across_runs(web: Web, sample: Sample) -> None:
    api = web.api
    for i, status in enumerate(("passed", "failed", "passed")):
        run_id = api.create_run(name=f"Run {i}")
        thread_id = api.create_thread(run_id)
        test = make_test("test_broken", status, folder="pkg.Other", elapsed=2_000_000 + i)
        assert api.append(thread_id, [test]).status_code == 204
    other_source = api.create_run(name="Elsewhere", source="frontend")
    thread_id = api.create_thread(other_source)
    assert api.append(thread_id, [make_test("test_broken", folder="pkg.Other")]).status_code == 204
    page = web["viewer"].get(f"/results/{sample.failed_test_id}").text
    bars = _bars(page)
    assert len(bars) == 4  # the same source and key only
    assert bars[0] == (str(sample.failed_test_id), ' class="current"')  # oldest first
    assert f"Run #{sample.run_id} Nightly: Failed, 1 ms" in page  # on hover
    assert "Run #" in page and ": Passed, 2.0 s" in page


def test_numeric_character_references_are_shown_decoded_and_stored_as_sent(web: Web) -> None:
    """The official CLI keeps `&#10;` and the like as text (attribute newlines become
    `&#10;`): the API answers exactly that, the pages show the characters (then escaped).
    Named references and references to characters XML cannot hold stay as they are."""
    api = web.api
    message = "expected 200&#10;got 500&#x9;(&#60;b&#62; &amp; &#0; &#xD800; &#1;)"
    meta = {"message": message, "type": "Assertion&#10;Error"}
    failure = {"type": 4, "name": "Failure&#32;text", "value": f"Error: {message}",
               "meta": meta, "is_highlight": True}  # fmt: skip
    test = make_test(
        "test_greek_&#945;&#x3b2;",
        "failed",
        folder="pkg.&#945;",
        fields=[failure, {"type": 1, "name": "Note", "value": "a&#10;b"}],
        file="tests/&#945;.py",
    )
    run_id = api.create_run(name="Refs")
    thread_id = api.create_thread(run_id)
    assert api.append(thread_id, [test]).status_code == 204
    (stored,) = api.get(f"/automation/runs/{run_id}/tests").json()["result"]
    assert stored["name"] == "test_greek_&#945;&#x3b2;" and stored["folder"] == "pkg.&#945;"
    assert stored["fields"][0]["value"] == f"Error: {message}"  # the API keeps what was sent
    assert stored["fields"][0]["meta"]["message"] == message

    shown = "expected 200\ngot 500\t(&lt;b&gt; &amp;amp; &amp;#0; &amp;#xD800; &amp;#1;)"
    run_page = web["viewer"].get(f"/runs/{run_id}").text
    assert f'<a href="/results/{stored["id"]}">test_greek_αβ</a>' in run_page
    assert ">pkg.α</a>" in run_page and "folder=pkg.%26%23945%3B" in run_page
    assert "tests/α.py" in run_page
    page = web["viewer"].get(f"/results/{stored['id']}").text
    assert "<title>test_greek_αβ · runhub</title>" in page
    assert "<h1>test_greek_αβ " in page and "<dd>pkg.α</dd>" in page
    assert f'<pre class="console highlight">Error: {shown}</pre>' in page
    assert f"message: {shown}" in page and "type: Assertion\nError" in page
    assert '<span class="field-name">Failure text</span>' in page
    assert "<span>a\nb</span>" in page
    assert "&#945;" not in page and "&amp;#945;" not in page
