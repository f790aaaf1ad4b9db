"""runhub.client.Client against the real server, directly and through a faulty proxy."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx2 as httpx
import pytest

from runhub.client import ApiConnectionError, ApiError, Client

from ..helpers import make_test
from .conftest import ServerProcess

pytestmark = pytest.mark.e2e

THREAD_APPEND = re.compile(r"/threads/\d+/append$")
THREAD_CREATE = re.compile(r"/runs/\d+/threads$")
HOP_HEADERS = {"host", "connection", "keep-alive", "accept-encoding", "content-length"}
DROP_RESPONSE_HEADERS = {"connection", "content-encoding", "transfer-encoding", "content-length"}


class FaultProxy:
    """An HTTP proxy on 127.0.0.1 in front of the server. Requests whose path matches
    `target` (thread appends unless changed) consume `plan`: "forward", "drop" (forward,
    then close the connection without answering) or (status, headers) answered by the
    proxy itself; with the plan empty it forwards. Their Idempotency-Key headers are
    recorded in `append_keys`."""

    def __init__(self, upstream: str) -> None:
        self.upstream = httpx.Client(base_url=upstream, timeout=30)
        self.target = THREAD_APPEND
        self.plan: list[Any] = []
        self.append_keys: list[str | None] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                action: Any = "forward"
                if proxy.target.search(self.path):
                    with proxy.lock:
                        proxy.append_keys.append(self.headers.get("Idempotency-Key"))
                        action = proxy.plan.pop(0) if proxy.plan else "forward"
                if isinstance(action, tuple):
                    status, headers = action
                    self._answer(status, headers, b'{"message": "proxy says no", "errors": {}}')
                    return
                upstream = proxy.upstream.request(
                    self.command,
                    self.path,
                    content=body,
                    headers={k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS},
                )
                if action == "drop":  # the server stored it; the client never hears back
                    self.close_connection = True
                    return
                headers = {
                    k: v
                    for k, v in upstream.headers.items()
                    if k.lower() not in DROP_RESPONSE_HEADERS
                }
                self._answer(upstream.status_code, headers, upstream.content)

            def _answer(self, status: int, headers: dict[str, str], content: bytes) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = _handle  # noqa: N815

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.upstream.close()


@pytest.fixture
def proxy(live_server: ServerProcess) -> Iterator[FaultProxy]:
    p = FaultProxy(live_server.base_url)
    yield p
    p.close()


def client_via(
    proxy: FaultProxy, live_server: ServerProcess, **kw: Any
) -> tuple[Client, list[float]]:
    sleeps: list[float] = []
    assert live_server.token
    client = Client(proxy.url + "/some/path", live_server.token, sleep=sleeps.append, **kw)
    return client, sleeps


def new_thread(client: Client, project_id: int) -> tuple[int, int]:
    run_id = client.create_run(project_id, "Run", "backend")
    return run_id, client.create_thread(run_id)


def test_full_flow(live_server: ServerProcess) -> None:
    assert live_server.token
    # The instance is reduced to its origin, as the official CLI does.
    with Client(live_server.base_url + "/ignored/path?x=1", live_server.token) as client:
        assert client.get_user()["id"] >= 1
        pid = live_server.project_id
        run_id = client.create_run(
            pid,
            "Nightly",
            "backend",
            config="Chrome",
            tags=["nightly"],
            fields=[{"type": 1, "name": "Branch", "value": "main"}],
            links=[{"name": "CI", "url": "https://ci.example.com/1"}],
        )
        client.append_run(run_id, artifacts=[{"name": "log", "url": "https://e.example/log"}])
        thread_id = client.create_thread(run_id, elapsed_computed=1_000)
        client.append_thread(thread_id, [make_test("a"), make_test("b", "failure")])
        client.append_thread(thread_id, [make_test("c", "skipped")], elapsed_computed=500)
        client.complete_thread(thread_id)
        client.complete_run(run_id, measure_elapsed=False)

        run = client.get_run(run_id, expands=["statuses", "configs"])
        result = run["result"]
        assert result["is_completed"] and result["status"] == 3
        assert result["total_count"] == 3 and result["failure_count"] == 1
        assert result["tags"] == ["nightly"] and result["elapsed"] == 1_500
        assert [c["name"] for c in run["expands"]["configs"]] == ["Chrome"]
        assert len(result["links"]) == 1 and len(result["artifacts"]) == 1

        assert client.list_runs(pid, status=[3])["total"] == 1
        assert [r["id"] for r in client.iter_runs(pid, per_page=15)] == [run_id]
        assert client.list_run_tests(run_id, status_id=[3])["total"] == 1
        assert len(list(client.iter_run_tests(run_id, per_page=100))) == 3
        assert client.get_project(pid)["result"]["id"] == pid
        assert pid in [p["id"] for p in client.list_projects()["result"]]
        source = client.list_sources(pid)["result"][0]
        assert client.get_source(source["id"])["result"]["name"] == "backend"
        assert client.list_milestones(pid)["total"] == 0
        assert client.list_cases(pid)["total"] == 3

        with pytest.raises(ApiError) as caught:
            client.get_milestone(999_999)
        assert caught.value.status == 404


def test_iter_runs_follows_pages(live_server: ServerProcess) -> None:
    assert live_server.token
    with Client(live_server.base_url, live_server.token) as client:
        ids = [client.create_run(live_server.project_id, f"R{i}", "backend") for i in range(17)]
        seen = [r["id"] for r in client.iter_runs(live_server.project_id, per_page=15)]
        assert seen == ids[::-1]


def test_dropped_append_is_retried_with_the_same_key(
    live_server: ServerProcess, proxy: FaultProxy
) -> None:
    client, sleeps = client_via(proxy, live_server)
    with client:
        run_id, thread_id = new_thread(client, live_server.project_id)
        proxy.plan = ["drop"]
        client.append_thread(thread_id, [make_test("a"), make_test("b")])
        assert len(proxy.append_keys) == 2 and proxy.append_keys[0] == proxy.append_keys[1]
        assert proxy.append_keys[0] and len(sleeps) == 1 and 0 <= sleeps[0] <= 1
        assert client.get_run(run_id)["result"]["total_count"] == 2
        assert client.list_run_tests(run_id)["total"] == 2
        # A second call gets a fresh key: its batch is stored.
        client.append_thread(thread_id, [make_test("a")])
        assert proxy.append_keys[2] != proxy.append_keys[0]
        assert client.get_run(run_id)["result"]["total_count"] == 3


def test_429_honours_retry_after(live_server: ServerProcess, proxy: FaultProxy) -> None:
    client, sleeps = client_via(proxy, live_server)
    with client:
        run_id, thread_id = new_thread(client, live_server.project_id)
        proxy.plan = [(429, {"Retry-After": "1"}), (429, {})]
        client.append_thread(thread_id, [make_test("a")], idempotency_key="mine")
        assert sleeps == [1.0, 60.0]
        assert proxy.append_keys == ["mine"] * 3
        assert client.get_run(run_id)["result"]["total_count"] == 1


def test_503_twice_then_success(live_server: ServerProcess, proxy: FaultProxy) -> None:
    client, sleeps = client_via(proxy, live_server)
    with client:
        run_id, thread_id = new_thread(client, live_server.project_id)
        proxy.plan = [(503, {}), (503, {})]
        client.append_thread(thread_id, [make_test("a")])
        assert len(proxy.append_keys) == 3 and len(set(proxy.append_keys)) == 1
        # Full jitter under an exponential cap: try n waits at most 2**(n-1) seconds.
        assert len(sleeps) == 2 and 0 <= sleeps[0] <= 1 and 0 <= sleeps[1] <= 2
        assert client.get_run(run_id)["result"]["total_count"] == 1


def test_422_is_never_retried(live_server: ServerProcess, proxy: FaultProxy) -> None:
    client, sleeps = client_via(proxy, live_server)
    with client:
        run_id, thread_id = new_thread(client, live_server.project_id)
        with pytest.raises(ApiError) as caught:
            client.append_thread(thread_id, [make_test("a", "no_such_status")])
        error = caught.value
        assert error.status == 422 and "tests.0.status" in error.errors
        assert str(error) == f"Server response (422): {error.message}"
        assert error.validation_lines()[0].startswith("Validation: ")
        assert len(proxy.append_keys) == 1 and sleeps == []
        assert client.get_run(run_id)["result"]["total_count"] == 0


def test_max_retries_exhausted_raises(live_server: ServerProcess, proxy: FaultProxy) -> None:
    client, sleeps = client_via(proxy, live_server, max_retries=3)
    with client:
        run_id, thread_id = new_thread(client, live_server.project_id)
        proxy.plan = [(503, {})] * 3
        with pytest.raises(ApiError) as caught:
            client.append_thread(thread_id, [make_test("a")])
        assert caught.value.status == 503 and str(caught.value).startswith("Server response (503)")
        assert len(proxy.append_keys) == 3 and len(sleeps) == 2
        proxy.plan = ["drop"] * 3
        with pytest.raises(ApiConnectionError) as dropped:
            client.append_thread(thread_id, [make_test("a")])
        assert str(dropped.value).startswith("Connection error: ")
        # Only the first drop reached the server as a new key; the other two were repeats.
        assert client.get_run(run_id)["result"]["total_count"] == 1


def test_creates_are_retried_only_when_not_acted_on(
    live_server: ServerProcess, proxy: FaultProxy
) -> None:
    client, sleeps = client_via(proxy, live_server)
    with client:
        run_id = client.create_run(live_server.project_id, "Run", "backend")
        proxy.target = THREAD_CREATE
        proxy.plan = [(429, {"Retry-After": "2"}), (503, {})]  # refused: safe to repeat
        client.create_thread(run_id)
        assert len(sleeps) == 2 and sleeps[0] == 2.0
        proxy.plan = [(502, {})]  # a gateway error: the server may have created it
        with pytest.raises(ApiError) as caught:
            client.create_thread(run_id)
        assert caught.value.status == 502 and len(sleeps) == 2
        proxy.plan = ["drop"]  # created, but the answer was lost: not sent again
        with pytest.raises(ApiConnectionError):
            client.create_thread(run_id)
        assert len(sleeps) == 2
        threads = client.get_run(run_id)["result"]["threads"]
        assert len(threads) == 2  # the one that answered and the dropped one, no duplicate


def test_unreachable_server_raises_connection_error() -> None:
    sleeps: list[float] = []
    client = Client("http://127.0.0.1:9", "token", max_retries=2, sleep=sleeps.append)
    with client, pytest.raises(ApiConnectionError):
        client.get_user()
    assert len(sleeps) == 1


def test_instance_must_be_http_or_https() -> None:
    for bad in ("ftp://example.com", "example.com", "https://"):
        with pytest.raises(ValueError):
            Client(bad, "token")
