"""Behaviour of the automation API as decisions.md describes it: counts and statuses,
threads, elapsed, sources/configs/milestones/tags, the lists with their filters, sorts
and expands, and the read-only catalog endpoints."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, update

from runhub.db.engine import write_tx
from runhub.db.schema import automation_runs, automation_sources, milestones
from runhub.services import admin

from ..helpers import Api, make_test

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
STATUS_TABLE = {  # id: (name, aliases, passed, failed, final) — decisions.md "Statuses"
    1: ("Passed", ["ok", "pass", "passed", "success"], True, False, True),
    2: ("Failed", ["fail", "failed", "failure"], False, True, True),
    3: ("Retest", ["retest"], False, False, False),
    4: ("Blocked", ["blocked"], False, True, True),
    5: ("Skipped", ["disabled", "ignored", "pending", "skip", "skipped"], False, False, True),
    6: ("Error", ["broken", "error", "errored"], False, True, True),
}


def complete(api: Api, run_id: int, **body: Any) -> None:
    assert api.post(f"/automation/runs/{run_id}/complete", body).status_code == 204


def complete_thread(api: Api, thread_id: int, **body: Any) -> None:
    assert api.post(f"/automation/runs/threads/{thread_id}/complete", body).status_code == 204


def submit(api: Api, statuses: list[str], **run: Any) -> int:
    """A run with one thread holding one result per status alias (not completed)."""
    run_id = api.create_run(**run)
    thread_id = api.create_thread(run_id)
    tests = [make_test(f"t{i}", s) for i, s in enumerate(statuses)]
    assert api.append(thread_id, tests).status_code == 204
    return run_id


def set_created_at(engine: Engine, run_id: int, when: datetime) -> None:
    with write_tx(engine) as conn:
        conn.execute(
            update(automation_runs).where(automation_runs.c.id == run_id).values(created_at=when)
        )


def ids(page: Any) -> list[int]:
    """The ids of a page's items (a page body or a response holding one)."""
    body = page if isinstance(page, dict) else page.json()
    assert "result" in body, body
    return [item["id"] for item in body["result"]]


