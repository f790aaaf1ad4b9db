"""The API's route table: one entry per endpoint, also the source of the OpenAPI document."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from runhub.api import (
    analytics,
    catalog,
    failure_groups,
    quarantine,
    retention,
    runs,
    schemas,
    webhooks,
)

Handler = Callable[[Request], Awaitable[Response]]

PAGE = ("page", "per_page")
RUN_FILTERS = (
    *PAGE,
    "sort",
    "order",
    "config_id",
    "created_after",
    "created_before",
    "created_by",
    "milestone_id",
    "source_id",
    "status",
    "tags",
    "expands",
)
MILESTONE_FILTERS = (
    *PAGE,
    "sort",
    "order",
    "automation_tags",
    "completed_after",
    "completed_before",
    "created_after",
    "created_before",
    "created_by",
    "is_completed",
    "parent_id",
    "root_id",
    "type_id",
    "expands",
)


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # below /api/v1
    handler: Handler
    summary: str
    # row: {"result", "expands"}; page: page envelope; created: 201 {"id"}; empty: 204;
    # bare: the object itself.
    response: str
    body: type | None = None
    query: tuple[str, ...] = ()
    tag: str = "automation"
    body_is_list: bool = False  # the body is a JSON array of `body`


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "GET",
        "/projects/{project_id}/automation/runs",
        runs.list_runs,
        "List the automation runs of a project",
        "page",
        query=RUN_FILTERS,
    ),
    Endpoint(
        "POST",
        "/projects/{project_id}/automation/runs",
        runs.create_run,
        "Create an automation run",
        "created",
        body=schemas.RunCreate,
    ),
    Endpoint(
        "GET",
        "/automation/runs/{run_id}",
        runs.get_run,
        "Get one automation run with its threads and resources",
        "row",
        query=("expands",),
    ),
    Endpoint(
        "POST",
        "/automation/runs/{run_id}/append",
        runs.append_run,
        "Append fields, artifacts and links to a run",
        "empty",
        body=schemas.Resources,
    ),
    Endpoint(
        "POST",
        "/automation/runs/{run_id}/complete",
        runs.complete_run,
        "Complete a run and its open threads",
        "empty",
        body=schemas.RunComplete,
    ),
    Endpoint(
        "POST",
        "/automation/runs/{run_id}/threads",
        runs.create_thread,
        "Create a thread in a run",
        "created",
        body=schemas.ThreadCreate,
    ),
    Endpoint(
        "POST",
        "/automation/runs/threads/{thread_id}/append",
        runs.append_thread,
        "Append test results (at most 5,000) and resources to a thread",
        "empty",
        body=schemas.ThreadAppend,
    ),
    Endpoint(
        "POST",
        "/automation/runs/threads/{thread_id}/complete",
        runs.complete_thread,
        "Complete a thread",
        "empty",
        body=schemas.ThreadComplete,
    ),
    Endpoint(
        "GET",
        "/automation/runs/{run_id}/tests",
        runs.list_run_tests,
        "List the test results of a run",
        "page",
        query=("page", "per_page", "sort", "order", "thread_id", "status_id"),
    ),
    Endpoint("GET", "/user", catalog.current_user, "The user of the token", "bare", tag="users"),
    Endpoint(
        "GET",
        "/users",
        catalog.list_users,
        "List users (admins)",
        "page",
        query=(*PAGE, "expands"),
        tag="users",
    ),
    Endpoint(
        "GET",
        "/users/{user_id}",
        catalog.get_user,
        "Get a user",
        "row",
        query=("expands",),
        tag="users",
    ),
    Endpoint(
        "GET",
        "/projects",
        catalog.list_projects,
        "List the projects you can see",
        "page",
        query=(*PAGE, "sort", "order", "is_completed", "expands"),
        tag="projects",
    ),
    Endpoint(
        "GET",
        "/projects/{project_id}",
        catalog.get_project,
        "Get a project with its counters",
        "row",
        query=("expands",),
        tag="projects",
    ),
    Endpoint(
        "GET",
        "/projects/{project_id}/users",
        catalog.list_project_users,
        "List the members of a project",
        "page",
        query=PAGE,
        tag="projects",
    ),
    Endpoint(
        "GET",
        "/projects/{project_id}/automation/sources",
        catalog.list_sources,
        "List the automation sources of a project",
        "page",
        query=(*PAGE, "sort", "order", "is_retired", "expands"),
    ),
    Endpoint(
        "GET",
        "/automation/sources/{source_id}",
        catalog.get_source,
        "Get an automation source",
        "row",
        query=("expands",),
    ),
    Endpoint(
        "GET",
        "/projects/{project_id}/automation/cases",
        catalog.list_cases,
        "List the automation cases of a project",
        "page",
        query=(*PAGE, "sort", "order", "source_id", "status", "name", "folder", "expands"),
    ),
    Endpoint(
        "GET",
        "/projects/{project_id}/milestones",
        catalog.list_milestones,
        "List the milestones of a project",
        "page",
        query=MILESTONE_FILTERS,
        tag="milestones",
    ),
    Endpoint(
        "GET",
        "/milestones/{milestone_id}",
        catalog.get_milestone,
        "Get a milestone",
        "row",
        query=("expands",),
        tag="milestones",
    ),
    # runhub's own: test intelligence (README "Test intelligence").
    Endpoint(
        "GET",
        "/automation/runs/{run_id}/changes",
        analytics.run_changes,
        "What changed in a run against its base run (runhub)",
        "page",
        query=(*PAGE, "base_run_id", "bucket"),
        tag="intelligence",
    ),
    Endpoint(
        "GET",
        "/projects/{project_id}/automation/cases/health",
        analytics.list_case_health,
        "The health of a project's automation cases: flaky, broken, new, healthy (runhub)",
        "page",
        query=(*PAGE, "state", "source_id", "branch"),
        tag="intelligence",
    ),
    Endpoint(
        "GET",
        "/automation/cases/{case_id}/history",
        analytics.case_history,
        "Every result of an automation case, newest first (runhub)",
        "page",
        query=(*PAGE, "branch", "config_id"),
        tag="intelligence",
    ),
    # runhub's own: quarantine (README "Quarantine").
    Endpoint(
        "GET",
        "/projects/{project_id}/automation/quarantine",
        quarantine.list_entries,
        "List the quarantine entries of a project (runhub)",
        "page",
        query=(*PAGE, "source_id", "case_id", "mode", "active"),
        tag="quarantine",
    ),
    Endpoint(
        "POST",
        "/projects/{project_id}/automation/quarantine",
        quarantine.create_entry,
        "Quarantine an automation case (runhub)",
        "created",
        body=schemas.QuarantineCreate,
        tag="quarantine",
    ),
    Endpoint(
        "DELETE",
        "/automation/quarantine/{entry_id}",
        quarantine.end_entry,
        "End a quarantine entry; it stays on the record (runhub)",
        "empty",
        tag="quarantine",
    ),
    # runhub's own: failure groups (README "Failure groups").
    Endpoint(
        "GET",
        "/automation/runs/{run_id}/failure-groups",
        failure_groups.run_groups,
        "The failed results of a run grouped by cause, largest group first (runhub)",
        "page",
        query=PAGE,
        tag="failure-groups",
    ),
    Endpoint(
        "GET",
        "/projects/{project_id}/automation/failure-groups",
        failure_groups.project_groups,
        "The failure groups of a project, most recently seen first (runhub)",
        "page",
        query=(*PAGE, "source_id", "created_after"),
        tag="failure-groups",
    ),
    Endpoint(
        "GET",
        "/automation/failure-groups/{group_id}/tests",
        failure_groups.group_tests,
        "The failed results of a failure group, newest first (runhub)",
        "page",
        query=PAGE,
        tag="failure-groups",
    ),
    Endpoint(
        "GET",
        "/projects/{project_id}/automation/failure-categories",
        failure_groups.get_categories,
        "The project's failure categories, as Allure's categories.json (runhub)",
        "row",
        tag="failure-groups",
    ),
    Endpoint(
        "PUT",
        "/projects/{project_id}/automation/failure-categories",
        failure_groups.set_categories,
        "Replace the project's failure categories with an Allure categories.json (runhub)",
        "row",
        body=schemas.FailureCategory,
        body_is_list=True,
        tag="failure-groups",
    ),
)


# runhub's own: webhooks (README "Webhooks"), admins only.
ENDPOINTS += (
    Endpoint(
        "GET",
        "/projects/{project_id}/webhooks",
        webhooks.list_webhooks,
        "List the webhook endpoints of a project (runhub; admins)",
        "page",
        query=PAGE,
        tag="webhooks",
    ),
    Endpoint(
        "POST",
        "/projects/{project_id}/webhooks",
        webhooks.create_webhook,
        "Add a webhook endpoint to a project (runhub; admins)",
        "created",
        body=schemas.WebhookCreate,
        tag="webhooks",
    ),
    Endpoint(
        "GET",
        "/webhooks/{webhook_id}",
        webhooks.get_webhook,
        "Get a webhook endpoint; its secret is never shown (runhub; admins)",
        "row",
        tag="webhooks",
    ),
    Endpoint(
        "PATCH",
        "/webhooks/{webhook_id}",
        webhooks.update_webhook,
        "Change a webhook endpoint (runhub; admins)",
        "row",
        body=schemas.WebhookUpdate,
        tag="webhooks",
    ),
    Endpoint(
        "DELETE",
        "/webhooks/{webhook_id}",
        webhooks.delete_webhook,
        "Remove a webhook endpoint with its deliveries (runhub; admins)",
        "empty",
        tag="webhooks",
    ),
    Endpoint(
        "GET",
        "/webhooks/{webhook_id}/deliveries",
        webhooks.list_deliveries,
        "The deliveries of a webhook endpoint, newest first, with their attempts (runhub)",
        "page",
        query=PAGE,
        tag="webhooks",
    ),
    Endpoint(
        "POST",
        "/webhooks/{webhook_id}/ping",
        webhooks.ping_webhook,
        "Queue a test delivery (event ping) to a webhook endpoint (runhub; admins)",
        "created",
        tag="webhooks",
    ),
)

# runhub's own: retention settings and pinned runs (README "Retention").
ENDPOINTS += (
    Endpoint(
        "GET",
        "/projects/{project_id}/retention",
        retention.get_retention,
        "The project's retention: days runs and passed results' details are kept (runhub)",
        "row",
        tag="retention",
    ),
    Endpoint(
        "PUT",
        "/projects/{project_id}/retention",
        retention.set_retention,
        "Set the project's retention; null keeps forever (runhub; admins)",
        "row",
        body=schemas.RetentionUpdate,
        tag="retention",
    ),
    Endpoint(
        "GET",
        "/projects/{project_id}/pinned-runs",
        retention.list_pinned_runs,
        "The project's pinned runs, kept whatever the retention, newest pin first (runhub)",
        "page",
        query=PAGE,
        tag="retention",
    ),
    Endpoint(
        "GET",
        "/automation/runs/{run_id}/pin",
        retention.get_pin,
        "Whether a run is pinned, by whom and when (runhub)",
        "row",
        tag="retention",
    ),
    Endpoint(
        "POST",
        "/automation/runs/{run_id}/pin",
        retention.pin_run,
        "Pin a run: retention never deletes it; pinning again changes nothing (runhub)",
        "row",
        tag="retention",
    ),
    Endpoint(
        "DELETE",
        "/automation/runs/{run_id}/pin",
        retention.unpin_run,
        "Unpin a run; unpinning an unpinned run changes nothing (runhub)",
        "empty",
        tag="retention",
    ),
)


def _dispatch(handlers: dict[str, Handler]) -> Handler:
    async def endpoint(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        return await handlers[method](request)

    return endpoint


def api_routes(prefix: str = "/api/v1") -> list[Route]:
    """One route per path serving all its methods, so a 405 names every allowed method."""
    by_path: dict[str, dict[str, Handler]] = {}
    for e in ENDPOINTS:
        by_path.setdefault(e.path, {})[e.method] = e.handler
    return [
        Route(prefix + path, _dispatch(handlers), methods=list(handlers), name=path)
        for path, handlers in by_path.items()
    ]
