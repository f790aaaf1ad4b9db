"""Handlers of runhub's own quarantine endpoints (README "Quarantine")."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from runhub.api import params
from runhub.api.body import parse
from runhub.api.common import call, created, json_response, no_content, path_id
from runhub.api.schemas import QuarantineCreate
from runhub.services import quarantine


async def create_entry(request: Request) -> Response:
    project_id = path_id(request, "project_id")
    body = await parse(request, QuarantineCreate)
    return created(await call(request, quarantine.create, project_id, body))


async def list_entries(request: Request) -> Response:
    q = request.query_params
    active = params.boolean(q, "active")
    result = await call(
        request,
        quarantine.list_entries,
        path_id(request, "project_id"),
        params.page_request(q),
        active=True if active is None else active,
        source_ids=params.id_list(q, "source_id"),
        case_ids=params.id_list(q, "case_id"),
        modes=params.name_list(q, "mode", tuple(quarantine.MODES)),
    )
    return json_response(result)


async def end_entry(request: Request) -> Response:
    await call(request, quarantine.end, path_id(request, "entry_id"))
    return no_content()