def assert_timestamps(obj: Any) -> None:
    """Every *_at value anywhere in obj is null or 2026-11-28T09:15:02.123456Z."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key.endswith("_at"):
                assert value is None or TIMESTAMP.match(value), (key, value)
            assert_timestamps(value)
    elif isinstance(obj, list):
        for value in obj:
            assert_timestamps(value)


# --- counts and status categories -----------------------------------------------------------


def test_counts_and_status_categories(api: Api) -> None:
    run_id = api.create_run()
    mixed, skipped = api.create_thread(run_id), api.create_thread(run_id)
    batch = [
        make_test("a"),
        make_test("b", "ok"),
        make_test("c", "failure"),
        make_test("d", "skip"),
    ]
    assert api.append(mixed, batch).status_code == 204
    batch = [make_test("e", "skipped"), make_test("f", "ignored")]
    assert api.append(skipped, batch).status_code == 204
    run = api.run(run_id)["result"]
    assert run["status"] == 4 and not run["is_completed"] and run["elapsed"] is None
    assert [t["status"] for t in run["threads"]] == [4, 4]
    assert run["thread_count"] == run["thread_active_count"] == 2
    assert run["thread_completed_count"] == 0
    first, second = run["threads"]
    assert (first["status1_count"], first["status2_count"], first["status5_count"]) == (2, 1, 1)
    assert (first["success_count"], first["failure_count"], first["completed_count"]) == (2, 1, 4)
    assert (second["status5_count"], second["total_count"], second["success_count"]) == (2, 2, 0)
    assert run["status1_count"] == 2 and run["status5_count"] == 3 and run["total_count"] == 6
    assert run["untested_count"] == 0 and run["completed_count"] == 6

    complete_thread(api, skipped)
    run = api.run(run_id)["result"]
    assert [t["status"] for t in run["threads"]] == [4, 2]  # all skipped: success
    assert (run["status"], run["thread_active_count"], run["thread_completed_count"]) == (4, 1, 1)
    complete(api, run_id)
    run = api.run(run_id)["result"]
    assert run["status"] == 3 and [t["status"] for t in run["threads"]] == [3, 2]

    all_skipped = submit(api, ["skipped", "pending", "disabled"])
    empty = api.create_run(name="Empty")
    only_retest = submit(api, ["retest"])
    for done in (all_skipped, empty, only_retest):
        complete(api, done)
        assert api.run(done)["result"]["status"] == 2
    assert api.run(empty)["result"]["elapsed"] == 0


def test_default_statuses_aliases_and_flag_counts(api: Api) -> None:
    aliases = [(sid, alias) for sid, row in STATUS_TABLE.items() for alias in row[1]]
    run_id = submit(api, [alias for _, alias in aliases])
    body = api.run(run_id, expands="statuses")
    run = body["result"]
    for sid, row in STATUS_TABLE.items():
        assert run[f"status{sid}_count"] == len(row[1]), sid
    assert all(run[f"status{n}_count"] == 0 for n in range(7, 25))
    count = {sid: len(row[1]) for sid, row in STATUS_TABLE.items()}
    assert run["success_count"] == sum(count[s] for s, r in STATUS_TABLE.items() if r[2])
    assert run["failure_count"] == sum(count[s] for s, r in STATUS_TABLE.items() if r[3])
    assert run["completed_count"] == sum(count[s] for s, r in STATUS_TABLE.items() if r[4])
    assert run["total_count"] == len(aliases)
    expanded = {s["id"]: s for s in body["expands"]["statuses"]}
    assert set(expanded) == set(STATUS_TABLE)
    for sid, (name, names, passed, failed, final) in STATUS_TABLE.items():
        status = expanded[sid]
        assert (status["name"], status["system_name"]) == (name, name.lower())
        assert sorted(status["aliases"]) == names
        flags = (status["is_passed"], status["is_failed"], status["is_final"])
        assert flags == (passed, failed, final)
        assert status["is_untested"] is False and status["color"].startswith("#")
    # Each result's status is the id its alias maps to.
    tests = api.get(f"/automation/runs/{run_id}/tests", order="asc").json()["result"]
    assert [t["status"] for t in tests] == [sid for sid, _ in aliases]


COUNTS = {
    "untested_count",
    *(f"status{n}_count" for n in range(1, 25)),
    "success_count",
    "failure_count",
    "completed_count",
    "total_count",
}
THREAD_KEYS = {
    "id",
    "index",
    "name",
    "status",
    "elapsed",
    "is_completed",
    "artifacts",
    "fields",
    *COUNTS,
    "created_at",
    "created_by",
    "completed_at",
    "completed_by",
}
RUN_SCALARS = {
    "id",
    "project_id",
    "source_id",
    "name",
    "status",
    "config_id",
    "milestone_id",
    "elapsed",
    "is_completed",
    "tags",
    *COUNTS,
    "thread_count",
    "thread_active_count",
    "thread_completed_count",
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
    "completed_at",
    "completed_by",
}


def test_run_shape_and_where_resources_go(api: Api) -> None:
    field = {"type": 1, "name": "Run field", "value": "r"}
    run_id = api.create_run(
        fields=[field],
        links=[{"name": "CI", "url": "https://ci"}],
        artifacts=[{"name": "run.log", "url": "https://ci/run.log"}],
    )
    thread_id = api.create_thread(run_id, fields=[{"type": 4, "name": "Console", "value": "$"}])
    test = make_test(
        "t",
        fields=[{"type": 2, "name": "Error", "value": "boom"}],
        artifacts=[{"name": "shot.png", "url": "https://ci/shot.png", "size": 9}],
    )
    thread_art = [{"name": "thread.log", "url": "https://ci/thread.log"}]
    extra = [{"type": 1, "name": "Later", "value": "x", "is_highlight": True}]
    assert api.append(thread_id, [test], artifacts=thread_art, fields=extra).status_code == 204
    run = api.run(run_id)["result"]
    assert set(run) == RUN_SCALARS | {"artifacts", "fields", "links", "threads"}
    assert set(run["threads"][0]) == THREAD_KEYS
    listed = api.get(f"/projects/{api.project_id}/automation/runs").json()["result"][0]
    assert set(listed) == RUN_SCALARS
    assert listed == {k: v for k, v in run.items() if k in RUN_SCALARS}
    assert [f["name"] for f in run["fields"]] == ["Run field"]
    assert [a["name"] for a in run["artifacts"]] == ["run.log"]
    assert run["links"] == [{"name": "CI", "note": None, "url": "https://ci"}]
    thread = run["threads"][0]
    assert [f["name"] for f in thread["fields"]] == ["Console", "Later"]
    assert thread["fields"][1]["is_highlight"] is True
    assert [a["name"] for a in thread["artifacts"]] == ["thread.log"]
    item = api.get(f"/automation/runs/{run_id}/tests").json()["result"][0]
    assert [(f["name"], f["value"]) for f in item["fields"]] == [("Error", "boom")]
    assert [(a["name"], a["size"]) for a in item["artifacts"]] == [("shot.png", 9)]


# --- completion, threads, elapsed -----------------------------------------------------------


def test_complete_run_completes_open_threads_at_the_same_instant(api: Api) -> None:
    run_id = api.create_run()
    early, open1, open2 = (api.create_thread(run_id) for _ in range(3))
    complete_thread(api, early)
    early_at = api.run(run_id)["result"]["threads"][0]["completed_at"]
    complete(api, run_id)
    run = api.run(run_id)["result"]
    assert run["is_completed"] and run["completed_by"]
    assert TIMESTAMP.match(run["completed_at"]) and TIMESTAMP.match(run["created_at"])
    assert_timestamps(run)
    by_id = {t["id"]: t for t in run["threads"]}
    assert by_id[early]["completed_at"] == early_at
    assert by_id[open1]["completed_at"] == by_id[open2]["completed_at"] == run["completed_at"]
    assert all(t["is_completed"] for t in run["threads"]) and run["thread_active_count"] == 0
    # Completing again is a 204 no-op; so is completing a completed thread.
    complete(api, run_id, measure_elapsed=True)
    complete_thread(api, open1, elapsed_observed=99)
    again = api.run(run_id)["result"]
    assert again == run


def test_thread_index_and_name(api: Api) -> None:
    first, second = api.create_run(), api.create_run()
    made = [api.create_thread(first) for _ in range(3)]
    api.create_thread(second)
    threads = api.run(first)["result"]["threads"]
    assert [t["id"] for t in threads] == made
    assert [(t["index"], t["name"]) for t in threads] == [(i, f"Thread {i}") for i in (1, 2, 3)]
    only = api.run(second)["result"]["threads"]
    assert [(t["index"], t["name"]) for t in only] == [(1, "Thread 1")]


def test_elapsed_rules(api: Api) -> None:
    run_id = api.create_run()
    computed = api.create_thread(run_id, elapsed_computed=1_000)
    observed = api.create_thread(run_id, elapsed_observed=7_000, elapsed_computed=1)

    def elapsed() -> list[int]:
        return [t["elapsed"] for t in api.run(run_id)["result"]["threads"]]

    assert elapsed() == [1_000, 7_000]
    assert api.append(computed, [], elapsed_computed=500).status_code == 204
    assert elapsed() == [1_500, 7_000]  # append adds
    assert api.append(computed, [], elapsed_observed=200).status_code == 204
    assert elapsed() == [200, 7_000]  # observed > 0 wins over computed
    complete_thread(api, computed, elapsed_observed=5_000)
    complete_thread(api, observed, elapsed_computed=9)
    assert elapsed() == [5_000, 7_000]  # complete sets
    assert api.run(run_id)["result"]["elapsed"] is None
    complete(api, run_id, measure_elapsed=False)
    assert api.run(run_id)["result"]["elapsed"] == 7_000  # the longest thread

    measured = api.create_run()
    api.create_thread(measured, elapsed_computed=10**12)
    complete(api, measured, measure_elapsed=True)
    run = api.run(measured)["result"]
    since = datetime.fromisoformat(run["completed_at"]) - datetime.fromisoformat(run["created_at"])
    assert run["elapsed"] == since // timedelta(microseconds=1)
    assert run["elapsed"] < 10**12


def test_run_append_allowed_after_completion(api: Api) -> None:
    run_id = api.create_run(links=[{"name": "CI", "url": "https://ci/1"}])
    complete(api, run_id)
    resources = {
        "links": [{"name": "Report", "url": "https://ci/report", "note": "html"}],
        "artifacts": [
            {"name": "log", "url": "https://ci/log", "mime_type": "text/plain", "size": 3}
        ],
        "fields": [{"type": 1, "name": "Commit", "value": "abc", "meta": {"branch": "main"}}],
    }
    assert api.post(f"/automation/runs/{run_id}/append", resources, "member").status_code == 204
    run = api.run(run_id)["result"]
    assert [x["name"] for x in run["links"]] == ["CI", "Report"]
    assert run["artifacts"] == [
        {"name": "log", "note": None, "url": "https://ci/log", "mime_type": "text/plain", "size": 3}
    ]
    assert run["fields"][0]["meta"] == {"branch": "main"} and run["fields"][0]["value"] == "abc"
    assert run["updated_by"] == api.get("/user", "member").json()["id"] and run["updated_at"]


# --- sources, configs, milestones, tags -----------------------------------------------------


def test_sources_and_configs_by_name(api: Api) -> None:
    pairs = [("backend", "Chrome"), ("backend", "Chrome"), ("Backend", "chrome"), ("backend", None)]
    runs = [api.create_run(source=s, config=c) for s, c in pairs]
    other = api.create_run(project_id=api.other_project_id, source="backend", config="Chrome")
    got = [api.run(r)["result"] for r in runs]
    assert got[0]["source_id"] == got[1]["source_id"] == got[3]["source_id"] != got[2]["source_id"]
    assert got[0]["config_id"] == got[1]["config_id"] != got[2]["config_id"]
    assert got[3]["config_id"] is None
    theirs = api.run(other)["result"]
    assert theirs["source_id"] != got[0]["source_id"] and theirs["config_id"] != got[0]["config_id"]
    # config_id wins over config (and the named config is not created).
    chosen = api.create_run(config="Firefox", config_id=got[2]["config_id"])
    assert api.run(chosen)["result"]["config_id"] == got[2]["config_id"]
    firefox = api.run(api.create_run(config="Firefox"))["result"]["config_id"]
    assert firefox == max(got[0]["config_id"], got[2]["config_id"], theirs["config_id"]) + 1
    sources = api.get(f"/projects/{api.project_id}/automation/sources").json()
    assert sorted(s["name"] for s in sources["result"]) == ["Backend", "backend"]


def test_milestones_by_name_id_and_tags(api: Api, engine: Engine) -> None:
    with write_tx(engine) as conn:
        old = admin.create_milestone(conn, api.project_id, "Old", ["nightly"])
        new = admin.create_milestone(conn, api.project_id, "New", ["nightly", "release"])
        done = admin.create_milestone(conn, api.project_id, "Done", ["smoke"])
        admin.create_milestone(conn, api.other_project_id, "Foreign", ["weekly"])
        conn.execute(update(milestones).where(milestones.c.id == done).values(is_completed=True))

    def milestone_of(**body: Any) -> int | None:
        return api.run(api.create_run(**body))["result"]["milestone_id"]

    assert milestone_of(milestone="Old") == old
    assert milestone_of(milestone="Old", milestone_id=new) == new
    assert milestone_of(milestone_id=done) == done  # explicit ids may name completed ones
    assert milestone_of(tags=["nightly"]) == new  # newest not-completed sharing a tag
    assert milestone_of(tags=["zzz", "release"]) == new
    assert milestone_of(tags=["smoke"]) is None  # completed milestones are ignored
    assert milestone_of(tags=["weekly"]) is None  # another project's milestone
    assert milestone_of(tags=["nightly"], milestone="Old") == old
    assert milestone_of(tags=["nightly"], milestone_id=done) == done
    assert milestone_of() is None


def test_tags_collapse_and_sort(api: Api) -> None:
    tags = ["b-2", "a_1", "B", "b-2", "a", "Z9", "a"]
    run = api.run(api.create_run(tags=tags))["result"]
    assert run["tags"] == sorted(set(tags))
    listed = api.get(f"/projects/{api.project_id}/automation/runs").json()["result"][0]
    assert listed["tags"] == sorted(set(tags))
    assert api.run(api.create_run())["result"]["tags"] == []


# --- the run list ---------------------------------------------------------------------------


def test_run_list_filters(api: Api, engine: Engine) -> None:
    with write_tx(engine) as conn:
        m1 = admin.create_milestone(conn, api.project_id, "M1")
    r1 = submit(api, ["passed"], source="s1", config="c1", milestone_id=m1, tags=["x"])
    r2 = submit(api, ["failed"], source="s2", config="c2", tags=["y", "z"], who="member")
    r3 = submit(api, ["passed"], source="s1")
    r4 = submit(api, ["passed", "error"], source="s3", config="c1")
    complete(api, r3)
    complete(api, r4)
    for run_id, day in ((r1, 1), (r2, 2), (r3, 3), (r4, 4)):
        set_created_at(engine, run_id, datetime(2026, 1, day, 0, 0, 0))
    one = api.run(r1)["result"]
    member_id = api.get("/user", "member").json()["id"]

    def listed(**query: Any) -> list[int]:
        page = api.get(f"/projects/{api.project_id}/automation/runs", order="asc", **query).json()
        assert page["total"] == len(page["result"])
        return ids(page)

    assert listed() == [r1, r2, r3, r4]
    assert listed(source_id=str(one["source_id"])) == [r1, r3]
    two = api.run(r2)["result"]
    assert listed(config_id=f"{one['config_id']},{two['config_id']}") == [r1, r2, r4]
    assert listed(milestone_id=str(m1)) == [r1]
    assert listed(created_by=str(member_id)) == [r2]
    assert listed(status="4") == [r1, r2]
    assert listed(status="2") == [r3]
    assert listed(status="3") == [r4]
    assert listed(status="2,3") == [r3, r4]
    assert listed(status="2,3,4") == [r1, r2, r3, r4]
    assert listed(tags="x,z") == [r1, r2]
    assert listed(tags="nope") == []
    assert listed(created_after="2026-01-02T12:00:00Z") == [r3, r4]
    window = {"created_after": "2026-01-02T12:00:00.000Z", "created_before": "2026-01-03T12:00Z"}
    assert listed(**window) == [r3]
    assert listed(created_after="2026-01-03T01:00:00+02:00") == [r3, r4]  # 23:00Z on the 2nd
    assert listed(created_before="2026-01-01T20:00:00-05:00") == [r1, r2]  # 01:00Z on the 2nd
    assert listed(created_after="2026-01-03T12:00:00") == [r4]  # no zone: UTC
    assert listed(created_before="2026-01-02") == [r1]
    assert listed(source_id=str(one["source_id"]), status="2") == [r3]
    assert api.get(f"/projects/{api.project_id}/automation/runs", "outsider").status_code == 404


def test_run_list_order_and_pagination(api: Api, engine: Engine) -> None:
    made = [api.create_run(name=f"R{i}") for i in range(17)]
    tie = datetime(2026, 5, 5)
    for run_id in made[5:8]:
        set_created_at(engine, run_id, tie)
    for run_id in made[:5]:
        set_created_at(engine, run_id, datetime(2026, 1, 1))
    path = f"/projects/{api.project_id}/automation/runs"
    asc = made[:5] + made[5:8] + made[8:]
    assert ids(api.get(path, order="asc")) == asc
    assert ids(api.get(path)) == asc[::-1]  # default desc, ties by id desc
    first = api.get(path, per_page="15").json()

    def nav(page: dict[str, Any]) -> tuple:
        return page["page"], page["prev_page"], page["next_page"], page["last_page"]

    assert nav(first) == (1, None, 2, 2)
    assert first["total"] == 17 and ids(first) == asc[::-1][:15]
    second = api.get(path, per_page="15", page="2").json()
    assert nav(second) == (2, 1, None, 2)
    assert ids(second) == asc[::-1][15:]
    past = api.get(path, per_page="15", page="9").json()
    assert past["result"] == [] and past["total"] == 17 and past["last_page"] == 2
    assert past["page"] == 9 and past["next_page"] is None


def test_run_expands_list_exactly_the_referenced_objects(api: Api, engine: Engine) -> None:
    with write_tx(engine) as conn:
        m1 = admin.create_milestone(conn, api.project_id, "M1")
        admin.create_milestone(conn, api.project_id, "Unused")
    r1 = api.create_run(source="s1", config="c1", milestone_id=m1, who="member")
    api.create_run(source="s2", config="c2")
    r3 = api.create_run(source="s1")
    complete(api, r3)
    ref = api.run(r1)["result"]
    users = {u["id"]: u["name"] for u in api.get("/users").json()["result"]}
    by_name = {v: k for k, v in users.items()}
    expands = "automation_sources,configs,milestones,statuses,users"
    page = api.get(
        f"/projects/{api.project_id}/automation/runs",
        source_id=str(ref["source_id"]),
        expands=expands,
    ).json()
    assert set(ids(page)) == {r1, r3}
    ex = page["expands"]
    assert set(ex) == set(expands.split(","))
    assert ex["automation_sources"] == [{"id": ref["source_id"], "name": "s1"}]
    assert ex["configs"] == [{"id": ref["config_id"], "name": "c1"}]
    assert ex["milestones"] == [{"id": m1, "name": "M1"}]
    assert [s["id"] for s in ex["statuses"]] == [1, 2, 3, 4, 5, 6]
    assert ex["users"] == [{"id": by_name[n], "name": n} for n in ("Admin", "Member")]
    single = api.run(r3, expands="users,configs,milestones")
    assert single["expands"] == {
        "users": [{"id": by_name["Admin"], "name": "Admin"}],
        "configs": [],
        "milestones": [],
    }
    assert api.run(r3)["expands"] == {}


# --- test results of a run ------------------------------------------------------------------


def test_run_tests_filters_sorts_and_duplicates(api: Api) -> None:
    run_id = api.create_run()
    t1, t2 = api.create_thread(run_id), api.create_thread(run_id)
    batch1 = [
        make_test("dup", "passed", elapsed=30),
        make_test("beta", "failed", elapsed=10),
        make_test("alpha", "skipped", elapsed=20, file="a.py", line=3, assertions=2),
        make_test("dup", "failed", elapsed=5),
    ]
    batch2 = [make_test("dup", "retest", elapsed=40), make_test("gamma", "blocked", elapsed=None)]
    assert api.append(t1, batch1).status_code == 204
    assert api.append(t2, batch2).status_code == 204
    path = f"/automation/runs/{run_id}/tests"
    items = api.get(path, order="asc").json()["result"]
    assert [(t["name"], t["status"]) for t in items] == [
        ("dup", 1),
        ("beta", 2),
        ("alpha", 5),
        ("dup", 2),
        ("dup", 3),
        ("gamma", 4),
    ]
    assert [t["thread_id"] for t in items] == [t1] * 4 + [t2] * 2
    dups = [t for t in items if t["name"] == "dup"]
    assert len({t["automation_case_id"] for t in dups}) == 1 and dups[0]["key"] == batch1[0]["key"]
    assert set(items[2]) == {
        "id",
        "thread_id",
        "automation_case_id",
        "repository_case_id",
        "key",
        "name",
        "folder",
        "status",
        "elapsed",
        "file",
        "line",
        "assertions",
        "artifacts",
        "fields",
        "created_at",
    }
    assert (items[2]["file"], items[2]["line"], items[2]["assertions"]) == ("a.py", 3, 2)
    assert items[2]["repository_case_id"] is None and items[5]["elapsed"] is None
    assert_timestamps(items)
    all_ids = [t["id"] for t in items]
    assert ids(api.get(path)) == all_ids[::-1]  # default: id desc

    def names(**query: Any) -> list[str]:
        return [t["name"] for t in api.get(path, **query).json()["result"]]

    assert names(thread_id=str(t2), order="asc") == ["dup", "gamma"]
    assert names(status_id="1", order="asc") == ["alpha", "dup"]  # skipped, retest: neutral
    assert names(status_id="2", order="asc") == ["dup"]
    assert names(status_id="3", order="asc") == ["beta", "dup", "gamma"]  # failed, blocked
    assert names(status_id="4") == []
    assert names(status_id="1,2", thread_id=str(t1), order="asc") == ["dup", "alpha"]
    by = {t["id"]: t for t in items}

    def sorted_ids(key: str, desc: bool) -> list[int]:
        def sort_key(i: int) -> tuple:
            value = by[i][key]
            return (value is not None, value, i) if key == "elapsed" else (value, i)

        return sorted(all_ids, key=sort_key, reverse=desc)

    for sort, key in (
        ("id", "id"),
        ("name", "name"),
        ("status", "status"),
        ("created_at", "created_at"),
    ):
        for order in ("asc", "desc"):
            got = ids(api.get(path, sort=f"automation_run_tests:{sort}", order=order))
            assert got == sorted_ids(key, order == "desc"), (sort, order)
    non_null = [i for i in all_ids if by[i]["elapsed"] is not None]
    got = ids(api.get(path, sort="automation_run_tests:elapsed", order="asc"))
    expected = sorted(non_null, key=lambda i: (by[i]["elapsed"], i))
    assert [i for i in got if i in non_null] == expected
    assert api.get(path, per_page="100", page="2").json()["result"] == []


# --- projects, sources, milestones, cases, users --------------------------------------------


def test_projects(api: Api, engine: Engine) -> None:
    with write_tx(engine) as conn:
        m = admin.create_milestone(conn, api.project_id, "M")
        admin.create_milestone(conn, api.project_id, "Open")
        conn.execute(update(milestones).where(milestones.c.id == m).values(is_completed=True))
    complete(api, api.create_run(source="a"))
    api.create_run(source="b")
    project = api.get(f"/projects/{api.project_id}").json()
    assert project["expands"] == {}
    p = project["result"]
    assert (p["id"], p["name"], p["is_completed"]) == (api.project_id, "Demo", False)
    assert (p["milestone_count"], p["milestone_active_count"]) == (2, 1)
    assert p["milestone_completed_count"] == 1
    assert (
        p["automation_run_count"],
        p["automation_run_active_count"],
        p["automation_run_completed_count"],
    ) == (2, 1, 1)
    assert (
        p["automation_source_count"],
        p["automation_source_active_count"],
        p["automation_source_retired_count"],
    ) == (2, 2, 0)
    assert_timestamps(p)
    visible = {
        who: sorted(x["name"] for x in api.get("/projects", who).json()["result"])
        for who in ("admin", "member", "viewer", "outsider")
    }
    assert visible == {
        "admin": ["Demo", "Other"],
        "member": ["Demo"],
        "viewer": ["Demo"],
        "outsider": ["Other"],
    }
    assert api.get(f"/projects/{api.other_project_id}", "member").status_code == 404
    assert api.get(f"/projects/{api.other_project_id}", "outsider").status_code == 200
    members = api.get(f"/projects/{api.project_id}/users", "viewer").json()
    assert [u["name"] for u in members["result"]] == ["Member", "Viewer"]
    assert all(set(u) == {"id", "name"} for u in members["result"])


def test_sources_list_and_get(api: Api, engine: Engine) -> None:
    first = submit(api, ["passed"] * 4, source="suite")
    api.create_thread(first, elapsed_computed=1_000)
    complete(api, first)
    second = submit(api, ["passed", "failed"], source="suite")
    api.create_thread(second, elapsed_observed=3_000)
    complete(api, second)
    third = api.create_run(source="suite")
    fresh = api.create_run(source="fresh")
    sources = api.get(f"/projects/{api.project_id}/automation/sources", order="asc").json()
    suite, new = sources["result"]
    assert (suite["name"], new["name"]) == ("suite", "fresh")
    # Averages are over the completed runs: (4 + 2) / 2 tests, (1 ms + 3 ms) / 2.
    assert (suite["run_count"], suite["test_count_average"]) == (3, 3)
    assert suite["elapsed_average"] == 2_000
    assert suite["status"] == 3 and new["status"] == 1 and new["run_count"] == 1
    assert suite["ran_at"] == api.run(third)["result"]["created_at"]
    assert new["ran_at"] == api.run(fresh)["result"]["created_at"]
    assert (new["test_count_average"], new["elapsed_average"], new["is_retired"]) == (0, 0, False)
    assert_timestamps(sources["result"])
    one = api.get(f"/automation/sources/{suite['id']}", expands="users").json()
    assert one["result"] == suite and one["expands"]["users"][0]["name"] == "Admin"
    assert api.get(f"/automation/sources/{suite['id']}", "outsider").status_code == 404
    # A retired source that gets a new run stays retired.
    with write_tx(engine) as conn:
        conn.execute(
            update(automation_sources)
            .where(automation_sources.c.id == new["id"])
            .values(is_retired=True)
        )
    api.create_run(source="fresh")
    listed = api.get(f"/projects/{api.project_id}/automation/sources", is_retired="1").json()
    assert [(s["name"], s["run_count"]) for s in listed["result"]] == [("fresh", 2)]
    assert ids(api.get(f"/projects/{api.project_id}/automation/sources", is_retired="false")) == [
        suite["id"]
    ]


def test_milestones_list_and_get(api: Api, engine: Engine) -> None:
    with write_tx(engine) as conn:
        a = admin.create_milestone(conn, api.project_id, "A", ["nightly", "b_tag"])
        b = admin.create_milestone(conn, api.project_id, "B", ["weekly"])
        c = admin.create_milestone(conn, api.project_id, "C")
        admin.create_milestone(conn, api.other_project_id, "Theirs", ["nightly"])
        conn.execute(update(milestones).where(milestones.c.id == b).values(is_completed=True))
    path = f"/projects/{api.project_id}/milestones"
    assert ids(api.get(path)) == [c, b, a]
    assert ids(api.get(path, order="asc")) == [a, b, c]
    assert ids(api.get(path, is_completed="true")) == [b]
    assert ids(api.get(path, is_completed="0")) == [c, a]
    assert ids(api.get(path, automation_tags="nightly,weekly", order="asc")) == [a, b]
    assert ids(api.get(path, root_id=str(a))) == [a]
    one = api.get(f"/milestones/{a}", "viewer").json()
    assert one["expands"] == {}
    m = one["result"]
    assert (m["id"], m["project_id"], m["root_id"], m["name"]) == (a, api.project_id, a, "A")
    assert m["automation_tags"] == ["b_tag", "nightly"] and m["is_completed"] is False
    assert_timestamps(m)
    assert api.get(f"/milestones/{a}", "outsider").status_code == 404
    run_id = submit(api, ["passed", "failed"], milestone_id=a)
    assert api.run(run_id)["result"]["milestone_id"] == a
    stats = api.get(f"/milestones/{a}", expands="milestone_stats").json()["expands"]
    assert stats["milestone_stats"][0]["total_count"] == 2


def test_automation_cases(api: Api) -> None:
    def one_run(source: str, statuses: list[str], key_name: str = "flip") -> None:
        run_id = api.create_run(source=source)
        thread_id = api.create_thread(run_id)
        tests = [make_test(key_name, s) for s in statuses]
        assert api.append(thread_id, tests).status_code == 204

    one_run("web", ["passed"])
    one_run("web", ["failed", "skipped"])
    one_run("web", ["passed"])
    one_run("api", ["passed", "passed"])
    one_run("web", ["skipped"], key_name="neutral")
    one_run("api", ["passed", "skipped", "failed", "passed"], key_name="inbatch")
    path = f"/projects/{api.project_id}/automation/cases"
    page = api.get(path, expands="automation_sources").json()
    assert page["total"] == 4
    sources = {s["name"]: s["id"] for s in page["expands"]["automation_sources"]}
    cases = {(c["source_id"], c["name"]): c for c in page["result"]}
    web, api_case = cases[(sources["web"], "flip")], cases[(sources["api"], "flip")]
    assert web["key"] == api_case["key"] and web["id"] != api_case["id"]
    assert (web["test_count"], web["success_count"], web["failure_count"]) == (4, 2, 1)
    assert web["flaky_count"] == 2  # passed -> failed -> (skipped) -> passed
    assert web["status"] == 2  # the latest result passed
    assert (api_case["test_count"], api_case["flaky_count"], api_case["status"]) == (2, 0, 2)
    inbatch = cases[(sources["api"], "inbatch")]
    assert (inbatch["test_count"], inbatch["flaky_count"], inbatch["status"]) == (4, 2, 2)
    neutral = cases[(sources["web"], "neutral")]
    assert neutral["status"] == 1 and neutral["flaky_count"] == 0
    assert_timestamps(page["result"])
    api_ids = sorted([api_case["id"], inbatch["id"]])
    assert sorted(ids(api.get(path, source_id=str(sources["api"])))) == api_ids
    assert ids(api.get(path, status="1")) == [neutral["id"]]
    assert sorted(ids(api.get(path, status="2"))) == sorted([web["id"], *api_ids])
    one_run("web", ["error"])
    web = {c["id"]: c for c in api.get(path).json()["result"]}[web["id"]]
    assert (web["status"], web["flaky_count"], web["failure_count"]) == (3, 3, 2)


def test_users(api: Api) -> None:
    me = api.get("/user", "member")
    assert me.status_code == 200
    body = me.json()
    assert set(body) == {"id", "name", "timezone", "date_format", "time_format"}
    assert body["name"] == "Member"
    # Scripts written against Testmo get strings, never null, for the display settings.
    assert all(isinstance(body[k], str) for k in ("timezone", "date_format", "time_format"))
    users = api.get("/users").json()
    assert [u["name"] for u in users["result"]] == ["Admin", "Member", "Viewer", "Outsider"]
    assert users["total"] == 4 and users["expands"] == {}
    assert_timestamps(users["result"])
    assert api.get("/users", "member").status_code == 403
    assert api.get("/users", "viewer").status_code == 403
    one = api.get(f"/users/{body['id']}").json()
    assert one["result"]["email"] == "member@example.com" and one["expands"] == {}
    assert api.get(f"/users/{body['id']}", "member").status_code == 200
    admin_id = api.get("/user").json()["id"]
    assert api.get(f"/users/{admin_id}", "member").status_code == 403
    assert api.get("/users/999999").status_code == 404
