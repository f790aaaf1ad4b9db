"""The web UI in a real browser (Debian's Chromium driven by Playwright) against the real
server: sign in, open a run submitted through the API, filter to failures, open a failing
test, create a token in the profile and use it against the API, sign out. Also: the API
docs render the OpenAPI document, long unbroken words wrap at desktop width, the runs
lists fit a phone, and a run's test intelligence (badges, its changes, the compare page, a
flaky test's health) shows on a designed history, at desktop and phone width.

Screenshots of the pages are saved to test-artifacts/ (ignored by git)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from ..helpers import make_test
from .conftest import ServerProcess, StartServer, runhub_cli

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"
PASSWORD_PREFIX = "Web UI password (shown once): "
FAILURE_TEXT = "AssertionError: expected 200 but got 500"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        yield browser
        browser.close()


def _password(server: ServerProcess) -> str:
    for line in server.stdout.splitlines():
        if line.startswith(PASSWORD_PREFIX):
            return line[len(PASSWORD_PREFIX) :].strip()
    raise AssertionError(f"no web UI password printed\n{server.output()}")


def _submit_run(server: ServerProcess) -> int:
    with server.client() as api:
        response = api.post(
            f"/projects/{server.project_id}/automation/runs",
            json={"name": "Nightly 2026-11-30", "source": "backend", "tags": ["nightly"],
                  "fields": [{"type": 4, "name": "Console", "value": "$ pytest\n3 passed"}]},
        )  # fmt: skip
        run_id = response.json()["id"]
        thread_id = api.post(f"/automation/runs/{run_id}/threads", json={}).json()["id"]
        tests = [make_test(f"test_ok_{i}", folder="api.users") for i in range(5)]
        tests.append(
            make_test(
                "test_create_order",
                "failed",
                folder="api.orders",
                fields=[{"type": 4, "name": "Failure", "value": FAILURE_TEXT,
                         "is_highlight": True}],
                file="tests/api/test_orders.py",
                line=42,
            )  # fmt: skip
        )
        tests.append(make_test("test_skipped", "skipped", folder="api.orders"))
        append = api.post(f"/automation/runs/threads/{thread_id}/append", json={"tests": tests})
        assert append.status_code == 204
        assert api.post(f"/automation/runs/{run_id}/complete", json={}).status_code == 204
    return run_id


def _sign_in(page: Page, server: ServerProcess) -> None:
    page.goto(server.base_url + "/")
    expect(page).to_have_url(re.compile(r"/signin\?next=/$"))
    page.get_by_label("Email").fill("admin@runhub.local")
    page.get_by_label("Password").fill(_password(server))
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Projects", exact=True)).to_be_visible()


def test_browser_flow(
    live_server: ServerProcess, browser: Browser, request: pytest.FixtureRequest
) -> None:
    run_id = _submit_run(live_server)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _sign_in(page, live_server)

    # Keyboard: the first Tab lands on the skip link.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"

    # Projects -> runs of the project -> the run.
    ARTIFACTS.mkdir(exist_ok=True)
    backend = request.node.callspec.params.get("db_url", "db")
    page.screenshot(path=str(ARTIFACTS / f"web-projects-{backend}.png"))
    page.get_by_role("link", name="E2E").first.click()
    page.screenshot(path=str(ARTIFACTS / f"web-runs-{backend}.png"))
    page.get_by_role("link", name="Nightly 2026-11-30").click()
    expect(page).to_have_url(re.compile(rf"/runs/{run_id}$"))
    expect(page.locator('[data-status-count="2"]')).to_have_text("1")
    page.screenshot(path=str(ARTIFACTS / f"web-run-page-{backend}.png"), full_page=True)

    # Filter to failures (the select submits itself).
    page.get_by_role("combobox", name=re.compile("^Status")).select_option(label="Failures")
    expect(page).to_have_url(re.compile(r"status=2%2C4%2C6"))
    rows = page.locator("table.tests a[href^='/results/']")
    expect(rows).to_have_count(1)
    rows.first.click()
    expect(page.get_by_role("heading", name="test_create_order")).to_be_visible()
    expect(page.locator("pre.console.highlight")).to_have_text(FAILURE_TEXT)
    expect(page.get_by_text("tests/api/test_orders.py:42")).to_be_visible()

    # Profile: create a token and use it against the API.
    page.get_by_role("link", name="Profile").click()
    page.get_by_label("Name").fill("browser test")
    page.get_by_role("button", name="Create token").click()
    token = page.locator("#new-token").inner_text().strip()
    me = httpx.get(
        live_server.base_url + "/api/v1/user", headers={"Authorization": f"Bearer {token}"}
    )
    assert me.status_code == 200 and me.json()["name"] == "Administrator"

    # Sign out: back to the sign-in page, and the pages need signing in again.
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/signin$"))
    page.goto(live_server.base_url + f"/runs/{run_id}")
    expect(page).to_have_url(re.compile(r"/signin\?next="))
    assert errors == []
    context.close()


def test_phone_width_has_no_horizontal_scroll(
    live_server: ServerProcess, browser: Browser
) -> None:
    run_id = _submit_run(live_server)
    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True)
    page = context.new_page()
    _sign_in(page, live_server)
    for path in ("/", f"/projects/{live_server.project_id}", f"/runs/{run_id}", "/profile"):
        page.goto(live_server.base_url + path)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, (path, overflow)
    context.close()


@pytest.fixture
def sqlite_server(tmp_path: Path, start_server: StartServer) -> ServerProcess:
    """The real server on SQLite with a project, for what the backend cannot change (the
    API docs, page layout): the flows above run on both backends."""
    url = f"sqlite:///{tmp_path / 'layout.db'}"
    server = start_server(url)
    server.project_id = int(runhub_cli("admin", "create-project", "E2E", "--database", url))
    return server


def test_api_docs_render_the_operations(sqlite_server: ServerProcess, browser: Browser) -> None:
    """Swagger UI must read the OpenAPI 3.1 document: the operations are on the page, not
    "Unable to render this definition"."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    outside: list[str] = []
    page.on(
        "request",
        lambda r: None if r.url.startswith(sqlite_server.base_url) else outside.append(r.url),
    )
    page.goto(sqlite_server.base_url + "/api/docs")
    expect(page.locator(".opblock-summary-path").first).to_be_visible()
    shown = page.locator(".opblock-summary-path").all_inner_texts()
    paths = [text.replace("\u200b", "").strip() for text in shown]  # zero-width spaces
    assert "/api/v1/automation/runs/{run_id}" in paths
    assert paths.count("/api/v1/projects/{project_id}/automation/runs") == 2  # GET and POST
    expect(page.get_by_text("Unable to render this definition")).to_have_count(0)
    # An operation opens with its 3.1 request body schema resolved.
    create = page.locator(".opblock-post").first
    create.locator(".opblock-summary-path").click()
    expect(create.locator(".opblock-section-request-body")).to_contain_text("Request body")
    expect(create.locator(".opblock-section-request-body")).to_contain_text('"name"')
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "api-docs.png"))
    create.screenshot(path=str(ARTIFACTS / "api-docs-create-run.png"))
    assert errors == [] and outside == []
    context.close()


