"""The profile page: your API tokens (created here, shown once) and your password."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from runhub.api.common import path_id
from runhub.services import profile
from runhub.services.admin import AdminError
from runhub.web.common import call, redirect, render, require_session, session_form


async def _page(
    request: Request,
    *,
    new_token: str | None = None,
    message: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    session = await require_session(request)
    tokens = await call(request, profile.tokens, session.principal)
    return render(
        request,
        "profile.html",
        {
            "email": session.email,
            "tokens": tokens,
            "new_token": new_token,
            "message": message,
            "error": error,
        },
        status_code,
    )


async def profile_page(request: Request) -> Response:
    return await _page(
        request, message="Password changed." if "changed" in request.query_params else None
    )


async def create_token(request: Request) -> Response:
    session, form = await session_form(request)
    try:
        token = await call(request, profile.create_token, session.principal, form.get("name", ""))
    except AdminError as exc:
        return await _page(request, error=str(exc), status_code=422)
    # Rendered directly (not redirected): the token is shown this once and never stored.
    return await _page(request, new_token=token)


async def revoke_token(request: Request) -> Response:
    session, _ = await session_form(request)
    await call(request, profile.revoke_token, session.principal, path_id(request, "token_id"))
    return redirect("/profile")


async def change_password(request: Request) -> Response:
    session, form = await session_form(request)
    try:
        await call(
            request,
            profile.change_password,
            session.principal,
            form.get("current_password", ""),
            form.get("new_password", ""),
        )
    except AdminError as exc:
        return await _page(request, error=str(exc), status_code=422)
    return redirect("/profile?changed=1")
