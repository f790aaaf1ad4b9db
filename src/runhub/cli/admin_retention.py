"""`runhub admin set-retention` and `get-retention`: a project's retention (README
"Retention"). The rules are the API's (services.retention)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import OperationalError

from runhub.cli.common import database_unreachable, fail, open_engine
from runhub.db.engine import read_tx, write_tx
from runhub.errors import ApiError
from runhub.services import retention


def _days(name: str) -> Callable[[str], int | None]:
    def parse(value: str) -> int | None:
        try:
            return retention.parse_days(value, name)
        except ApiError as exc:
            raise argparse.ArgumentTypeError(_cli_message(exc)) from None

    parse.__name__ = "days"  # argparse names the type in its messages
    return parse


def _cli_message(exc: ApiError, *, with_option: bool = False) -> str:
    """The service's message in the CLI's words: options instead of fields."""
    message = exc.message.replace("or null to keep forever", f"or {retention.FOREVER!r}")
    for field in retention.FIELDS:
        option = "--" + field.replace("_", "-")
        message = message.replace(f"The {field} field", "the value").replace(field, option)
    named = next(iter(exc.errors), "")
    if with_option and named in retention.FIELDS:
        message = f"--{named.replace('_', '-')}: {message}"
    return message


def register(command: Callable[..., Any], positive: Callable[[str], int]) -> None:
    """Add the commands to `runhub admin` (`command` as in runhub.cli.admin)."""
    p = command(
        "set-retention",
        set_retention,
        "set how long a project keeps its runs and passed results' details",
    )
    p.add_argument("project_id", type=positive, help="the project's id")
    p.add_argument(
        "--run-days",
        type=_days("run_days"),
        default=argparse.SUPPRESS,
        metavar="N|forever",
        help=f"keep completed runs N days ({retention.MIN_DAYS}-{retention.MAX_DAYS}) "
        "after they were created, or forever; pinned runs are always kept",
    )
    p.add_argument(
        "--passed-detail-days",
        type=_days("passed_detail_days"),
        default=argparse.SUPPRESS,
        metavar="N|forever",
        help="keep the fields and artifacts of passed results N days (at most --run-days), "
        "or forever; the results themselves are kept as long as their run",
    )
    p.add_argument(
        "--keep-forever",
        action="store_true",
        help="keep everything forever (the default of a project without a setting)",
    )

    p = command("get-retention", get_retention, "show a project's retention")
    p.add_argument("project_id", type=positive, help="the project's id")


def _run(args: argparse.Namespace, action: Callable[[Any], Any], *, write: bool) -> Any:
    engine = open_engine(args)
    try:
        with (write_tx if write else read_tx)(engine) as conn:
            return action(conn)
    except ApiError as exc:
        fail(_cli_message(exc, with_option=True))
    except OperationalError as exc:
        database_unreachable(exc)
    finally:
        engine.dispose()


def _print(item: dict[str, Any]) -> None:
    print(f"project {item['project_id']} keeps {retention.describe(item)}")


def set_retention(args: argparse.Namespace) -> int:
    given = {name: getattr(args, name) for name in retention.FIELDS if hasattr(args, name)}
    if args.keep_forever and given:
        fail("--keep-forever cannot be combined with --run-days or --passed-detail-days")
    if not args.keep_forever and not given:
        fail("give --run-days, --passed-detail-days or --keep-forever")

    def action(conn: Any) -> dict[str, Any]:
        # An option not given keeps its current value.
        current = retention.current(conn, args.project_id)
        values = {name: None if args.keep_forever else current[name] for name in retention.FIELDS}
        values.update(given)
        return retention.store(
            conn, args.project_id, values["run_days"], values["passed_detail_days"], None
        )

    _print(_run(args, action, write=True))
    return 0


def get_retention(args: argparse.Namespace) -> int:
    _print(_run(args, lambda conn: retention.current(conn, args.project_id), write=False))
    return 0
