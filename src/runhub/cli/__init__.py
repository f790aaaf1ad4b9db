"""The `runhub` command: one module per command group."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from runhub import __version__


class ArgumentParser(argparse.ArgumentParser):
    """Bad arguments: exit 2 with one clear line (no usage dump)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


GROUPS = ("serve", "db", "admin", "automation")


def _groups_for(argv: Sequence[str]) -> tuple[str, ...]:
    """The command groups to load: only the one named (fast start), else all (for help)."""
    first = next((a for a in argv if not a.startswith("-")), "")
    if first.startswith("automation:"):
        return ("automation",)
    return (first,) if first in GROUPS else GROUPS


def build_parser(argv: Sequence[str] = ()) -> ArgumentParser:
    parser = ArgumentParser(prog="runhub", description="Self-hosted server for CI test results.")
    parser.add_argument("--version", action="version", version=f"runhub {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)
    commands.required = True
    for group in _groups_for(argv):
        importlib.import_module(f"runhub.cli.{group}").register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(args_list).parse_args(args_list)
    try:
        return int(args.handler(args) or 0)
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
