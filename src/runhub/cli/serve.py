"""`runhub serve`: migrate, bootstrap the first admin, then serve HTTP(S) with uvicorn."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
from typing import Any

import uvicorn
from sqlalchemy.exc import OperationalError

from runhub.api.metrics import MULTIPROC_ENV
from runhub.cli.common import (
    add_database_option,
    database_unreachable,
    database_url,
    fail,
    open_engine,
)
from runhub.db.engine import write_tx
from runhub.db.migrate import upgrade
from runhub.services.admin import BOOTSTRAP_EMAIL, bootstrap, bootstrap_password
from runhub.settings import Settings


def register(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("serve", help="serve the API (and apply pending migrations)")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="the address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)",
    )
    p.add_argument("--port", type=int, default=8000, help="the port to listen on (default 8000)")
    add_database_option(p)
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--no-migrate", action="store_true", help="do not apply pending migrations")
    p.add_argument("--tls-cert", metavar="FILE", help="serve HTTPS with this certificate (PEM)")
    p.add_argument("--tls-key", metavar="FILE", help="the certificate's private key (PEM)")
    p.add_argument(
        "--trusted-proxy",
        action="append",
        default=None,
        metavar="IP",
        help="honour X-Forwarded-Proto/-For from this proxy address (repeatable; also "
        "RUNHUB_TRUSTED_PROXIES, comma-separated); without it they are ignored",
    )
    p.set_defaults(handler=run)


def logging_config(access_log_format: str = "plain") -> dict[str, Any]:
    config: dict[str, Any] = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
            "bare": {"format": "%(message)s"},
        },
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": "plain"},
            "stderr_bare": {"class": "logging.StreamHandler", "formatter": "bare"},
        },
        "loggers": {
            "runhub": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
            "uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
        },
    }
    if access_log_format == "json":  # the middleware writes whole JSON lines
        config["loggers"]["runhub.access"] = {
            "handlers": ["stderr_bare"],
            "level": "INFO",
            "propagate": False,
        }
    return config


def metrics_directory(workers: int) -> str | None:
    """A fresh, private (0700) directory for the workers' shared metrics, named in the
    environment before uvicorn starts them; none for one worker (it keeps its metrics in
    memory). Removed when `runhub serve` exits."""
    os.environ.pop(MULTIPROC_ENV, None)
    if workers < 2:
        return None
    path = tempfile.mkdtemp(prefix="runhub-metrics-")
    os.environ[MULTIPROC_ENV] = path
    return path


def _exit_cleanly(signum: int, _frame: object) -> None:
    raise SystemExit(0)


def run(args: argparse.Namespace) -> int:
    if args.workers < 1:
        fail("--workers must be at least 1")
    if bool(args.tls_cert) != bool(args.tls_key):
        fail("--tls-cert and --tls-key go together")
    for path in (args.tls_cert, args.tls_key):
        if path and not os.path.isfile(path):
            fail(f"no such file: {path}")
    trusted = args.trusted_proxy or [
        ip.strip() for ip in os.environ.get("RUNHUB_TRUSTED_PROXIES", "").split(",") if ip.strip()
    ]
    try:
        settings = Settings.from_env()  # each worker builds its settings from the environment
    except ValueError as exc:
        fail(str(exc))
    url = database_url(args)
    engine = open_engine(args)
    scheme = "https" if args.tls_cert else "http"
    shown_host = f"[{args.host}]" if ":" in args.host else args.host
    base = f"{scheme}://{shown_host}:{args.port}"
    try:
        if not args.no_migrate:
            upgrade(engine)
        with write_tx(engine) as conn:
            token = bootstrap(conn)
            password = bootstrap_password(conn) if token else None
    except OperationalError as exc:
        database_unreachable(exc)
    finally:
        engine.dispose()
    if token:
        print(
            f"runhub: created the first user, {BOOTSTRAP_EMAIL} (admin).\n"
            f"API token (shown once; keep it safe): {token}\n"
            f'Try: curl -H "Authorization: Bearer {token}" {base}/api/v1/user\n'
            f"Web UI: sign in at {base}/ as {BOOTSTRAP_EMAIL} (change the password with "
            f"runhub admin set-password).\n"
            f"Web UI password (shown once): {password}\n",
            flush=True,
        )
    print(
        f"runhub: serving {base} (web UI {base}/, API {base}/api/v1, docs {base}/api/docs)",
        flush=True,
    )
    os.environ["RUNHUB_DATABASE_URL"] = url  # the factory in each worker reads it
    # uvicorn shuts down gracefully on SIGTERM/SIGINT (in-flight requests finish), then
    # re-raises the signal with the handlers it found; exit 0 then, not "killed by signal".
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _exit_cleanly)
    metrics_dir = metrics_directory(args.workers)
    try:
        uvicorn.run(
            "runhub.app:create_app_from_env",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            access_log=False,
            log_config=logging_config(settings.access_log_format),
            ssl_certfile=args.tls_cert,
            ssl_keyfile=args.tls_key,
            proxy_headers=bool(trusted),
            forwarded_allow_ips=",".join(trusted) if trusted else None,
            server_header=False,
        )
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(run(argparse.Namespace()))
