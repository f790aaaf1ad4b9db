"""Handlers of runhub's own failure-group endpoints: a run's groups, a project's groups,
a group's failed results, and the project's failure categories (README "Failure groups")."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from runhub.api import params
from runhub.api.body import decode_list, read_body
from runhub.api.common import call, json_response, path_id
from runhub.api.schemas import FailureCategory
from runhub.services import failure_groups

MAX_CATEGORIES_BYTES = 256 * 1024


async def run_groups(request: Request) -> Response:
    result = await call(
        request,
        failure_groups.run_groups,
        path_id(request, "run_id"),
        params.page_request(request.query_params),
    )
    return json_response(result)


async def project_groups(request: Request) -> Response:
    q = request.query_params
    result = await call(
        request,
        failure_groups.project_groups,
        path_id(request, "project_id"),
        params.page_request(q),
        source_ids=params.id_list(q, "source_id"),
        created_after=params.timestamp(q, "created_after"),
    )
    return json_response(result)


async def group_tests(request: Request) -> Response:
    result = await call(
        request,
        failure_groups.group_tests,
        path_id(request, "group_id"),
        params.page_request(request.query_params),
    )
    return json_response(result)


async def get_categories(request: Request) -> Response:
    project_id = path_id(request, "project_id")
    rules = await call(request, failure_groups.get_categories, project_id)
    return json_response({"result": rules, "expands": {}})


async def set_categories(request: Request) -> Response:
    project_id = path_id(request, "project_id")
    limit = min(MAX_CATEGORIES_BYTES, request.app.state.settings.max_body_bytes)
    raw = await read_body(request, limit)
    document, _ = decode_list(raw, FailureCategory, request.headers.get("content-type"))
    rules = await call(request, failure_groups.set_categories, project_id, document)
    return json_response({"result": rules, "expands": {}})