LONG_WORD = "E" * 3000  # one unbroken word: a hash, a base64 blob, a minified line


def _submit_long_words(server: ServerProcess) -> tuple[int, int]:
    """A run whose failing test holds a 3,000-character word in its failure message (value
    and `message` attribute), other fields, file and artifact; names and folder have the
    longest word the API takes (750). Its id and the failing result's id."""
    word = LONG_WORD[:750]
    fields = [
        {"type": 4, "name": "Failure", "value": f"AssertionError: {LONG_WORD} != 1",
         "meta": {"message": f"expected {LONG_WORD}"}, "is_highlight": True},
        {"type": 2, "name": "Text", "value": LONG_WORD},
        {"type": 1, "name": "String", "value": LONG_WORD[:1000]},
        {"type": 5, "name": "Url", "value": "https://ci.example.com/" + LONG_WORD},
    ]  # fmt: skip
    with server.client() as api:
        response = api.post(
            f"/projects/{server.project_id}/automation/runs",
            json={"name": word, "source": word, "fields": fields[:1]},
        )
        run_id = response.json()["id"]
        thread_id = api.post(f"/automation/runs/{run_id}/threads", json={}).json()["id"]
        test = make_test(
            word,
            "failed",
            folder=word,
            fields=fields,
            file=word,
            line=7,
            artifacts=[{"name": word, "url": "https://ci.example.com/a.txt", "note": "n"}],
        )
        append = api.post(f"/automation/runs/threads/{thread_id}/append", json={"tests": [test]})
        assert append.status_code == 204
        assert api.post(f"/automation/runs/{run_id}/complete", json={}).status_code == 204
        (result,) = api.get(f"/automation/runs/{run_id}/tests").json()["result"]
        source_id = api.get(f"/automation/runs/{run_id}").json()["result"]["source_id"]
    return run_id, result["id"], source_id


