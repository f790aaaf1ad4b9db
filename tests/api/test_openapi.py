"""The OpenAPI document declares each query parameter with its real type (issue 9, item
19), so generated clients and schemathesis send what the server accepts."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient


def _parameters(doc: dict[str, Any], path: str, method: str = "get") -> dict[str, Any]:
    operation = doc["paths"]["/api/v1" + path][method]
    return {p["name"]: p for p in operation["parameters"] if p["in"] == "query"}


def test_query_parameters_have_their_real_types(client: TestClient) -> None:
    doc = client.get("/api/v1/openapi.json").json()
    runs = _parameters(doc, "/projects/{project_id}/automation/runs")
    assert runs["page"]["schema"] == {"type": "integer", "minimum": 1}
    assert runs["per_page"]["schema"]["type"] == "integer"
    assert runs["created_after"]["schema"] == {"type": "string", "format": "date-time"}
    assert runs["source_id"]["schema"] == {
        "type": "array",
        "items": {"type": "integer", "minimum": 1},
    }
    assert runs["source_id"]["style"] == "form" and runs["source_id"]["explode"] is False
    assert runs["status"]["schema"]["items"]["enum"] == [1, 2, 3, 4]
    assert runs["order"]["schema"]["enum"] == ["asc", "desc"]
    sources = _parameters(doc, "/projects/{project_id}/automation/sources")
    assert sources["is_retired"]["schema"] == {"type": "boolean"}
    for operations in doc["paths"].values():
        for operation in operations.values():
            for parameter in operation["parameters"]:
                assert parameter["schema"] != {"type": "string"} or parameter["name"] in (
                    "sort", "name", "folder", "branch",
                ), parameter  # fmt: skip
                assert parameter.get("description") or parameter["in"] == "path"


def test_declared_types_are_accepted(client: TestClient) -> None:
    """What the document declares (comma-separated ids, booleans, date-times) is taken."""
    from runhub.db.engine import write_tx
    from runhub.services import admin

    engine = client.app.state.engine  # type: ignore[attr-defined]
    with write_tx(engine) as conn:
        admin.create_user(conn, "a@example.com", "A", "admin")
        token = admin.create_token(conn, "a@example.com")[1]
        project_id = admin.create_project(conn, "P")
    response = client.get(
        f"/api/v1/projects/{project_id}/automation/runs",
        params={
            "page": 1, "per_page": 15, "source_id": "1,2", "status": "2,3",
            "created_after": "2026-01-01T00:00:00Z", "order": "asc",
        },  # fmt: skip
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
