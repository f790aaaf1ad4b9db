"""HTML error pages for the web UI (the API keeps its JSON error shape)."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from runhub.web.common import redirect, render

NON_UI_PREFIXES = ("/api/", "/healthz", "/metrics")
TITLES = {
    400: "Bad request",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    413: "Too large",
    422: "Invalid request",
    429: "Too many attempts",
    500: "Something went wrong",
    503: "Database not available",
}


def is_ui_path(path: str) -> bool:
    """HTML error pages for the UI; JSON for the API and the UI's own .json endpoints."""
    return not path.startswith(NON_UI_PREFIXES) and not path.endswith(".json")


def error_page(
    request: Request,
    status_code: int,
    message: str,
    headers: dict[str, str] | None = None,
    title: str | None = None,
) -> Response:
    title = title or TITLES.get(status_code, "Error")
    return render(
        request,
        "error.html",
        {"status_code": status_code, "title": title, "message": message},
        status_code,
        headers,
    )


def sign_in_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return redirect("/signin?next=" + quote(target, safe="/"))
