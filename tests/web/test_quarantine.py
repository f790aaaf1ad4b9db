"""Quarantine in the web UI, on SQLite and PostgreSQL: quarantining a test from its result
page (members and admins; viewers 403, outsiders 404, CSRF, bad input re-rendered with 422
and nothing stored), ending it, the test's record, the project's quarantine page (active,
expired, removed), the badges on the run, changes, compare, tests and result pages, the
run header line, and escaping of the reason and owner."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, update

from runhub.api.schemas import QuarantineCreate
from runhub.db import insights as insights_db
from runhub.db.engine import read_tx, write_tx
from runhub.db.schema import quarantine_entries
from runhub.services import batches, quarantine, run_summary
from runhub.services.access import Principal
from runhub.services.health import analyze_pending
from runhub.services.outcomes import HealthRules
from runhub.services.statuses import StatusTable
from runhub.timeutil import utcnow

from ..api.test_intelligence import case_id, submit
from .conftest import Web, csrf_of
from .test_escaping import ESCAPED, EVIL

P, F = "passed", "failed"


def _admin(web: Web) -> Principal:
    return Principal(web.api.get("/user").json()["id"], "Admin", "admin")


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html)).strip()


def _result_id(web: Web, run_id: int, name: str) -> int:
    tests = web.api.get(f"/automation/runs/{run_id}/tests").json()["result"]
    return next(t["id"] for t in tests if t["name"] == name)


def _entries(web: Web, active: bool = True) -> list[dict[str, Any]]:
    path = f"/projects/{web.api.project_id}/automation/quarantine"
    response = web.api.get(path, active=str(active).lower(), per_page=100)
    assert response.status_code == 200, response.text
    return response.json()["result"]


def _all_entries(web: Web) -> list[dict[str, Any]]:
    return _entries(web, True) + _entries(web, False)


def _quarantine(web: Web, role: str, test_id: int, **fields: str) -> Any:
    """Post the result page's quarantine form (with the session's CSRF token)."""
    data = {"mode": "mute", "reason": "flaky on CI", **fields}
    page = f"/results/{test_id}"
    return web.post_form(role, f"{page}/quarantine", data, page)


def _in_a_week() -> str:
    return (utcnow() + timedelta(days=7)).strftime("%Y-%m-%d %H:%M")


def _section(page: str) -> str:
    return page.split('id="quarantine-h"', 1)[1].split("</section>", 1)[0]


def _line(page: str) -> str | None:
    found = re.search(r"<p class=\"qline[^\"]*\" data-quarantine-line.*?</p>", page, re.S)
    return _text(found.group(0)) if found else None


def _row_badges(page: str, name: str) -> list[str]:
    row = r"(?:(?!</tr>).)*"
    match = re.search(rf"<tr[^>]*>{row}>{name}</a>{row}</tr>", page, re.S)
    assert match, f"no row for {name}"
    return re.findall(r'<span class="ibadge ibadge-(\w+)"', match.group(0))


# --- quarantining from the result page -------------------------------------------------------


def test_a_member_quarantines_a_test_from_its_result_page(web: Web) -> None:
    run = submit(web.api, {"login": F, "search": P})
    test_id = _result_id(web, run, "login")
    page = web["member"].get(f"/results/{test_id}").text
    assert f'<form method="post" action="/results/{test_id}/quarantine"' in page
    assert "This test is not quarantined." in page
    expires = _in_a_week()
    response = _quarantine(
        web, "member", test_id, reason="race in the login mock, #1234", owner="team-web",
        expires_at=expires, mode="skip",
    )  # fmt: skip
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"/results/{test_id}#quarantine-h"
    (entry,) = _entries(web)
    assert entry["name"] == "login" and entry["mode"] == "skip"
    assert (entry["reason"], entry["owner"]) == ("race in the login mock, #1234", "team-web")
    assert entry["expires_at"].startswith(expires.replace(" ", "T"))
    member = web.api.get("/user", "member").json()["id"]
    assert entry["created_by"] == member
    # The page shows it, with who and when, an End button, and no form for a second one.
    page = web["member"].get(f"/results/{test_id}").text
    active = page.split("data-quarantine-active>", 1)[1].split("</dl>", 1)[0]
    assert "Quarantined (skip)" in _text(active)
    assert "race in the login mock, #1234" in active and "team-web" in active
    assert expires in _text(active) and "by Member" in _text(active)
    assert f'action="/quarantine/{entry["id"]}/end"' in page
    assert f'action="/results/{test_id}/quarantine"' not in page
    assert 'class="ibadge ibadge-quarantined_skip"' in page.split("</h1>", 1)[0]
    # An admin may too (on another test); a date alone is a valid expiry.
    other = _result_id(web, run, "search")
    day = (utcnow() + timedelta(days=3)).strftime("%Y-%m-%d")
    assert _quarantine(web, "admin", other, expires_at=day).status_code == 303
    assert {e["name"]: e["expires_at"][:19] for e in _entries(web)}["search"] == f"{day}T00:00:00"


def test_viewers_are_refused_outsiders_get_404_and_the_form_needs_its_token(web: Web) -> None:
    run = submit(web.api, {"login": F})
    test_id = _result_id(web, run, "login")
    viewer_page = web["viewer"].get(f"/results/{test_id}").text
    assert "/quarantine" not in re.sub(r'href="[^"]*"', "", viewer_page)  # no form at all
    token = csrf_of(viewer_page)
    data = {"csrf_token": token, "mode": "mute", "reason": "r"}
    response = web["viewer"].post(f"/results/{test_id}/quarantine", data=data)
    assert response.status_code == 403 and "text/html" in response.headers["content-type"]
    token = csrf_of(web["outsider"].get("/profile").text)
    data = {"csrf_token": token, "mode": "mute", "reason": "r"}
    assert web["outsider"].post(f"/results/{test_id}/quarantine", data=data).status_code == 404
    assert web["outsider"].post("/results/999999/quarantine", data=data).status_code == 404
    for token_value in (None, "", "not-the-token"):
        data = {"mode": "mute", "reason": "r"}
        if token_value is not None:
            data["csrf_token"] = token_value
        response = web["member"].post(f"/results/{test_id}/quarantine", data=data)
        assert response.status_code == 403
    assert _all_entries(web) == []


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"reason": ""}, "The reason field is required."),
        ({"reason": "  \r\n "}, "The reason field is required."),
        ({"reason": "r" * 1001}, "The reason field takes at most 1,000 characters."),
        ({"mode": "ignore"}, "The mode must be mute or skip."),
        ({"mode": ""}, "The mode must be mute or skip."),
        ({"expires_at": "2020-01-01"}, "The expires_at field must be in the future."),
        ({"expires_at": "next week"}, "The expires_at field must be an ISO 8601 date"),
        ({"owner": "o" * 201}, "The owner field takes at most 200 characters."),
    ],
)
def test_bad_input_is_shown_again_with_the_message_and_nothing_is_stored(
    web: Web, fields: dict[str, str], message: str
) -> None:
    run = submit(web.api, {"login": F})
    test_id = _result_id(web, run, "login")
    response = _quarantine(web, "member", test_id, **{"owner": "team <web>", **fields})
    assert response.status_code == 422
    assert "text/html" in response.headers["content-type"]
    page = response.text
    alert = re.search(r'<p class="alert" role="alert" id="qerror">(.*?)</p>', page)
    assert alert and alert.group(1).startswith(message), alert
    assert '<details class="qform" open>' in page  # the form stays open with what was typed
    if "owner" not in fields:
        assert 'value="team &lt;web&gt;"' in page
    assert _all_entries(web) == []


def test_a_line_of_1000_characters_with_browser_line_ends_is_taken(web: Web) -> None:
    run = submit(web.api, {"login": F})
    reason = "a" * 499 + "\r\n" + "b" * 500  # 1,000 characters in the textarea
    test_id = _result_id(web, run, "login")
    assert _quarantine(web, "member", test_id, reason=reason).status_code == 303
    assert _entries(web)[0]["reason"] == "a" * 499 + "\n" + "b" * 500


def test_end_it_and_the_record_shows_every_entry_with_names(web: Web, engine: Engine) -> None:
    run = submit(web.api, {"login": F})
    test_id = _result_id(web, run, "login")
    assert _quarantine(web, "admin", test_id, reason="first").status_code == 303
    (first,) = _entries(web)
    # Viewers cannot end it, outsiders do not see it, the form needs its token.
    end = f"/quarantine/{first['id']}/end"
    page = f"/results/{test_id}"
    assert web.post_form("viewer", end, {"next": page}, page).status_code == 403
    assert web.post_form("outsider", end, {"next": page}, "/profile").status_code == 404
    assert web["member"].post(end, data={"next": page}).status_code == 403
    assert _entries(web)[0]["id"] == first["id"]
    response = web.post_form("member", end, {"next": f"{page}#quarantine-h"}, page)
    assert response.status_code == 303
    assert response.headers["location"] == f"{page}#quarantine-h"
    assert _entries(web) == []
    # A next that is not a local path goes home.
    assert _quarantine(web, "member", test_id, reason="second", owner="qa").status_code == 303
    (second,) = _entries(web)
    response = web.post_form(
        "admin", f"/quarantine/{second['id']}/end", {"next": "//evil.example"}, page
    )
    assert response.headers["location"] == "/"
    assert _quarantine(web, "member", test_id, reason="third").status_code == 303
    with write_tx(engine) as conn:  # the third one's end date passes
        conn.execute(
            update(quarantine_entries)
            .where(quarantine_entries.c.reason == "third")
            .values(expires_at=utcnow() - timedelta(minutes=1))
        )
    html = web["viewer"].get(page).text
    assert "This test is not quarantined." in html
    rows = re.findall(r'<tr data-entry="(\d+)" data-state="(\w+)">(.*?)</tr>', _section(html), re.S)
    assert [(state, _text(row).split(" ")[1]) for _, state, row in rows] == [
        ("expired", "third"), ("removed", "second"), ("removed", "first"),
    ]  # fmt: skip
    third, second_row, first_row = (_text(row) for _, _, row in rows)
    assert "by Member" in third and "expired " in third
    assert re.search(r"by Member ended \S+ \S+ by Admin$", second_row), second_row
    assert re.search(r"by Admin ended \S+ \S+ by Member$", first_row), first_row
    assert "owner qa" in second_row
    # Ending an ended or expired entry changes nothing.
    expired_id = int(rows[0][0])
    assert web.post_form("member", f"/quarantine/{expired_id}/end", {}, page).status_code == 303
    states = {e["id"]: e["removed_at"] for e in _entries(web, False)}
    assert states[expired_id] is None


# --- the project's quarantine page -----------------------------------------------------------


def _listed(page: str) -> list[str]:
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in page else ""
    return re.findall(r'<a href="/results/\d+">(\w+)</a>', body)


def _tab_counts(page: str) -> dict[str, int]:
    found = re.findall(r'data-state-tab="(\w+)"[^>]*>\w+ <span class="muted">([\d,]+)<', page)
    return {name: int(count.replace(",", "")) for name, count in found}


def test_project_page_lists_active_expired_and_removed_entries(
    web: Web, engine: Engine
) -> None:
    api, admin = web.api, _admin(web)
    first = submit(api, {"kept": F, "lapsed": F, "ended": F, "other_mode": F})
    latest = submit(api, {"kept": P, "lapsed": P, "ended": P, "other_mode": P})
    ids = {name: case_id(api, name) for name in ("kept", "lapsed", "ended", "other_mode")}
    for name in ("kept", "lapsed", "ended"):
        body = QuarantineCreate(mode="mute", reason=f"why {name}", case_id=ids[name])
        quarantine.create(engine, admin, api.project_id, body)
    skip = QuarantineCreate(mode="skip", reason="slow", case_id=ids["other_mode"], owner="qa")
    quarantine.create(engine, admin, api.project_id, skip)
    with write_tx(engine) as conn:
        conn.execute(
            update(quarantine_entries)
            .where(quarantine_entries.c.case_id == ids["lapsed"])
            .values(expires_at=utcnow() - timedelta(hours=1))
        )
    ended = next(e for e in _entries(web) if e["name"] == "ended")
    quarantine.end(engine, admin, ended["id"])
    client, path = web["viewer"], f"/projects/{api.project_id}/quarantine"
    page = client.get(path).text
    assert _listed(page) == ["other_mode", "kept"]  # newest first
    assert _tab_counts(page) == {"active": 2, "expired": 1, "removed": 1}
    assert 'aria-current="page">Active' in page
    # The test links to its latest result; source, mode, reason, owner, who and when.
    kept_row = page.split('<tr data-entry="', 3)[2]
    assert f'href="/results/{_result_id(web, latest, "kept")}"' in kept_row
    assert f'href="/results/{_result_id(web, first, "kept")}"' not in kept_row
    assert "why kept" in kept_row and "unit" in kept_row and "mute" in kept_row
    assert "Admin" in kept_row and "never" in kept_row
    expired = client.get(f"{path}?state=expired").text
    assert _listed(expired) == ["lapsed"] and "Entries whose end date has passed" in expired
    removed = client.get(f"{path}?state=removed").text
    assert _listed(removed) == ["ended"]
    removed_row = removed.split("<tbody>", 1)[1]
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d</span><br>Admin</td>\s*</tr>", removed_row)
    # Filters: mode and source (kept in the tabs' links), per page and paging.
    assert _listed(client.get(f"{path}?mode=skip").text) == ["other_mode"]
    source_id = api.run(first)["result"]["source_id"]
    filtered = client.get(f"{path}?source_id={source_id}&mode=mute").text
    assert _listed(filtered) == ["kept"]
    assert _tab_counts(filtered) == {"active": 1, "expired": 1, "removed": 1}
    assert f"?source_id={source_id}&amp;mode=mute&amp;state=removed" in filtered
    nothing = client.get(f"{path}?source_id=999999").text
    assert _listed(nothing) == [] and "No test is quarantined with these filters." in nothing
    again = QuarantineCreate(mode="mute", reason="again", case_id=ids["ended"])
    for _ in range(26):  # 26 more removed entries of one test: two pages of 25
        entry = quarantine.create(engine, admin, api.project_id, again)
        quarantine.end(engine, admin, entry)
    page_two = client.get(f"{path}?state=removed&per_page=25&page=2").text
    assert len(_listed(page_two)) == 2 and "27 entries · page 2 of 2" in _text(page_two)
    # Members end an entry from the page and come back to it.
    member_page = web["member"].get(path).text
    kept = next(e for e in _entries(web) if e["name"] == "kept")
    assert f'action="/quarantine/{kept["id"]}/end"' in member_page
    back = f"{path}?mode=mute"
    response = web.post_form("member", f"/quarantine/{kept['id']}/end", {"next": back}, path)
    assert response.headers["location"] == back
    assert [e["name"] for e in _entries(web)] == ["other_mode"]
    # Linked from the runs page, the tests page and each result page.
    link = f'<a href="{path}">Quarantine</a>'
    assert link in client.get(f"/projects/{api.project_id}").text
    assert link in client.get(f"/projects/{api.project_id}/tests").text
    assert f'href="{path}"' in client.get(f"/results/{_result_id(web, latest, 'kept')}").text
    assert client.get(f"{path}?state=all").status_code == 422
    assert web["outsider"].get(path).status_code == 404


# --- badges and the run header line ------------------------------------------------------------


@pytest.fixture
def two_runs(web: Web, engine: Engine) -> tuple[int, int]:
    """A base where every test passed and a run where muted, skipped and plain fail (and a
    retried one failed, then passed); folded into health."""
    base = submit(web.api, {"muted": P, "skipped": P, "plain": P, "retried": P, "ok": P})
    run = submit(web.api, {"muted": F, "skipped": F, "plain": F, "retried": [F, P], "ok": P})
    analyze_pending(engine, HealthRules())
    return base, run


def _mute(web: Web, name: str, mode: str = "mute") -> int:
    body = {"case_id": case_id(web.api, name), "mode": mode, "reason": "known"}
    response = web.api.post(f"/projects/{web.api.project_id}/automation/quarantine", body)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_quarantined_badges_wherever_a_test_shows(web: Web, two_runs: tuple[int, int]) -> None:
    base, run = two_runs
    _mute(web, "muted")
    _mute(web, "skipped", "skip")
    client = web["viewer"]
    page = client.get(f"/runs/{run}").text
    assert _row_badges(page, "muted") == ["new_failure", "quarantined"]
    assert _row_badges(page, "skipped") == ["new_failure", "quarantined_skip"]
    assert _row_badges(page, "plain") == ["new_failure"]
    assert 'class="cat-3 quarantined"' in page  # the failing muted row is marked
    changes = client.get(f"/runs/{run}?changes=new_failure").text.split('id="changes-h"')[1]
    assert _row_badges(changes, "muted") == ["quarantined_any"]
    assert _row_badges(changes, "skipped") == ["quarantined_any"]
    assert _row_badges(changes, "plain") == []
    compare = client.get(f"/runs/{run}/compare?base={base}").text.split('id="changes-h"')[1]
    assert _row_badges(compare, "muted") == ["quarantined_any"]
    tests = client.get(f"/projects/{web.api.project_id}/tests?tab=failing").text
    assert _row_badges(tests, "muted") == ["quarantined"]
    assert _row_badges(tests, "skipped") == ["quarantined_skip"]
    assert _row_badges(tests, "plain") == []
    result = client.get(f"/results/{_result_id(web, run, 'muted')}").text.split("</h1>")[0]
    assert "ibadge-quarantined" in result
    plain = client.get(f"/results/{_result_id(web, run, 'plain')}").text.split("</h1>")[0]
    assert "ibadge-quarantined" not in plain


def test_run_header_line_none_some_and_all_quarantined(
    web: Web, two_runs: tuple[int, int], engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, run = two_runs
    client, path = web["viewer"], f"/runs/{run}"
    # Three failing tests (the retried one passed in the end).
    assert _line(client.get(path).text) == "3 failures, none quarantined Quarantine"
    assert _line(client.get(f"/runs/{base}").text) is None  # no failures, no line
    muted = _mute(web, "muted")
    assert _line(client.get(path).text) == "3 failures, 1 of them quarantined Quarantine"
    _mute(web, "retried")  # muted, but it passed in the end: not one of the failures
    skip = _mute(web, "skipped", "skip")  # quarantined to skip: still a failure
    line = _line(client.get(path).text)
    assert line == (
        "3 failures, 1 of them quarantined (1 failing test is quarantined to skip: that does "
        "not excuse a failure) Quarantine"
    )
    assert web.api.delete(f"/automation/quarantine/{skip}").status_code == 204
    _mute(web, "skipped")
    _mute(web, "plain")
    page = client.get(path).text
    assert _line(page) == "3 failures, all quarantined Quarantine"
    assert '<p class="qline all"' in page
    assert f'<a class="small" href="/projects/{web.api.project_id}/quarantine">' in page
    # Without a stored summary (a big run not analysed yet), the failures are counted live.
    with engine.begin() as conn:
        insights_db.forget_changes(conn)
    monkeypatch.setattr(run_summary, "LIVE_LIMIT", 0)
    assert "made when the run has been analysed" in client.get(path).text
    assert _line(client.get(path).text) == "3 failures, all quarantined Quarantine"
    assert web.api.delete(f"/automation/quarantine/{muted}").status_code == 204
    assert _line(client.get(path).text) == "3 failures, 2 of them quarantined Quarantine"
    one = submit(web.api, {"lonely": F})
    assert _line(client.get(f"/runs/{one}").text) == "1 failure, not quarantined Quarantine"
    _mute(web, "lonely")
    assert _line(client.get(f"/runs/{one}").text) == "1 failure, quarantined Quarantine"


def test_failed_outcomes_are_counted_like_the_summary(web: Web, engine: Engine) -> None:
    run = submit(web.api, {"a": F, "b": [F, P], "c": [P, F], "d": [F, F], "e": P, "f": "skipped"})
    batches.settle_run(engine, run)  # as every reader of results does first
    with read_tx(engine) as conn:
        table = StatusTable.cached(conn)
        found = insights_db.failed_outcome_count(conn, run, table.passed_ids, table.failed_ids)
        summary = run_summary.summarise(conn, run, None, table)
    assert found == summary["failures"] == 3  # a, c, d


# --- escaping --------------------------------------------------------------------------------


def test_reason_and_owner_are_text_on_every_page(web: Web, two_runs: tuple[int, int]) -> None:
    _, run = two_runs
    test_id = _result_id(web, run, "muted")
    response = _quarantine(web, "member", test_id, reason=f"r {EVIL}", owner=f"o {EVIL}")
    assert response.status_code == 303
    entry_id = _entries(web)[0]["id"]
    path = f"/projects/{web.api.project_id}/quarantine"
    pages = [web["member"].get(p).text for p in (f"/results/{test_id}", path)]
    # A refused form shows what was typed, as text too.
    refused = _quarantine(web, "member", _result_id(web, run, "plain"), reason=EVIL, mode="x")
    assert refused.status_code == 422
    web.post_form("member", f"/quarantine/{entry_id}/end", {}, path)
    pages += [web["member"].get(p).text for p in (f"/results/{test_id}", f"{path}?state=removed")]
    for page in [*pages, refused.text]:
        assert "<script>alert" not in page
        assert ESCAPED in page
        assert re.findall(r"<script[^>]*>", page) == ['<script src="/static/runhub.js" defer>']
