"""The web UI's overviews: projects with their latest runs, runs of a source over time."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from runhub.db import accounts, catalog, views
from runhub.db import runs as runs_db
from runhub.db.engine import read_tx
from runhub.errors import NotFound
from runhub.services import render
from runhub.services.access import Principal, can_see_project, visible_project
from runhub.services.statuses import StatusTable

RECENT_RUNS = 10
SOURCE_RUNS = 100


def _rendered_runs(conn: Any, table: StatusTable, rows: list[Any], ids: Any) -> list[dict]:
    if not rows:
        return []
    totals = runs_db.thread_totals(conn, ids)
    return [render.run(r, table, [], totals.get(r["id"])) for r in rows]


def projects(engine: Engine, who: Principal) -> tuple[list[dict[str, Any]], list[dict]]:
    """The projects the user can see, each with its newest runs (newest first), and the
    status table."""
    with read_tx(engine) as conn:
        table = StatusTable.cached(conn)
        out = []
        for project in accounts.visible_projects(conn, None if who.is_admin else who.user_id):
            page = runs_db.page_project_runs(conn, project["id"], True, 0, RECENT_RUNS)
            out.append(
                {
                    "project": project,
                    "run_count": page.total,
                    "runs": [render.run(r, table, [], page.totals.get(r["id"])) for r in page.rows],
                }
            )
        return out, list(table.rows)


def project_filters(engine: Engine, who: Principal, project_id: int) -> dict[str, Any]:
    """The project, the choices of the runs page's filters, and every status (active or
    not: a run's failure_count counts all the failed ones)."""
    with read_tx(engine) as conn:
        project = visible_project(conn, who, project_id)
        return {
            "project": project,
            "all_statuses": list(StatusTable.cached(conn).rows),
            "sources": views.names_in_project(conn, "sources", project_id),
            "configs": views.names_in_project(conn, "configs", project_id),
            "milestones": views.names_in_project(conn, "milestones", project_id),
        }


def source(engine: Engine, who: Principal, source_id: int) -> dict[str, Any]:
    """A source with its newest runs (oldest first, for the chart) and averages."""
    with read_tx(engine) as conn:
        row = catalog.source_by_id(conn, source_id)
        if row is None or not can_see_project(conn, who, row["project_id"]):
            raise NotFound("The source does not exist or you do not have access to it.")
        table = StatusTable.cached(conn)
        rows, ids = views.source_runs(conn, source_id, SOURCE_RUNS)
        return {
            "source": render.source(row),
            "project": accounts.project_by_id(conn, row["project_id"]),
            "runs": list(reversed(_rendered_runs(conn, table, rows, ids))),
            "statuses": list(table.rows),
        }
