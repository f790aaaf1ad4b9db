"""Pinning a run from its page (members and admins; viewers see no button and get 403); the
run list marks pinned runs."""

from __future__ import annotations

from .conftest import Sample, Web


def test_pin_and_unpin_from_the_run_page(web: Web, sample: Sample) -> None:
    page = f"/runs/{sample.run_id}"
    assert "Pin (keep forever)" in web["member"].get(page).text
    response = web.post_form("member", f"{page}/pin", {"pin": "1"}, page)
    assert response.status_code == 303 and response.headers["location"] == page
    shown = web["viewer"].get(page).text
    assert ">pinned</span>" in shown and "Pin (keep forever)" not in shown
    state = web.api.get(f"/automation/runs/{sample.run_id}/pin").json()["result"]
    assert state["is_pinned"] is True
    listed = web["viewer"].get(f"/projects/{web.api.project_id}").text
    assert listed.count('class="tag pinned"') == 1
    assert web.post_form("viewer", f"{page}/pin", {"pin": "0"}, page).status_code == 403
    assert "Unpin" in web["member"].get(page).text
    assert web.post_form("member", f"{page}/pin", {"pin": "0"}, page).status_code == 303
    assert ">pinned</span>" not in web["member"].get(page).text
    assert 'class="tag pinned"' not in web["member"].get(f"/projects/{web.api.project_id}").text
    assert (
        web.api.get(f"/automation/runs/{sample.run_id}/pin").json()["result"]["is_pinned"] is False
    )


def test_admins_set_retention_on_the_projects_page(web: Web) -> None:
    pid = str(web.api.project_id)
    form = {"action": "set_retention", "project_id": pid, "run_days": "90"}
    done = web.post_form(
        "admin", "/admin/projects", {**form, "passed_detail_days": "14"}, "/admin/projects"
    )
    assert done.status_code == 303
    setting = web.api.get(f"/projects/{pid}/retention").json()["result"]
    assert (setting["run_days"], setting["passed_detail_days"]) == (90, 14)
    page = web["admin"].get("/admin/projects").text
    assert 'name="run_days" size="6" inputmode="numeric" placeholder="forever" value="90"' in page
    bad = web.post_form(
        "admin", "/admin/projects", {**form, "passed_detail_days": "120"}, "/admin/projects"
    )
    assert bad.status_code == 422 and "passed_detail_days" in bad.text
    forever = web.post_form(
        "admin", "/admin/projects", {**form, "run_days": "forever"}, "/admin/projects"
    )
    assert forever.status_code == 303
    assert web.api.get(f"/projects/{pid}/retention").json()["result"]["run_days"] is None
    assert web.post_form("member", "/admin/projects", form, "/profile").status_code == 403
