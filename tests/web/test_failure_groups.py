"""Failure groups (causes) in the web UI, on SQLite and PostgreSQL: the run page's
"Failures by cause" and its filter to one cause, a cause's page (sample, signature, chart,
affected tests, runs), the project page's top causes; New vs seen before, a run that is
not grouped yet, bad parameters, access and escaping."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from sqlalchemy import Engine

from runhub.services.health import analyze_pending
from runhub.services.outcomes import HealthRules

from ..helpers import Api, make_test
from .conftest import Web
from .test_escaping import ESCAPED, EVIL

USER_ID = "KeyError: 'user_id' (in views.py:get_user)"
REFUSED = "ConnectionRefusedError: [Errno <n>] Connection refused to <ip> (in db.py:connect)"


def key_error(key: str, test: str, line: int) -> str:
    """A Python traceback of a KeyError raised in app/views.py under `test`."""
    return (
        "Traceback (most recent call last):\n"
        f'  File "/ci/tests/test_users.py", line {line}, in {test}\n'
        f'    resp = client.get("/users/{line}")\n'
        '  File "/ci/app/views.py", line 88, in get_user\n'
        f'    uid = request.args["{key}"]\n'
        f"KeyError: '{key}'\n"
    )


def refused(test: str, port: int) -> str:
    return (
        "Traceback (most recent call last):\n"
        f'  File "/ci/tests/test_db.py", line 7, in {test}\n'
        "    db.connect()\n"
        '  File "/ci/app/db.py", line 30, in connect\n'
        "    raise ConnectionRefusedError(111)\n"
        f"ConnectionRefusedError: [Errno 111] Connection refused to 10.0.0.5:{port}\n"
    )


def failed(name: str, text: str, message: str, folder: str = "tests.users") -> dict[str, Any]:
    field = {
        "type": 4,
        "name": "Failure",
        "value": text,
        "meta": {"message": message},
        "is_highlight": True,
    }
    return make_test(name, "failed", folder=folder, fields=[field])


def user_id_failure(name: str, line: int) -> dict[str, Any]:
    return failed(name, key_error("user_id", name, line), "KeyError: 'user_id'")


def refused_failure(name: str, port: int = 5432) -> dict[str, Any]:
    message = f"ConnectionRefusedError: [Errno 111] Connection refused to 10.0.0.5:{port}"
    return failed(name, refused(name, port), message, folder="tests.db")


def submit(
    api: Api, tests: list[dict[str, Any]], *, complete: bool = True, name: str = "CI"
) -> int:
    run_id = api.create_run(name=name, source="unit")
    thread_id = api.create_thread(run_id)
    assert api.append(thread_id, tests).status_code == 204
    if complete:
        assert api.post(f"/automation/runs/{run_id}/complete").status_code == 204
    return run_id


def first_run(api: Api, engine: Engine) -> int:
    """Three tests hit the KeyError 'user_id' in app/views.py, one a refused connection."""
    run_id = submit(
        api,
        [
            user_id_failure("test_profile", 12),
            refused_failure("test_connect"),
            user_id_failure("test_settings", 20),
            user_id_failure("test_avatar", 31),
            make_test("test_ok", "passed", folder="tests.users"),
        ],
        name="CI #1",
    )
    analyze_pending(engine, HealthRules())
    return run_id


def second_run(api: Api, engine: Engine) -> int:
    """The same KeyError again in two tests, and a cause of its own."""
    run_id = submit(
        api,
        [
            user_id_failure("test_profile", 13),
            user_id_failure("test_settings", 21),
            failed("test_orders", key_error("order_id", "test_orders", 5), "KeyError: 'order_id'"),
        ],
        name="CI #2",
    )
    analyze_pending(engine, HealthRules())
    return run_id


def groups_of(api: Api, run_id: int) -> list[dict[str, Any]]:
    response = api.get(f"/automation/runs/{run_id}/failure-groups")
    assert response.status_code == 200, response.text
    return response.json()["result"]


def group_id(api: Api, run_id: int, title: str) -> int:
    return next(g["id"] for g in groups_of(api, run_id) if g["title"] == title)


def section(page: str, marker: str) -> str:
    assert marker in page, f"no {marker} on the page"
    return page.split(marker, 1)[1].split("</section>", 1)[0]


def causes(page: str) -> list[dict[str, Any]]:
    """The causes listed in the page's causes section, in order."""
    found = []
    for item in re.findall(r'<li class="cause[^"]*" data-group="\d+">.*?</li>', page, re.S):
        title = re.search(r'class="cause-title"[^>]*>([^<]*)</a>', item)
        count = re.search(r'data-cause-count="(\d+)">([\d,]+)<', item)
        assert title and count
        found.append(
            {
                "id": int(count.group(1)),
                "title": html.unescape(title.group(1)),
                "count": int(count.group(2).replace(",", "")),
                "new": "ibadge-new" in item,
                "active": 'aria-current="true"' in item,
                "html": item,
            }
        )
    return found


