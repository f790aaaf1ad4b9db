"""The OpenAPI 3.1 document, generated from the route table and the request Structs."""

from __future__ import annotations

import re
from typing import Any

from runhub import __version__
from runhub.api.routes import ENDPOINTS
from runhub.api.schemas import json_schema_components
from runhub.services.outcomes import BUCKETS, STATES

_PATH_PARAM = re.compile(r"\{(\w+)\}")

_ERROR = {
    "type": "object",
    "required": ["message", "errors"],
    "properties": {
        "message": {"type": "string"},
        "errors": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    },
}
_PAGE = {
    "type": "object",
    "required": ["page", "prev_page", "next_page", "last_page", "per_page", "total", "result"],
    "properties": {
        "page": {"type": ["integer", "null"]},
        "prev_page": {"type": ["integer", "null"]},
        "next_page": {"type": ["integer", "null"]},
        "last_page": {"type": ["integer", "null"]},
        "per_page": {"type": "integer"},
        "total": {"type": "integer"},
        "result": {"type": "array", "items": {"type": "object"}},
        "expands": {"type": "object"},
    },
}
_ROW = {
    "type": "object",
    "required": ["result", "expands"],
    "properties": {"result": {"type": "object"}, "expands": {"type": "object"}},
}
# Each query parameter's real type (decisions.md "Lists"). Lists are comma-separated
# (`style: form, explode: false`): `source_id=1,2`.
_INTEGER = {"type": "integer", "minimum": 1}
_ID_LIST = {"type": "array", "items": _INTEGER}
_TIME = {"type": "string", "format": "date-time"}
_STRINGS = {"type": "array", "items": {"type": "string"}}
_QUERY: dict[str, tuple[dict[str, Any], str]] = {
    "page": (_INTEGER, "Page number (default 1)"),
    "per_page": (_INTEGER, "Page size: 15, 25, 50 or 100 (tests of a run: 100 to 1000)"),
    "sort": ({"type": "string"}, "Sort column"),
    "order": ({"type": "string", "enum": ["asc", "desc"]}, "Sort order"),
    "expands": (_STRINGS, "Related objects to include"),
    "is_completed": ({"type": "boolean"}, "Only completed (true) or open (false) ones"),
    "is_retired": ({"type": "boolean"}, "Only retired (true) or active (false) ones"),
    "created_after": (_TIME, "Created at or after (ISO 8601)"),
    "created_before": (_TIME, "Created before (ISO 8601)"),
    "completed_after": (_TIME, "Completed at or after (ISO 8601)"),
    "completed_before": (_TIME, "Completed before (ISO 8601)"),
    "status": (
        {"type": "array", "items": {"type": "integer", "enum": [1, 2, 3, 4]}},
        "Status categories (runs: 2 success, 3 failure, 4 running)",
    ),
    "status_id": (
        {"type": "array", "items": {"type": "integer", "enum": [1, 2, 3, 4]}},
        "Status categories of the results",
    ),
    "thread_id": (_INTEGER, "Only the results of this thread"),
    "tags": (_STRINGS, "Any of these tags"),
    "automation_tags": (_STRINGS, "Any of these automation tags"),
    "name": ({"type": "string"}, "Exactly this name"),
    "folder": ({"type": "string"}, "Exactly this folder"),
    "branch": ({"type": "string"}, "Only runs of this branch"),
    "base_run_id": (_INTEGER, "Compare with this run (default: the base run rule)"),
    "bucket": (
        {"type": "array", "items": {"type": "string", "enum": list(BUCKETS)}},
        "Only these buckets",
    ),
    "active": ({"type": "boolean"}, "Active entries (default true) or ended and expired ones"),
    "case_id": (_ID_LIST, "Any of these case ids"),
    "mode": (
        {"type": "array", "items": {"type": "string", "enum": ["mute", "skip"]}},
        "Only these modes",
    ),
    "state": (
        {"type": "array", "items": {"type": "string", "enum": list(STATES)}},
        "Only cases in these states",
    ),
    **{
        name: (_ID_LIST, f"Any of these {name.removesuffix('_id')} ids")
        for name in (
            "source_id",
            "config_id",
            "milestone_id",
            "created_by",
            "parent_id",
            "root_id",
            "type_id",
        )  # fmt: skip
    },
}
_ERROR_CODES = {
    "400": "Body is not valid JSON or not a JSON object",
    "401": "Missing, invalid or revoked token",
    "403": "Role not allowed",
    "404": "Unknown object, or one of a project you cannot see",
    "405": "Wrong method",
    "413": "Body too large",
    "415": "Body is not JSON",
    "422": "Invalid parameters or body",
    "429": "Rate limited (see Retry-After)",
}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _success(kind: str) -> dict[str, Any]:
    if kind == "created":
        body = {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}}
        return {"201": _json(body, "Created")}
    if kind == "empty":
        return {"204": {"description": "Done; no body"}}
    schema = {
        "page": {"$ref": "#/components/schemas/Page"},
        "row": {"$ref": "#/components/schemas/Row"},
    }
    return {"200": _json(schema.get(kind, {"type": "object"}), "OK")}


def _body_schema(name: str, is_list: bool) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{name}"}
    return {"type": "array", "items": ref} if is_list else ref


def _query_parameter(name: str) -> dict[str, Any]:
    schema, description = _QUERY[name]  # a new parameter needs its type here
    parameter: dict[str, Any] = {
        "name": name,
        "in": "query",
        "description": description,
        "schema": schema,
    }
    if schema.get("type") == "array":
        parameter.update(style="form", explode=False)
    return parameter


def build_openapi() -> dict[str, Any]:
    _, components = json_schema_components()
    components.update({"Error": _ERROR, "Page": _PAGE, "Row": _ROW})
    paths: dict[str, dict[str, Any]] = {}
    for e in ENDPOINTS:
        parameters = [
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": {"type": "integer", "minimum": 1},
            }
            for name in _PATH_PARAM.findall(e.path)
        ] + [_query_parameter(name) for name in e.query]
        operation: dict[str, Any] = {
            "summary": e.summary,
            "operationId": e.handler.__name__,
            "tags": [e.tag],
            "parameters": parameters,
            "responses": {
                **_success(e.response),
                **{
                    code: _json({"$ref": "#/components/schemas/Error"}, text)
                    for code, text in _ERROR_CODES.items()
                },
            },
        }
        if e.body is not None:
            operation["requestBody"] = {
                "required": False,
                "content": {
                    "application/json": {"schema": _body_schema(e.body.__name__, e.body_is_list)}
                },
            }
        paths.setdefault("/api/v1" + e.path, {})[e.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "runhub API",
            "version": __version__,
            "description": "Testmo-compatible automation runs API served by runhub.",
        },
        "components": {
            "schemas": components,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearerAuth": []}],
        "paths": paths,
    }
