"""`runhub automation:run:submit --dry-run`: reading several reports in worker processes
gives the same answer, and the same errors, as reading them one after the other."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from runhub.cli import automation_reports, main

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "junit"
GOOD = sorted(str(p) for p in (FIXTURES / "pytest").glob("*.xml"))
BROKEN = str(FIXTURES / "malformed" / "MALFORMED-truncated-pytest.xml")
BASE = ["automation:run:submit", "--instance", "http://127.0.0.1:9", "--project-id", "1",
        "--name", "n", "--source", "unit", "--dry-run"]  # fmt: skip


def dry_run(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    results: list[str],
    *,
    parallel: bool,
    ignore: bool = False,
) -> tuple[int, str, str]:
    monkeypatch.setattr(automation_reports, "PARALLEL_MIN_BYTES", 0 if parallel else 1 << 40)
    code = main([*BASE, *(["--ignore-parse-error"] if ignore else []), "--results", *results])
    out, err = capsys.readouterr()
    return code, out, err


def test_parallel_and_sequential_reads_agree(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert len(GOOD) >= 3
    for results, ignore in ((GOOD, False), ([*GOOD, BROKEN], False), ([*GOOD, BROKEN], True)):
        sequential = dry_run(capsys, monkeypatch, results, parallel=False, ignore=ignore)
        parallel = dry_run(capsys, monkeypatch, results, parallel=True, ignore=ignore)
        assert parallel == sequential
    code, out, err = sequential  # with --ignore-parse-error
    assert code == 0 and f"Failed to parse file: {BROKEN}" in err
    assert f"Found {len(GOOD)} result files with a total of" in out
    code, out, err = dry_run(capsys, monkeypatch, [*GOOD, BROKEN], parallel=True)
    assert code == 1 and err.startswith(f"Failed to parse file: {BROKEN}\n")
    assert "Dry run" not in out


def test_parallel_and_sequential_checks_collect_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    args = argparse.Namespace(results=[*GOOD, BROKEN], ignore_parse_error=True)
    collected = []
    for min_bytes in (1 << 40, 0):
        monkeypatch.setattr(automation_reports, "PARALLEL_MIN_BYTES", min_bytes)
        collected.append(automation_reports.collect(args))
    assert collected[0] == collected[1]
    assert collected[0].paths == [Path(p) for p in GOOD] and collected[0].tests > len(GOOD)