def test_long_words_wrap_at_desktop_width(sqlite_server: ServerProcess, browser: Browser) -> None:
    run_id, result_id, source_id = _submit_long_words(sqlite_server)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    _sign_in(page, sqlite_server)
    ARTIFACTS.mkdir(exist_ok=True)
    paths = {
        "projects": "/",
        "runs": f"/projects/{sqlite_server.project_id}",
        "run": f"/runs/{run_id}",
        "result": f"/results/{result_id}",
        "source": f"/sources/{source_id}",
    }
    widths = {}
    for name, path in paths.items():
        page.goto(sqlite_server.base_url + path)
        widths[name] = page.evaluate("document.documentElement.scrollWidth")
        page.screenshot(path=str(ARTIFACTS / f"long-words-{name}.png"), full_page=True)
    assert all(width <= 1280 for width in widths.values()), widths
    context.close()


# The number of lines each piece of a link's text is on, a piece being a word or the part
# of one up to a hyphen (where a line may break): 1 each unless letters are split apart.
_PIECE_LINES = """link => {
  const text = link.firstChild, lines = [];
  for (const m of text.data.matchAll(/[^\\s-]+-*/g)) {
    const range = document.createRange();
    range.setStart(text, m.index);
    range.setEnd(text, m.index + m[0].length);
    lines.push(new Set([...range.getClientRects()].map(r => Math.round(r.top))).size);
  }
  return lines;
}"""


_ELAPSED_BOXES = """runId => {
  const link = document.querySelector(`table a[href='/runs/${runId}']`);
  const table = link.closest("table"), row = link.closest("tr");
  const th = [...table.querySelectorAll("thead th")].find(c => c.textContent.trim() === "Elapsed");
  return (th ? [th, row.cells[th.cellIndex]] : [])
    .filter(c => c.offsetWidth > 0)
    .map(c => { const r = c.getBoundingClientRect(); return {left: r.left, right: r.right}; });
}"""


def test_runs_lists_at_phone_width(sqlite_server: ServerProcess, browser: Browser) -> None:
    """At 390 px the run names are not broken letter by letter (they may wrap at spaces and
    hyphens only) and the Elapsed column is inside the viewport."""
    run_id = _submit_run(sqlite_server)
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    _sign_in(page, sqlite_server)
    source_id = _source_of(sqlite_server, run_id)
    seen = {}
    for name, path in (
        ("projects", "/"),
        ("runs", f"/projects/{sqlite_server.project_id}"),
        ("source", f"/sources/{source_id}"),
    ):
        page.goto(sqlite_server.base_url + path)
        page.screenshot(path=str(ARTIFACTS / f"phone-{name}.png"), full_page=True)
        link = page.locator(f"table a[href='/runs/{run_id}']").first
        seen[name] = {
            "lines of each piece": link.evaluate(_PIECE_LINES),
            "page width": page.evaluate("document.documentElement.scrollWidth"),
            "elapsed header and cell": page.evaluate(_ELAPSED_BOXES, run_id),
        }
    for name, found in seen.items():
        assert found["lines of each piece"] == [1, 1, 1, 1], seen  # Nightly 2026- 11- 30
        assert found["page width"] <= 390, seen
        if name != "projects":  # the run cards there have no Elapsed column
            boxes = found["elapsed header and cell"]
            assert len(boxes) == 2, seen
            assert all(b["left"] >= 0 and b["right"] <= 390 for b in boxes), seen
    context.close()


def _source_of(server: ServerProcess, run_id: int) -> int:
    with server.client() as api:
        return api.get(f"/automation/runs/{run_id}").json()["result"]["source_id"]


# A designed history: six runs of one source on main; the last is the run under test.
_HISTORY = {
    "test_flaky_checkout": "PFPFPF",  # flips every run: flaky, and failed now
    "test_refund_total": "PPPPPF",  # a new failure
    "test_login": "PPPPPP",
    "test_fixed_search": "FFFFFP",  # fixed
}


