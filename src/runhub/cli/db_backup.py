"""`runhub db backup FILE` and `runhub db restore FILE`: SQLite only (runhub.db.backup);
PostgreSQL is backed up with its own tools (README "Backup and restore")."""

from __future__ import annotations

import argparse
from pathlib import Path

from runhub.cli.common import add_database_option, database_url, fail
from runhub.db import backup as db
from runhub.db.engine import DatabaseUrlError

PG_BACKUP = (
    "runhub db backup copies SQLite databases; back up PostgreSQL with pg_dump, e.g. "
    '`pg_dump -Fc -f runhub.dump DBNAME` (README "Backup and restore")'
)
PG_RESTORE = (
    "runhub db restore restores SQLite databases; restore a PostgreSQL dump with pg_restore, "
    'e.g. `createdb NEWDB && pg_restore -d NEWDB runhub.dump` (README "Backup and restore")'
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "backup",
        help="copy the SQLite database to FILE while servers keep running (checked; "
        "PostgreSQL: use pg_dump)",
    )
    p.add_argument("file", metavar="FILE", help="the backup to write")
    p.add_argument("--force", action="store_true", help="replace FILE if it exists")
    add_database_option(p)
    p.set_defaults(handler=run_backup)
    r = sub.add_parser(
        "restore",
        help="replace the SQLite database with the backup FILE (servers stopped; "
        "PostgreSQL: use pg_restore)",
    )
    r.add_argument("file", metavar="FILE", help="a backup written by `runhub db backup`")
    r.add_argument("--force", action="store_true", help="replace the database if it exists")
    add_database_option(r)
    r.set_defaults(handler=run_restore)


def _sqlite_path(args: argparse.Namespace, postgres_message: str) -> Path:
    try:
        path = db.sqlite_path(database_url(args))
    except DatabaseUrlError as exc:
        fail(str(exc))
    except db.Refused as exc:
        fail(str(exc))
    if path is None:
        fail(postgres_message)
    return path


def _summary(done: db.Copied) -> str:
    at = "head" if done.at_head else f"older than this runhub's {done.head}"
    return (
        f"{_size(done.size)}, schema revision {done.revision} ({at}), {done.runs} runs, "
        f"in {done.seconds:.2f} s; integrity check ok"
    )


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    size = n / 1024
    for unit in ("KiB", "MiB"):
        if size < 1024:
            return f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


def run_backup(args: argparse.Namespace) -> int:
    source = _sqlite_path(args, PG_BACKUP)
    try:
        done = db.backup(source, Path(args.file), force=args.force)
    except db.BackupError as exc:
        fail(str(exc), exc.code)
    print(f"backed up {source} to {done.path}: {_summary(done)}")
    return 0


def run_restore(args: argparse.Namespace) -> int:
    target = _sqlite_path(args, PG_RESTORE)
    try:
        done = db.restore(Path(args.file), target, force=args.force)
    except db.BackupError as exc:
        fail(str(exc), exc.code)
    print(f"restored {args.file} to {target}: {_summary(done)}")
    if not done.at_head:
        print(
            "the next `runhub serve` (or `runhub db upgrade`) applies the pending migrations",
        )
    return 0
