"""A run (header, counts, comparison with its base, fields, threads, its failures by
cause, tests and their badges, a changes list), its polled counts, and one test result
(with its case's health, a chart of its history and its quarantine record)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response

from runhub.api import params
from runhub.api.common import json_response, path_id
from runhub.db.schema import STATUS_SLOTS
from runhub.errors import ApiError, invalid
from runhub.services import failure_groups, insights, quarantine, results, retention
from runhub.services.outcomes import BUCKETS
from runhub.services.paging import PageRequest
from runhub.web.charts import Point, axis_duration, bar_chart
from runhub.web.common import (
    call,
    css_color,
    duration,
    query_string,
    redirect,
    render,
    require_session,
    session_form,
    when,
)

TEST_FILTERS = ("status", "thread", "folder", "q", "group")
# A cause (failure group) lists its failures alone: choosing one drops these, and choosing
# one of these drops the cause.
NOT_WITH_GROUP = ("status", "thread", "folder", "q")
RUN_CAUSES = 20  # the run page's causes, largest first ("N more causes" beyond)
CHANGE_FILTERS = ("changes", "changes_page")
CHANGES_PER_PAGE = 50


def changes_request(
    request: Request, bucket_name: str, page_name: str
) -> tuple[list[str] | None, PageRequest]:
    """The bucket filter and page of a changes list (a bad bucket name is a 422 page)."""
    q = request.query_params
    buckets = params.name_list(q, bucket_name, BUCKETS)
    page = params.positive_int(q, page_name) or 1
    if page > 1_000_000:
        raise invalid(page_name, f"The {page_name} parameter is too large.")
    return buckets, PageRequest(page, CHANGES_PER_PAGE)


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
        group_id=params.positive_int(q, "group"),
        page=page,
    )


def filter_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """A test filter link's changes to the current filters (back to page 1): a cause and
    the other test filters exclude each other."""
    changes = {"page": None, **changes}
    if changes.get("group") is not None:
        changes.update(dict.fromkeys(NOT_WITH_GROUP))
    elif any(k in changes for k in NOT_WITH_GROUP):
        changes.setdefault("group", None)
    return changes


async def run_page(request: Request) -> Response:
    session = await require_session(request)
    run_id = path_id(request, "run_id")
    test_filter = _test_filter(request)
    buckets, changes_page = changes_request(request, "changes", "changes_page")
    who = session.principal
    run = await call(request, results.run_view, who, run_id)
    tests = await call(request, results.run_tests, who, run_id, test_filter)
    intel = await call(request, insights.run_insights, who, run_id, tests["tests"])
    item, expands = run["result"], run["expands"]
    pinned = (await call(request, retention.pin_state, who, run_id))["result"]
    causes = None
    if item["is_completed"]:  # grouped when the analysis folds the completed run in
        causes = await call(
            request, failure_groups.run_groups, who, run_id, PageRequest(1, RUN_CAUSES)
        )
    listing = None
    if buckets:
        listing = await call(
            request, insights.changes_list, who, run_id, changes_page, base_id=None, buckets=buckets
        )
    q = request.query_params
    current = {k: q[k] for k in TEST_FILTERS + CHANGE_FILTERS if q.get(k)}
    failed = [s["id"] for s in tests["statuses"] if s["is_failed"]]
    failed_ids = ",".join(map(str, failed))
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
            "failures": sum(item.get(f"status{s}_count") or 0 for s in failed),
            "causes": causes,
            "pinned": pinned,
            "can_pin": who.role != "viewer",
            "intel": intel,
            "listing": listing,
            "buckets": BUCKETS,
            "page_url": lambda page: query_string(current, page=page),
            "filter_url": lambda **changes: query_string(current, **filter_changes(changes)),
            "changes_url": lambda bucket: query_string(current, changes=bucket, changes_page=None),
            "changes_page_url": lambda page: query_string(current, changes_page=page),
        },
    )


async def run_counts(request: Request) -> Response:
    session = await require_session(request)
    data = await call(request, results.run_counts, session.principal, path_id(request, "run_id"))
    return json_response(data, headers={"Cache-Control": "no-store"})


async def result_page(request: Request) -> Response:
    return await result_response(request, path_id(request, "test_id"))


async def result_response(
    request: Request,
    test_id: int,
    *,
    form: Mapping[str, str] | None = None,
    error: ApiError | None = None,
) -> Response:
    """The result page; with the quarantine form's values and its error after a refused
    POST (status 422, the form open with the message)."""
    session = await require_session(request)
    who = session.principal
    data = await call(request, results.result_view, who, test_id)
    intel = await call(request, insights.result_insights, who, test_id)
    record = await call(request, quarantine.case_record, who, test_id)
    context = {
        **data,
        "intel": intel,
        "chart": history_chart(data, test_id),
        "quarantine": record,
        "can_quarantine": who.role != "viewer",
        "qform": dict(form or {}),
        "qerror": error.message if error else None,
        "qerror_field": next(iter(error.errors), None) if error else None,
    }
    return render(request, "result.html", context, 422 if error else 200)


def history_chart(data: dict, test_id: int) -> Markup:
    """The case's last results as bars: height the duration, colour the status, the run,
    status, duration, commit and time on hover; linked to each result."""
    statuses, points = data["statuses"], []
    for h in data["history"]:
        status = statuses.get(h["status_id"])
        name = status["name"] if status else str(h["status_id"])
        commit = f" · commit {h['commit'][:12]}" if h["commit"] else ""
        label = (
            f"Run #{h['run_id']} {h['run_name']}: {name}, {duration(h['elapsed'])}{commit}"
            f" · {when(h['created_at'])}"
        )
        points.append(
            Point(
                h["elapsed"] or 0,
                label,
                f"/results/{h['id']}",
                css_color(status["color"] if status else None),
                f"#{h['run_id']}",
                current=h["id"] == test_id,
            )
        )
    longest = max((p.value for p in points), default=0.0)
    return bar_chart(
        points,
        max_value=longest * 1.1,
        unit_label=axis_duration,
        title=f"Duration and status of the last {len(points)} results",
        x_title="Run id, oldest to newest",
    )


async def pin_run(request: Request) -> Response:
    """POST /runs/{run_id}/pin (pin=1 pins, pin=0 unpins), then back to the run page."""
    session, form = await session_form(request)
    run_id = path_id(request, "run_id")
    if form.get("pin") == "0":
        await call(request, retention.unpin, session.principal, run_id)
    else:
        await call(request, retention.pin, session.principal, run_id)
    return redirect(f"/runs/{run_id}")
