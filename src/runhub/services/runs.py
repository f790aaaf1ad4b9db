"""Automation runs: create, add resources, complete, read, list (decisions.md "Runs")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine

from runhub.api.schemas import Resources, RunComplete, RunCreate
from runhub.db import catalog
from runhub.db import runs as db
from runhub.db.engine import read_tx, write_tx
from runhub.db.schema import automation_sources, configs, milestones, users
from runhub.errors import NotFound, invalid
from runhub.services import render, vcs, webhooks
from runhub.services.access import Principal, can_see_project, require_write, visible_project
from runhub.services.paging import PageRequest, envelope
from runhub.services.resources import artifact_rows, field_rows, link_rows
from runhub.services.statuses import FAILURE, SUCCESS, StatusTable
from runhub.timeutil import elapsed_us, utcnow

RUN_EXPANDS = ("automation_sources", "configs", "milestones", "statuses", "users")


def visible_run(conn: Connection, who: Principal, run_id: int, *, for_update: bool = False) -> Any:
    run = db.run_by_id(conn, run_id, for_update=for_update)
    if run is None or not can_see_project(conn, who, run["project_id"]):
        raise NotFound("The automation run does not exist or you do not have access to it.")
    return run


def create_run(engine: Engine, who: Principal, project_id: int, body: RunCreate) -> int:
    with write_tx(engine) as conn:
        visible_project(conn, who, project_id)
        require_write(who)
        db.lock_project_runs(conn, project_id)
        now = utcnow()  # after the lock: runs of a project are created in list order
        tags = sorted(set(body.tags or ()))
        config_id = _config_for(conn, project_id, body, now)
        milestone_id = _milestone_for(conn, project_id, body, tags)
        source_id = catalog.source_id_for_name(conn, project_id, body.source, now, who.user_id)
        catalog.record_source_run(conn, source_id, now)
        run_id = db.insert_run(
            conn,
            tags,
            project_id=project_id,
            source_id=source_id,
            config_id=config_id,
            milestone_id=milestone_id,
            name=body.name,
            status=4,
            is_completed=False,
            created_at=now,
            created_by=who.user_id,
        )
        _store_resources(conn, run_id, body)
        webhooks.run_created(conn, project_id, run_id)
        return run_id


def _config_for(conn: Connection, project_id: int, body: RunCreate, now: datetime) -> int | None:
    if body.config_id is not None:
        if not catalog.config_in_project(conn, project_id, body.config_id):
            raise invalid(
                "config_id", f"No configuration with id {body.config_id} exists in this project."
            )
        return body.config_id
    if body.config is not None:
        return catalog.config_id_for_name(conn, project_id, body.config, now)
    return None


def _milestone_for(
    conn: Connection, project_id: int, body: RunCreate, tags: Sequence[str]
) -> int | None:
    if body.milestone_id is not None:
        if not catalog.milestone_in_project(conn, project_id, body.milestone_id):
            raise invalid(
                "milestone_id", f"No milestone with id {body.milestone_id} exists in this project."
            )
        return body.milestone_id
    if body.milestone is not None:
        found = catalog.milestone_id_by_name(conn, project_id, body.milestone)
        if found is None:
            raise invalid(
                "milestone", f"No milestone named {body.milestone!r} exists in this project."
            )
        return found
    if tags:
        return catalog.milestone_for_tags(conn, project_id, tags)
    return None


def _store_resources(conn: Connection, run_id: int, body: Resources | RunCreate) -> None:
    if body.fields:
        commit, branch = vcs.commit_and_branch(body.fields)
        if commit or branch:
            db.set_vcs_if_unset(conn, run_id, commit, branch)
    db.insert_fields(conn, field_rows(body.fields, run_id))
    db.insert_artifacts(conn, artifact_rows(body.artifacts, run_id))
    db.insert_links(conn, link_rows(body.links, run_id))


def append_to_run(engine: Engine, who: Principal, run_id: int, body: Resources) -> None:
    """Append fields, artifacts and links; allowed on completed runs (resources only)."""
    with write_tx(engine) as conn:
        visible_run(conn, who, run_id)
        require_write(who)
        _store_resources(conn, run_id, body)
        db.touch_run(conn, run_id, utcnow(), who.user_id)


def complete_run(engine: Engine, who: Principal, run_id: int, body: RunComplete) -> None:
    """Complete the run and its open threads at the same instant; a no-op when completed."""
    with write_tx(engine) as conn:
        run = visible_run(conn, who, run_id, for_update=True)
        require_write(who)
        if run["is_completed"]:
            return
        table = StatusTable.cached(conn)
        now = utcnow()
        db.complete_threads(conn, db.threads.c.run_id == run_id, table.failed_ids, now, who.user_id)
        totals = db.thread_totals(conn, [run_id]).get(run_id, {})
        counts = table.counts({n: totals.get(f"status{n}_count") for n in range(1, 25)})
        status = FAILURE if counts["failure_count"] > 0 else SUCCESS
        if body.measure_elapsed:
            elapsed = elapsed_us(run["created_at"], now)
        else:
            elapsed = int(totals.get("max_elapsed") or 0)
        db.finish_run(
            conn,
            run_id,
            status=status,
            elapsed=elapsed,
            completed_at=now,
            completed_by=who.user_id,
            updated_at=now,
            updated_by=who.user_id,
        )
        catalog.record_source_completion(
            conn, run["source_id"], status, counts["total_count"], elapsed, now, who.user_id
        )


def get_run(engine: Engine, who: Principal, run_id: int, expands: Sequence[str]) -> dict[str, Any]:
    with read_tx(engine) as conn:
        run = visible_run(conn, who, run_id)
        table = StatusTable.cached(conn)
        run_threads = db.threads_of_runs(conn, [run_id])
        item = render.run(
            run, table, db.tags_of_runs(conn, [run_id])[run_id], _totals_of(run_threads)
        )
        fields, artifacts, links = db.resources_of_runs(conn, [run_id])
        run_fields = [render.field(f) for f in fields if f["thread_id"] is None]
        item["artifacts"] = [render.artifact(a) for a in artifacts if a["thread_id"] is None]
        item["fields"] = run_fields
        item["links"] = [render.link(x) for x in links]
        item["threads"] = [
            render.thread(
                t,
                table,
                (render.field(f) for f in fields if f["thread_id"] == t["id"]),
                (render.artifact(a) for a in artifacts if a["thread_id"] == t["id"]),
            )
            for t in run_threads
        ]
        return {"result": item, "expands": run_expands(conn, table, [run], expands)}


def _totals_of(run_threads: Sequence[Any]) -> dict[str, Any]:
    """db.thread_totals() of one run, from its thread rows (read anyway by a single GET)."""
    totals: dict[str, Any] = {
        "thread_count": len(run_threads),
        "thread_completed_count": sum(1 for t in run_threads if t["is_completed"]),
    }
    for name in db.COUNT_COLUMNS:
        totals[name] = sum(t[name] for t in run_threads)
    return totals


@dataclass(frozen=True)
class RunQuery:
    page: PageRequest
    descending: bool = True
    source_ids: list[int] | None = None
    config_ids: list[int] | None = None
    milestone_ids: list[int] | None = None
    creator_ids: list[int] | None = None
    statuses: list[int] | None = None
    tags: list[str] | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    expands: tuple[str, ...] = ()

    @property
    def filtered(self) -> bool:
        return any(
            value is not None
            for value in (
                self.source_ids,
                self.config_ids,
                self.milestone_ids,
                self.creator_ids,
                self.statuses,
                self.tags,
                self.created_after,
                self.created_before,
            )
        )


def list_runs(engine: Engine, who: Principal, project_id: int, query: RunQuery) -> dict[str, Any]:
    """A page of the project's runs, newest first by default (decisions.md "Lists")."""
    with read_tx(engine) as conn:
        visible_project(conn, who, project_id)
        if query.filtered:
            where = db.run_filter(
                project_id,
                source_ids=query.source_ids,
                config_ids=query.config_ids,
                milestone_ids=query.milestone_ids,
                creator_ids=query.creator_ids,
                statuses=query.statuses,
                tags=query.tags,
                created_after=query.created_after,
                created_before=query.created_before,
            )
            total, rows, page_ids = db.page_runs(
                conn, where, query.descending, query.page.offset, query.page.per_page
            )
            if rows:
                tags = db.tags_of_runs(conn, page_ids, [r["id"] for r in rows])
                totals = db.thread_totals(conn, page_ids)
            else:
                tags, totals = {}, {}
        else:
            page = db.page_project_runs(
                conn, project_id, query.descending, query.page.offset, query.page.per_page
            )
            total, rows, tags, totals = page.total, page.rows, page.tags, page.totals
        table = StatusTable.cached(conn)
        items = [render.run(r, table, tags[r["id"]], totals.get(r["id"])) for r in rows]
        return envelope(query.page, total, items, run_expands(conn, table, rows, query.expands))


EXPAND_TABLES = {
    "automation_sources": (automation_sources, ("source_id",)),
    "configs": (configs, ("config_id",)),
    "milestones": (milestones, ("milestone_id",)),
    "users": (users, ("created_by", "updated_by", "completed_by")),
}


def run_expands(
    conn: Connection, table: StatusTable, rows: Sequence[Any], expands: Sequence[str]
) -> dict[str, Any]:
    """The asked expands: exactly the objects the rows reference (one query for all)."""
    wanted = {
        name: (
            EXPAND_TABLES[name][0],
            sorted({r[c] for r in rows for c in EXPAND_TABLES[name][1] if r[c] is not None}),
        )
        for name in expands
        if name in EXPAND_TABLES
    }
    found = catalog.names_by_ids_of(conn, wanted)
    out: dict[str, Any] = {}
    for name in expands:
        if name == "statuses":
            out[name] = table.expand()
        elif name in found:
            out[name] = [{"id": r["id"], "name": r["name"]} for r in found[name]]
    return out
