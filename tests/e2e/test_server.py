"""`runhub serve` as a user runs it: first start, restart, access log, SIGTERM, health."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import signal
import subprocess
import threading
import time
import uuid
from typing import Any

import httpx2 as httpx
import pytest
from sqlalchemy import create_engine, func, select, text
from starlette.testclient import TestClient

from runhub.app import create_app
from runhub.db.engine import make_engine, normalise_url
from runhub.db.schema import automation_fields, automation_run_tests
from runhub.services.admin import BOOTSTRAP_EMAIL
from runhub.services.batches import expand_everything
from runhub.settings import Settings

from ..conftest import PG_ADMIN_URL
from .conftest import RUNHUB, TOKEN_PREFIX, StartServer, free_port, runhub_cli, server_env

e2e = pytest.mark.e2e
ERROR_LEAKS = ("Traceback", "SELECT", "psycopg", "sqlalchemy", "sqlite3")


@e2e
def test_first_start_prints_the_token_once_and_it_works(
    db_url: str, start_server: StartServer
) -> None:
    server = start_server(db_url)
    out = server.stdout
    assert out.count(TOKEN_PREFIX) == 1, out
    assert server.token and server.token.startswith("runhub_")
    assert out.count(server.token) == 2  # the token line and the curl example
    assert f"runhub: created the first user, {BOOTSTRAP_EMAIL} (admin)." in out
    assert (
        f"runhub: serving {server.base_url} (web UI {server.base_url}/, "
        f"API {server.base_url}/api/v1" in out
    )
    password_lines = [line for line in out.splitlines() if line.startswith("Web UI password")]
    assert len(password_lines) == 1 and len(password_lines[0].rsplit(": ", 1)[1]) >= 16

    # The user story: start it, then curl /api/v1/user as the printed example says.
    with httpx.Client(base_url=server.base_url) as client:
        assert client.get("/healthz").status_code == 200
        response = client.get("/api/v1/user", headers={"Authorization": f"Bearer {server.token}"})
        assert response.status_code == 200, response.text
        assert response.json()["name"] == "Administrator"
        assert client.get("/api/v1/user").status_code == 401
    example = next(line for line in out.splitlines() if line.startswith("Try: curl "))
    if shutil.which("curl"):
        done = subprocess.run(
            shlex.split(example.removeprefix("Try: ")), capture_output=True, text=True, timeout=30
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == response.json()

    assert server.stop() == 0
    again = start_server(db_url)
    assert again.token is None
    assert TOKEN_PREFIX not in again.stdout and "created the first user" not in again.stdout
    assert f"runhub: serving {again.base_url}" in again.stdout
    with again.client() as client:
        client.headers["Authorization"] = f"Bearer {server.token}"  # the first token still works
        assert client.get("/user").json()["id"] == response.json()["id"]
    assert again.stop() == 0


@e2e
def test_access_log_has_one_line_per_request_and_never_the_token(
    db_url: str, start_server: StartServer
) -> None:
    server = start_server(db_url, access_log=True)
    assert server.token
    project_id = runhub_cli("admin", "create-project", "Logged", "--database", db_url)
    bogus = "runhub_" + "x" * 43
    auth = {"Authorization": f"Bearer {server.token}"}
    runs_path = f"/api/v1/projects/{project_id}/automation/runs"
    requests: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/api/v1/user", {"headers": auth}),
        ("GET", "/api/v1/user", {"headers": auth, "params": {"token": server.token}}),
        ("GET", "/api/v1/projects/999999", {"headers": auth}),
        ("GET", "/api/v1/user", {"headers": {"Authorization": f"Bearer {bogus}"}}),
        ("POST", runs_path, {"headers": auth, "json": {"name": "Logged", "source": "log"}}),
        ("POST", runs_path, {"headers": auth, "content": b"{"}),
        ("GET", "/healthz", {}),
    ]
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        user_id = str(client.get("/api/v1/user", headers=auth).json()["id"])
        expected = [("GET", "/api/v1/user", "200", user_id)]
        for method, path, kw in requests:
            status = client.request(method, path, **kw).status_code
            user = user_id if path.startswith("/api/") and status != 401 else "-"
            expected.append((method, path, str(status), user))
    assert [status for *_, status, _ in expected] == [
        "200",
        "200",
        "200",
        "404",
        "401",
        "201",
        "400",
        "200",
    ]
    assert server.stop() == 0
    log = server.stderr
    assert server.token not in log and bogus not in log and "Bearer" not in log

    lines = [line for line in log.splitlines() if "runhub.access" in line]
    pattern = re.compile(
        r"runhub\.access: (\S+) (\S+) (\d{3}) (\d+\.\d)ms user=(\S+) request_id=\S+$"
    )
    parsed = [pattern.search(line) for line in lines]
    assert all(parsed), lines
    entries = [m.groups() for m in parsed if m]
    # The startup probe's /healthz lines come first; compare the requests made above.
    got = [(method, path, status, user) for method, path, status, _ms, user in entries]
    assert got[-len(expected) :] == expected
    assert all(float(ms) >= 0 for *_, ms, _ in entries)


def _big_tests(count: int, field_bytes: int) -> list[dict[str, Any]]:
    return [
        {
            "key": f"slow_{i:05d}",
            "name": f"test_{i}",
            "folder": "slow.Suite",
            "status": "failed" if i % 10 == 0 else "passed",
            "elapsed": 1000,
            "fields": [
                {"type": 1, "name": "Output", "value": f"{i:05d}" + "o" * field_bytes},
                {"type": 1, "name": "Log", "value": f"{i:05d}" + "l" * field_bytes},
            ],
            "artifacts": [],
        }
        for i in range(count)
    ]


@e2e
def test_sigterm_lets_the_request_in_flight_finish(db_url: str, start_server: StartServer) -> None:
    server = start_server(db_url)
    server.project_id = int(runhub_cli("admin", "create-project", "Slow", "--database", db_url))
    with server.client() as client:
        body = {"name": "Slow", "source": "e2e"}
        runs_path = f"/projects/{server.project_id}/automation/runs"
        run_id = client.post(runs_path, json=body).json()["id"]
        thread_id = client.post(f"/automation/runs/{run_id}/threads", json={}).json()["id"]
    payload = json.dumps({"tests": _big_tests(5000, 3000)}).encode()
    sent = threading.Event()
    outcome: dict[str, Any] = {}

    def chunks() -> Any:
        for start in range(0, len(payload), 1 << 16):
            yield payload[start : start + (1 << 16)]
        sent.set()  # httpx asks for more only once the last chunk is written

    def post() -> None:
        try:
            with server.client() as client:
                outcome["response"] = client.post(
                    f"/automation/runs/threads/{thread_id}/append",
                    content=chunks(),
                    headers={
                        "Content-Type": "application/json",
                        "Content-Length": str(len(payload)),
                    },
                )
        except Exception as exc:  # reported by the assertions below
            outcome["error"] = exc
        outcome["at"] = time.monotonic()

    sender = threading.Thread(target=post)
    sender.start()
    assert sent.wait(60), outcome
    signalled_at = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    sender.join(60)
    assert "error" not in outcome, f"{outcome['error']!r}\n{server.output()}"
    response = outcome["response"]
    assert response.status_code == 204, response.text
    assert outcome["at"] > signalled_at, "the request finished before SIGTERM; make it slower"
    assert server.process.wait(10) == 0, server.output()
    assert "Traceback" not in server.stderr, server.stderr

    engine = make_engine(db_url, pool_size=1)
    try:
        expand_everything(engine)  # stored as a pending batch, or already expanded
        with engine.connect() as conn:
            results = (
                select(func.count())
                .select_from(automation_run_tests)
                .where(automation_run_tests.c.thread_id == thread_id)
            )
            fields = (
                select(func.count())
                .select_from(automation_fields)
                .where(
                    automation_fields.c.thread_id == thread_id,
                    automation_fields.c.test_id.isnot(None),
                )
            )
            assert conn.execute(results).scalar_one() == 5000
            assert conn.execute(fields).scalar_one() == 10000
    finally:
        engine.dispose()


@e2e
def test_healthz_answers_503_while_the_postgresql_database_is_gone(
    start_server: StartServer,
) -> None:
    name = f"runhub_gone_{uuid.uuid4().hex[:10]}"
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    admin = create_engine(normalise_url(PG_ADMIN_URL), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        server = start_server(f"{base}/{name}")
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            assert client.get("/healthz").status_code == 200
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            for _ in range(2):  # the pool's dead connections and a failing reconnect
                response = client.get("/healthz")
                assert response.status_code == 503, response.text
                assert response.json() == {"status": "unavailable"}
            auth = {"Authorization": f"Bearer {server.token}"}
            response = client.get("/api/v1/user", headers=auth)
            assert response.status_code >= 500
            assert response.json()["message"]
            assert not any(leak in response.text for leak in ERROR_LEAKS), response.text
            with admin.connect() as conn:  # the database is back: healthy again
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            assert client.get("/healthz").status_code == 200
        assert server.stop() == 0
        assert "health check: database does not answer" in server.stderr
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@e2e
def test_serve_exits_with_a_message_when_the_database_does_not_answer() -> None:
    done = subprocess.run(
        [
            RUNHUB,
            "serve",
            "--port",
            str(free_port()),
            "--database",
            "postgresql://postgres@127.0.0.1:1/nowhere",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=server_env(),
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr.startswith("runhub: error: cannot use the database:"), done.stderr
    assert "Traceback" not in done.stderr and TOKEN_PREFIX not in done.stdout


@pytest.mark.parametrize(
    "url",
    ["postgresql://postgres@127.0.0.1:1/nowhere", "sqlite:////nonexistent/runhub/dir/runhub.db"],
    ids=["postgresql", "sqlite"],
)
def test_healthz_answers_503_when_the_database_is_unreachable(url: str) -> None:
    engine = make_engine(url, pool_size=1)
    app = create_app(Settings(database_url=url, access_log=False), engine=engine)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            response = client.get("/healthz")
            assert response.status_code == 503
            assert response.json() == {"status": "unavailable"}
            response = client.get("/api/v1/user", headers={"Authorization": "Bearer runhub_x"})
            assert response.status_code >= 500
            assert response.json()["message"]
            assert not any(leak in response.text for leak in ERROR_LEAKS), response.text
    finally:
        engine.dispose()
