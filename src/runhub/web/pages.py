"""Projects, the runs of a project, and a source's runs over time."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from runhub.api import params
from runhub.api.common import path_id
from runhub.services import overview, retention, runs
from runhub.services.statuses import FAILURE
from runhub.web.charts import Point, line_chart
from runhub.web.common import (
    FALLBACK_COLOR,
    call,
    css_color,
    duration,
    query_string,
    render,
    require_session,
)
from runhub.web.failure_groups import top_causes

RUN_PAGE_SIZES = (15, 25, 50, 100)
RUN_AXIS = "Run id, oldest to newest"
RUN_FILTERS = (
    "source_id",
    "config_id",
    "milestone_id",
    "created_by",
    "status",
    "tags",
    "created_after",
    "created_before",
    "per_page",
)


def failure_label(statuses: Iterable[Mapping[str, Any]]) -> str:
    """What a run's failure_count counts, after the number: the results whose status is
    marked failed in the status table ("failed, blocked or error" by default)."""
    names = [s["name"] for s in statuses if s["is_failed"]]
    if not names or len(names) > 3:
        return "with a failure status" + (f" ({', '.join(names)})" if names else "")
    names = [n[:1].lower() + n[1:] if n[1:] == n[1:].lower() else n for n in names]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


async def projects_page(request: Request) -> Response:
    session = await require_session(request)
    items, statuses = await call(request, overview.projects, session.principal)
    return render(request, "projects.html", {"items": items, "statuses": statuses})


async def project_runs_page(request: Request) -> Response:
    session = await require_session(request)
    project_id = path_id(request, "project_id")
    q = request.query_params
    query = runs.RunQuery(
        page=params.page_request(q, RUN_PAGE_SIZES, default_size=25),
        **params.run_filters(q),
        expands=runs.RUN_EXPANDS,
    )
    filters = await call(request, overview.project_filters, session.principal, project_id)
    listing = await call(request, runs.list_runs, session.principal, project_id, query)
    causes = await top_causes(request, session.principal, project_id)
    run_ids = [run["id"] for run in listing["result"]]
    pinned = await call(request, retention.pinned_among, session.principal, project_id, run_ids)
    expands = listing["expands"]
    current = {k: q[k] for k in RUN_FILTERS if q.get(k)}
    return render(
        request,
        "runs.html",
        {
            **filters,
            "listing": listing,
            "runs": listing["result"],
            "source_names": {s["id"]: s["name"] for s in expands.get("automation_sources", [])},
            "config_names": {s["id"]: s["name"] for s in expands.get("configs", [])},
            "milestone_names": {s["id"]: s["name"] for s in expands.get("milestones", [])},
            "user_names": {s["id"]: s["name"] for s in expands.get("users", [])},
            "statuses": expands.get("statuses", []),
            "failure_label": failure_label(filters["all_statuses"]),
            "filters": current,
            "page_url": lambda page: query_string(current, page=page),
            "page_sizes": RUN_PAGE_SIZES,
            "top_causes": causes,
            "pinned": pinned,
        },
    )


async def source_page(request: Request) -> Response:
    session = await require_session(request)
    data = await call(request, overview.source, session.principal, path_id(request, "source_id"))
    completed = [r for r in data["runs"] if r["is_completed"]]
    colors = {  # the run status colours are those of the first passed / failed status
        key: next((css_color(s["color"]) for s in data["statuses"] if s[flag]), FALLBACK_COLOR)
        for key, flag in (("passed", "is_passed"), ("failed", "is_failed"))
    }
    rate_points, time_points = [], []
    for r in completed:
        total = r["total_count"]
        rate = r["success_count"] * 100 / total if total else 0.0
        color = colors["failed"] if r["status"] == FAILURE else colors["passed"]
        label = f"#{r['id']} {r['name']}: {rate:.1f}% passed, {duration(r['elapsed'])}"
        href = f"/runs/{r['id']}"
        x_label = f"#{r['id']}"
        rate_points.append(Point(rate, label, href, color, x_label))
        time_points.append(Point((r["elapsed"] or 0) / 1e6, label, href, color, x_label))
    max_s = max((p.value for p in time_points), default=0.0)
    charts = {
        "pass_rate": line_chart(
            rate_points,
            max_value=100,
            unit_label="{:.0f}%",
            title="Pass rate per run",
            x_title=RUN_AXIS,
        ),
        "duration": line_chart(
            time_points,
            max_value=max_s * 1.1,
            unit_label="{:.1f} s" if max_s < 10 else "{:.0f} s",
            title="Duration per run",
            x_title=RUN_AXIS,
        ),
    }
    pass_rates = [p.value for p in rate_points]
    return render(
        request,
        "source.html",
        {
            **data,
            "charts": charts,
            "average_pass_rate": sum(pass_rates) / len(pass_rates) if pass_rates else None,
            "newest_first": list(reversed(data["runs"])),
        },
    )
