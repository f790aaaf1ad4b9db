"""Quarantine in a real browser (Debian's Chromium driven by Playwright) against the real
server, on both backends: quarantine a failing test from its result page (a refused expiry
first), see the Quarantined badge and the header line on the run page and the entry on the
project's Quarantine page, end it from the test's page; the same pages at phone width
(390 px) without sideways scrolling. Screenshots go to test-artifacts/ (ignored by git)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Browser, Page, expect

from runhub.timeutil import utcnow

from .conftest import ServerProcess
from .test_web_browser import ARTIFACTS, _sign_in, _submit_run, browser  # noqa: F401

pytestmark = pytest.mark.e2e

REASON = "Race in the orders mock <script>alert(1)</script>, see #1234"


def _failing_result(page: Page, server: ServerProcess, run_id: int) -> str:
    page.goto(server.base_url + f"/runs/{run_id}")
    page.get_by_role("link", name="test_create_order").click()
    expect(page.get_by_role("heading", name="test_create_order")).to_be_visible()
    return page.url


def _quarantine(page: Page, expires: str, *, open_form: bool = True) -> None:
    if open_form:
        page.get_by_text("Quarantine this test").click()
    page.get_by_label("Reason").fill(REASON)
    page.get_by_label("Owner").fill("team-orders")
    page.get_by_label("Expires").fill(expires)
    page.get_by_role("button", name="Quarantine", exact=True).click()


def test_quarantine_a_failing_test_and_end_it(
    live_server: ServerProcess, browser: Browser, request: pytest.FixtureRequest  # noqa: F811
) -> None:
    run_id = _submit_run(live_server)
    backend = request.node.callspec.params.get("db_url", "db")
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda dialog: dialog.accept())  # "End this quarantine?"
    _sign_in(page, live_server)

    page.goto(live_server.base_url + f"/runs/{run_id}")
    expect(page.locator("[data-quarantine-line]")).to_contain_text("1 failure, not quarantined")
    result_url = _failing_result(page, live_server, run_id)

    # An expiry in the past is refused: the form comes back open, with the message.
    _quarantine(page, "2020-01-01")
    expect(page.get_by_role("alert")).to_have_text("The expires_at field must be in the future.")
    expect(page.get_by_label("Reason")).to_have_value(REASON)
    page.screenshot(path=str(ARTIFACTS / f"quarantine-refused-{backend}.png"), full_page=True)
    expires = (utcnow() + timedelta(days=14)).strftime("%Y-%m-%d")
    page.get_by_label("Expires").fill(expires)
    page.get_by_role("button", name="Quarantine", exact=True).click()
    active = page.locator("[data-quarantine-active]")
    expect(active).to_contain_text("Quarantined (mute)")
    expect(active.locator(".reason")).to_have_text(REASON)  # as text, not markup
    expect(active).to_contain_text("team-orders")
    expect(active).to_contain_text(f"{expires} 00:00")
    expect(active).to_contain_text("by Administrator")
    expect(page.locator("h1 .ibadge")).to_have_text("Quarantined")
    page.screenshot(path=str(ARTIFACTS / f"quarantine-result-{backend}.png"), full_page=True)

    # The run page: the badge on the test and the header line.
    page.get_by_role("link", name="Nightly 2026-11-30", exact=True).click()
    row = page.locator("table.tests tr", has_text="test_create_order")
    expect(row.locator(".ibadge")).to_have_text(["Quarantined"])
    expect(page.locator("[data-quarantine-line]")).to_contain_text("1 failure, quarantined")
    page.screenshot(path=str(ARTIFACTS / f"quarantine-run-{backend}.png"), full_page=True)

    # The project's Quarantine page, reached from the runs page.
    page.goto(live_server.base_url + f"/projects/{live_server.project_id}")
    page.get_by_role("link", name="Quarantine", exact=True).click()
    expect(page.locator("table.qlist tbody tr")).to_have_count(1)
    expect(page.locator("table.qlist")).to_contain_text("team-orders")
    page.screenshot(path=str(ARTIFACTS / f"quarantine-project-{backend}.png"), full_page=True)

    # End it from the test's page: the record keeps both events, with names.
    page.goto(result_url)
    page.get_by_role("button", name="End quarantine").click()
    expect(page.get_by_text("This test is not quarantined.")).to_be_visible()
    record = page.locator("table.qrecord tbody tr")
    expect(record).to_have_count(1)
    ended = re.compile(r"by Administrator\s+ended .* by Administrator")
    expect(record.first).to_contain_text(ended)
    page.screenshot(path=str(ARTIFACTS / f"quarantine-ended-{backend}.png"), full_page=True)
    page.goto(live_server.base_url + f"/runs/{run_id}")
    expect(page.locator("table.tests .ibadge")).to_have_count(0)
    expect(page.locator("[data-quarantine-line]")).to_contain_text("1 failure, not quarantined")
    assert errors == []
    context.close()

    # At phone width: the form, the active entry, the run and the project page fit.
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    _sign_in(page, live_server)
    page.goto(result_url)
    page.get_by_text("Quarantine this test").click()
    _shoot(page, "phone-form", backend)
    _quarantine(page, expires, open_form=False)
    expect(page.locator("[data-quarantine-active]")).to_be_visible()
    _shoot(page, "phone-result", backend)
    for name, path in (
        ("phone-run", f"/runs/{run_id}"),
        ("phone-project", f"/projects/{live_server.project_id}/quarantine"),
        ("phone-removed", f"/projects/{live_server.project_id}/quarantine?state=removed"),
    ):
        page.goto(live_server.base_url + path)
        _shoot(page, name, backend)
    context.close()


def _shoot(page: Page, name: str, backend: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"quarantine-{name}-{backend}.png"), full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, (name, width)
