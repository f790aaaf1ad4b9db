"""Retention in a real browser (Debian's Chromium driven by Playwright) against the real
server, on both backends: pin a run from its page, see it marked in the project's run
list, unpin it; set the project's retention on Admin -> Projects and read it back over
the API."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from .conftest import ServerProcess
from .test_web_browser import _sign_in, _submit_run, browser  # noqa: F401

pytestmark = pytest.mark.e2e


def test_pin_a_run_and_set_the_retention(
    live_server: ServerProcess, browser: Browser  # noqa: F811
) -> None:
    run_id = _submit_run(live_server)
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _sign_in(page, live_server)

    page.goto(live_server.base_url + f"/runs/{run_id}")
    page.get_by_role("button", name="Pin (keep forever)").click()
    expect(page.locator("h1 .tag.pinned")).to_have_text("pinned")
    expect(page.get_by_role("button", name="Unpin")).to_be_visible()
    page.goto(live_server.base_url + f"/projects/{live_server.project_id}")
    row = page.locator("table.runs tr", has_text="Nightly 2026-11-30")
    expect(row.locator(".tag.pinned")).to_have_text("pinned")
    with live_server.client() as api:
        pinned = api.get(f"/projects/{live_server.project_id}/pinned-runs").json()["result"]
    assert [item["run_id"] for item in pinned] == [run_id]

    page.goto(live_server.base_url + f"/runs/{run_id}")
    page.get_by_role("button", name="Unpin").click()
    expect(page.get_by_role("button", name="Pin (keep forever)")).to_be_visible()
    expect(page.locator("h1 .tag.pinned")).to_have_count(0)

    page.goto(live_server.base_url + "/admin/projects")
    form = page.get_by_role("form", name="Retention of E2E")
    form.get_by_label("Keep runs (days)").fill("90")
    form.get_by_label("Keep passed results' fields and artifacts (days)").fill("14")
    form.get_by_role("button", name="Save retention").click()
    form = page.get_by_role("form", name="Retention of E2E")
    expect(form.get_by_label("Keep runs (days)")).to_have_value("90")
    with live_server.client() as api:
        setting = api.get(f"/projects/{live_server.project_id}/retention").json()["result"]
    assert (setting["run_days"], setting["passed_detail_days"]) == (90, 14)
    assert errors == []
