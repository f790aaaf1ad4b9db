"""Quarantine in the web UI: quarantine a test from its result page, end an entry, and the
project's record of entries (active, expired, removed). The rules are those of the API
(services.quarantine): members and admins write, viewers read, others get 404."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from runhub.api import params
from runhub.api.common import path_id
from runhub.errors import Unprocessable, invalid
from runhub.services import quarantine
from runhub.web.auth import safe_next
from runhub.web.common import call, query_string, redirect, render, require_session, session_form
from runhub.web.run import result_response

PAGE_SIZES = (25, 50, 100)
FILTERS = ("state", "source_id", "mode", "per_page")
STATE_LABELS = {"active": "Active", "expired": "Expired", "removed": "Removed"}


async def create_entry(request: Request) -> Response:
    """POST /results/{test_id}/quarantine: quarantine that result's test. Bad input
    re-renders the page with the message (422) and stores nothing."""
    session, form = await session_form(request)
    test_id = path_id(request, "test_id")
    try:
        await call(request, quarantine.create_from_form, session.principal, test_id, form)
    except Unprocessable as exc:
        return await result_response(request, test_id, form=form, error=exc)
    return redirect(f"/results/{test_id}#quarantine-h")


async def end_entry(request: Request) -> Response:
    """POST /quarantine/{entry_id}/end, then back to the page it came from (`next`)."""
    session, form = await session_form(request)
    await call(request, quarantine.end, session.principal, path_id(request, "entry_id"))
    return redirect(safe_next(form.get("next")))


async def project_page(request: Request) -> Response:
    session = await require_session(request)
    project_id = path_id(request, "project_id")
    q = request.query_params
    state = params.text(q, "state") or "active"
    if state not in quarantine.STATES:
        raise invalid("state", f"The state parameter accepts {', '.join(quarantine.STATES)}.")
    data = await call(
        request,
        quarantine.project_record,
        session.principal,
        project_id,
        params.page_request(q, PAGE_SIZES, default_size=50),
        state=state,
        source_ids=params.id_list(q, "source_id"),
        modes=params.name_list(q, "mode", tuple(quarantine.MODES)),
    )
    current = {k: q[k] for k in FILTERS if q.get(k)}
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return render(
        request,
        "quarantine.html",
        {
            **data,
            "state": state,
            "states": STATE_LABELS,
            "filters": current,
            "page_sizes": PAGE_SIZES,
            "can_end": session.principal.role != "viewer",
            "here": here,
            "state_url": lambda name: query_string(current, state=name, page=None),
            "page_url": lambda page: query_string(current, page=page),
        },
    )
