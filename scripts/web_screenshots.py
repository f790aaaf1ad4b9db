"""Take the README's web UI screenshots (docs/web-*.png) from a realistic run.

Starts `runhub serve` on a temporary SQLite database, submits a few nightly runs of a
backend suite through the API (a running one included), then photographs the run page
and a failing test with Debian's Chromium (Playwright, headless).

Usage: .venv/bin/python scripts/web_screenshots.py [--out docs]
"""

from __future__ import annotations

import argparse
import hashlib
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2 as httpx
from playwright.sync_api import sync_playwright

RUNHUB = str(Path(sys.executable).with_name("runhub"))
PASSWORD = "screenshot-password"
FOLDERS = {
    "tests.api.test_orders": ["test_create_order", "test_cancel_order", "test_refund_partial",
                              "test_list_orders_paged", "test_order_totals_with_tax"],
    "tests.api.test_users": ["test_sign_up", "test_sign_in_locked", "test_update_profile",
                             "test_delete_account"],
    "tests.ui.test_checkout": ["test_checkout_guest", "test_checkout_saved_card",
                               "test_checkout_coupon_expired"],
    "tests.worker.test_emails": ["test_sends_receipt", "test_retries_on_smtp_error",
                                 "test_digest_batches"],
}  # fmt: skip
TRACE = """Traceback (most recent call last):
  File "tests/api/test_orders.py", line 88, in test_refund_partial
    assert response.status_code == 200, response.text
AssertionError: {"message": "refund exceeds captured amount"}
assert 422 == 200"""


def _key(folder: str, name: str) -> str:
    return hashlib.sha256(f"{folder}.{name}".encode()).hexdigest()


def _tests(rnd: random.Random, flaky: bool) -> list[dict]:
    tests = []
    for folder, names in FOLDERS.items():
        for name in names:
            status = "passed"
            if name == "test_refund_partial" and flaky:
                status = "failed"
            elif name == "test_checkout_coupon_expired":
                status = "skipped"
            elif name == "test_retries_on_smtp_error" and rnd.random() < 0.5:
                status = "error"
            test = {"key": _key(folder, name), "name": name, "folder": folder, "status": status,
                    "elapsed": rnd.randint(20_000, 4_000_000), "file": folder.replace(".", "/")
                    + ".py", "line": rnd.randint(10, 200), "fields": [], "artifacts": []}
            if status in ("failed", "error"):
                test["fields"] = [{"type": 4, "name": "Failure", "value": TRACE,
                                   "is_highlight": True}]
                test["artifacts"] = [{"name": "response.json",
                                      "url": "https://ci.example.com/artifacts/response.json",
                                      "mime_type": "application/json", "size": 912}]
            tests.append(test)
    return tests  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs")
    out = Path(parser.parse_args().out)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/shots.db"
        log = Path(tmp) / "serve.log"
        port = 8790
        server = subprocess.Popen(
            [RUNHUB, "serve", "--port", str(port), "--database", url],
            stdout=log.open("wb"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(100):
                if "serving" in log.read_text():
                    break
                time.sleep(0.1)
            token = next(
                line.split(": ", 1)[1] for line in log.read_text().splitlines()
                if line.startswith("API token")
            )  # fmt: skip
            subprocess.run([RUNHUB, "admin", "set-password", "admin@runhub.local",
                            "--password-stdin", "--database", url],
                           input=PASSWORD + "\n", text=True, check=True)  # fmt: skip
            subprocess.run([RUNHUB, "admin", "create-project", "Shop backend", "--database",
                            url], check=True, capture_output=True)  # fmt: skip
            api = httpx.Client(base_url=base + "/api/v1",
                               headers={"Authorization": f"Bearer {token}"})  # fmt: skip
            rnd = random.Random(5)
            run_id = 0
            for night in range(12):
                run_id = api.post("/projects/1/automation/runs", json={
                    "name": f"Nightly 2026-11-{17 + night}", "source": "backend",
                    "config": "Python 3.12 · PostgreSQL 16", "tags": ["nightly", "main"],
                    "fields": [{"type": 4, "name": "Console",
                                "value": "$ pytest -n 4 --junitxml=reports/junit.xml\n"
                                "===== 15 passed, 1 failed, 1 skipped in 42.1s ====="},
                               {"type": 5, "name": "Commit",
                                "value": "https://git.example.com/shop/commit/4f2a9c1"}],
                    "links": [{"name": f"CI job #{4100 + night}",
                               "url": f"https://ci.example.com/jobs/{4100 + night}"}],
                }).json()["id"]  # fmt: skip
                for shard in range(2):
                    thread = api.post(f"/automation/runs/{run_id}/threads", json={}).json()["id"]
                    tests = _tests(rnd, flaky=night % 3 != 0)
                    api.post(f"/automation/runs/threads/{thread}/append",
                             json={"tests": tests[shard::2],
                                   "elapsed_observed": rnd.randint(38, 46) * 10**6})  # fmt: skip
                if night < 11:
                    api.post(f"/automation/runs/{run_id}/complete", json={})
            failed = api.get(f"/automation/runs/{run_id - 1}/tests", params={"status_id": "3"})
            failed_id = failed.json()["result"][0]["id"]
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                            args=["--no-sandbox"])  # fmt: skip
                page = browser.new_page(viewport={"width": 1280, "height": 860})
                page.goto(base + "/signin")
                page.get_by_label("Email").fill("admin@runhub.local")
                page.get_by_label("Password").fill(PASSWORD)
                page.get_by_role("button", name="Sign in").click()
                page.goto(f"{base}/runs/{run_id - 1}")
                page.screenshot(path=str(out / "web-run.png"), full_page=True)
                page.goto(f"{base}/results/{failed_id}")
                page.screenshot(path=str(out / "web-test.png"), full_page=True)
                page.goto(f"{base}/projects/1")
                page.screenshot(path=f"{tmp}/runs.png")
                page.goto(f"{base}/sources/1")
                page.screenshot(path=f"{tmp}/source.png", full_page=True)
                page.goto(f"{base}/")
                page.screenshot(path=f"{tmp}/projects.png", full_page=True)
                phone = browser.new_page(viewport={"width": 375, "height": 800}, is_mobile=True)
                phone.context.add_cookies(page.context.cookies())
                phone.goto(f"{base}/runs/{run_id - 1}")
                phone.screenshot(path=f"{tmp}/phone.png", full_page=True)
                browser.close()
            for name in ("runs", "source", "projects", "phone"):
                Path(f"/tmp/web-{name}.png").write_bytes(Path(f"{tmp}/{name}.png").read_bytes())
        finally:
            server.terminate()
            server.wait(15)


if __name__ == "__main__":
    main()
