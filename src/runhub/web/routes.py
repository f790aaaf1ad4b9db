"""The web UI's route table and its exception handlers (mounted by runhub.app)."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from runhub.errors import ApiError
from runhub.web import (
    account,
    admin,
    auth,
    compare,
    failure_groups,
    pages,
    quarantine,
    run,
    tests_page,
    webhooks,
)
from runhub.web.common import WEB_DIR
from runhub.web.errors import error_page, sign_in_redirect

GET, POST = ["GET"], ["POST"]


def web_routes() -> list[BaseRoute]:
    return [
        Route("/", pages.projects_page, methods=GET, name="home"),
        Route("/signin", auth.sign_in_page, methods=GET, name="signin"),
        Route("/signin", auth.sign_in, methods=POST),
        Route("/signout", auth.sign_out, methods=POST, name="signout"),
        Route("/projects/{project_id}", pages.project_runs_page, methods=GET),
        Route("/projects/{project_id}/tests", tests_page.tests_page, methods=GET),
        Route("/projects/{project_id}/quarantine", quarantine.project_page, methods=GET),
        Route("/projects/{project_id}/webhooks", webhooks.project_page, methods=GET),
        Route("/projects/{project_id}/webhooks", webhooks.project_post, methods=POST),
        Route("/sources/{source_id}", pages.source_page, methods=GET),
        Route("/runs/{run_id}", run.run_page, methods=GET),
        Route("/runs/{run_id}/counts.json", run.run_counts, methods=GET),
        Route("/runs/{run_id}/pin", run.pin_run, methods=POST),
        Route("/runs/{run_id}/compare", compare.compare_page, methods=GET),
        Route("/results/{test_id}", run.result_page, methods=GET),
        Route("/results/{test_id}/quarantine", quarantine.create_entry, methods=POST),
        Route("/quarantine/{entry_id}/end", quarantine.end_entry, methods=POST),
        Route("/failure-groups/{group_id}", failure_groups.group_page, methods=GET),
        Route("/profile", account.profile_page, methods=GET),
        Route("/profile/tokens", account.create_token, methods=POST),
        Route("/profile/tokens/{token_id}/revoke", account.revoke_token, methods=POST),
        Route("/profile/password", account.change_password, methods=POST),
        Route("/admin", admin.admin_index, methods=GET),
        Route("/admin/{section}", admin.admin_page, methods=GET),
        Route("/admin/{section}", admin.admin_post, methods=POST),
        Mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static"),
    ]


async def sign_in_required(request: Request, exc: Exception) -> Response:
    return sign_in_redirect(request)


def ui_api_error(request: Request, exc: ApiError) -> Response:
    return error_page(request, exc.status_code, exc.message, exc.headers, exc.title)


def ui_http_error(request: Request, exc: HTTPException) -> Response:
    messages = {404: "There is no page here.", 405: "This page does not take that method."}
    message = messages.get(exc.status_code, str(exc.detail))
    return error_page(request, exc.status_code, message, dict(exc.headers or {}))
