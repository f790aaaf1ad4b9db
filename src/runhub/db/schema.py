"""The relational schema (SQLAlchemy Core). Alembic migrations create exactly this.

Sizing notes: results (`automation_run_tests`) are the big table, tens of millions of rows.
A result refers to its automation case by integer id (the 64-hex key lives once, in
`automation_cases`), long text lives in `automation_fields`, and every list or filter of
the API has an index below. Run counters live on the thread rows (so concurrent appends to
different threads of one run never contend) and a run's counts are the sum of its threads.
Timestamps are stored as naive UTC.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Sequence,
    SmallInteger,
    String,
    Table,
    Text,
    case,
    false,
    text,
    true,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator, TypeEngine

STATUS_SLOTS = range(1, 25)

# Elapsed sums saturate instead of overflowing (docs/decisions.md "Elapsed sums"): a
# thread's elapsed is a Testmo property, so it stays JSON-exact (2^53 - 1 µs, 285 years);
# internal aggregates (a case's or a source's sum) stop at the 64-bit column's maximum.
ELAPSED_MAX_US = 2**53 - 1
ELAPSED_SUM_MAX_US = 2**63 - 1


EPOCH = datetime(1970, 1, 1)
MICROSECOND = timedelta(microseconds=1)


class StampUs(TypeDecorator[datetime]):
    """A timestamp (naive UTC), stored on SQLite as integer microseconds since the epoch:
    7 bytes instead of 26 of text, for the columns of the two biggest tables (results and
    cases). Elsewhere (and on PostgreSQL) timestamps are SQLAlchemy's DateTime."""

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None or dialect.name != "sqlite":
            return value
        return stamp_us(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None or dialect.name != "sqlite":
            return value
        return EPOCH + int(value) * MICROSECOND


def stamp_us(value: datetime) -> int:
    """A naive UTC datetime as StampUs stores it on SQLite."""
    return (value - EPOCH) // MICROSECOND


def saturating_add(column: ColumnElement[int], delta: int, maximum: int) -> ColumnElement[int]:
    """`column + delta`, at most `maximum`, never overflowing (0 <= delta <= maximum)."""
    delta = min(delta, maximum)
    return case((column > maximum - delta, maximum), else_=column + delta)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = BigInteger().with_variant(Integer(), "sqlite")  # INTEGER PRIMARY KEY is the rowid on SQLite


def _ts(name: str, nullable: bool = True) -> Column:
    return Column(name, DateTime(), nullable=nullable)


users = Table(
    "users",
    metadata,
    Column("id", ID, primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("name", String(750), nullable=False),
    Column("role", String(16), nullable=False),
    Column("password_hash", String(255)),
    Column("is_active", Boolean, nullable=False, server_default=true()),
    Column("is_api", Boolean, nullable=False, server_default=false()),
    Column("timezone", String(64)),
    _ts("created_at", nullable=False),
    Column("created_by", BigInteger),
    _ts("updated_at"),
    Column("updated_by", BigInteger),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", ID, primary_key=True),
    Column("user_id", ForeignKey("users.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    # sha256 hex of the whole token; the token itself is never stored.
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("token_prefix", String(24), nullable=False),
    _ts("created_at", nullable=False),
    _ts("last_used_at"),
    _ts("revoked_at"),
)

projects = Table(
    "projects",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(750), nullable=False),
    Column("is_completed", Boolean, nullable=False, server_default=false()),
    _ts("created_at", nullable=False),
    Column("created_by", BigInteger),
    _ts("updated_at"),
    Column("updated_by", BigInteger),
    _ts("completed_at"),
    # Kept exact by triggers on automation_runs (migration 0007): the envelope's total of
    # the unfiltered run list and the project's run counts without a count(*).
    Column("automation_run_count", BigInteger, nullable=False, server_default=text("0")),
    Column("automation_run_completed_count", BigInteger, nullable=False, server_default=text("0")),
    # The position before the project's first run (migration 0010): its runs hold the dense
    # positions base+1 .. base+automation_run_count, so deleting the oldest shifts nothing.
    Column("automation_run_position_base", BigInteger, nullable=False, server_default=text("0")),
)

project_members = Table(
    "project_members",
    metadata,
    Column("project_id", ForeignKey("projects.id"), primary_key=True),
    Column("user_id", ForeignKey("users.id"), primary_key=True, index=True),
    _ts("created_at", nullable=False),
)

statuses = Table(
    "statuses",
    metadata,
    Column("id", SmallInteger, primary_key=True, autoincrement=False),
    Column("name", String(100), nullable=False),
    Column("system_name", String(100), nullable=False),
    Column("color", String(16), nullable=False),
    Column("is_final", Boolean, nullable=False),
    Column("is_untested", Boolean, nullable=False),
    Column("is_passed", Boolean, nullable=False),
    Column("is_failed", Boolean, nullable=False),
    Column("is_active", Boolean, nullable=False),
)

status_aliases = Table(
    "status_aliases",
    metadata,
    Column("alias", String(64), primary_key=True),
    Column("status_id", ForeignKey("statuses.id"), nullable=False, index=True),
)

milestones = Table(
    "milestones",
    metadata,
    Column("id", ID, primary_key=True),
    Column("project_id", ForeignKey("projects.id"), nullable=False),
    Column("root_id", BigInteger),
    Column("parent_id", BigInteger),
    Column("type_id", Integer, nullable=False, server_default=true()),
    Column("name", String(750), nullable=False),
    Column("note", Text),
    Column("is_started", Boolean, nullable=False, server_default=false()),
    Column("is_completed", Boolean, nullable=False, server_default=false()),
    Column("start_date", String(10)),
    Column("due_date", String(10)),
    _ts("started_at"),
    _ts("created_at", nullable=False),
    Column("created_by", BigInteger),
    _ts("updated_at"),
    Column("updated_by", BigInteger),
    _ts("completed_at"),
    Index("ix_milestones_project_created", "project_id", "created_at"),
    Index("ix_milestones_project_name", "project_id", "name"),
)

milestone_tags = Table(
    "milestone_tags",
    metadata,
    Column("milestone_id", ForeignKey("milestones.id"), primary_key=True),
    Column("tag", String(64), primary_key=True),
    Column("project_id", BigInteger, nullable=False),
    Index("ix_milestone_tags_project_tag", "project_id", "tag"),
)

configs = Table(
    "configs",
    metadata,
    Column("id", ID, primary_key=True),
    Column("project_id", ForeignKey("projects.id"), nullable=False),
    Column("name", String(750), nullable=False),
    _ts("created_at", nullable=False),
    Index("ux_configs_project_name", "project_id", "name", unique=True),
)

automation_sources = Table(
    "automation_sources",
    metadata,
    Column("id", ID, primary_key=True),
    Column("project_id", ForeignKey("projects.id"), nullable=False),
    Column("name", String(750), nullable=False),
    Column("is_retired", Boolean, nullable=False, server_default=false()),
    # 1 neutral (no completed run yet), 2 success, 3 failure: the latest completed run.
    Column("status", SmallInteger, nullable=False, server_default=true()),
    Column("run_count", Integer, nullable=False, server_default=text("0")),
    Column("completed_run_count", Integer, nullable=False, server_default=text("0")),
    Column("test_count_sum", BigInteger, nullable=False, server_default=text("0")),
    Column("elapsed_sum", BigInteger, nullable=False, server_default=text("0")),
    _ts("ran_at"),
    _ts("created_at", nullable=False),
    Column("created_by", BigInteger),
    _ts("updated_at"),
    Column("updated_by", BigInteger),
    _ts("retired_at"),
    Column("retired_by", BigInteger),
    Index("ux_automation_sources_project_name", "project_id", "name", unique=True),
    Index("ix_automation_sources_project_created", "project_id", "created_at"),
)

automation_runs = Table(
    "automation_runs",
    metadata,
    Column("id", ID, primary_key=True),
    Column("project_id", ForeignKey("projects.id"), nullable=False),
    Column("source_id", ForeignKey("automation_sources.id"), nullable=False),
    Column("config_id", BigInteger),
    Column("milestone_id", BigInteger),
    Column("name", String(750), nullable=False),
    # 4 running; when completed 3 (failure_count > 0) or 2.
    Column("status", SmallInteger, nullable=False, server_default=text("4")),
    Column("elapsed", BigInteger),
    Column("is_completed", Boolean, nullable=False, server_default=false()),
    _ts("created_at", nullable=False),
    Column("created_by", BigInteger),
    _ts("updated_at"),
    Column("updated_by", BigInteger),
    _ts("completed_at"),
    Column("completed_by", BigInteger),
    # From the run's fields (decisions.md "Commit and branch"); not Testmo properties.
    Column("vcs_commit", String(750)),
    Column("vcs_branch", String(750)),
    # The run's 1-based rank among its project's runs in (created_at, id) order, dense and
    # kept so by triggers (migration 0007): a page of the unfiltered list is a range of it.
    Column("list_position", BigInteger, nullable=False, server_default=text("0")),
    Index("ix_automation_runs_project_created", "project_id", "created_at", "id"),
    Index("ix_automation_runs_project_position", "project_id", "list_position"),
    Index("ix_automation_runs_project_source", "project_id", "source_id", "created_at"),
    Index("ix_automation_runs_project_config", "project_id", "config_id", "created_at"),
    Index("ix_automation_runs_project_milestone", "project_id", "milestone_id", "created_at"),
    Index("ix_automation_runs_project_creator", "project_id", "created_by", "created_at"),
    Index("ix_automation_runs_project_status", "project_id", "status", "created_at"),
    Index("ix_automation_runs_source_created", "source_id", "created_at"),
    Index("ix_automation_runs_source_branch", "source_id", "vcs_branch", "id"),
    Index("ix_automation_runs_project_commit", "project_id", "vcs_commit"),
)

automation_run_tags = Table(
    "automation_run_tags",
    metadata,
    Column("run_id", ForeignKey("automation_runs.id"), primary_key=True),
    Column("tag", String(64), primary_key=True),
    Column("project_id", BigInteger, nullable=False),
    Index("ix_automation_run_tags_project_tag", "project_id", "tag", "run_id"),
)

automation_run_threads = Table(
    "automation_run_threads",
    metadata,
    Column("id", ID, primary_key=True),
    Column("run_id", ForeignKey("automation_runs.id"), nullable=False),
    Column("index", Integer, nullable=False),
    Column("status", SmallInteger, nullable=False, server_default=text("4")),
    Column("is_completed", Boolean, nullable=False, server_default=false()),
    Column("elapsed_observed", BigInteger, nullable=False, server_default=text("0")),
    Column("elapsed_computed", BigInteger, nullable=False, server_default=text("0")),
    *[
        Column(f"status{n}_count", BigInteger, nullable=False, server_default=text("0"))
        for n in STATUS_SLOTS
    ],
    _ts("created_at", nullable=False),
    Column("created_by", BigInteger),
    _ts("completed_at"),
    Column("completed_by", BigInteger),
    Index("ux_automation_run_threads_run_index", "run_id", "index", unique=True),
)

automation_cases = Table(
    "automation_cases",
    metadata,
    Column("id", ID, primary_key=True),
    Column("project_id", ForeignKey("projects.id"), nullable=False),
    Column("source_id", ForeignKey("automation_sources.id"), nullable=False),
    Column("key", String(64), nullable=False),
    Column("name", String(750), nullable=False),
    Column("folder", String(750), nullable=False),
    Column("test_count", BigInteger, nullable=False),
    Column("success_count", BigInteger, nullable=False),
    Column("failure_count", BigInteger, nullable=False),
    # Changes between a passed and a failed result, in arrival order.
    Column("flaky_count", BigInteger, nullable=False),
    Column("elapsed_sum", BigInteger, nullable=False),
    Column("elapsed_n", BigInteger, nullable=False),
    # Categories (1 neutral, 2 success, 3 failure) of the first and the latest result.
    Column("first_category", SmallInteger, nullable=False),
    Column("last_category", SmallInteger, nullable=False),
    Column("last_status_id", SmallInteger, nullable=False),
    Column("created_at", StampUs(), nullable=False),
    Column("updated_at", StampUs(), nullable=False),
    Index("ux_automation_cases_source_key", "source_id", "key", unique=True),
    Index("ix_automation_cases_project_name", "project_id", "name"),
)

# Result ids are allocated in bulk before the insert (see runhub.db.ingest); on PostgreSQL
# from this sequence, on SQLite from max(id) under the write lock.
automation_run_tests_id_seq = Sequence("automation_run_tests_id_seq", metadata=metadata)

automation_run_tests = Table(
    "automation_run_tests",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=False),
    Column("run_id", BigInteger, nullable=False),
    Column("thread_id", BigInteger, nullable=False),
    Column("case_id", BigInteger, nullable=False),
    Column("status_id", SmallInteger, nullable=False),
    Column("elapsed", BigInteger),
    Column("file", String(750)),
    Column("line", Integer),
    Column("assertions", Integer),
    Column("created_at", StampUs(), nullable=False),
    # The result's position in its run (1, 2, 3, ... in id order): a page of a run's tests
    # in the default order is a range of positions, however deep (db.results.page_results).
    Column("seq", BigInteger, nullable=False, server_default=text("0")),
    Index("ux_automation_run_tests_run_seq", "run_id", "seq", unique=True),
    Index("ix_automation_run_tests_thread", "thread_id", "id"),
    Index("ix_automation_run_tests_run_status", "run_id", "status_id", "id"),
    Index("ix_automation_run_tests_case", "case_id", "id"),
)

# Appended batches not yet expanded into results (services.batches): an append stores its
# tests here as one row, in the same transaction as the thread's counters; the expansion
# stage turns them into results, fields and artifacts and deletes the row, in one
# transaction, a source's batches in arrival (id) order. `status_ids` holds one byte per
# test, `tests` the batch's tests (msgpack).
automation_run_batches = Table(
    "automation_run_batches",
    metadata,
    Column("id", ID, primary_key=True),
    Column("run_id", BigInteger, nullable=False),
    Column("thread_id", BigInteger, nullable=False),
    Column("project_id", BigInteger, nullable=False),
    Column("source_id", BigInteger, nullable=False),
    Column("test_count", Integer, nullable=False),
    Column("status_ids", LargeBinary, nullable=False),
    Column("tests", LargeBinary, nullable=False),
    _ts("created_at", nullable=False),
    Index("ix_automation_run_batches_run", "run_id", "id"),
    Index("ix_automation_run_batches_source", "source_id", "id"),
    Index("ix_automation_run_batches_project", "project_id", "source_id"),
)

# Fields and artifacts belong to a run (thread_id and test_id null), a thread (test_id
# null) or a test result.
automation_fields = Table(
    "automation_fields",
    metadata,
    Column("id", ID, primary_key=True),
    Column("run_id", BigInteger, nullable=False),
    Column("thread_id", BigInteger),
    Column("test_id", BigInteger),
    Column("type", SmallInteger, nullable=False),
    Column("name", String(750), nullable=False),
    Column("value", Text),
    Column("meta", Text),  # JSON object of strings, or null
    Column("is_highlight", Boolean, nullable=False, server_default=false()),
    Index(
        "ix_automation_fields_test",
        "test_id",
        sqlite_where=text("test_id IS NOT NULL"),
        postgresql_where=text("test_id IS NOT NULL"),
    ),
    Index(
        "ix_automation_fields_run",
        "run_id",
        sqlite_where=text("test_id IS NULL"),
        postgresql_where=text("test_id IS NULL"),
    ),
)

automation_artifacts = Table(
    "automation_artifacts",
    metadata,
    Column("id", ID, primary_key=True),
    Column("run_id", BigInteger, nullable=False),
    Column("thread_id", BigInteger),
    Column("test_id", BigInteger),
    Column("name", String(750), nullable=False),
    Column("note", String(80)),
    Column("url", String(2048), nullable=False),
    Column("mime_type", String(750)),
    Column("size", BigInteger),
    Index(
        "ix_automation_artifacts_test",
        "test_id",
        sqlite_where=text("test_id IS NOT NULL"),
        postgresql_where=text("test_id IS NOT NULL"),
    ),
    Index(
        "ix_automation_artifacts_run",
        "run_id",
        sqlite_where=text("test_id IS NULL"),
        postgresql_where=text("test_id IS NULL"),
    ),
)

automation_links = Table(
    "automation_links",
    metadata,
    Column("id", ID, primary_key=True),
    Column("run_id", BigInteger, nullable=False, index=True),
    Column("name", String(750), nullable=False),
    Column("note", String(80)),
    Column("url", String(2048), nullable=False),
)

# Idempotency-Key headers of thread appends (decisions.md "Requests"): a key seen for the
# same thread within 24 hours makes a repeated append a no-op. Old rows are replaced.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("thread_id", BigInteger, primary_key=True, autoincrement=False),
    Column("key", String(200), primary_key=True),
    _ts("created_at", nullable=False),
    Index("ix_idempotency_keys_created_at", "created_at"),
)

# Web UI sessions (decisions.md "Web UI"): the cookie carries a random session id; only its
# sha256 is stored, with the session's CSRF token and its absolute expiry.
web_sessions = Table(
    "web_sessions",
    metadata,
    Column("id", ID, primary_key=True),
    Column("session_hash", String(64), nullable=False, unique=True),
    Column("user_id", ForeignKey("users.id"), nullable=False, index=True),
    Column("csrf_token", String(64), nullable=False),
    _ts("created_at", nullable=False),
    _ts("expires_at", nullable=False),
)

# Failed web sign-ins, counted per email and per client address over a sliding window
# (shared by every runhub process on the database). Rows older than the window are deleted.
sign_in_failures = Table(
    "sign_in_failures",
    metadata,
    Column("id", ID, primary_key=True),
    Column("email", String(320), nullable=False),
    Column("client_ip", String(64), nullable=False),
    _ts("failed_at", nullable=False),
    Index("ix_sign_in_failures_email", "email", "failed_at"),
    Index("ix_sign_in_failures_client_ip", "client_ip", "failed_at"),
    Index("ix_sign_in_failures_failed_at", "failed_at"),
)

# Completed runs whose results have not yet been folded into the cases' health (the
# analysis worker of every runhub process takes them in id order, off the append path).
analysis_queue = Table(
    "analysis_queue",
    metadata,
    Column("run_id", BigInteger, primary_key=True, autoincrement=False),
    _ts("queued_at", nullable=False),
)

# Each case's health (services.health): per branch ("" for all branches), the window of
# its latest run outcomes (JSON) and what the rules made of it.
automation_case_health = Table(
    "automation_case_health",
    metadata,
    Column("case_id", BigInteger, primary_key=True, autoincrement=False),
    Column("branch", String(750), primary_key=True),
    Column("project_id", BigInteger, nullable=False),
    Column("source_id", BigInteger, nullable=False),
    # 1 flaky, 2 broken, 3 new, 4 healthy: also the list order.
    Column("state", SmallInteger, nullable=False),
    Column("flip_rate", Float, nullable=False),
    Column("failure_rate", Float, nullable=False),
    Column("results_considered", Integer, nullable=False),
    Column("last_status_id", SmallInteger, nullable=False),
    Column("window", Text, nullable=False),
    Column("evidence", Text, nullable=False),
    _ts("updated_at", nullable=False),
)
# The list order (state, flip rate descending, case): a page is read from the index
# (db.analytics.list_health; bench/README.md "Test intelligence").
Index(
    "ix_automation_case_health_list",
    automation_case_health.c.project_id,
    automation_case_health.c.branch,
    automation_case_health.c.state,
    automation_case_health.c.flip_rate.desc(),
    automation_case_health.c.case_id,
)

# What changed in a completed run against its base run, counted when the run is folded
# into test health (services.run_summary), so that the run page of a 100,000-test run need
# not compare every result on each view. `rules` names the passed and failed statuses the
# counts were made with; a summary made under other rules, or against another base, is
# not used.
automation_run_changes = Table(
    "automation_run_changes",
    metadata,
    Column("run_id", BigInteger, primary_key=True, autoincrement=False),
    Column("base_run_id", BigInteger),
    Column("rules", String(200), nullable=False),
    Column("new_failure", Integer, nullable=False),
    Column("still_failing", Integer, nullable=False),
    Column("fixed", Integer, nullable=False),
    Column("new_test", Integer, nullable=False),
    Column("missing", Integer, nullable=False),
    # Tests whose outcome here failed, and those of them that are known flaky (health on
    # all branches, as it stood after this run was folded in); the new failures among them.
    Column("failures", Integer, nullable=False),
    Column("flaky_failures", Integer, nullable=False),
    Column("flaky_new_failures", Integer, nullable=False),
    _ts("computed_at", nullable=False),
)

# Quarantine (README "Quarantine"): known-flaky tests that CI may ignore, on the record.
# Entries are never deleted: ending one sets removed_at/removed_by; one past expires_at is
# inactive. At most one active entry per case (checked under the case's row lock).
quarantine_entries = Table(
    "quarantine_entries",
    metadata,
    Column("id", ID, primary_key=True),
    Column("project_id", ForeignKey("projects.id"), nullable=False),
    Column("source_id", BigInteger, nullable=False),
    Column("case_id", BigInteger, nullable=False),
    Column("mode", SmallInteger, nullable=False),  # 1 mute, 2 skip
    Column("reason", String(1000), nullable=False),
    Column("owner", String(200)),
    _ts("expires_at"),
    _ts("created_at", nullable=False),
    Column("created_by", BigInteger, nullable=False),
    _ts("removed_at"),
    Column("removed_by", BigInteger),
    Index("ix_quarantine_entries_case", "case_id", "id"),
    Index("ix_quarantine_entries_project_source", "project_id", "source_id", "id"),
)

# Failure groups (README "Failure groups"): the failed results of a project grouped by the
# signature of their failure text (services.failure_signature), built when a completed run
# is folded in (services.failure_groups). `digest` is the sha256 of `signature`; the sample
# is the first failure seen. first/last seen and the counts follow the runs folded in.
failure_groups = Table(
    "failure_groups",
    metadata,
    Column("id", ID, primary_key=True),
    Column("project_id", ForeignKey("projects.id"), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("signature", Text, nullable=False),
    Column("title", String(300), nullable=False),
    Column("sample_test_id", BigInteger, nullable=False),
    Column("sample_status", String(16), nullable=False),  # Allure's: failed or broken
    Column("sample_message", Text),
    Column("sample_text", Text),
    Column("first_seen_run_id", BigInteger, nullable=False),
    _ts("first_seen_at", nullable=False),
    Column("last_seen_run_id", BigInteger, nullable=False),
    _ts("last_seen_at", nullable=False),
    Column("run_count", BigInteger, nullable=False),
    Column("result_count", BigInteger, nullable=False),
    Index("ux_failure_groups_project_digest", "project_id", "digest", unique=True),
    Index("ix_failure_groups_project_last_seen", "project_id", "last_seen_run_id", "id"),
    Index("ix_failure_groups_project_first_seen", "project_id", "first_seen_at"),
)

# A group's failures in one run (a run's groups, largest first; a group's runs).
failure_group_runs = Table(
    "failure_group_runs",
    metadata,
    Column("group_id", BigInteger, primary_key=True, autoincrement=False),
    Column("run_id", BigInteger, primary_key=True, autoincrement=False),
    Column("project_id", BigInteger, nullable=False),
    Column("source_id", BigInteger, nullable=False),
    Column("count", Integer, nullable=False),
    _ts("run_created_at", nullable=False),
    # The group's failed results in the run and their cases (JSON arrays, in id order): the
    # run's groups list reads one row per group, however many failures it holds.
    Column("test_ids", Text, nullable=False),
    Column("case_ids", Text, nullable=False),
    Index("ix_failure_group_runs_run", "run_id", "count"),
    Index("ix_failure_group_runs_project_created", "project_id", "run_created_at"),
    Index("ix_failure_group_runs_source", "source_id", "group_id"),
)

# Each grouped failed result's group.
failure_group_tests = Table(
    "failure_group_tests",
    metadata,
    Column("test_id", BigInteger, primary_key=True, autoincrement=False),
    Column("group_id", BigInteger, nullable=False),
    Column("run_id", BigInteger, nullable=False),
    Column("case_id", BigInteger, nullable=False),
    Index("ix_failure_group_tests_group", "group_id", "test_id"),
    Index("ix_failure_group_tests_run_group", "run_id", "group_id", "test_id"),
)

# A project's failure categories: Allure's categories.json as given (a JSON array of rules).
failure_categories = Table(
    "failure_categories",
    metadata,
    Column("project_id", BigInteger, primary_key=True, autoincrement=False),
    Column("rules", Text, nullable=False),
    _ts("updated_at", nullable=False),
    Column("updated_by", BigInteger, nullable=False),
)

# Retention (README "Retention"): per project, how many days completed runs are kept and
# how many days the fields and artifacts of passed results are kept (null: forever).
project_retention = Table(
    "project_retention",
    metadata,
    Column("project_id", BigInteger, primary_key=True, autoincrement=False),
    Column("run_days", Integer),
    Column("passed_detail_days", Integer),
    _ts("updated_at", nullable=False),
    Column("updated_by", BigInteger),
)

# Pinned runs are kept whatever the retention says (not a Testmo property of the run).
automation_run_pins = Table(
    "automation_run_pins",
    metadata,
    Column("run_id", BigInteger, primary_key=True, autoincrement=False),
    Column("project_id", BigInteger, nullable=False),
    _ts("pinned_at", nullable=False),
    Column("pinned_by", BigInteger),
    Index("ix_automation_run_pins_project", "project_id", "run_id"),
)

# Retention's work list (services.prune): runs deleted by retention (kind 1) whose results,
# fields and artifacts are still to be removed, and runs whose passed results' fields and
# artifacts are to be removed (kind 2), in bounded batches (`done_seq`: the results done so
# far, by seq) or, on PostgreSQL, by dropping or rewriting their partition.
prune_queue = Table(
    "prune_queue",
    metadata,
    Column("run_id", BigInteger, primary_key=True, autoincrement=False),
    Column("project_id", BigInteger, nullable=False),
    Column("kind", SmallInteger, nullable=False),
    Column("done_seq", BigInteger, nullable=False, server_default=text("0")),
    _ts("queued_at", nullable=False),
)

# Runs whose passed results' details have been queued for removal (so never queued twice).
pruned_details = Table(
    "pruned_details",
    metadata,
    Column("run_id", BigInteger, primary_key=True, autoincrement=False),
    _ts("pruned_at", nullable=False),
)

# Webhooks (README "Webhooks"): per project, endpoints that get events, and the outbox.
# `events` is a comma-separated subset of services.webhooks.EVENTS; the secret (for the
# HMAC signature) is kept as given, since signing needs it, and never answered.
webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", ID, primary_key=True),
    Column("project_id", ForeignKey("projects.id"), nullable=False),
    Column("url", String(2048), nullable=False),
    Column("secret", String(200)),
    Column("events", String(200), nullable=False),
    Column("format", String(16), nullable=False),  # plain or slack
    Column("is_active", Boolean, nullable=False),
    _ts("created_at", nullable=False),
    Column("created_by", BigInteger),
    _ts("updated_at"),
    Column("updated_by", BigInteger),
    Index("ix_webhook_endpoints_project", "project_id", "id"),
)

# The outbox: one row per event and endpoint, written in the transaction of what caused
# the event; delivery workers of every process claim due rows (state 1 pending, 2
# delivered, 3 failed). While pending, next_attempt_at is when it is due (a claim moves it
# on by a lease, so a crashed worker's row comes due again).
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", ID, primary_key=True),
    Column("endpoint_id", BigInteger, nullable=False),
    Column("project_id", BigInteger, nullable=False),
    Column("event", String(32), nullable=False),
    Column("payload", Text, nullable=False),
    Column("state", SmallInteger, nullable=False),
    Column("attempts", Integer, nullable=False),
    _ts("next_attempt_at"),
    _ts("created_at", nullable=False),
    _ts("delivered_at"),
    Column("last_response_code", Integer),
    Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
    Index("ix_webhook_deliveries_endpoint", "endpoint_id", "id"),
)

# Each delivery attempt: the response code, or the error when there was no response.
webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", ID, primary_key=True),
    Column("delivery_id", BigInteger, nullable=False),
    _ts("attempted_at", nullable=False),
    Column("response_code", Integer),
    Column("error", String(500)),
    Column("elapsed_ms", Integer, nullable=False),
    Index("ix_webhook_attempts_delivery", "delivery_id", "id"),
)
