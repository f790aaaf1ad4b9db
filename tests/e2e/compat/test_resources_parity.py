"""`runhub automation:resources:*` writes the same resources file as the official CLI, and
each tool reads the other's file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import TESTMO_CLI

pytestmark = pytest.mark.e2e
RUNHUB = str(Path(sys.executable).parent / "runhub")

FIELD, LINK, ARTIFACT = (f"automation:resources:add-{x}" for x in ("field", "link", "artifact"))
FILES = "https://files.example.com"
STEPS: list[tuple[str, str | None]] = [
    (f"{FIELD} --type string --name Version --value 2.3", None),
    (f"{FIELD} --type url --name Build --value https://ci.example.com/7", None),
    (f"{FIELD} --type console --name Log", "line one\nline two\n"),
    (f"{FIELD} --type html --name Empty", ""),
    (f"{LINK} --name CI --url https://ci.example.com/7 --note job", None),
    (f"{LINK} --name Docs --url http://localhost:8080/docs", None),
    (f"{ARTIFACT} --name shot --url {FILES}/s.png --file shot.png", None),
    (f"{ARTIFACT} --name log --url {FILES}/l", None),
]
REFUSED = [
    f"{LINK} --name x --url notaurl",
    f"{FIELD} --type nope --name x --value v",
    f"{FIELD} --type string --name x",
    f"{ARTIFACT} --name x --url {FILES}/x --file missing.bin",
]


def _run(tool: list[str], folder: Path, args: str, stdin: str | None) -> Any:
    return subprocess.run(
        [*tool, *args.split()],
        cwd=folder,
        input=stdin if stdin is not None else "",
        text=True,
        capture_output=True,
        env={"CI": "true", "PATH": "/usr/bin:/bin"},
        timeout=60,
    )


def test_same_resources_file_as_the_official_cli(tmp_path: Path) -> None:
    files = {}
    for name, tool in (("official", [str(TESTMO_CLI)]), ("runhub", [RUNHUB])):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "shot.png").write_bytes(b"\x89PNG" + b"0" * 96)
        for args, stdin in STEPS:
            done = _run(tool, folder, args, stdin)
            assert done.returncode == 0, (name, args, done.stderr)
        files[name] = json.loads((folder / "testmo-resources.json").read_text())
    assert files["runhub"] == files["official"]
    assert list(files["runhub"]["artifacts"][0]) == list(files["official"]["artifacts"][0])


@pytest.mark.parametrize("args", REFUSED)
def test_refusals_match(tmp_path: Path, args: str) -> None:
    official = _run([str(TESTMO_CLI)], tmp_path, args, None)
    ours = _run([RUNHUB], tmp_path, args, None)
    assert official.returncode == ours.returncode == 1
    assert ours.stderr.strip() == official.stderr.strip().splitlines()[-1].strip()
