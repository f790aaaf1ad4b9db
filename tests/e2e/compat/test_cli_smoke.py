"""The official CLI submits a JUnit report to runhub over HTTPS."""

from __future__ import annotations

import pytest

from ..conftest import ServerProcess
from .conftest import FIXTURES, Testmo

pytestmark = pytest.mark.e2e


def test_submit_a_pytest_report(tls_server: ServerProcess, testmo: Testmo) -> None:
    report = next((FIXTURES / "pytest").glob("*.xml"))
    done = testmo(
        "automation:run:submit",
        "--instance", tls_server.base_url,
        "--project-id", str(tls_server.project_id),
        "--name", "Smoke",
        "--source", "unit",
        "--results", str(report),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    with tls_server.client() as client:
        runs = client.get(f"/projects/{tls_server.project_id}/automation/runs").json()["result"]
    assert len(runs) == 1 and runs[0]["is_completed"] and runs[0]["thread_count"] == 1
    assert runs[0]["total_count"] > 0
