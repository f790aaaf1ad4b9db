"""`runhub admin ...`: users, tokens, projects, membership, milestones and retention."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import OperationalError

from runhub.cli import admin_retention
from runhub.cli.common import add_database_option, database_unreachable, fail, open_engine
from runhub.db.engine import write_tx
from runhub.services import admin
from runhub.services.access import ROLES
from runhub.timeutil import render


def _positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}")
    return int(value)


def register(commands: argparse._SubParsersAction) -> None:
    group = commands.add_parser("admin", help="users, tokens, projects and milestones")
    sub = group.add_subparsers(dest="admin_command", metavar="COMMAND")
    sub.required = True

    def command(name: str, handler: Callable[[argparse.Namespace], int], help: str) -> Any:
        parser = sub.add_parser(name, help=help)
        add_database_option(parser)
        parser.set_defaults(handler=handler)
        return parser

    p = command("create-user", create_user, "create a user")
    p.add_argument("email", help="the user's email address (their sign-in name)")
    p.add_argument("--name", required=True, help="the user's display name")
    p.add_argument(
        "--role",
        choices=ROLES,
        default="member",
        help="admin, member (writes to its projects) or viewer (reads) (default member)",
    )
    p.add_argument("--password-stdin", action="store_true", help="read a password from stdin")

    p = command("set-password", set_password, "set a user's web UI password (read from stdin)")
    p.add_argument("email", help="the user's email address")
    p.add_argument(
        "--password-stdin",
        action="store_true",
        required=True,
        help="read the password from the first line of stdin (never from the command line)",
    )

    p = command("create-token", create_token, "create an API token (printed once, alone)")
    p.add_argument("email", help="the email address of the token's user")
    p.add_argument(
        "--name", default="CLI token", help='a label for the token (default "CLI token")'
    )

    p = command("revoke-token", revoke_token, "revoke an API token by id")
    p.add_argument("token_id", type=_positive, help="the token's id (see list-tokens)")

    p = command("list-tokens", list_tokens, "list a user's tokens (never the secrets)")
    p.add_argument("email", help="the user's email address")

    p = command("create-project", create_project, "create a project; prints its id")
    p.add_argument("name", help="the project's name")

    p = command("add-member", add_member, "add a user to a project")
    p.add_argument("project_id", type=_positive, help="the project's id")
    p.add_argument("email", help="the user's email address")

    p = command("create-milestone", create_milestone, "create a milestone; prints its id")
    p.add_argument("project_id", type=_positive, help="the project's id")
    p.add_argument("name", help="the milestone's name")
    p.add_argument(
        "--automation-tag",
        action="append",
        default=[],
        dest="automation_tags",
        metavar="TAG",
        help="runs tagged TAG link to this milestone (repeatable)",
    )

    admin_retention.register(command, _positive)


def _run(args: argparse.Namespace, action: Callable[[Any], Any]) -> Any:
    engine = open_engine(args)
    try:
        with write_tx(engine) as conn:
            return action(conn)
    except admin.AdminError as exc:
        fail(str(exc))
    except OperationalError as exc:
        database_unreachable(exc)
    finally:
        engine.dispose()


def create_user(args: argparse.Namespace) -> int:
    password = _password_from_stdin() if args.password_stdin else None
    user_id = _run(args, lambda c: admin.create_user(c, args.email, args.name, args.role, password))
    print(user_id)
    return 0


def _password_from_stdin() -> str:
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        fail("--password-stdin: no password on standard input")
    return password


def set_password(args: argparse.Namespace) -> int:
    password = _password_from_stdin()
    _run(args, lambda c: admin.set_password(c, args.email, password))
    print(f"password set for {args.email.strip().lower()}")
    return 0


def create_token(args: argparse.Namespace) -> int:
    _, token = _run(args, lambda c: admin.create_token(c, args.email, args.name))
    print(token)
    return 0


def revoke_token(args: argparse.Namespace) -> int:
    _run(args, lambda c: admin.revoke_token(c, args.token_id))
    print(f"token {args.token_id} revoked")
    return 0


def list_tokens(args: argparse.Namespace) -> int:
    rows = _run(args, lambda c: admin.list_tokens(c, args.email))
    for row in rows:
        state = f"revoked {render(row['revoked_at'])}" if row["revoked_at"] else "active"
        print(
            f"{row['id']}\t{row['token_prefix']}…\t{row['name']}\t{render(row['created_at'])}\t{state}"
        )
    return 0


def create_project(args: argparse.Namespace) -> int:
    print(_run(args, lambda c: admin.create_project(c, args.name)))
    return 0


def add_member(args: argparse.Namespace) -> int:
    added = _run(args, lambda c: admin.add_member(c, args.project_id, args.email))
    state = "added to" if added else "is already a member of"
    print(f"{args.email} {state} project {args.project_id}")
    return 0


def create_milestone(args: argparse.Namespace) -> int:
    print(
        _run(
            args,
            lambda c: admin.create_milestone(c, args.project_id, args.name, args.automation_tags),
        )
    )
    return 0
