"""Options and helpers shared by command groups."""

from __future__ import annotations

import argparse
import os
import re
import sys
from typing import NoReturn

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from runhub.db.engine import DatabaseUrlError, make_engine
from runhub.settings import DEFAULT_DATABASE_URL


def add_database_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database",
        metavar="URL",
        default=None,
        help="sqlite:///runhub.db (default) or postgresql://user@host:5432/dbname; "
        "also read from RUNHUB_DATABASE_URL",
    )


def database_url(args: argparse.Namespace) -> str:
    return args.database or os.environ.get("RUNHUB_DATABASE_URL") or DEFAULT_DATABASE_URL


def fail(message: str, code: int = 2) -> NoReturn:
    print(f"runhub: error: {message}", file=sys.stderr)
    raise SystemExit(code)


def open_engine(args: argparse.Namespace) -> Engine:
    try:
        return make_engine(database_url(args), pool_size=2)
    except DatabaseUrlError as exc:
        fail(str(exc))


def database_unreachable(exc: OperationalError) -> NoReturn:
    detail = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
    missing = re.search(r'database "([^"]+)" does not exist', detail)
    if missing:  # PostgreSQL: runhub creates the tables, not the database
        detail += f" (create it first, e.g. `createdb {missing.group(1)}`)"
    fail(f"cannot use the database: {detail}", code=1)
