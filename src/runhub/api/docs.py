"""/api/v1/openapi.json and interactive docs at /api/docs, served without any CDN.

The docs page is Swagger UI 5 from the `swagger-ui-bundle-v2` package (module
`swagger_ui_bundle`): the document is OpenAPI 3.1, which Swagger UI 4 cannot render."""

from __future__ import annotations

import html

import swagger_ui_bundle
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from runhub.api.common import json_response

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>runhub API</title>
<link rel="stylesheet" href="{static}/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="{static}/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({{url: "{spec}", dom_id: "#swagger-ui", deepLinking: true,
  persistAuthorization: true}});
</script></body></html>
"""


async def openapi_json(request: Request) -> Response:
    return json_response(request.app.state.openapi)


async def docs_page(request: Request) -> Response:
    return HTMLResponse(
        _PAGE.format(
            static=html.escape(str(request.url_for("docs-static", path="")).rstrip("/")),
            spec=html.escape(str(request.url_for("openapi"))),
        )
    )


def docs_routes() -> list[Route | Mount]:
    return [
        Route("/api/v1/openapi.json", openapi_json, methods=["GET"], name="openapi"),
        Route("/api/docs", docs_page, methods=["GET"], name="docs"),
        Mount(
            "/api/docs/static",
            StaticFiles(directory=swagger_ui_bundle.swagger_ui_path),
            name="docs-static",
        ),
    ]
