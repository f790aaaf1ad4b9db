"""Handlers of runhub's own webhook endpoints (README "Webhooks"): admins only."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from runhub.api import params
from runhub.api.body import parse
from runhub.api.common import call, created, json_response, no_content, path_id
from runhub.api.schemas import WebhookCreate, WebhookUpdate
from runhub.services import webhooks


def _allow_private(request: Request) -> bool:
    return request.app.state.settings.webhook_allow_private


async def create_webhook(request: Request) -> Response:
    project_id = path_id(request, "project_id")
    body = await parse(request, WebhookCreate)
    new_id = await call(
        request, webhooks.create, project_id, body, allow_private=_allow_private(request)
    )
    return created(new_id)


async def list_webhooks(request: Request) -> Response:
    page = params.page_request(request.query_params)
    project_id = path_id(request, "project_id")
    return json_response(await call(request, webhooks.list_endpoints, project_id, page))


async def get_webhook(request: Request) -> Response:
    return json_response(await call(request, webhooks.get, path_id(request, "webhook_id")))


async def update_webhook(request: Request) -> Response:
    webhook_id = path_id(request, "webhook_id")
    body = await parse(request, WebhookUpdate)
    result = await call(
        request, webhooks.update, webhook_id, body, allow_private=_allow_private(request)
    )
    return json_response(result)


async def delete_webhook(request: Request) -> Response:
    await call(request, webhooks.delete, path_id(request, "webhook_id"))
    return no_content()


async def list_deliveries(request: Request) -> Response:
    page = params.page_request(request.query_params)
    webhook_id = path_id(request, "webhook_id")
    return json_response(await call(request, webhooks.list_deliveries, webhook_id, page))


async def ping_webhook(request: Request) -> Response:
    return created(await call(request, webhooks.ping, path_id(request, "webhook_id")))
