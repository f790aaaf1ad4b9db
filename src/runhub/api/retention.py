"""Handlers of runhub's own retention endpoints (README "Retention"): a project's setting
(admins change it) and pinned runs (members and admins pin)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from runhub.api import params
from runhub.api.body import parse
from runhub.api.common import call, json_response, no_content, path_id
from runhub.api.schemas import RetentionUpdate
from runhub.services import retention


async def get_retention(request: Request) -> Response:
    project_id = path_id(request, "project_id")
    return json_response(await call(request, retention.get, project_id))


async def set_retention(request: Request) -> Response:
    project_id = path_id(request, "project_id")
    body = await parse(request, RetentionUpdate)
    return json_response(await call(request, retention.set_retention, project_id, body))


async def get_pin(request: Request) -> Response:
    return json_response(await call(request, retention.pin_state, path_id(request, "run_id")))


async def pin_run(request: Request) -> Response:
    return json_response(await call(request, retention.pin, path_id(request, "run_id")))


async def unpin_run(request: Request) -> Response:
    await call(request, retention.unpin, path_id(request, "run_id"))
    return no_content()


async def list_pinned_runs(request: Request) -> Response:
    page = params.page_request(request.query_params)
    project_id = path_id(request, "project_id")
    return json_response(await call(request, retention.list_pins, project_id, page))
