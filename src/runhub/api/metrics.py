"""Request metrics of this process, served as Prometheus text at /metrics."""

from __future__ import annotations

from collections import Counter
from threading import Lock

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from runhub import __version__

DURATION_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class RequestMetrics:
    def __init__(self) -> None:
        self._lock = Lock()
        self.requests: Counter[tuple[str, int]] = Counter()
        self.buckets: Counter[float] = Counter()
        self.duration_sum_s = 0.0
        self.count = 0

    def observe(self, method: str, status: int, duration_s: float) -> None:
        with self._lock:
            self.requests[(method, status)] += 1
            self.duration_sum_s += duration_s
            self.count += 1
            for bound in DURATION_BUCKETS_S:
                if duration_s <= bound:
                    self.buckets[bound] += 1

    def render(self) -> str:
        with self._lock:
            lines = [
                "# HELP runhub_info runhub version.",
                "# TYPE runhub_info gauge",
                f'runhub_info{{version="{__version__}"}} 1',
                "# HELP runhub_http_requests_total HTTP requests answered, by method and status.",
                "# TYPE runhub_http_requests_total counter",
            ]
            for (method, status), n in sorted(self.requests.items()):
                lines.append(
                    f'runhub_http_requests_total{{method="{method}",status="{status}"}} {n}'
                )
            lines += [
                "# HELP runhub_http_request_duration_seconds Time to answer a request.",
                "# TYPE runhub_http_request_duration_seconds histogram",
            ]
            bucket = "runhub_http_request_duration_seconds_bucket"
            for bound in DURATION_BUCKETS_S:
                lines.append(f'{bucket}{{le="{bound}"}} {self.buckets[bound]}')
            lines.append(f'{bucket}{{le="+Inf"}} {self.count}')
            lines.append(f"runhub_http_request_duration_seconds_sum {self.duration_sum_s:.6f}")
            lines.append(f"runhub_http_request_duration_seconds_count {self.count}")
        return "\n".join(lines) + "\n"


async def metrics_endpoint(request: Request) -> Response:
    return PlainTextResponse(
        request.app.state.metrics.render(), media_type="text/plain; version=0.0.4"
    )
