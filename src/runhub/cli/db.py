"""`runhub db upgrade` and `runhub db current`: Alembic underneath."""

from __future__ import annotations

import argparse

from sqlalchemy.exc import OperationalError

from runhub.cli import db_backup
from runhub.cli.common import add_database_option, database_unreachable, open_engine
from runhub.db.migrate import current_revision, head_revision, upgrade


def register(commands: argparse._SubParsersAction) -> None:
    group = commands.add_parser("db", help="database migrations")
    sub = group.add_subparsers(dest="db_command", metavar="COMMAND")
    sub.required = True
    up = sub.add_parser("upgrade", help="apply pending migrations")
    add_database_option(up)
    up.set_defaults(handler=run_upgrade)
    cur = sub.add_parser("current", help="print the schema revision of the database")
    add_database_option(cur)
    cur.set_defaults(handler=run_current)
    again = sub.add_parser(
        "reanalyze",
        help="recompute every test's health and the failure groups from the stored results "
        "(after changing the health settings); the running servers fold the runs in",
    )
    add_database_option(again)
    again.set_defaults(handler=run_reanalyze)
    prune = sub.add_parser(
        "prune",
        help="apply each project's retention now: delete expired runs and passed results' "
        "details, and give the disk back (the servers also do this every "
        "RUNHUB_PRUNE_INTERVAL_S)",
    )
    prune.add_argument(
        "--dry-run", action="store_true", help="say what would be deleted, delete nothing"
    )
    add_database_option(prune)
    prune.set_defaults(handler=run_prune)
    db_backup.register(sub)  # backup and restore


def run_upgrade(args: argparse.Namespace) -> int:
    engine = open_engine(args)
    try:
        upgrade(engine)
        print(f"database at revision {current_revision(engine)} (head)")
    except OperationalError as exc:
        database_unreachable(exc)
    finally:
        engine.dispose()
    return 0


def run_current(args: argparse.Namespace) -> int:
    engine = open_engine(args)
    try:
        current = current_revision(engine)
    except OperationalError as exc:
        database_unreachable(exc)
    finally:
        engine.dispose()
    head = head_revision(engine)
    state = "head" if current == head else f"pending upgrade to {head}"
    print(f"{current or 'empty'} ({state})")
    return 0


def run_reanalyze(args: argparse.Namespace) -> int:
    from runhub.db.analytics import requeue_all
    from runhub.db.engine import write_tx

    engine = open_engine(args)
    try:
        with write_tx(engine) as conn:
            queued = requeue_all(conn)
    except OperationalError as exc:
        database_unreachable(exc)
    finally:
        engine.dispose()
    print(
        f"{queued} completed runs queued for analysis; health and failure groups are rebuilt"
        " as servers fold them in"
    )
    return 0


def run_prune(args: argparse.Namespace) -> int:
    from runhub.services.prune import maintain_partitions, plan, prune, prune_lock

    engine = open_engine(args)
    try:
        if args.dry_run:
            for item in plan(engine):
                if "queued_runs" in item:
                    print(f"runs already queued for removal: {item['queued_runs']}")
                    continue
                print(
                    f"project {item['project_id']}: "
                    + ", ".join(
                        f"{name.replace('_', ' ')} {value if value is not None else 'forever'}"
                        for name, value in item.items()
                        if name != "project_id"
                    )
                )
            print("dry run: nothing was deleted")
            return 0
        with prune_lock(engine) as mine:
            if not mine:
                print("another process is pruning this database now; try again later")
                return 1
            maintain_partitions(engine)
            for line in prune(engine).lines():
                print(line)
    except OperationalError as exc:
        database_unreachable(exc)
    finally:
        engine.dispose()
    return 0
