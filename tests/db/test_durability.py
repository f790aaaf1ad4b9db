"""SQLite's synchronous mode is a setting (issue 9, item 19): NORMAL by default, FULL for
those who must not lose a commit on power loss; anything else stops `runhub serve`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from runhub.app import create_app
from runhub.settings import Settings

PRAGMA_VALUES = {"NORMAL": 1, "FULL": 2, "EXTRA": 3}


@pytest.mark.parametrize("given", [None, "full", "EXTRA", "normal"])
def test_the_setting_reaches_every_connection(tmp_path: Path, given: str | None) -> None:
    env = {"RUNHUB_DATABASE_URL": f"sqlite:///{tmp_path / 'runhub.db'}"}
    if given:
        env["RUNHUB_SQLITE_SYNCHRONOUS"] = given
    app = create_app(Settings.from_env(env))
    with TestClient(app), app.state.engine.connect() as conn:
        value = conn.execute(text("PRAGMA synchronous")).scalar()
    assert value == PRAGMA_VALUES[(given or "NORMAL").upper()]


def test_an_unknown_mode_stops_serve_with_one_line(tmp_path: Path) -> None:
    runhub = Path(sys.executable).parent / "runhub"
    env = {**os.environ, "RUNHUB_SQLITE_SYNCHRONOUS": "OFF"}
    done = subprocess.run(
        [str(runhub), "serve", "--database", f"sqlite:///{tmp_path / 'x.db'}"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "runhub: error: RUNHUB_SQLITE_SYNCHRONOUS must be one of NORMAL, FULL, EXTRA"
    )
