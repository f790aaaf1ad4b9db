"""The official Testmo clients (npm, pinned in package.json here) against runhub over HTTPS.

`.ci/run` installs them with `npm ci` in this folder. `tls_server` is the real runhub on a
fresh database (SQLite and PostgreSQL) serving HTTPS with a certificate from a test CA;
`testmo` runs the official CLI against it the way a CI job would.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from ..conftest import ServerProcess, StartServer, TlsFiles, runhub_cli

HERE = Path(__file__).parent
NODE_MODULES = HERE / "node_modules"
TESTMO_CLI = NODE_MODULES / ".bin" / "testmo"
FIXTURES = HERE.parents[3] / "shared" / "fixtures" / "junit"

Testmo = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def tls_server(db_url: str, start_server: StartServer, tls_files: TlsFiles) -> ServerProcess:
    """runhub over HTTPS on a fresh database, with the bootstrap admin and one project."""
    if not TESTMO_CLI.exists():
        pytest.fail(f"the official CLI is not installed: run `npm ci` in {HERE}")
    server = start_server(db_url, tls=tls_files)
    assert server.token, server.output()
    server.project_id = int(runhub_cli("admin", "create-project", "Compat", "--database", db_url))
    return server


@pytest.fixture
def testmo(tls_server: ServerProcess, tls_files: TlsFiles, tmp_path: Path) -> Testmo:
    """Run `testmo ARGS...` (the official CLI 1.4.5) with the server's token trusted via
    NODE_EXTRA_CA_CERTS, in CI mode, in a scratch folder; returns the finished process."""

    def run(
        *args: str,
        token: str | None = None,
        cwd: Path | None = None,
        timeout_s: float = 300,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        full_env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("RUNHUB_", "TESTMO_"))},
            "TESTMO_TOKEN": tls_server.token if token is None else token,
            "NODE_EXTRA_CA_CERTS": str(tls_files.ca_pem),
            "CI": "true",
            **(env or {}),
        }
        return subprocess.run(
            [str(TESTMO_CLI), *args],
            cwd=cwd or tmp_path,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )

    return run
