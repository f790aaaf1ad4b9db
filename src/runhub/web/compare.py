"""The compare page: what changed in a run against any other run of its project."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from runhub.api import params
from runhub.api.common import path_id
from runhub.errors import NotFound
from runhub.services import insights
from runhub.web.common import call, query_string, render, require_session
from runhub.web.run import changes_request

COMPARE_FILTERS = ("base", "bucket")


async def compare_page(request: Request) -> Response:
    session = await require_session(request)
    who, run_id = session.principal, path_id(request, "run_id")
    q = request.query_params
    base_id = params.positive_int(q, "base")
    buckets, page = changes_request(request, "bucket", "page")
    choices = await call(request, insights.compare_choices, who, run_id)  # 404: the run
    error, listing = None, None
    try:
        listing = await call(
            request, insights.changes_list, who, run_id, page, base_id=base_id, buckets=buckets
        )
    except NotFound as exc:  # the base: the page stays, with its form
        error = exc.message
    current = {k: q[k] for k in COMPARE_FILTERS if q.get(k)}
    if listing is not None and listing["base_run_id"] is not None:
        current["base"] = str(listing["base_run_id"])
    return render(
        request,
        "compare.html",
        {
            **choices,
            "listing": listing,
            "error": error,
            "chosen_base": base_id,
            "active": buckets,
            "bucket_url": lambda bucket: query_string(current, bucket=bucket, page=None),
            "page_url": lambda page: query_string(current, page=page),
        },
        404 if error else 200,
    )
