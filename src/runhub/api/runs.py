"""Handlers for automation runs, threads and test results (reference §3-§4)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from runhub.api import params
from runhub.api.body import parse
from runhub.api.common import call, created, json_response, no_content, path_id
from runhub.api.schemas import (
    Resources,
    RunComplete,
    RunCreate,
    ThreadAppend,
    ThreadComplete,
    ThreadCreate,
)
from runhub.db.results import RESULT_SORTS
from runhub.errors import Unprocessable
from runhub.services import catalog, runs, threads


async def list_runs(request: Request) -> Response:
    q = request.query_params
    query = runs.RunQuery(
        page=params.page_request(q),
        descending=params.order_desc(q),
        **params.run_filters(q),
        expands=params.expands(q, runs.RUN_EXPANDS),
    )
    params.sort(q, ("automation_runs:created_at",), "automation_runs:created_at")
    return json_response(await call(request, runs.list_runs, path_id(request, "project_id"), query))


async def get_run(request: Request) -> Response:
    expands = params.expands(request.query_params, runs.RUN_EXPANDS)
    return json_response(await call(request, runs.get_run, path_id(request, "run_id"), expands))


async def create_run(request: Request) -> Response:
    project_id = path_id(request, "project_id")
    body = await parse(request, RunCreate)
    return created(await call(request, runs.create_run, project_id, body))


async def append_run(request: Request) -> Response:
    run_id = path_id(request, "run_id")
    body = await parse(request, Resources)
    await call(request, runs.append_to_run, run_id, body)
    request.app.state.metrics.appended("run", 0, request.state.body_bytes)
    return no_content()


async def complete_run(request: Request) -> Response:
    run_id = path_id(request, "run_id")
    body = await parse(request, RunComplete)
    await call(request, runs.complete_run, run_id, body)
    return no_content()


async def create_thread(request: Request) -> Response:
    run_id = path_id(request, "run_id")
    body = await parse(request, ThreadCreate)
    return created(await call(request, threads.create_thread, run_id, body))


IDEMPOTENCY_KEY_MAX = 200


def idempotency_key(request: Request) -> str | None:
    """The `Idempotency-Key` header of an append: 1..200 characters, or absent."""
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    if not key or len(key) > IDEMPOTENCY_KEY_MAX:
        message = f"The Idempotency-Key header must be 1..{IDEMPOTENCY_KEY_MAX} characters."
        raise Unprocessable(message, errors={"Idempotency-Key": [message]})
    return key


async def append_thread(request: Request) -> Response:
    thread_id = path_id(request, "thread_id")
    key = idempotency_key(request)
    body = await parse(request, ThreadAppend)
    await call(request, threads.append_to_thread, thread_id, body, key)
    tests = len(body.tests or ())
    request.app.state.metrics.appended("thread", tests, request.state.body_bytes)
    return no_content()


async def complete_thread(request: Request) -> Response:
    thread_id = path_id(request, "thread_id")
    body = await parse(request, ThreadComplete)
    await call(request, threads.complete_thread, thread_id, body)
    return no_content()


async def list_run_tests(request: Request) -> Response:
    q = request.query_params
    result = await call(
        request,
        catalog.list_run_tests,
        path_id(request, "run_id"),
        params.page_request(q, size_range=(100, 1000)),
        thread_id=params.positive_int(q, "thread_id"),
        categories=params.choice_list(q, "status_id", (1, 2, 3, 4)),
        sort=params.sort(q, RESULT_SORTS, "automation_run_tests:id"),
        descending=params.order_desc(q),
    )
    return json_response(result)
