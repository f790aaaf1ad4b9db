"""Handlers for users, projects, sources, milestones and automation cases (reference §7)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from runhub.api import params
from runhub.api.common import call, json_response, path_id
from runhub.db.results import CASE_SORTS
from runhub.services import catalog

USER_EXPANDS = ("groups", "roles", "users")
MILESTONE_EXPANDS = (
    "issues",
    "milestone_stats",
    "milestone_types",
    "milestones",
    "statuses",
    "users",
)


async def current_user(request: Request) -> Response:
    return json_response(await call(request, catalog.current_user))


async def list_users(request: Request) -> Response:
    q = request.query_params
    page, expands = params.page_request(q), params.expands(q, USER_EXPANDS)
    return json_response(await call(request, catalog.list_users, page, expands))


async def get_user(request: Request) -> Response:
    expands = params.expands(request.query_params, USER_EXPANDS)
    return json_response(
        await call(request, catalog.get_user, path_id(request, "user_id"), expands)
    )


async def list_projects(request: Request) -> Response:
    q = request.query_params
    result = await call(
        request,
        catalog.list_projects,
        params.page_request(q),
        is_completed=params.boolean(q, "is_completed"),
        sort=params.sort(q, catalog.PROJECT_SORTS, "projects:created_at"),
        descending=params.order_desc(q),
        expands=params.expands(q, ("users",)),
    )
    return json_response(result)


async def get_project(request: Request) -> Response:
    expands = params.expands(request.query_params, ("users",))
    result = await call(request, catalog.get_project, path_id(request, "project_id"), expands)
    return json_response(result)


async def list_project_users(request: Request) -> Response:
    page = params.page_request(request.query_params)
    result = await call(request, catalog.list_project_users, path_id(request, "project_id"), page)
    return json_response(result)


async def list_sources(request: Request) -> Response:
    q = request.query_params
    result = await call(
        request,
        catalog.list_sources,
        path_id(request, "project_id"),
        params.page_request(q),
        is_retired=params.boolean(q, "is_retired"),
        sort=params.sort(q, catalog.SOURCE_SORTS, "automation_sources:created_at"),
        descending=params.order_desc(q),
        expands=params.expands(q, ("users",)),
    )
    return json_response(result)


async def get_source(request: Request) -> Response:
    expands = params.expands(request.query_params, ("users",))
    result = await call(request, catalog.get_source, path_id(request, "source_id"), expands)
    return json_response(result)


async def list_milestones(request: Request) -> Response:
    q = request.query_params
    query = catalog.MilestoneQuery(
        page=params.page_request(q),
        sort=params.sort(q, catalog.MILESTONE_SORTS, "milestones:created_at"),
        descending=params.order_desc(q),
        automation_tags=params.string_list(q, "automation_tags"),
        completed_after=params.timestamp(q, "completed_after"),
        completed_before=params.timestamp(q, "completed_before"),
        created_after=params.timestamp(q, "created_after"),
        created_before=params.timestamp(q, "created_before"),
        created_by=params.id_list(q, "created_by"),
        is_completed=params.boolean(q, "is_completed"),
        parent_id=params.id_list(q, "parent_id"),
        root_id=params.id_list(q, "root_id"),
        type_id=params.id_list(q, "type_id"),
        expands=params.expands(q, MILESTONE_EXPANDS),
    )
    result = await call(request, catalog.list_milestones, path_id(request, "project_id"), query)
    return json_response(result)


async def get_milestone(request: Request) -> Response:
    expands = params.expands(request.query_params, MILESTONE_EXPANDS)
    result = await call(request, catalog.get_milestone, path_id(request, "milestone_id"), expands)
    return json_response(result)


async def list_cases(request: Request) -> Response:
    q = request.query_params
    result = await call(
        request,
        catalog.list_cases,
        path_id(request, "project_id"),
        params.page_request(q),
        source_ids=params.id_list(q, "source_id"),
        categories=params.choice_list(q, "status", (1, 2, 3, 4)),
        name=params.text(q, "name"),
        folder=params.text(q, "folder"),
        sort=params.sort(q, CASE_SORTS, "automation_sources:created_at"),
        descending=params.order_desc(q, default="asc"),
        expands=params.expands(q, ("automation_sources",)),
    )
    return json_response(result)
