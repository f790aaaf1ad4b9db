"""Runtime settings: one immutable object handed to the app factory."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

DEFAULT_DATABASE_URL = "sqlite:///runhub.db"
MIB = 1024 * 1024
SQLITE_SYNCHRONOUS_MODES = ("NORMAL", "FULL", "EXTRA")
ACCESS_LOG_FORMATS = ("plain", "json")
DEFAULT_PASSWORD_CHECKS = 2


# Settings read from RUNHUB_<NAME> with this type (e.g. RUNHUB_HEALTH_WINDOW).
_TYPED_SETTINGS: dict[str, type] = {
    "expansion_interval_s": float,
    "expansion_chunk_tests": int,
    "expansion_backlog_tests": int,
    "analysis_interval_s": float,
    "health_window": int,
    "health_flip_rate": float,
    "health_flip_min_outcomes": int,
    "health_broken_streak": int,
    "health_infra_failure_ratio": float,
    "health_infra_min_outcomes": int,
    "prune_interval_s": float,
    "partition_interval_s": float,
    "public_url": str,
    "webhook_interval_s": float,
    "webhook_timeout_s": float,
    "webhook_retry_base_s": float,
    "webhook_retry_max_s": float,
    "webhook_give_up_s": float,
}


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    # Largest accepted request body, after decompression (decisions.md: 64 MiB).
    max_body_bytes: int = 64 * MIB
    # Rate limiting is off by default (decisions.md); requests per minute per token.
    rate_limit_per_minute: int = 0
    # SQLite busy timeout: how long a writer waits for the lock.
    sqlite_busy_timeout_ms: int = 30_000
    # SQLite's synchronous mode (decisions.md "Durability"): NORMAL loses no commit when
    # the process crashes, but the last ones may roll back on power loss; FULL syncs each
    # commit (slower ingest) and loses none.
    sqlite_synchronous: str = "NORMAL"
    # Database connection pool size per process.
    pool_size: int = 10
    # Access log on stderr, one line per request.
    access_log: bool = True
    # Access log lines: "plain" text or "json" (one JSON object a line).
    access_log_format: str = "plain"
    # Web UI sessions end this long after sign-in (decisions.md "Web UI": 14 days).
    session_max_age_s: int = 14 * 24 * 3600
    # Password hashes (argon2, 64 MiB each) computed at once per process (decisions.md
    # "Web UI"); sign-ins beyond them wait briefly, then get 503.
    password_checks: int = DEFAULT_PASSWORD_CHECKS
    # Appended batches (README "How fresh results are"): how often each process looks for
    # batches to expand when it found none (0 turns its background stage off; reads and
    # completions still expand what they need), the tests per expansion transaction, and
    # the backlog (tests) past which it expands even while appends keep coming.
    expansion_interval_s: float = 0.1
    expansion_chunk_tests: int = 5_000
    expansion_backlog_tests: int = 500_000
    # Case health (README "Test intelligence"): how often each process folds completed
    # runs into it (0 turns the background analysis off), and the rules' thresholds.
    analysis_interval_s: float = 1.0
    health_window: int = 30
    health_flip_rate: float = 0.3
    health_flip_min_outcomes: int = 5
    health_broken_streak: int = 5
    health_infra_failure_ratio: float = 0.8
    health_infra_min_outcomes: int = 20
    # Retention (README "Retention"): how often a process runs a retention pass (0 turns
    # it off in this process; one pass at a time across processes) and, on PostgreSQL, how
    # often it makes sure the partitions ahead of the newest run exist.
    prune_interval_s: float = 3600.0
    partition_interval_s: float = 60.0
    # Webhooks (README "Webhooks"): the server's public address for links in events
    # (empty: links are paths), how often each process delivers due webhooks (0 turns
    # its worker off), the request timeout, the retry backoff (doubling from the base up
    # to the maximum) and when a delivery fails for good; and whether endpoints may be
    # private, loopback or link-local addresses (off: only public addresses).
    public_url: str = ""
    webhook_interval_s: float = 1.0
    webhook_timeout_s: float = 10.0
    webhook_retry_base_s: float = 10.0
    webhook_retry_max_s: float = 3600.0
    webhook_give_up_s: float = 24 * 3600.0
    webhook_allow_private: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: object) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        if env.get("RUNHUB_DATABASE_URL"):
            values["database_url"] = env["RUNHUB_DATABASE_URL"]
        if env.get("RUNHUB_MAX_BODY_MB"):
            values["max_body_bytes"] = int(env["RUNHUB_MAX_BODY_MB"]) * MIB
        if env.get("RUNHUB_RATE_LIMIT_PER_MINUTE"):
            values["rate_limit_per_minute"] = int(env["RUNHUB_RATE_LIMIT_PER_MINUTE"])
        if env.get("RUNHUB_SQLITE_SYNCHRONOUS"):
            values["sqlite_synchronous"] = env["RUNHUB_SQLITE_SYNCHRONOUS"]
        if env.get("RUNHUB_POOL_SIZE"):
            values["pool_size"] = int(env["RUNHUB_POOL_SIZE"])
        if env.get("RUNHUB_ACCESS_LOG"):
            values["access_log"] = env["RUNHUB_ACCESS_LOG"].lower() not in ("0", "false", "no")
        if env.get("RUNHUB_ACCESS_LOG_FORMAT"):
            values["access_log_format"] = env["RUNHUB_ACCESS_LOG_FORMAT"].strip().lower()
        if env.get("RUNHUB_SESSION_MAX_AGE_S"):
            values["session_max_age_s"] = int(env["RUNHUB_SESSION_MAX_AGE_S"])
        if env.get("RUNHUB_PASSWORD_CHECKS"):
            values["password_checks"] = int(env["RUNHUB_PASSWORD_CHECKS"])
        if env.get("RUNHUB_WEBHOOK_ALLOW_PRIVATE"):
            allow = env["RUNHUB_WEBHOOK_ALLOW_PRIVATE"].lower() not in ("0", "false", "no")
            values["webhook_allow_private"] = allow
        for name, kind in _TYPED_SETTINGS.items():
            if env.get(f"RUNHUB_{name.upper()}"):
                values[name] = kind(env[f"RUNHUB_{name.upper()}"])
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]

    def __post_init__(self) -> None:
        mode = self.sqlite_synchronous.strip().upper()
        if mode not in SQLITE_SYNCHRONOUS_MODES:
            raise ValueError(
                f"RUNHUB_SQLITE_SYNCHRONOUS must be one of {', '.join(SQLITE_SYNCHRONOUS_MODES)}"
            )
        object.__setattr__(self, "sqlite_synchronous", mode)
        if self.access_log_format not in ACCESS_LOG_FORMATS:
            raise ValueError(
                f"RUNHUB_ACCESS_LOG_FORMAT must be one of {', '.join(ACCESS_LOG_FORMATS)}"
            )
