"""Health, metrics, the OpenAPI document and the interactive docs."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from runhub.app import create_app
from runhub.db.engine import make_engine
from runhub.settings import Settings

from ..helpers import Api, make_test


def test_healthz_answers_without_token(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_healthz_503_when_database_does_not_answer() -> None:
    url = "postgresql://postgres@127.0.0.1:1/nowhere"
    engine = make_engine(url)
    app = create_app(Settings(database_url=url, access_log=False), engine=engine)
    with TestClient(app) as client:
        response = client.get("/healthz")
    engine.dispose()
    assert response.status_code == 503 and response.json() == {"status": "unavailable"}


def test_metrics_count_requests(api: Api) -> None:
    api.get("/user")
    api.get("/user", who=None)
    text = api.client.get("/metrics").text
    assert 'runhub_http_requests_total{method="GET",route="/api/v1/user",status="200"}' in text
    assert 'runhub_http_requests_total{method="GET",route="/api/v1/user",status="401"} 1.0' in text
    assert re.search(
        r'runhub_http_request_duration_seconds_count\{route="/api/v1/user"\} \d+', text
    )


def test_openapi_document_is_public_and_describes_bodies(client: TestClient) -> None:
    doc = client.get("/api/v1/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    create = doc["paths"]["/api/v1/projects/{project_id}/automation/runs"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/RunCreate"
    )
    test_schema = doc["components"]["schemas"]["TestIn"]
    assert set(test_schema["required"]) == {"key", "name", "status", "folder"}


def test_docs_page_uses_only_local_assets(client: TestClient) -> None:
    page = client.get("/api/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("http://testserver/api/docs/static/") for s in sources)
    for source in sources:
        assert client.get(source).status_code == 200


def test_request_ids_and_ingest_counters(api: Api) -> None:
    sane = api.client.get("/healthz", headers={"X-Request-Id": "ci-42.a_b"})
    assert sane.headers["X-Request-Id"] == "ci-42.a_b"
    odd = api.client.get("/healthz", headers={"X-Request-Id": "no spaces/allowed"})
    assert re.fullmatch(r"[0-9a-f]{32}", odd.headers["X-Request-Id"])
    thread_id = api.create_thread(api.create_run())
    assert api.append(thread_id, [make_test("a"), make_test("b")]).status_code == 204
    text = api.client.get("/metrics").text
    assert re.search(r"^runhub_ingest_tests_total 2\.0$", text, re.M)
    assert re.search(r'^runhub_ingest_appends_total\{endpoint="thread"\} 1\.0$', text, re.M)
    for queue in ("expansion_batches", "analysis_runs", "webhook_deliveries", "prune_runs"):
        assert re.search(rf'^runhub_queue_depth\{{queue="{queue}"\}} \d', text, re.M), queue
