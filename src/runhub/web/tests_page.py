"""The project's tests page: flaky, broken, most failing and slowest tests."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from runhub.api import params
from runhub.api.common import path_id
from runhub.errors import invalid
from runhub.services import test_lists
from runhub.web.common import call, query_string, render, require_session

TEST_PAGE_SIZES = (25, 50, 100)
FILTERS = ("tab", "source_id", "branch", "per_page")
TAB_LABELS = {
    "flaky": "Flaky",
    "broken": "Broken",
    "failing": "Most failing",
    "slowest": "Slowest",
}


async def tests_page(request: Request) -> Response:
    session = await require_session(request)
    project_id = path_id(request, "project_id")
    q = request.query_params
    tab = params.text(q, "tab") or "flaky"
    if tab not in test_lists.TABS:
        raise invalid("tab", f"The tab parameter accepts {', '.join(test_lists.TABS)}.")
    query = test_lists.TestsQuery(
        tab=tab,
        page=params.page_request(q, TEST_PAGE_SIZES, default_size=50),
        source_ids=tuple(params.id_list(q, "source_id") or ()),
        branch=(params.text(q, "branch") or "")[:750] or None,
    )
    data = await call(request, test_lists.project_tests, session.principal, project_id, query)
    current = {k: q[k] for k in FILTERS if q.get(k)}
    return render(
        request,
        "tests.html",
        {
            **data,
            "tab": tab,
            "tabs": TAB_LABELS,
            "filters": current,
            "page_sizes": TEST_PAGE_SIZES,
            "window": test_lists.ELAPSED_WINDOW,
            "candidates": test_lists.SLOWEST_CANDIDATES,
            "tab_url": lambda name: query_string(current, tab=name, page=None),
            "page_url": lambda page: query_string(current, page=page),
        },
    )
