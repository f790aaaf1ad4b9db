"""The Alembic migrations build exactly the schema in runhub.db.schema, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from runhub.db.migrate import current_revision, head_revision
from runhub.db.schema import metadata


def test_migrated_schema_matches_metadata(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_database_is_at_head(engine: Engine) -> None:
    assert current_revision(engine) == head_revision(engine)


def test_sqlite_runs_in_wal_mode(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() > 0


def test_results_table_has_no_text_index(engine: Engine) -> None:
    """Keys live in automation_cases; every result index is over integer columns."""
    indexes = inspect(engine).get_indexes("automation_run_tests")
    assert {tuple(i["column_names"]) for i in indexes} == {
        ("run_id", "seq"),
        ("thread_id", "id"),
        ("run_id", "status_id", "id"),
        ("case_id", "id"),
    }
