"""Data from the API is text on every page: names, folders, fields, links and artifacts
holding markup and quotes never become markup (HTML fields are sanitised instead)."""

from __future__ import annotations

import re

from sqlalchemy import Engine

from runhub.db.engine import write_tx
from runhub.services import admin

from ..helpers import make_test
from .conftest import Web, sign_in

EVIL = '<script>alert("x\'y")</script>'
ESCAPED = "&lt;script&gt;alert(&#34;x&#39;y&#34;)&lt;/script&gt;"
ATTR_BREAK = '" onmouseover="alert(1)'


def test_markup_in_api_data_renders_as_text_on_every_page(web: Web, engine: Engine) -> None:
    api = web.api
    with write_tx(engine) as conn:
        admin.create_milestone(conn, api.project_id, f"M {EVIL}", ["evil"])
        project_id = admin.create_project(conn, f"P {EVIL}")
        admin.add_member(conn, project_id, "member@example.com")
    fields = [
        {"type": t, "name": f"F{t} {EVIL}", "value": f"{EVIL}{ATTR_BREAK}"} for t in (1, 2, 4)
    ] + [
        {"type": 3, "name": "Html", "value": f"<b>bold</b>{EVIL}<img src=x onerror=alert(1)>"},
        {"type": 5, "name": "Url", "value": "javascript:alert(1)"},
        {"type": 5, "name": "Url2", "value": f"https://ci.example.com/?q={ATTR_BREAK}"},
    ]
    run_id = api.create_run(
        project_id=project_id,
        name=f"Run {EVIL}",
        source=f"src {EVIL}",
        config=f"cfg {EVIL}",
        tags=["evil"],
        fields=fields,
        links=[{"name": f"L {EVIL}", "url": f"https://ci.example.com/{ATTR_BREAK}",
                "note": "n <i>x</i>"}],
        artifacts=[{"name": f"A {EVIL}", "url": "https://ci.example.com/a.png",
                    "mime_type": "image/png", "note": f"{ATTR_BREAK}"[:80]}],
    )  # fmt: skip
    thread_id = api.create_thread(run_id, fields=[{"type": 4, "name": EVIL, "value": EVIL}])
    test = make_test(
        f"name {EVIL}",
        "failed",
        folder=f"folder {EVIL}",
        fields=fields,
        artifacts=[{"name": f"shot {EVIL}", "url": "https://ci.example.com/s.png",
                    "mime_type": "image/png"}],
        file=f"file{EVIL}.py",
        line=3,
    )  # fmt: skip
    assert api.append(thread_id, [test]).status_code == 204
    result_id = api.get(f"/automation/runs/{run_id}/tests").json()["result"][0]["id"]
    source_id = api.run(run_id)["result"]["source_id"]
    pages = [
        "/",
        f"/projects/{project_id}",
        f"/runs/{run_id}",
        f"/runs/{run_id}?q=name&folder=folder",
        f"/results/{result_id}",
        f"/sources/{source_id}",
        "/admin/projects",
    ]
    for path in pages:
        page = web["admin"].get(path)
        assert page.status_code == 200, path
        assert "<script>alert" not in page.text, path
        assert ESCAPED in page.text, path
        assert 'onmouseover="alert' not in page.text, path
        assert "onerror" not in page.text, path
        assert 'href="javascript:' not in page.text, path
    run_page = web["admin"].get(f"/runs/{run_id}").text
    assert "<b>bold</b>" in run_page  # sanitised HTML keeps harmless markup
    # Tags are limited to [A-Za-z0-9_-] by the API, so they need no test here; scripts
    # are only ever the runhub ones.
    scripts = re.findall(r"<script[^>]*>", run_page)
    assert scripts == ['<script src="/static/runhub.js" defer>']


def test_user_names_are_escaped_in_admin_and_header(web: Web, engine: Engine) -> None:
    with write_tx(engine) as conn:
        admin.create_user(conn, "evil@example.com", f"Eve {EVIL}", "admin", "long password 1")
    page = web["admin"].get("/admin/users").text
    assert ESCAPED in page and "<script>alert" not in page
    client = sign_in(web.new_client(), "evil@example.com", "long password 1")
    home = client.get("/").text
    assert ESCAPED in home and "<script>alert" not in home
