"""appended batches (expanded off the request path) and each result's position in its run

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 06:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "automation_run_batches",
        sa.Column("id", _ID, nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("thread_id", sa.BigInteger(), nullable=False),
        sa.Column("project_id", sa.BigInteger(), nullable=False),
        sa.Column("source_id", sa.BigInteger(), nullable=False),
        sa.Column("test_count", sa.Integer(), nullable=False),
        sa.Column("status_ids", sa.LargeBinary(), nullable=False),
        sa.Column("tests", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automation_run_batches")),
    )
    op.create_index("ix_automation_run_batches_run", "automation_run_batches", ["run_id", "id"])
    op.create_index(
        "ix_automation_run_batches_source", "automation_run_batches", ["source_id", "id"]
    )
    op.create_index(
        "ix_automation_run_batches_project", "automation_run_batches", ["project_id", "source_id"]
    )
    op.add_column(
        "automation_run_tests",
        sa.Column("seq", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
    )
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_stamps_to_microseconds()
    # Existing results get their positions in id order, run by run.
    op.execute(
        "UPDATE automation_run_tests SET seq = x.position FROM ("
        " SELECT id, row_number() OVER (PARTITION BY run_id ORDER BY id) AS position"
        " FROM automation_run_tests) AS x WHERE automation_run_tests.id = x.id"
    )
    op.drop_index("ix_automation_run_tests_run", table_name="automation_run_tests")
    op.create_index(
        "ux_automation_run_tests_run_seq", "automation_run_tests", ["run_id", "seq"], unique=True
    )


# SQLite: results' and cases' timestamps become integer microseconds (schema.StampUs).
_STAMPS = {
    "automation_run_tests": ("created_at",),
    "automation_cases": ("created_at", "updated_at"),
}
# SQLAlchemy's text is 'YYYY-MM-DD HH:MM:SS.ffffff'.
_TO_US = "CAST(strftime('%s', {c}) AS INTEGER) * 1000000 + CAST(substr({c}, 21, 6) AS INTEGER)"


def _sqlite_stamps_to_microseconds() -> None:
    # Values first: the rebuild below copies with CAST(... AS BIGINT), which reads only
    # the year of a text timestamp.
    for table, columns in _STAMPS.items():
        for column in columns:
            op.execute(
                f"UPDATE {table} SET {column} = {_TO_US.format(c=column)}"
                f" WHERE typeof({column}) = 'text'"
            )
        with op.batch_alter_table(table) as batch_op:
            for column in columns:
                batch_op.alter_column(
                    column, existing_type=sa.DateTime(), type_=sa.BigInteger(), nullable=False
                )


def _sqlite_stamps_to_text() -> None:
    for table, columns in _STAMPS.items():
        with op.batch_alter_table(table) as batch_op:
            for column in columns:
                batch_op.alter_column(
                    column, existing_type=sa.BigInteger(), type_=sa.DateTime(), nullable=False
                )
        for column in columns:
            op.execute(
                f"UPDATE {table} SET {column} = strftime('%Y-%m-%d %H:%M:%S', {column} / 1000000,"
                f" 'unixepoch') || '.' || printf('%06d', {column} % 1000000)"
                f" WHERE typeof({column}) = 'integer'"
            )


def downgrade() -> None:
    op.drop_index("ux_automation_run_tests_run_seq", table_name="automation_run_tests")
    op.create_index("ix_automation_run_tests_run", "automation_run_tests", ["run_id", "id"])
    with op.batch_alter_table("automation_run_tests") as batch_op:
        batch_op.drop_column("seq")
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_stamps_to_text()
    op.drop_index("ix_automation_run_batches_project", table_name="automation_run_batches")
    op.drop_index("ix_automation_run_batches_source", table_name="automation_run_batches")
    op.drop_index("ix_automation_run_batches_run", table_name="automation_run_batches")
    op.drop_table("automation_run_batches")
