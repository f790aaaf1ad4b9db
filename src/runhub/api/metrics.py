"""Prometheus metrics (prometheus_client), served as text at /metrics.

In one process (TestClient, `runhub serve --workers 1`) each app has its own registry.
Under `runhub serve --workers N`, PROMETHEUS_MULTIPROC_DIR names a directory shared by the
workers: each writes its values to files there and /metrics sums every worker's files
(dead workers' counters included), so whichever worker answers a scrape, counters never
go back. Queue depths and runhub_info are read at scrape time by the answering worker.
"""

from __future__ import annotations

import glob
import logging
import os
import re
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, values
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from runhub import __version__
from runhub.db.engine import read_tx
from runhub.db.queues import QUEUE_DEPTHS, queue_depths

log = logging.getLogger("runhub.metrics")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
DURATION_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
UNMATCHED_ROUTE = "unmatched"
_LIVE_GAUGE_FILE = re.compile(r"gauge_live(?:sum|all)_(\d+)\.db$")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def forget_dead_workers(path: str) -> None:
    """Drop the live gauges (pool use) of workers that exited; uvicorn restarts dead
    workers under new pids and has no hook to tell us, so each scrape looks."""
    for file in glob.glob(os.path.join(path, "gauge_live*_*.db")):
        match = _LIVE_GAUGE_FILE.search(file)
        if match and not _pid_alive(int(match.group(1))):
            mark_process_dead(int(match.group(1)), path)


class ScrapeTimeCollector:
    """runhub_info and the queue depths, computed when /metrics is read."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        info = GaugeMetricFamily("runhub_info", "runhub version.", labels=["version"])
        info.add_metric([__version__], 1)
        yield info
        depth = GaugeMetricFamily(
            "runhub_queue_depth",
            "Items waiting in a background stage's queue: "
            + "; ".join(f"{q.queue}: {q.description}" for q in QUEUE_DEPTHS)
            + ".",
            labels=["queue"],
        )
        try:
            with read_tx(self.engine) as conn:
                depths = queue_depths(conn)
        except Exception:  # a scrape still answers; the database's state is in the log
            log.warning("metrics: could not read the queue depths", exc_info=True)
            depths = {}
        for queue, items in depths.items():
            depth.add_metric([queue], items)
        yield depth


class Metrics:
    """Every metric object of one app; `render()` is the /metrics body."""

    def __init__(self, engine: Engine, multiprocess_dir: str | None = None) -> None:
        self.engine = engine
        self.multiprocess_dir = multiprocess_dir
        if multiprocess_dir is not None:
            # prometheus_client picks file-backed values when it is first imported, from
            # the environment; imported earlier, every worker would count on its own.
            if values.ValueClass is values.MutexValue:
                raise RuntimeError(f"{MULTIPROC_ENV} was set after prometheus_client loaded")
            # Values go to the shared files; the exposed registry reads all of them.
            self.registry = CollectorRegistry()
            MultiProcessCollector(self.registry, multiprocess_dir)
            own: CollectorRegistry | None = None
        else:
            self.registry = own = CollectorRegistry()
        self.registry.register(ScrapeTimeCollector(engine))
        self.http_requests = Counter(
            "runhub_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=own,
        )
        self.http_duration = Histogram(
            "runhub_http_request_duration_seconds",
            "Time to answer a request, by route template.",
            ["route"],
            buckets=DURATION_BUCKETS_S,
            registry=own,
        )
        self.ingest_appends = Counter(
            "runhub_ingest_appends",
            "Append requests accepted, by endpoint (run or thread).",
            ["endpoint"],
            registry=own,
        )
        self.ingest_tests = Counter(
            "runhub_ingest_tests", "Test results accepted by thread appends.", registry=own
        )
        self.ingest_body_bytes = Counter(
            "runhub_ingest_body_bytes",
            "Request body bytes (as sent, before decompression) of accepted appends.",
            ["endpoint"],
            registry=own,
        )
        self.webhook_deliveries = Counter(
            "runhub_webhook_deliveries",
            "Webhook delivery attempts, by outcome.",
            ["outcome"],
            registry=own,
        )
        self.pool_checked_out = Gauge(
            "runhub_db_pool_checked_out",
            "Database connections in use (summed over live workers).",
            registry=own,
            multiprocess_mode="livesum",
        )
        self.pool_size = Gauge(
            "runhub_db_pool_size",
            "Database connections kept open per pool (summed over live workers); each "
            "pool opens as many again on demand.",
            registry=own,
            multiprocess_mode="livesum",
        )
        self.refresh_pool()

    def observe_request(self, method: str, route: str, status: int, duration_s: float) -> None:
        self.http_requests.labels(method, route, str(status)).inc()
        self.http_duration.labels(route).observe(duration_s)
        self.refresh_pool()

    def appended(self, endpoint: str, tests: int, body_bytes: int) -> None:
        self.ingest_appends.labels(endpoint).inc()
        self.ingest_body_bytes.labels(endpoint).inc(body_bytes)
        if tests:
            self.ingest_tests.inc(tests)

    def webhook_delivery(self, outcome: str) -> None:
        """Count one delivery attempt; `outcome` is a short fixed word (e.g. "delivered",
        "failed", "gave_up"), never a URL or a status text."""
        self.webhook_deliveries.labels(outcome).inc()

    def refresh_pool(self) -> None:
        pool = self.engine.pool
        checked_out = getattr(pool, "checkedout", None)
        size = getattr(pool, "size", None)
        self.pool_checked_out.set(checked_out() if callable(checked_out) else 0)
        self.pool_size.set(size() if callable(size) else 0)

    def render(self) -> bytes:
        self.refresh_pool()
        if self.multiprocess_dir is not None:
            forget_dead_workers(self.multiprocess_dir)
        return generate_latest(self.registry)


def metrics_from_env(engine: Engine) -> Metrics:
    """Multi-process metrics when `runhub serve --workers N` set the shared directory."""
    return Metrics(engine, os.environ.get(MULTIPROC_ENV) or None)


async def metrics_endpoint(request: Request) -> Response:
    body = await run_in_threadpool(request.app.state.metrics.render)
    return Response(body, media_type=CONTENT_TYPE_PLAIN_0_0_4)
