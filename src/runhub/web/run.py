"""A run (header, counts, fields, threads, tests), its polled counts, and one test result."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from runhub.api import params
from runhub.api.common import json_response, path_id
from runhub.db.schema import STATUS_SLOTS
from runhub.errors import invalid
from runhub.services import results
from runhub.web.common import call, query_string, render, require_session

TEST_FILTERS = ("status", "thread", "folder", "q")


def _test_filter(request: Request) -> results.TestFilter:
    q = request.query_params
    status_ids = params.id_list(q, "status") or []
    if any(s not in STATUS_SLOTS for s in status_ids):
        raise invalid("status", "The status filter takes status ids from 1 to 24.")
    page = params.positive_int(q, "page") or 1
    if page > 1_000_000:
        raise invalid("page", "The page parameter is too large.")
    return results.TestFilter(
        status_ids=tuple(status_ids),
        thread_id=params.positive_int(q, "thread"),
        folder=(params.text(q, "folder") or "")[:750] or None,
        name=(params.text(q, "q") or "")[:750] or None,
        page=page,
    )


async def run_page(request: Request) -> Response:
    session = await require_session(request)
    run_id = path_id(request, "run_id")
    test_filter = _test_filter(request)
    run = await call(request, results.run_view, session.principal, run_id)
    tests = await call(request, results.run_tests, session.principal, run_id, test_filter)
    item, expands = run["result"], run["expands"]
    q = request.query_params
    current = {k: q[k] for k in TEST_FILTERS if q.get(k)}
    failed_ids = ",".join(str(s["id"]) for s in tests["statuses"] if s["is_failed"])
    return render(
        request,
        "run.html",
        {
            "run": item,
            "project": run["project"],
            "source": next(iter(expands.get("automation_sources", [])), None),
            "config": next(iter(expands.get("configs", [])), None),
            "milestone": next(iter(expands.get("milestones", [])), None),
            "user_names": {u["id"]: u["name"] for u in expands.get("users", [])},
            "tests": tests,
            "status_by_id": {s["id"]: s for s in tests["statuses"]},
            "filters": current,
            "filter": test_filter,
            "failed_ids": failed_ids,
            "page_url": lambda page: query_string(current, page=page),
            "filter_url": lambda **changes: query_string(current, page=None, **changes),
        },
    )


async def run_counts(request: Request) -> Response:
    session = await require_session(request)
    data = await call(request, results.run_counts, session.principal, path_id(request, "run_id"))
    return json_response(data, headers={"Cache-Control": "no-store"})


async def result_page(request: Request) -> Response:
    session = await require_session(request)
    data = await call(request, results.result_view, session.principal, path_id(request, "test_id"))
    return render(request, "result.html", data)
