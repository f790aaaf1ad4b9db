"""`runhub automation:*`: the official testmo CLI's commands, same names, options, messages
and exit codes (reference §8.2), so CI snippets work with `npx testmo` replaced by `runhub`.

The run commands live in runhub.cli.automation_run; the resources commands here.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import NoReturn

from runhub.cli import automation_quarantine, automation_run
from runhub.client import resources


class CommandParser(argparse.ArgumentParser):
    """Like the official CLI (commander): a usage error prints one line and exits 1."""

    def error(self, message: str) -> NoReturn:
        self.exit(1, f"error: {message}\n")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ansi",
        dest="ansi",
        action="store_true",
        default=None,
        help="force ANSI console output (colors, animations)",
    )
    parser.add_argument(
        "--no-ansi",
        dest="ansi",
        action="store_false",
        help="do not use ANSI console output (colors, animations)",
    )
    parser.add_argument("--debug", action="store_true", help="output additional debug information")


def _resources_option(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--resources",
        default=resources.DEFAULT_FILE,
        metavar="FILE",
        help=f'the JSON file this {what} is written to (default: "{resources.DEFAULT_FILE}")',
    )


def register(commands: argparse._SubParsersAction) -> None:
    parser_class = commands._parser_class
    commands._parser_class = CommandParser  # these commands exit 1 on usage errors
    try:
        _register(commands)
    finally:
        commands._parser_class = parser_class


def _register(commands: argparse._SubParsersAction) -> None:
    def command(
        name: str, handler: Callable[[argparse.Namespace], int], help: str
    ) -> argparse.ArgumentParser:
        parser = commands.add_parser(name, help=help, description=help)
        parser.set_defaults(handler=handler)
        _common(parser)
        return parser

    automation_run.register(command)
    automation_quarantine.register(command)

    p = command(
        "automation:resources:add-field",
        add_field,
        "add a field to the local resources file for an automation run",
    )
    p.add_argument("--type", required=True, help="string, url, text, console or html")
    p.add_argument("--name", required=True, help="the name of this field")
    p.add_argument(
        "--value", help="value of string/URL fields; text, console and HTML come from stdin"
    )
    _resources_option(p, "field")

    p = command(
        "automation:resources:add-link",
        add_link,
        "add a link to the local resources file for an automation run",
    )
    p.add_argument("--name", required=True, help="the name displayed for this link")
    p.add_argument("--url", required=True, help="the URL for this link")
    p.add_argument("--note", help="an additional note displayed for the link")
    _resources_option(p, "link")

    p = command(
        "automation:resources:add-artifact",
        add_artifact,
        "add an artifact (a link to a stored file) to the local resources file",
    )
    p.add_argument("--name", required=True, help="the name displayed for this artifact")
    p.add_argument("--url", required=True, help="the URL of the stored file")
    p.add_argument("--note", help="an additional note displayed for the artifact")
    p.add_argument("--file", help="a local copy of the file: its size and mime type are added")
    _resources_option(p, "artifact")


def fail(message: str) -> NoReturn:
    print(message, file=sys.stderr)
    raise SystemExit(1)


def _run(action: Callable[[], None]) -> int:
    try:
        action()
    except resources.ResourceError as exc:
        fail(str(exc))
    return 0


def add_field(args: argparse.Namespace) -> int:
    value = args.value
    if args.type in ("text", "console", "html"):
        if sys.stdin is None or sys.stdin.isatty():  # as the official CLI: a pipe is needed
            fail("Required stdin for text, console, html is empty")
        value = sys.stdin.read().strip()
    elif value is None and args.type in resources.FIELD_TYPES:
        fail("Field value is missing")
    return _run(lambda: resources.add_field(args.resources, args.type, args.name, value or ""))


def add_link(args: argparse.Namespace) -> int:
    return _run(lambda: resources.add_link(args.resources, args.name, args.url, args.note))


def add_artifact(args: argparse.Namespace) -> int:
    return _run(
        lambda: resources.add_artifact(args.resources, args.name, args.url, args.note, args.file)
    )
