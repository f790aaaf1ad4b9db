"""A typed Python client for the automation API of runhub and of Testmo (reference §3-§4).

    from runhub.client import Client

    with Client("https://runhub.example.com", token) as api:
        run_id = api.create_run(1, "Nightly", "backend", tags=["nightly"])
        thread_id = api.create_thread(run_id)
        api.append_thread(thread_id, tests)
        api.complete_run(run_id)

Unlike the official CLI it accepts `http://` as well as `https://` (localhost included),
keeps connections alive, and retries: a 429 waits `Retry-After` seconds (60 when absent,
as Testmo asks); 502/503/504 and connection errors wait with exponential backoff and full
jitter. At most `max_retries` tries are made in total; other 4xx are never retried. Every
thread append carries an `Idempotency-Key` header (the same on each retry of one call), so
a batch whose response was lost is not stored twice by runhub (Testmo ignores the header).
Calls that would store something twice if repeated (creating a run or a thread, appending
resources to a run) are retried only when the server cannot have acted on them: a 429, a
503, or a connection that was never made; after a 502/504 or a lost response they fail,
rather than risk a duplicate run or thread.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx2

from runhub import __version__

__all__ = ["ApiConnectionError", "ApiError", "Client", "origin_of"]

RETRY_STATUSES = frozenset({502, 503, 504})
# Answers and errors after which the request was certainly not acted on.
UNSENT_STATUSES = frozenset({429, 503})
UNSENT_ERRORS = (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout)
DEFAULT_RETRY_AFTER_S = 60.0
BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 30.0

JSON = dict[str, Any]


class ApiError(Exception):
    """A non-2xx answer: its status, the body's `message` and `errors` (field -> messages).

    `str()` reads like the official CLI's output: ``Server response (422): <message>``.
    """

    def __init__(self, status: int, message: str, errors: Mapping[str, Any] | None = None):
        self.status = status
        self.message = message
        self.errors: dict[str, Any] = dict(errors or {})
        super().__init__(status, message, self.errors)

    def __str__(self) -> str:
        return f"Server response ({self.status}): {self.message}"

    def validation_lines(self) -> list[str]:
        """`Validation: <first message>` per field, as the official CLI prints for a 422."""
        lines = []
        for messages in self.errors.values():
            first = messages[0] if isinstance(messages, list) and messages else messages
            lines.append(f"Validation: {first}")
        return lines

    @classmethod
    def from_response(cls, response: httpx2.Response) -> ApiError:
        message, errors = "[none]", {}
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            if isinstance(body.get("message"), str) and body["message"]:
                message = body["message"]
            if isinstance(body.get("errors"), dict):
                errors = body["errors"]
        return cls(response.status_code, message, errors)


class ApiConnectionError(ApiError):
    """No answer after every try: the connection failed, timed out or was dropped."""

    def __init__(self, cause: Exception):
        super().__init__(0, f"{type(cause).__name__}: {cause}")
        self.__cause__ = cause

    def __str__(self) -> str:
        return f"Connection error: {self.message}"


def origin_of(instance: str) -> str:
    """The instance's origin (`scheme://host[:port]`); any path is dropped, like the CLI."""
    parts = urlsplit(instance.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http:// or https:// URL: {instance!r}")
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat(timespec="milliseconds") + "Z"
    if isinstance(value, (list, tuple, set, frozenset)):
        return ",".join(_query_value(v) for v in value)
    return str(value)


def _query(params: Mapping[str, Any]) -> dict[str, str]:
    """Query parameters as the binding sends them: None dropped, lists comma-joined."""
    return {k: _query_value(v) for k, v in params.items() if v is not None}


def _body(**values: Any) -> JSON:
    return {k: v for k, v in values.items() if v is not None}


def _retry_after(response: httpx2.Response) -> float:
    """Seconds from `Retry-After` (a number or an HTTP date); 60 when absent or unreadable."""
    raw = response.headers.get("retry-after", "").strip()
    if not raw:
        return DEFAULT_RETRY_AFTER_S
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER_S
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class Client:
    """The automation API of one instance, with one bearer token.

    `sleep` is called with the seconds to wait before a retry (tests inject a recorder);
    `verify` is passed to httpx2 (a CA bundle path or an `ssl.SSLContext` for private CAs).
    """

    def __init__(
        self,
        instance: str,
        token: str,
        *,
        max_retries: int = 5,
        timeout_s: float = 60,
        user_agent: str = f"runhub-client/{__version__}",
        sleep: Callable[[float], Any] = time.sleep,
        verify: Any = True,
    ) -> None:
        if max_retries < 1:
            raise ValueError("max_retries counts every try and must be at least 1")
        self.origin = origin_of(instance)
        self.max_retries = max_retries
        self.sleep = sleep
        self._http = httpx2.Client(
            base_url=self.origin + "/api/v1",
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                "User-Agent": user_agent,
            },
            timeout=timeout_s,
            verify=verify,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- transport -------------------------------------------------------------------------

    def _backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**(attempt-1)))."""
        return random.uniform(0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (attempt - 1)))

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        replayable: bool = True,
    ) -> httpx2.Response:
        """Send one API call (path below /api/v1), retrying as the module docstring says;
        a call that is not `replayable` is retried only when it was certainly not acted on.

        Returns the 2xx response; raises ApiError for any other answer and
        ApiConnectionError when the last try got no answer.
        """
        query = _query(params or {})
        for attempt in range(1, self.max_retries + 1):
            last = attempt == self.max_retries
            try:
                response = self._http.request(
                    method, path, json=json, params=query, headers=dict(headers or {})
                )
            except httpx2.TransportError as exc:
                if last or not (replayable or isinstance(exc, UNSENT_ERRORS)):
                    raise ApiConnectionError(exc) from exc
                self.sleep(self._backoff(attempt))
                continue
            if response.is_success:
                return response
            status = response.status_code
            retry = status in UNSENT_STATUSES or (replayable and status in RETRY_STATUSES)
            if last or not retry:
                raise ApiError.from_response(response)
            if response.status_code == 429:
                self.sleep(_retry_after(response))
            else:
                self.sleep(self._backoff(attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    def _get(self, path: str, params: Mapping[str, Any] | None = None) -> JSON:
        result: JSON = self.request("GET", path, params=params).json()
        return result

    def _post(
        self,
        path: str,
        body: JSON,
        headers: Mapping[str, str] | None = None,
        *,
        replayable: bool = True,
    ) -> Any:
        response = self.request("POST", path, json=body, headers=headers, replayable=replayable)
        return response.json() if response.content else None

    def _pages(self, path: str, params: Mapping[str, Any]) -> Iterator[JSON]:
        query = dict(params)
        while True:
            page = self._get(path, query)
            yield from page.get("result") or []
            if page.get("next_page") is None:
                return
            query["page"] = page["next_page"]

    # --- automation runs (reference §3) ----------------------------------------------------

    def create_run(
        self,
        project_id: int,
        name: str,
        source: str,
        *,
        config: str | None = None,
        config_id: int | None = None,
        milestone: str | None = None,
        milestone_id: int | None = None,
        tags: Iterable[str] | None = None,
        fields: list[JSON] | None = None,
        links: list[JSON] | None = None,
        artifacts: list[JSON] | None = None,
    ) -> int:
        """Create a run (its source is created on first use); the new run's id."""
        body = _body(
            name=name,
            source=source,
            config=config,
            config_id=config_id,
            milestone=milestone,
            milestone_id=milestone_id,
            tags=None if tags is None else list(tags),
            fields=fields,
            links=links,
            artifacts=artifacts,
        )
        path = f"/projects/{project_id}/automation/runs"
        return int(self._post(path, body, replayable=False)["id"])

    def append_run(
        self,
        run_id: int,
        *,
        fields: list[JSON] | None = None,
        links: list[JSON] | None = None,
        artifacts: list[JSON] | None = None,
    ) -> None:
        """Append fields, links and artifacts to a run (allowed on completed runs)."""
        body = _body(fields=fields, links=links, artifacts=artifacts)
        self._post(f"/automation/runs/{run_id}/append", body, replayable=False)

    def complete_run(self, run_id: int, measure_elapsed: bool = False) -> None:
        """Complete a run and its open threads."""
        self._post(f"/automation/runs/{run_id}/complete", {"measure_elapsed": measure_elapsed})

    def create_thread(
        self,
        run_id: int,
        *,
        elapsed_observed: int | None = None,
        elapsed_computed: int | None = None,
        fields: list[JSON] | None = None,
        artifacts: list[JSON] | None = None,
    ) -> int:
        """Create a thread in a run; the new thread's id."""
        body = _body(
            elapsed_observed=elapsed_observed,
            elapsed_computed=elapsed_computed,
            fields=fields,
            artifacts=artifacts,
        )
        path = f"/automation/runs/{run_id}/threads"
        return int(self._post(path, body, replayable=False)["id"])

    def append_thread(
        self,
        thread_id: int,
        tests: list[JSON],
        *,
        elapsed_observed: int | None = None,
        elapsed_computed: int | None = None,
        fields: list[JSON] | None = None,
        artifacts: list[JSON] | None = None,
        idempotency_key: str | None = None,
    ) -> None:
        """Append test results (and resources) to a thread.

        Sent with `Idempotency-Key` (a new uuid4 when None), the same on every retry of
        this call, so runhub stores the batch once even when a response was lost.
        """
        body = _body(
            tests=tests,
            elapsed_observed=elapsed_observed,
            elapsed_computed=elapsed_computed,
            fields=fields,
            artifacts=artifacts,
        )
        key = idempotency_key if idempotency_key is not None else str(uuid.uuid4())
        headers = {"Idempotency-Key": key}
        self._post(f"/automation/runs/threads/{thread_id}/append", body, headers)

    def complete_thread(
        self,
        thread_id: int,
        *,
        elapsed_observed: int | None = None,
        elapsed_computed: int | None = None,
    ) -> None:
        """Complete a thread; given elapsed values set its totals."""
        body = _body(elapsed_observed=elapsed_observed, elapsed_computed=elapsed_computed)
        self._post(f"/automation/runs/threads/{thread_id}/complete", body)

    def get_run(self, run_id: int, expands: Iterable[str] = ()) -> JSON:
        """`{"result": run, "expands": {...}}` for one run (threads, fields, links...)."""
        return self._get(f"/automation/runs/{run_id}", {"expands": list(expands) or None})

    def list_runs(self, project_id: int, **filters: Any) -> JSON:
        """One page of a project's runs (filters as in reference §4.1; lists comma-joined)."""
        return self._get(f"/projects/{project_id}/automation/runs", filters)

    def iter_runs(self, project_id: int, **filters: Any) -> Iterator[JSON]:
        """Every run matching `filters`, page after page."""
        return self._pages(f"/projects/{project_id}/automation/runs", filters)

    def list_run_tests(self, run_id: int, **params: Any) -> JSON:
        """One page of a run's test results (`thread_id`, `status_id`, `per_page` ...)."""
        return self._get(f"/automation/runs/{run_id}/tests", params)

    def iter_run_tests(self, run_id: int, **params: Any) -> Iterator[JSON]:
        """Every test result of a run matching `params`, page after page."""
        return self._pages(f"/automation/runs/{run_id}/tests", params)

    # --- supporting reads (reference §7) ---------------------------------------------------

    def get_user(self) -> JSON:
        """The token's user (a bare object, no envelope)."""
        return self._get("/user")

    def list_projects(self, **params: Any) -> JSON:
        return self._get("/projects", params)

    def get_project(self, project_id: int, expands: Iterable[str] = ()) -> JSON:
        return self._get(f"/projects/{project_id}", {"expands": list(expands) or None})

    def list_sources(self, project_id: int, **params: Any) -> JSON:
        return self._get(f"/projects/{project_id}/automation/sources", params)

    def get_source(self, source_id: int, expands: Iterable[str] = ()) -> JSON:
        return self._get(f"/automation/sources/{source_id}", {"expands": list(expands) or None})

    def list_milestones(self, project_id: int, **params: Any) -> JSON:
        return self._get(f"/projects/{project_id}/milestones", params)

    def get_milestone(self, milestone_id: int, expands: Iterable[str] = ()) -> JSON:
        return self._get(f"/milestones/{milestone_id}", {"expands": list(expands) or None})

    def list_cases(self, project_id: int, **params: Any) -> JSON:
        return self._get(f"/projects/{project_id}/automation/cases", params)

    # --- runhub's own endpoints (README "Test intelligence", "Quarantine") ----------------

    def iter_sources(self, project_id: int, **params: Any) -> Iterator[JSON]:
        return self._pages(f"/projects/{project_id}/automation/sources", params)

    def iter_quarantine(self, project_id: int, **params: Any) -> Iterator[JSON]:
        """Every quarantine entry matching `params` (`source_id`, `mode`, `active`)."""
        return self._pages(f"/projects/{project_id}/automation/quarantine", params)

    def quarantine(self, project_id: int, **body: Any) -> int:
        """Quarantine a case (`case_id` or `key` + `source_id`, `mode`, `reason`, ...)."""
        created: int = self._post(
            f"/projects/{project_id}/automation/quarantine", body, replayable=False
        )["id"]
        return created

    def end_quarantine(self, entry_id: int) -> None:
        self.request("DELETE", f"/automation/quarantine/{entry_id}")

    def run_changes(self, run_id: int, **params: Any) -> JSON:
        return self._get(f"/automation/runs/{run_id}/changes", params)

    def list_case_health(self, project_id: int, **params: Any) -> JSON:
        return self._get(f"/projects/{project_id}/automation/cases/health", params)

    def case_history(self, case_id: int, **params: Any) -> JSON:
        return self._get(f"/automation/cases/{case_id}/history", params)
