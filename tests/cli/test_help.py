"""Every command's --help explains each option: a description, and the default where one
applies (issue 9, item 18)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from runhub.cli import build_parser, main


def _commands(
    parser: argparse.ArgumentParser, prefix: str = ""
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield f"{prefix}{name}", sub
                yield from _commands(sub, f"{prefix}{name} ")


def _undocumented() -> list[str]:
    problems = []
    for name, parser in _commands(build_parser()):
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
                continue
            what = f"{name} {'/'.join(action.option_strings) or action.dest}"
            if not action.help or action.help == argparse.SUPPRESS:
                problems.append(f"{what}: no description")
            elif (
                action.option_strings
                and action.default not in (None, False, [], argparse.SUPPRESS)
                and not isinstance(action, argparse._StoreConstAction)
                and "default" not in action.help
            ):
                problems.append(f"{what}: default {action.default!r} not given")
    return problems


def test_every_option_and_argument_is_described_with_its_default() -> None:
    assert _commands(build_parser())
    assert _undocumented() == []


def test_serve_help_shows_host_and_port_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    out = capsys.readouterr().out
    assert "127.0.0.1" in out and "8000" in out
