"""A project's webhooks in the web UI (admins): add, change, test and remove endpoints,
and their recent deliveries with each attempt's response. The rules are the API's
(services.webhooks)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from runhub.api.common import path_id
from runhub.api.schemas import WebhookCreate, WebhookUpdate
from runhub.errors import Unprocessable
from runhub.services import webhooks
from runhub.web.common import call, redirect, render, require_session, session_form


async def project_page(
    request: Request, error: str | None = None, form: dict[str, str] | None = None
) -> Response:
    session = await require_session(request)
    project_id = path_id(request, "project_id")
    data = await call(request, webhooks.project_view, session.principal, project_id)
    return render(
        request,
        "webhooks.html",
        {
            **data,
            "error": error,
            "form": form or {},
            "notice": request.query_params.get("done"),
            "public_url": request.app.state.settings.public_url,
        },
        422 if error else 200,
    )


async def project_post(request: Request) -> Response:
    """Every form of the page posts here with an `action`: create, update, delete, ping."""
    session, form = await session_form(request)
    who = session.principal
    project_id = path_id(request, "project_id")
    allow_private = request.app.state.settings.webhook_allow_private
    action = form.get("action", "")
    events = [e for e in webhooks.EVENTS if form.get(f"event_{e}") == "1"]
    webhook_id = form.get("webhook_id", "")
    try:
        if action == "create":
            body = webhooks.parse_form(webhooks.form_body(form, events, True), WebhookCreate)
            await call(request, webhooks.create, who, project_id, body, allow_private=allow_private)
        elif action in ("update", "delete", "ping") and webhook_id.isdigit():
            target = int(webhook_id)
            await call(request, webhooks.check_project, who, target, project_id)
            if action == "update":
                changes = webhooks.form_body(form, events, False)
                body = webhooks.parse_form(changes, WebhookUpdate)
                await call(request, webhooks.update, who, target, body, allow_private=allow_private)
            elif action == "delete":
                await call(request, webhooks.delete, who, target)
            else:
                await call(request, webhooks.ping, who, target)
        else:
            return await project_page(request, f"unknown action {action!r}", form)
    except Unprocessable as exc:
        return await project_page(request, exc.message, form)
    return redirect(f"/projects/{project_id}/webhooks?done={action}")
