"""Sign in and sign out (decisions.md "Web UI")."""

from __future__ import annotations

import secrets

from starlette.requests import Request
from starlette.responses import Response

from runhub.services import sessions
from runhub.web.common import (
    SESSION_COOKIE,
    SIGN_IN_CSRF_COOKIE,
    call,
    client_ip,
    current_session,
    is_https,
    read_form,
    redirect,
    render,
    session_form,
)
from runhub.web.errors import error_page


def safe_next(value: str | None) -> str:
    """Only a local path: never another site (no '//host', no scheme, and no control
    character: browsers drop tabs and newlines, so '/\t/host' would become '//host')."""
    if (
        value
        and value.startswith("/")
        and not value.startswith("//")
        and "\\" not in value
        and value.isprintable()
    ):
        return value
    return "/"


def _sign_in_form(request: Request, error: str | None = None, status_code: int = 200) -> Response:
    token = request.cookies.get(SIGN_IN_CSRF_COOKIE) or secrets.token_urlsafe(32)
    response = render(
        request,
        "signin.html",
        {
            "sign_in_csrf": token,
            "next": safe_next(request.query_params.get("next")),
            "error": error,
            "email": request.scope.get("state", {}).get("email", ""),
        },
        status_code,
    )
    response.set_cookie(
        SIGN_IN_CSRF_COOKIE, token, httponly=True, samesite="lax", secure=is_https(request)
    )
    return response


async def sign_in_page(request: Request) -> Response:
    if await current_session(request) is not None:
        return redirect(safe_next(request.query_params.get("next")))
    return _sign_in_form(request)


async def sign_in(request: Request) -> Response:
    form = await read_form(request, request.cookies.get(SIGN_IN_CSRF_COOKIE))
    email = form.get("email", "")
    request.state.email = email
    try:
        new = await call(
            request,
            sessions.sign_in,
            email,
            form.get("password", ""),
            client_ip(request),
            max_age_s=request.app.state.settings.session_max_age_s,
        )
    except sessions.TooManySignIns as exc:
        return error_page(
            request,
            429,
            "Too many failed sign-ins for this account or from this address. "
            f"Wait {exc.retry_after_s // 60} minutes and try again.",
            {"Retry-After": str(exc.retry_after_s)},
        )
    except sessions.SignInRefused:
        return _sign_in_form(request, "Wrong email or password.", 401)
    response = redirect(safe_next(form.get("next")))
    response.set_cookie(
        SESSION_COOKIE,
        new.session_id,
        max_age=new.max_age_s,
        httponly=True,
        samesite="lax",
        secure=is_https(request),
    )
    response.delete_cookie(SIGN_IN_CSRF_COOKIE)
    return response


async def sign_out(request: Request) -> Response:
    session, _ = await session_form(request)
    await call(request, sessions.sign_out, session)
    response = redirect("/signin")
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="lax", secure=is_https(request))
    return response