def names(page: str) -> list[str]:
    """The test names of the run page's test list, or of the group page's tests."""
    return re.findall(r'<a href="/results/\d+"[^>]*>([^<]+)</a>', page)


def listed_part(page: str) -> str:
    return section(page, 'id="tests-h"')


# --- the run page ----------------------------------------------------------------------------


def test_run_page_lists_the_causes_largest_first(web: Web, engine: Engine) -> None:
    run_id = first_run(web.api, engine)
    page = web["viewer"].get(f"/runs/{run_id}").text
    found = causes(section(page, "data-causes>"))
    assert [(c["title"], c["count"], c["new"]) for c in found] == [
        (USER_ID, 3, True),
        (REFUSED, 1, True),
    ]
    assert "2 causes" in section(page, "data-causes>")
    first = found[0]
    assert f'href="?group={first["id"]}#tests-h"' in first["html"]
    assert f'href="/failure-groups/{first["id"]}"' in first["html"]
    assert f'first seen in <a href="/runs/{run_id}">run #{run_id}</a>' in first["html"]
    assert not any(c["active"] for c in found)
    assert "data-cause-filter" not in page and "more cause" not in page
    # The causes come before the test list, which is unchanged.
    assert page.index("data-causes>") < page.index('id="tests-h"')
    assert sorted(names(listed_part(page))[:4]) == [
        "test_avatar", "test_connect", "test_profile", "test_settings",
    ]  # fmt: skip


def test_a_cause_filters_the_test_list_to_its_failures(web: Web, engine: Engine) -> None:
    api, client = web.api, web["viewer"]
    run_id = first_run(api, engine)
    user_id, other = group_id(api, run_id, USER_ID), group_id(api, run_id, REFUSED)
    page = client.get(f"/runs/{run_id}?group={user_id}").text
    assert sorted(names(listed_part(page))) == ["test_avatar", "test_profile", "test_settings"]
    assert [c["active"] for c in causes(section(page, "data-causes>"))] == [True, False]
    line = re.search(r"<p class=\"cause-filter\" data-cause-filter>.*?</p>", page, re.S)
    assert line
    text = html.unescape(re.sub(r"<[^>]+>", "", line.group(0)))
    assert text.startswith(f"Cause: {USER_ID} (3 failures here;")
    assert "filters do not apply" in text
    assert 'href="?#tests-h">Clear cause</a>' in line.group(0)
    assert "3 tests" in page  # the pager's count
    # The other cause; a cause with the other filters (which do not apply then).
    assert names(listed_part(client.get(f"/runs/{run_id}?group={other}").text)) == ["test_connect"]
    mixed = client.get(f"/runs/{run_id}?group={other}&status=1&q=profile").text
    assert names(listed_part(mixed)) == ["test_connect"]
    # Choosing a cause drops the other test filters; choosing a status drops the cause.
    filtered = client.get(f"/runs/{run_id}?status=2&changes=new_failure").text
    assert f'href="?changes=new_failure&amp;group={user_id}#tests-h"' in filtered
    grouped = client.get(f"/runs/{run_id}?group={other}&changes=new_failure").text
    assert 'href="?changes=new_failure&amp;status=1"' in grouped
    assert 'href="?changes=new_failure#tests-h">Clear cause</a>' in grouped


def test_a_cause_of_another_run_lists_nothing(web: Web, engine: Engine) -> None:
    api = web.api
    first = first_run(api, engine)
    second = second_run(api, engine)
    order_id = group_id(api, second, "KeyError: 'order_id' (in views.py:get_user)")
    page = web["viewer"].get(f"/runs/{first}?group={order_id}").text
    assert names(listed_part(page)) == [] and "No tests match" in page
    assert "no failure of this run has this cause" in page
    assert "order_id" not in page  # nor its title


