"""Administration pages (admins only): users, projects and membership, statuses."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from runhub.errors import Unprocessable
from runhub.services import admin, retention, status_admin
from runhub.services.access import ROLES, require_admin
from runhub.services.admin import AdminError
from runhub.services.status_admin import StatusChange, parse_aliases
from runhub.web.common import call, redirect, render, require_session, session_form

SECTIONS = ("users", "projects", "statuses")


async def admin_page(
    request: Request, section: str | None = None, error: str | None = None
) -> Response:
    session = await require_session(request)
    require_admin(session.principal)
    section = section or request.path_params.get("section", "users")
    if section not in SECTIONS:
        return redirect("/admin/users")
    data = await call(request, admin.overview, session.principal, section)
    return render(
        request,
        "admin.html",
        {
            "section": section,
            "sections": SECTIONS,
            "roles": ROLES,
            "error": error,
            "notice": request.query_params.get("done"),
            **data,
        },
        422 if error else 200,
    )


async def admin_post(request: Request) -> Response:
    """Every admin form posts here with an `action`; errors re-render the section."""
    session, form = await session_form(request)
    require_admin(session.principal)
    me = session.principal.user_id
    section = request.path_params["section"]
    action = form.get("action", "")
    flag = form.get("value") == "1"

    def number(name: str) -> int:
        value = form.get(name, "")
        if not value.isascii() or not value.isdigit() or len(value) > 18:
            raise AdminError(f"{name}: expected a number")
        return int(value)

    def status_change() -> StatusChange:
        return StatusChange(
            name=form.get("name", ""),
            color=form.get("color", ""),
            aliases=parse_aliases(form.get("aliases", "")),
            is_passed=form.get("is_passed") == "1",
            is_failed=form.get("is_failed") == "1",
            is_final=form.get("is_final") == "1",
            is_active=form.get("is_active") == "1",
        )

    actions: dict[str, Any] = {
        "create_user": lambda c: admin.create_user(
            c, form.get("email", ""), form.get("name", ""), form.get("role", "member"),
            form.get("password") or None,
        ),
        "set_role": lambda c: admin.set_role(c, me, number("user_id"), form.get("role", "")),
        "set_active": lambda c: admin.set_active(c, me, number("user_id"), flag),
        "create_project": lambda c: admin.create_project(c, form.get("name", "")),
        "add_member": lambda c: admin.add_member(
            c, number("project_id"), form.get("email", "")
        ),
        "remove_member": lambda c: admin.remove_member(
            c, number("project_id"), number("user_id")
        ),
        "update_status": lambda c: status_admin.update_status(
            c, number("status_id"), status_change()
        ),
        "create_status": lambda c: status_admin.create_status(c, status_change()),
        "set_retention": lambda c: retention.store(
            c, number("project_id"), retention.parse_days(form.get("run_days"), "run_days"),
            retention.parse_days(form.get("passed_detail_days"), "passed_detail_days"), me,
        ),
    }  # fmt: skip
    if action not in actions:
        return await admin_page(request, section, f"unknown action {action!r}")
    try:
        await call(request, admin.perform, session.principal, actions[action])
    except (AdminError, Unprocessable) as exc:
        return await admin_page(request, section, str(exc))
    return redirect(f"/admin/{section}?done={action}")


async def admin_index(request: Request) -> Response:
    session = await require_session(request)
    require_admin(session.principal)
    return redirect("/admin/users")
