"""Failure groups in a real browser (Debian's Chromium driven by Playwright) against the
real server on SQLite: a run with failures of three causes, grouped by the server's
background analysis; on the run page click the largest cause and see exactly its tests,
open the cause's page (chart, sample failure); the run page, the run page filtered to a
cause, the cause's page and the project page at phone width (390 px) without sideways
scrolling, though one cause's title is a 180-character word. Screenshots go to
test-artifacts/ (ignored by git)."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from ..helpers import make_test
from ..web.test_failure_groups import key_error
from .conftest import ServerProcess, StartServer, runhub_cli
from .test_web_browser import ARTIFACTS, _sign_in, browser  # noqa: F401

pytestmark = pytest.mark.e2e

ANALYSIS_WAIT_S = 10.0
LONG_KEY = "session_" + "x" * 172  # one unbroken word in a cause's title


def failed(name: str, text: str, message: str, folder: str) -> dict[str, Any]:
    field = {
        "type": 4,
        "name": "Failure",
        "value": text,
        "meta": {"message": message},
        "is_highlight": True,
    }
    return make_test(name, "failed", folder=folder, fields=[field])


USER_ID_TESTS = ["test_profile", "test_settings", "test_avatar"]
TESTS = [
    *(
        failed(name, key_error("user_id", name, 10 + i), "KeyError: 'user_id'", "tests.users")
        for i, name in enumerate(USER_ID_TESTS)
    ),
    failed(
        "test_connect",
        'Traceback (most recent call last):\n  File "/ci/app/db.py", line 30, in connect\n'
        "ConnectionRefusedError: [Errno 111] Connection refused\n",
        "ConnectionRefusedError: [Errno 111] Connection refused",
        "tests.db",
    ),
    failed("test_session", key_error(LONG_KEY, "test_session", 5), f"KeyError: '{LONG_KEY}'", "t"),
    *(make_test(f"test_ok_{i}", folder="tests.users") for i in range(3)),
]


def _submit(server: ServerProcess) -> int:
    """The run, once the server's background analysis has grouped its failures."""
    with server.client() as api:
        body = {"name": "Nightly 2026-12-01", "source": "backend"}
        run_id = api.post(f"/projects/{server.project_id}/automation/runs", json=body).json()["id"]
        thread_id = api.post(f"/automation/runs/{run_id}/threads", json={}).json()["id"]
        append = api.post(f"/automation/runs/threads/{thread_id}/append", json={"tests": TESTS})
        assert append.status_code == 204, append.text
        assert api.post(f"/automation/runs/{run_id}/complete", json={}).status_code == 204
        deadline = time.monotonic() + ANALYSIS_WAIT_S
        while time.monotonic() < deadline:
            groups = api.get(f"/automation/runs/{run_id}/failure-groups").json()
            if groups["total"]:
                return run_id
            time.sleep(0.1)
    raise AssertionError(f"the run's failures were not grouped\n{server.output()}")


def test_failure_groups_in_the_browser(
    start_server: StartServer,
    browser: Browser,  # noqa: F811
    tmp_path: Path,
) -> None:
    db_url = f"sqlite:///{tmp_path / 'runhub.db'}"
    server = start_server(db_url)
    assert server.token, f"no bootstrap token printed\n{server.output()}"
    server.project_id = int(runhub_cli("admin", "create-project", "E2E", "--database", db_url))
    run_id = _submit(server)
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _sign_in(page, server)

    page.goto(server.base_url + f"/runs/{run_id}")
    titles = page.locator("[data-causes] .cause-title")
    expect(titles).to_have_count(3)
    expect(titles.first).to_have_text("KeyError: 'user_id' (in views.py:get_user)")
    expect(page.locator("[data-causes] .cause").first).to_contain_text("3 failures")
    expect(page.locator("[data-causes] .cause").first.locator(".ibadge")).to_have_text("New")
    tests = page.locator("table.tests a[href^='/results/']")
    expect(tests).to_have_count(8)
    page.screenshot(path=str(ARTIFACTS / "groups-run.png"), full_page=True)

    # The largest cause: the test list shows its three tests and nothing else.
    titles.first.click()
    expect(page).to_have_url(re.compile(r"\?group=\d+#tests-h$"))
    expect(page.locator("[data-cause-filter]")).to_contain_text("Cause: KeyError: 'user_id'")
    expect(tests).to_have_count(3)
    assert sorted(tests.all_inner_texts()) == sorted(USER_ID_TESTS)
    expect(page.locator("table.tests")).not_to_contain_text("test_connect")
    expect(page.locator("[data-causes] .cause.active .cause-title")).to_have_attribute(
        "aria-current", "true"
    )
    page.screenshot(path=str(ARTIFACTS / "groups-run-one-cause.png"), full_page=True)
    run_with_cause = page.url

    # Its page: the chart of its occurrences and the sample failure.
    page.locator("[data-cause-filter]").get_by_role("link", name="Cause details").click()
    expect(page).to_have_url(re.compile(r"/failure-groups/\d+$"))
    group_url = page.url
    expect(page.get_by_role("heading", level=1)).to_contain_text("KeyError: 'user_id'")
    expect(page.locator("svg.chart rect")).to_have_count(1)
    expect(page.locator("[data-sample-text]")).to_contain_text("KeyError: 'user_id'")
    expect(page.locator("[data-sample-text]")).to_contain_text('File "/ci/app/views.py"')
    expect(page.locator("table.affected a")).to_have_count(3)
    page.screenshot(path=str(ARTIFACTS / "groups-group.png"), full_page=True)
    # Clearing the cause from the run page lists every test again.
    page.goto(run_with_cause)
    page.locator("[data-cause-filter]").get_by_role("link", name="Clear cause").click()
    expect(tests).to_have_count(8)
    page.goto(server.base_url + f"/projects/{server.project_id}")
    expect(page.locator("[data-top-causes] .cause")).to_have_count(3)
    page.screenshot(path=str(ARTIFACTS / "groups-project.png"), full_page=True)
    assert errors == []
    context.close()

    # At phone width nothing scrolls sideways, the long title wraps.
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    _sign_in(page, server)
    with server.client() as api:
        groups = api.get(f"/automation/runs/{run_id}/failure-groups").json()["result"]
    long_id = next(g["id"] for g in groups if LONG_KEY in g["title"])
    for name, url in (
        ("run", server.base_url + f"/runs/{run_id}"),
        ("run-one-cause", run_with_cause),
        ("group", group_url),
        ("long-group", server.base_url + f"/failure-groups/{long_id}"),
        ("project", server.base_url + f"/projects/{server.project_id}"),
    ):
        page.goto(url)
        page.screenshot(path=str(ARTIFACTS / f"groups-phone-{name}.png"), full_page=True)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, (name, width)
    context.close()
