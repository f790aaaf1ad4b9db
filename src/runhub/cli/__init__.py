"""The `runhub` command: one module per command group."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from runhub import __version__


class ArgumentParser(argparse.ArgumentParser):
    """Bad arguments: exit 2 with one clear line (no usage dump)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> ArgumentParser:
    from runhub.cli import admin, automation, db, serve

    parser = ArgumentParser(prog="runhub", description="Self-hosted server for CI test results.")
    parser.add_argument("--version", action="version", version=f"runhub {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)
    commands.required = True
    serve.register(commands)
    db.register(commands)
    admin.register(commands)
    automation.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
