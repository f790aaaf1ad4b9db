"""End-to-end fixtures: the real `runhub serve` process on a free port, on both backends.

`live_server` is a started server with a bootstrap admin token and a project. The
`start_server` factory starts more servers (other options, environment or database) and
stops every one of them at the end of the test: SIGTERM first, SIGKILL after 10 seconds.
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx2 as httpx
import pytest

BIN_DIR = Path(sys.executable).parent
RUNHUB = str(BIN_DIR / "runhub")
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0
TOKEN_PREFIX = "API token (shown once; keep it safe): "


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(**overrides: str) -> dict[str, str]:
    """The test's environment without RUNHUB_* settings, plus `overrides`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNHUB_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(overrides)
    return env


def runhub_cli(*args: str) -> str:
    """Run a short `runhub` command; its stdout, stripped (fails the test on an error)."""
    done = subprocess.run(
        [RUNHUB, *args], env=server_env(), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, f"runhub {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


@dataclass
class ServerProcess:
    """A running `runhub serve`; stdout and stderr go to files so that pipes never fill."""

    process: subprocess.Popen
    base_url: str
    stdout_path: Path
    stderr_path: Path
    token: str | None = None
    project_id: int = 0
    db_url: str = ""
    verify: ssl.SSLContext | bool = True  # trusts the test CA when the server speaks HTTPS
    _files: list = field(default_factory=list)

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def output(self) -> str:
        return f"--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"

    def client(self, **kw: object) -> httpx.Client:
        """A client on the API with the bootstrap admin's token."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return httpx.Client(
            base_url=self.base_url + "/api/v1",
            headers=headers,
            timeout=60,
            verify=self.verify,
            **kw,  # type: ignore[arg-type]
        )

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Signal the server and wait for it to exit; kill it after STOP_TIMEOUT_S."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT_S)
        for f in self._files:
            f.close()
        self._files.clear()
        return self.process.returncode


@dataclass(frozen=True)
class TlsFiles:
    """A test CA and a server certificate it signed (for 127.0.0.1 and runhub.test)."""

    ca_pem: Path
    cert_pem: Path
    key_pem: Path


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    import trustme

    folder = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "runhub.test", "localhost")
    files = TlsFiles(folder / "ca.pem", folder / "cert.pem", folder / "key.pem")
    ca.cert_pem.write_to_path(str(files.ca_pem))
    cert.cert_chain_pems[0].write_to_path(str(files.cert_pem))
    for extra in cert.cert_chain_pems[1:]:
        extra.write_to_path(str(files.cert_pem), append=True)
    cert.private_key_pem.write_to_path(str(files.key_pem))
    return files


def _wait_until_healthy(server: ServerProcess, verify: ssl.SSLContext | bool = True) -> bool:
    """True once /healthz answers 200; False if the process exited first."""
    deadline = time.monotonic() + START_TIMEOUT_S
    with httpx.Client(timeout=2, verify=verify) as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                return False
            try:
                if client.get(server.base_url + "/healthz").status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.05)
    server.stop()
    pytest.fail(f"runhub serve: no /healthz 200 within {START_TIMEOUT_S}s\n{server.output()}")


def _token_from(stdout: str) -> str | None:
    for line in stdout.splitlines():
        if line.startswith(TOKEN_PREFIX):
            return line[len(TOKEN_PREFIX) :].strip()
    return None


StartServer = Callable[..., ServerProcess]


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[StartServer]:
    """Start `runhub serve --database URL` and wait for /healthz 200.

    The free port is picked before the server binds it; if another process takes it in
    between, the start is retried on a new port (keeping the token the first try printed).
    """
    started: list[ServerProcess] = []

    def launch(db_url: str, args: Sequence[str], env: dict[str, str], scheme: str) -> ServerProcess:
        port = free_port()
        n = len(started)
        stdout_path, stderr_path = tmp_path / f"server{n}.out", tmp_path / f"server{n}.err"
        out, err = stdout_path.open("wb"), stderr_path.open("wb")
        process = subprocess.Popen(
            [
                RUNHUB,
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--database",
                db_url,
                *args,
            ],
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            env=server_env(**env),
        )
        server = ServerProcess(
            process,
            f"{scheme}://127.0.0.1:{port}",
            stdout_path,
            stderr_path,
            db_url=db_url,
            _files=[out, err],
        )
        started.append(server)
        return server

    def start(
        db_url: str,
        *,
        args: Sequence[str] = (),
        access_log: bool = False,
        env: dict[str, str] | None = None,
        tls: TlsFiles | None = None,
    ) -> ServerProcess:
        env = {**({} if access_log else {"RUNHUB_ACCESS_LOG": "0"}), **(env or {})}
        scheme, verify = "http", True
        if tls is not None:
            args = [*args, "--tls-cert", str(tls.cert_pem), "--tls-key", str(tls.key_pem)]
            scheme, verify = "https", ssl.create_default_context(cafile=str(tls.ca_pem))
        token = None
        for _attempt in range(3):
            server = launch(db_url, args, env, scheme)
            healthy = _wait_until_healthy(server, verify)
            token = token or _token_from(server.stdout)
            if healthy:
                server.token, server.verify = token, verify
                return server
            if "address already in use" not in server.stderr.lower():
                break
        code = server.process.returncode
        pytest.fail(f"runhub serve exited with {code}\n{server.output()}")

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def live_server(db_url: str, start_server: StartServer) -> ServerProcess:
    """The real server on a fresh database (SQLite and PostgreSQL), with a project."""
    server = start_server(db_url)
    assert server.token, f"no bootstrap token printed\n{server.output()}"
    server.project_id = int(runhub_cli("admin", "create-project", "E2E", "--database", db_url))
    return server
