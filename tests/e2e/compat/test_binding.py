"""The official binding `@testmo/testmo-api` 2.4.0 reads runhub and accepts every answer.

`binding_check.js` calls the binding's read methods against a real runhub over HTTPS and
validates each raw answer with the binding's own models (`validateJSON` plus the property
types the generated models declare). The data seeded here covers the shapes that matter:
a completed run with tags, config, milestone, fields, links, artifacts and two threads
with failures, and a run still running with nulls where nothing is known yet.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from typing import Any

import httpx2 as httpx
import pytest

from ..conftest import ServerProcess, TlsFiles, runhub_cli
from .conftest import HERE

pytestmark = pytest.mark.e2e

SCRIPT = HERE / "binding_check.js"


def _post(client: httpx.Client, path: str, body: dict[str, Any], status: int) -> Any:
    response = client.post(path, json=body)
    assert response.status_code == status, response.text
    return response.json() if status == 201 else None


def _test(key: str, status: str, **extra: Any) -> dict[str, Any]:
    return {"key": key, "name": key.replace("_", " "), "folder": "suite", "status": status,
            "elapsed": 1500, **extra}  # fmt: skip


def _seed(server: ServerProcess) -> dict[str, Any]:
    """A completed run (everything filled in) and a running one (nulls where unknown)."""
    pid = server.project_id
    milestone_id = int(
        runhub_cli("admin", "create-milestone", str(pid), "M1",
                   "--automation-tag", "nightly", "--database", server.db_url)
    )  # fmt: skip
    with server.client() as client:
        done_id = _post(client, f"/projects/{pid}/automation/runs", {
            "name": "Nightly", "source": "backend", "config": "Chrome",
            "tags": ["nightly", "smoke"],
            "fields": [
                {"type": 1, "name": "Commit", "value": "abc123", "is_highlight": True},
                {"type": 2, "name": "Empty"},
            ],
            "links": [{"name": "CI", "url": "https://ci.example/1", "note": "build"},
                      {"name": "Bare", "url": "https://ci.example/2"}],
            "artifacts": [{"name": "log", "url": "https://ci.example/log.txt",
                           "note": "full log", "mime_type": "text/plain", "size": 12},
                          {"name": "bare", "url": "https://ci.example/bare"}],
        }, 201)["id"]  # fmt: skip
        for n in (1, 2):
            thread_id = _post(client, f"/automation/runs/{done_id}/threads", {
                "elapsed_observed": 1000 * n,
                "artifacts": [{"name": f"t{n}", "url": "https://ci.example/t"}],
                "fields": [{"type": 5, "name": "Console", "value": "out"}],
            }, 201)["id"]  # fmt: skip
            _post(client, f"/automation/runs/threads/{thread_id}/append", {"tests": [
                _test(f"ok_{n}", "passed", file="t.py", line=3, assertions=2),
                _test(f"bad_{n}", "failure", fields=[{"type": 1, "name": "E", "value": "x"}]),
                _test(f"skip_{n}", "skipped", artifacts=[{"name": "s", "url": "https://a.b"}]),
                _test(f"err_{n}", "error"),
            ]}, 204)  # fmt: skip
            _post(client, f"/automation/runs/threads/{thread_id}/complete", {}, 204)
        _post(client, f"/automation/runs/{done_id}/complete", {"measure_elapsed": False}, 204)

        running_id = _post(
            client, f"/projects/{pid}/automation/runs", {"name": "Live", "source": "frontend"}, 201
        )["id"]
        thread_id = _post(client, f"/automation/runs/{running_id}/threads", {}, 201)["id"]
        _post(client, f"/automation/runs/threads/{thread_id}/append",
              {"tests": [_test("live", "passed")]}, 204)  # fmt: skip

        sources = client.get(f"/projects/{pid}/automation/sources").json()["result"]
        done = client.get(f"/automation/runs/{done_id}").json()["result"]
        running = client.get(f"/automation/runs/{running_id}").json()["result"]
    # the binding check is only as good as the data it reads
    assert done["is_completed"] and done["status"] == 3 and done["milestone_id"] == milestone_id
    assert done["config_id"] and done["tags"] == ["nightly", "smoke"]
    assert len(done["threads"]) == 2 and done["failure_count"] == 4
    assert len(done["fields"]) == 2 and len(done["links"]) == 2 and len(done["artifacts"]) == 2
    assert not running["is_completed"] and running["status"] == 4
    assert running["config_id"] is None and running["milestone_id"] is None
    assert running["elapsed"] is None and running["completed_at"] is None
    assert running["tags"] == [] and running["fields"] == [] and running["links"] == []
    assert len(sources) == 2
    return {"done": done_id, "running": running_id, "milestone": milestone_id,
            "sources": [s["id"] for s in sources]}  # fmt: skip


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed")
    return node


def _binding_check(
    server: ServerProcess, tls_files: TlsFiles, token: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("RUNHUB_", "TESTMO_"))},
        "NODE_EXTRA_CA_CERTS": str(tls_files.ca_pem),
    }
    token = server.token if token is None else token
    assert token
    args = [server.base_url, token, str(server.project_id)]
    return subprocess.run(
        [_node(), str(SCRIPT), *args],
        cwd=HERE,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_official_binding_accepts_every_read(
    tls_server: ServerProcess, tls_files: TlsFiles
) -> None:
    seeded = _seed(tls_server)
    done = _binding_check(tls_server, tls_files)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output

    expected = {
        "getAutomationRunPage",
        "getAutomationRunPage(page=2)",
        f"getAutomationRun({seeded['done']})",
        f"getAutomationRun({seeded['running']})",
        "getAutomationSourcePage",
        *(f"getAutomationSource({sid})" for sid in seeded["sources"]),
        "getProjectPage",
        f"getProject({tls_server.project_id})",
        "getMilestonePage",
        f"getMilestone({seeded['milestone']})",
        "getCurrentUser",
    }
    lines = done.stdout.splitlines()
    assert {line.removeprefix("OK ") for line in lines if line.startswith("OK ")} == expected
    assert not [line for line in lines if not line.startswith("OK ")], output


def _check_saved(model: str, answer: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_node(), str(SCRIPT), "--check", model],
        input=json.dumps(answer),
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _broken(answer: dict[str, Any], change: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    copy = json.loads(json.dumps(answer))
    change(copy["result"])
    return copy


def test_binding_check_reports_failures(tls_server: ServerProcess, tls_files: TlsFiles) -> None:
    """The checker is not vacuous: answers the binding's models reject fail it."""
    seeded = _seed(tls_server)
    with tls_server.client() as client:
        answer = client.get(f"/automation/runs/{seeded['done']}").json()
    assert _check_saved("AutomationRunRow", answer).returncode == 0

    broken: list[tuple[Callable[[dict[str, Any]], object], str]] = [
        # the binding's own validateJSON
        (lambda r: r.update(tags=None), "AutomationRun.validateJSON: Expected the field `tags`"),
        (lambda r: r["threads"][0].update(name=5), "threads[0]: AutomationRunThread.validateJSON"),
        # the properties and types the binding's models declare
        (lambda r: r.pop("threads"), "result.threads: missing"),
        (lambda r: r.update(elapsed="2000"), "result.elapsed: expected Number"),
        (lambda r: r.update(created_at="yesterday"), "created_at: the binding cannot parse"),
        (lambda r: r["fields"][0].update(meta={"a": 1}), "fields[0].meta.a: expected String"),
    ]
    for change, message in broken:
        done = _check_saved("AutomationRunRow", _broken(answer, change))
        assert done.returncode == 1 and message in done.stdout, (message, done.stdout, done.stderr)

    done = _binding_check(tls_server, tls_files, token="runhub_not-a-valid-token")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAIL getAutomationRunPage: HTTP 401" in done.stdout
    assert "FAIL getCurrentUser: HTTP 401" in done.stdout
