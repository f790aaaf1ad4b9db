"""The app factory: one ASGI app serving the API, docs and health checks."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from runhub.api.common import RateLimiter, json_response
from runhub.api.docs import docs_routes
from runhub.api.metrics import metrics_endpoint, metrics_from_env
from runhub.api.middleware import AccessLogMiddleware, ApiAuthMiddleware, GZipReadsMiddleware
from runhub.api.openapi import build_openapi
from runhub.api.routes import api_routes
from runhub.db.engine import WalCheckpointer, is_sqlite, make_engine
from runhub.errors import ApiError, MethodNotAllowed, NotFound
from runhub.services.auth import limit_password_checks
from runhub.services.batches import BatchExpander
from runhub.services.health import HealthAnalyzer, rules_from
from runhub.services.prune import RetentionPruner
from runhub.services.webhook_delivery import DeliveryConfig, WebhookDeliverer
from runhub.settings import Settings
from runhub.web.common import SignInRequired, make_templates
from runhub.web.errors import error_page, is_ui_path
from runhub.web.routes import sign_in_required, ui_api_error, ui_http_error, web_routes

log = logging.getLogger("runhub")


async def api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    if is_ui_path(request.url.path):
        return ui_api_error(request, exc)
    return json_response(exc.body(), exc.status_code, exc.headers)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if is_ui_path(request.url.path):
        return ui_http_error(request, exc)
    mapped: ApiError
    if exc.status_code == 404:
        mapped = NotFound("No such endpoint.")
    elif exc.status_code == 405:
        mapped = MethodNotAllowed(f"{request.method} is not allowed for this endpoint.")
    else:
        mapped = ApiError(str(exc.detail))
        mapped.status_code = exc.status_code
    return json_response(mapped.body(), mapped.status_code, dict(exc.headers or {}))


async def server_error(request: Request, exc: Exception) -> Response:
    ui = is_ui_path(request.url.path)
    if isinstance(exc, DBAPIError) and (
        isinstance(exc, OperationalError) or exc.connection_invalidated
    ):
        log.error("database unavailable on %s %s: %s", request.method, request.url.path, exc.orig)
        message = "The database is not available; retry later."
        if ui:
            return error_page(request, 503, message, {"Retry-After": "5"})
        return json_response({"message": message, "errors": {}}, 503, {"Retry-After": "5"})
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    if ui:
        return error_page(request, 500, "The server could not show this page; see its log.")
    return json_response({"message": "Internal server error.", "errors": {}}, 500)


def _database_answers(engine: Engine) -> bool:
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:  # any failure means "not healthy"; details go to the log
        log.warning("health check: database does not answer", exc_info=True)
        return False


async def healthz(request: Request) -> Response:
    if await run_in_threadpool(_database_answers, request.app.state.engine):
        return json_response({"status": "ok"})
    return json_response({"status": "unavailable"}, 503)


def create_app(settings: Settings, engine: Engine | None = None) -> Starlette:
    """Build the app. With no engine given, one is made from settings.database_url."""
    owns_engine = engine is None
    db = engine or make_engine(
        settings.database_url,
        busy_timeout_ms=settings.sqlite_busy_timeout_ms,
        pool_size=settings.pool_size,
        auto_checkpoint=False,
        sqlite_synchronous=settings.sqlite_synchronous,
    )
    checkpointer = WalCheckpointer(db) if owns_engine and is_sqlite(db) else None
    rate_limiter = RateLimiter(settings.rate_limit_per_minute)
    limit_password_checks(settings.password_checks)
    expander = (
        BatchExpander(
            db,
            settings.expansion_interval_s,
            settings.expansion_chunk_tests,
            backlog_tests=settings.expansion_backlog_tests,
        )
        if settings.expansion_interval_s > 0
        else None
    )
    analyzer = (
        HealthAnalyzer(db, rules_from(settings), settings.analysis_interval_s)
        if settings.analysis_interval_s > 0
        else None
    )

    pruner = (
        RetentionPruner(db, settings.prune_interval_s, settings.partition_interval_s)
        if settings.prune_interval_s > 0
        else None
    )

    metrics = metrics_from_env(db)
    deliverer = (
        WebhookDeliverer(
            db,
            DeliveryConfig.from_settings(settings),
            settings.webhook_interval_s,
            on_delivery=metrics.webhook_delivery,
        )
        if settings.webhook_interval_s > 0
        else None
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if checkpointer is not None:
            checkpointer.start()
        if expander is not None:
            expander.start()
        if analyzer is not None:
            analyzer.start()
        if pruner is not None:
            pruner.start()
        if deliverer is not None:
            deliverer.start()
        yield
        if deliverer is not None:
            deliverer.stop()
        if pruner is not None:
            pruner.stop()
        if analyzer is not None:
            analyzer.stop()
        if expander is not None:
            expander.stop()
        if checkpointer is not None:
            checkpointer.stop()
        if owns_engine:
            db.dispose()

    middleware = [
        Middleware(
            AccessLogMiddleware,
            metrics=metrics,
            log_lines=settings.access_log,
            log_format=settings.access_log_format,
        ),
        Middleware(GZipReadsMiddleware),
        Middleware(ApiAuthMiddleware, engine=db, rate_limiter=rate_limiter),
    ]
    app = Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics_endpoint, methods=["GET"]),
            *docs_routes(),
            *api_routes(),
            *web_routes(),
        ],
        middleware=middleware,
        exception_handlers={
            ApiError: api_error,
            SignInRequired: sign_in_required,
            HTTPException: http_error,
            Exception: server_error,
        },
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.webhook_deliverer = deliverer
    app.state.engine = db
    app.state.rate_limiter = rate_limiter
    app.state.metrics = metrics
    app.state.openapi = build_openapi()
    app.state.templates = make_templates()
    return app


def create_app_from_env() -> Starlette:
    """Factory for `uvicorn --factory` and multi-worker serving (settings from env vars)."""
    return create_app(Settings.from_env())