@pytest.mark.parametrize("value", ["abc", "0", "-1", "1.5", "9" * 30])
def test_a_bad_group_is_a_422_page(web: Web, engine: Engine, value: str) -> None:
    run_id = first_run(web.api, engine)
    response = web["viewer"].get(f"/runs/{run_id}", params={"group": value})
    assert response.status_code == 422
    assert "text/html" in response.headers["content-type"]
    assert "The group parameter must be a positive integer." in response.text


def test_a_cause_seen_before_is_not_new(web: Web, engine: Engine) -> None:
    api = web.api
    first = first_run(api, engine)
    second = second_run(api, engine)
    page = web["viewer"].get(f"/runs/{second}").text
    found = causes(section(page, "data-causes>"))
    assert [(c["title"], c["count"], c["new"]) for c in found] == [
        (USER_ID, 2, False),
        ("KeyError: 'order_id' (in views.py:get_user)", 1, True),
    ]
    assert f'first seen in <a href="/runs/{first}">run #{first}</a>' in found[0]["html"]


def test_a_run_not_grouped_yet_shows_no_causes(web: Web, engine: Engine) -> None:
    api, client = web.api, web["viewer"]
    running = submit(api, [user_id_failure("test_profile", 12)], complete=False)
    page = client.get(f"/runs/{running}").text
    assert "data-causes>" not in page
    assert "Failures are grouped by cause when the run completes." in page
    passing = submit(api, [make_test("test_ok")], complete=False)
    assert "data-causes" not in client.get(f"/runs/{passing}").text  # no failures, no note
    assert api.post(f"/automation/runs/{running}/complete").status_code == 204
    page = client.get(f"/runs/{running}").text  # completed, not analysed yet
    assert "data-causes" not in page and "Failures by cause" not in page
    analyze_pending(engine, HealthRules())
    assert "Failures by cause" in client.get(f"/runs/{running}").text


def test_beyond_twenty_causes_the_page_says_how_many_more(web: Web, engine: Engine) -> None:
    tests = [
        failed(
            f"test_{i:02d}", key_error(f"k{i:02d}", f"test_{i:02d}", 10), f"KeyError: 'k{i:02d}'"
        )
        for i in range(23)
    ]
    run_id = submit(web.api, tests)
    analyze_pending(engine, HealthRules())
    page = web["viewer"].get(f"/runs/{run_id}").text
    assert len(causes(section(page, "data-causes>"))) == 20
    assert (
        "23 causes" in page and '<p class="muted small" data-more-causes>3 more causes</p>' in page
    )


# --- the group page --------------------------------------------------------------------------


def test_group_page_shows_sample_chart_tests_and_runs(web: Web, engine: Engine) -> None:
    api = web.api
    first = first_run(api, engine)
    user_id = group_id(api, first, USER_ID)
    page = web["viewer"].get(f"/failure-groups/{user_id}").text
    heading = re.search(r"<h1 [^>]*>(.*?)</h1>", page, re.S)
    assert heading and html.unescape(re.sub(r"<[^>]+>", "", heading.group(1))).strip() == (
        f"{USER_ID} New"
    )
    assert (
        '<pre class="text sample-message" data-sample-message>KeyError: &#39;user_id&#39;</pre>'
        in page
    )
    sample = re.search(
        r"<pre class=\"console sample-text\" data-sample-text>(.*?)</pre>", page, re.S
    )
    assert sample and html.unescape(sample.group(1)) == key_error("user_id", "test_profile", 12)
    assert (
        '<pre class="signature" data-signature>KeyError|&#39;user_id&#39;|views.py:get_user</pre>'
        in page
    )
    assert "data-run-count>1<" in page and "data-result-count>3<" in page
    chart = section(page, 'id="occurrences-h"')
    assert chart.count("<rect") == 1 and f'<a href="/runs/{first}"><rect' in chart
    assert f"<title>Run #{first} CI #1: 3 failures · " in chart
    affected = section(page, 'id="affected-h"')
    assert sorted(names(affected)) == ["test_avatar", "test_profile", "test_settings"]
    assert "3 tests" in affected
    tests = api.get(f"/automation/runs/{first}/tests").json()["result"]
    profile = next(t["id"] for t in tests if t["name"] == "test_profile")
    assert (
        f'<a href="/results/{profile}" title="Its last failure with this cause">test_profile</a>'
        in affected
    )
    runs = section(page, 'id="runs-h"')
    assert re.findall(r'<a href="/runs/(\d+)">', runs) == [str(first)]


