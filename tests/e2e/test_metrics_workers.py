"""/metrics of `runhub serve --workers 2` adds up every worker: the request counter never
goes back between scrapes, whichever worker answers, and counts every request made."""

from __future__ import annotations

import re

from .conftest import StartServer

COUNT = re.compile(r'^runhub_http_requests_total\{[^}]*route="/api/v1/user"[^}]*\} (\S+)$', re.M)
QUEUE = re.compile(r'^runhub_queue_depth\{queue="(\w+)"\} (\S+)$', re.M)


def user_requests(text: str) -> float:
    return sum(float(n) for n in COUNT.findall(text))


def test_counters_add_up_across_workers(db_url: str, start_server: StartServer) -> None:
    server = start_server(db_url, args=["--workers", "2"])
    made = 0
    seen: list[float] = []
    with server.client() as client:
        for _ in range(10):
            for _ in range(6):
                assert client.get("/user").status_code == 200
                made += 1
            # A new connection per scrape: uvicorn hands connections to either worker.
            text = client.get(server.base_url + "/metrics", headers={"Connection": "close"}).text
            seen.append(user_requests(text))
    assert seen == sorted(seen), seen
    assert seen[-1] == made
    depths = dict(QUEUE.findall(text))
    assert {"expansion_batches", "expansion_tests", "analysis_runs"} <= set(depths)
