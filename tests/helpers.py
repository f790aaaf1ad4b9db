"""Test helpers: an API wrapper with tokens per role, and payloads shaped like the CLI's."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import httpx2 as httpx


def cli_key(classname: str, name: str) -> str:
    """The key the official CLI sends: sha256 hex of "classname.name"."""
    return hashlib.sha256(f"{classname}.{name}".encode()).hexdigest()


def make_test(
    name: str,
    status: str = "passed",
    folder: str = "pkg.Suite",
    *,
    elapsed: int | None = 1000,
    fields: list[dict] | None = None,
    artifacts: list[dict] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    test = {
        "key": cli_key(folder, name),
        "name": name,
        "status": status,
        "folder": folder,
        "artifacts": artifacts or [],
        "fields": fields or [],
        **extra,
    }
    if elapsed is not None:
        test["elapsed"] = elapsed
    return test


@dataclass
class Api:
    client: Any  # TestClient or httpx.Client
    tokens: dict[str, str]
    project_id: int
    other_project_id: int

    def headers(self, who: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}

    def get(self, path: str, who: str | None = "admin", **params: Any) -> httpx.Response:
        return self.client.get("/api/v1" + path, params=params, headers=self.headers(who))

    def post(
        self, path: str, body: Any = None, who: str | None = "admin", **kw: Any
    ) -> httpx.Response:
        if body is None and "content" not in kw:
            body = {}
        if body is not None:
            kw["json"] = body
        return self.client.post(
            "/api/v1" + path, headers={**self.headers(who), **kw.pop("headers", {})}, **kw
        )

    def delete(self, path: str, who: str | None = "admin") -> httpx.Response:
        return self.client.delete("/api/v1" + path, headers=self.headers(who))

    # --- flows ---------------------------------------------------------------------------
    def create_run(self, who: str = "admin", project_id: int | None = None, **body: Any) -> int:
        payload = {
            "name": "Run",
            "source": "backend",
            "fields": [],
            "links": [],
            "artifacts": [],
            **body,
        }
        response = self.post(
            f"/projects/{project_id or self.project_id}/automation/runs", payload, who
        )
        assert response.status_code == 201, response.text
        return response.json()["id"]

    def create_thread(self, run_id: int, who: str = "admin", **body: Any) -> int:
        response = self.post(
            f"/automation/runs/{run_id}/threads", {"fields": [], "artifacts": [], **body}, who
        )
        assert response.status_code == 201, response.text
        return response.json()["id"]

    def append(
        self, thread_id: int, tests: list[dict], who: str = "admin", **body: Any
    ) -> httpx.Response:
        return self.post(
            f"/automation/runs/threads/{thread_id}/append", {"tests": tests, **body}, who
        )

    def run(self, run_id: int, who: str = "admin", **params: Any) -> dict[str, Any]:
        response = self.get(f"/automation/runs/{run_id}", who, **params)
        assert response.status_code == 200, response.text
        return response.json()
