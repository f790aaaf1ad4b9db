"""Handlers of runhub's own test-intelligence endpoints (not Testmo's): changes against a
base run, case health and a case's history (README "Test intelligence")."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from runhub.api import params
from runhub.api.common import call, json_response, path_id
from runhub.services import changes, health
from runhub.services.outcomes import BUCKETS, STATES


async def run_changes(request: Request) -> Response:
    q = request.query_params
    result = await call(
        request,
        changes.changes,
        path_id(request, "run_id"),
        params.page_request(q),
        base_id=params.positive_int(q, "base_run_id"),
        buckets=params.name_list(q, "bucket", BUCKETS),
    )
    return json_response(result)


async def list_case_health(request: Request) -> Response:
    q = request.query_params
    result = await call(
        request,
        health.list_health,
        path_id(request, "project_id"),
        params.page_request(q),
        states=params.name_list(q, "state", tuple(STATES)),
        source_ids=params.id_list(q, "source_id"),
        branch=params.text(q, "branch"),
    )
    return json_response(result)


async def case_history(request: Request) -> Response:
    q = request.query_params
    result = await call(
        request,
        changes.history,
        path_id(request, "case_id"),
        params.page_request(q),
        branch=params.text(q, "branch"),
        config_ids=params.id_list(q, "config_id"),
    )
    return json_response(result)
