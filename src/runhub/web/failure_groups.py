"""Failure groups (causes) in the web UI: a group's page (its sample failure, signature,
occurrences per run, affected tests and runs) and the project page's top causes."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response

from runhub.api.common import path_id
from runhub.services import failure_groups
from runhub.services.access import Principal
from runhub.timeutil import utcnow
from runhub.web.charts import Point, bar_chart
from runhub.web.common import call, render, require_session, when

TOP_CAUSES = 10
CHART_COLOR = "#b42318"


async def group_page(request: Request) -> Response:
    session = await require_session(request)
    group_id = path_id(request, "group_id")
    data = await call(request, failure_groups.group_view, session.principal, group_id)
    group = data["group"]
    return render(
        request,
        "failure_group.html",
        {
            **data,
            "is_new": group["first_seen_run_id"] == group["last_seen_run_id"],
            "chart": occurrences_chart(data["runs"]),
            "latest_runs": list(reversed(data["runs"])),
            "runs_shown": failure_groups.GROUP_PAGE_RUNS,
        },
    )


def occurrences_chart(runs: list[dict[str, Any]]) -> Markup:
    """The group's failures per run (oldest first): a bar per run, linked to it, the run
    and its count on hover."""
    points = [
        Point(
            r["count"],
            f"Run #{r['run_id']} {r['name']}: {r['count']:,} "
            f"{'failure' if r['count'] == 1 else 'failures'} · {when(r['run_created_at'])}",
            f"/runs/{r['run_id']}",
            CHART_COLOR,
            f"#{r['run_id']}",
        )
        for r in runs
    ]
    return bar_chart(
        points,
        max_value=axis_max(max((p.value for p in points), default=0)),
        unit_label="{:,.0f}",
        title=f"Failures of this cause in its last {len(points)} runs",
        x_title="Run id, oldest to newest",
    )


def axis_max(largest: float) -> int:
    """A y axis top above `largest` whose half is a whole number (the grid's middle label):
    1 -> 2, 3 -> 4, 10 -> 12."""
    top = max(2, math.ceil(largest * 1.1))
    return top + top % 2


async def top_causes(request: Request, who: Principal, project_id: int) -> list[dict[str, Any]]:
    """The project's causes with the most failures in the last 14 days, each `is_new` when
    first seen within them."""
    rows = await call(request, failure_groups.top_groups, who, project_id, TOP_CAUSES)
    since = utcnow() - timedelta(days=failure_groups.TOP_DAYS)
    return [{**row, "is_new": row["first_seen_at"] >= since} for row in rows]