def _submit_history(server: ServerProcess) -> list[int]:
    """The runs of _HISTORY (oldest first), once the server has folded them into health."""
    run_ids = []
    with server.client() as api:
        for i in range(6):
            fields = [
                {"type": 1, "name": "Commit", "value": f"{i + 1:x}" * 8},
                {"type": 1, "name": "Branch", "value": "main"},
            ]
            body = {"name": f"CI #{100 + i}", "source": "shop-api", "fields": fields}
            response = api.post(f"/projects/{server.project_id}/automation/runs", json=body)
            run_id = response.json()["id"]
            thread_id = api.post(f"/automation/runs/{run_id}/threads", json={}).json()["id"]
            tests = [
                make_test(name, "passed" if outcomes[i] == "P" else "failed", folder="shop.api")
                for name, outcomes in _HISTORY.items()
            ]
            append = api.post(f"/automation/runs/threads/{thread_id}/append", json={"tests": tests})
            assert append.status_code == 204
            assert api.post(f"/automation/runs/{run_id}/complete", json={}).status_code == 204
            run_ids.append(run_id)
        path = f"/projects/{server.project_id}/automation/cases/health"
        for _ in range(100):  # the server folds completed runs in every second
            found = {i["name"]: i for i in api.get(path).json()["result"]}
            if found.get("test_flaky_checkout", {}).get("results_considered") == 6:
                return run_ids
            time.sleep(0.1)
    raise AssertionError(f"the runs were not analysed\n{server.output()}")


def test_run_badges_and_compare_page(
    live_server: ServerProcess, browser: Browser, request: pytest.FixtureRequest
) -> None:
    run_ids = _submit_history(live_server)
    run_id, backend = run_ids[-1], request.node.callspec.params.get("db_url", "db")
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _sign_in(page, live_server)

    page.goto(live_server.base_url + f"/runs/{run_id}")
    row = page.locator("table.tests tr", has_text="test_refund_total")
    expect(row.locator(".ibadge")).to_have_text(["New failure"])
    flaky = page.locator("table.tests tr", has_text="test_flaky_checkout")
    expect(flaky.locator(".ibadge")).to_have_text(["Flaky"])
    fixed = page.locator("table.tests tr", has_text="test_fixed_search")
    expect(fixed.locator(".ibadge")).to_have_text(["Fixed"])
    expect(page.locator("[data-triage]")).to_contain_text("1 new failure, 1 flaky failure")
    expect(page.get_by_text(f"Compared with run #{run_ids[-2]}")).to_be_visible()
    expect(page.get_by_role("link", name=f"‹ Previous run #{run_ids[-2]}")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / f"intel-run-{backend}.png"), full_page=True)

    # The new failures' list, then the compare page with another base.
    page.locator('a[data-bucket="new_failure"]').first.click()
    section = page.locator("section", has=page.locator("#changes-h"))
    expect(section.locator("table.changes-list tbody tr")).to_have_count(2)
    page.get_by_role("link", name="compare with another run").click()
    expect(page).to_have_url(re.compile(rf"/runs/{run_id}/compare$"))
    page.get_by_role("combobox", name="Base run").select_option(str(run_ids[0]))
    expect(page).to_have_url(re.compile(rf"base={run_ids[0]}"))
    expect(page.locator('[data-bucket-count="new_failure"]')).to_have_text("2")
    expect(page.locator('[data-bucket-count="fixed"]')).to_have_text("1")
    page.screenshot(path=str(ARTIFACTS / f"intel-compare-{backend}.png"), full_page=True)

    # A flaky test's result page: its health, evidence and history chart.
    page.goto(live_server.base_url + f"/runs/{run_id}")
    page.get_by_role("link", name="test_flaky_checkout").click()
    expect(page.locator('[data-evidence="flips"]')).to_contain_text("Its outcome keeps changing")
    expect(page.locator("[data-broke]")).to_contain_text(f"run #{run_ids[-2]}")
    expect(page.locator("svg.chart rect")).to_have_count(6)
    page.screenshot(path=str(ARTIFACTS / f"intel-result-{backend}.png"), full_page=True)
    page.goto(live_server.base_url + f"/projects/{live_server.project_id}/tests")
    expect(page.locator("table.tests-list tbody tr")).to_have_count(1)
    page.screenshot(path=str(ARTIFACTS / f"intel-tests-{backend}.png"), full_page=True)
    assert errors == []
    context.close()

    # At phone width nothing scrolls sideways.
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    _sign_in(page, live_server)
    with live_server.client() as api:
        tests = api.get(f"/automation/runs/{run_id}/tests").json()["result"]
        result_id = next(t["id"] for t in tests if t["name"] == "test_flaky_checkout")
    source_id = _source_of(live_server, run_id)
    for name, path in (
        ("run", f"/runs/{run_id}?changes=new_failure"),
        ("compare", f"/runs/{run_id}/compare?base={run_ids[0]}"),
        ("result", f"/results/{result_id}"),
        ("tests", f"/projects/{live_server.project_id}/tests?tab=failing"),
        ("source", f"/sources/{source_id}"),
    ):
        page.goto(live_server.base_url + path)
        page.screenshot(path=str(ARTIFACTS / f"intel-phone-{name}-{backend}.png"), full_page=True)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, (name, width)
    context.close()