def test_group_page_after_a_second_run(web: Web, engine: Engine) -> None:
    api = web.api
    first = first_run(api, engine)
    second = second_run(api, engine)
    user_id = group_id(api, second, USER_ID)
    page = web["viewer"].get(f"/failure-groups/{user_id}").text
    assert "ibadge-new" not in page.split("</h1>", 1)[0]
    assert "data-run-count>2<" in page and "data-result-count>5<" in page
    assert f'Last seen</dt><dd><a href="/runs/{second}">run #{second}</a>' in page
    chart = section(page, 'id="occurrences-h"')
    assert re.findall(r'<a href="/runs/(\d+)"><rect', chart) == [str(first), str(second)]
    runs = section(page, 'id="runs-h"')
    assert re.findall(r'<a href="/runs/(\d+)">', runs) == [str(second), str(first)]  # latest first
    assert f'href="/runs/{second}?group={user_id}#tests-h"' in runs
    affected = section(page, 'id="affected-h"')
    rows = re.findall(r">(test_\w+)</a>.*?<td class=\"num\">(\d+)</td>", affected, re.S)
    # Most failures first (ties by case id).
    assert sorted(rows[:2]) == [("test_profile", "2"), ("test_settings", "2")]
    assert rows[2:] == [("test_avatar", "1")]
    # The case's last failure: the result of the second run.
    tests = api.get(f"/automation/runs/{second}/tests").json()["result"]
    profile = next(t["id"] for t in tests if t["name"] == "test_profile")
    assert f'<a href="/results/{profile}" ' in affected


def test_group_page_access(web: Web, engine: Engine) -> None:
    first = first_run(web.api, engine)
    user_id = group_id(web.api, first, USER_ID)
    for role in ("admin", "member", "viewer"):
        assert web[role].get(f"/failure-groups/{user_id}").status_code == 200
    page = web["outsider"].get(f"/failure-groups/{user_id}")
    assert page.status_code == 404 and "text/html" in page.headers["content-type"]
    assert "user_id" not in page.text
    assert web["viewer"].get("/failure-groups/999999").status_code == 404
    assert web["viewer"].get("/failure-groups/abc").status_code == 404
    anonymous = web.new_client().get(f"/failure-groups/{user_id}", follow_redirects=False)
    assert anonymous.status_code == 303 and "/signin?next=" in anonymous.headers["location"]


# --- the project page ------------------------------------------------------------------------


def test_project_page_shows_the_top_causes(web: Web, engine: Engine) -> None:
    api = web.api
    page = web["viewer"].get(f"/projects/{api.project_id}").text
    assert "data-top-causes" not in page  # none yet
    first_run(api, engine)
    second = second_run(api, engine)
    page = web["viewer"].get(f"/projects/{api.project_id}").text
    box = section(page, "data-top-causes>")
    assert "Top causes, last 14 days" in box
    found = causes(box)
    assert [(c["title"], c["count"], c["new"]) for c in found] == [
        (USER_ID, 5, True),  # first seen within the 14 days
        (REFUSED, 1, True),
        ("KeyError: 'order_id' (in views.py:get_user)", 1, True),
    ]
    assert "5 failures in 2 runs" in re.sub(r"<[^>]+>", "", found[0]["html"])
    assert f'href="/failure-groups/{found[0]["id"]}"' in found[0]["html"]
    assert f'last seen in <a href="/runs/{second}">run #{second}</a>' in found[0]["html"]
    assert page.index("data-top-causes") < page.index('<table class="runs">')
    # Another project's page has none of them.
    other = web["outsider"].get(f"/projects/{api.other_project_id}").text
    assert "data-top-causes" not in other


# --- escaping --------------------------------------------------------------------------------


def test_markup_in_a_failure_is_text_on_every_page(web: Web, engine: Engine) -> None:
    api = web.api
    message = f"ValueError: bad {EVIL}"
    text = f'Traceback:\n  File "/ci/app/forms.py", line 3, in clean\n{message}\n'
    run_id = submit(api, [failed(f"test {EVIL}", text, message, folder=f"f {EVIL}")])
    analyze_pending(engine, HealthRules())
    group = groups_of(api, run_id)[0]["id"]
    pages = {
        "run": f"/runs/{run_id}",
        "run, one cause": f"/runs/{run_id}?group={group}",
        "group": f"/failure-groups/{group}",
        "project": f"/projects/{api.project_id}",
    }
    for name, path in pages.items():
        page = web["viewer"].get(path)
        assert page.status_code == 200, name
        assert "<script>" not in page.text, name
        assert f"bad {ESCAPED}" in page.text, name
