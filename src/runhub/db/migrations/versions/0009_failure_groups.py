"""failure groups and failure categories

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "failure_groups",
        sa.Column("id", _ID, nullable=False),
        sa.Column("project_id", _ID, nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("sample_test_id", sa.BigInteger(), nullable=False),
        sa.Column("sample_status", sa.String(length=16), nullable=False),
        sa.Column("sample_message", sa.Text(), nullable=True),
        sa.Column("sample_text", sa.Text(), nullable=True),
        sa.Column("first_seen_run_id", sa.BigInteger(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_run_id", sa.BigInteger(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("run_count", sa.BigInteger(), nullable=False),
        sa.Column("result_count", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_failure_groups_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_failure_groups")),
    )
    op.create_index(
        "ux_failure_groups_project_digest", "failure_groups", ["project_id", "digest"], unique=True
    )
    op.create_index(
        "ix_failure_groups_project_last_seen",
        "failure_groups",
        ["project_id", "last_seen_run_id", "id"],
    )
    op.create_index(
        "ix_failure_groups_project_first_seen", "failure_groups", ["project_id", "first_seen_at"]
    )
    op.create_table(
        "failure_group_runs",
        sa.Column("group_id", sa.BigInteger(), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("project_id", sa.BigInteger(), nullable=False),
        sa.Column("source_id", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("run_created_at", sa.DateTime(), nullable=False),
        sa.Column("test_ids", sa.Text(), nullable=False),
        sa.Column("case_ids", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("group_id", "run_id", name=op.f("pk_failure_group_runs")),
    )
    op.create_index("ix_failure_group_runs_run", "failure_group_runs", ["run_id", "count"])
    op.create_index(
        "ix_failure_group_runs_project_created",
        "failure_group_runs",
        ["project_id", "run_created_at"],
    )
    op.create_index("ix_failure_group_runs_source", "failure_group_runs", ["source_id", "group_id"])
    op.create_table(
        "failure_group_tests",
        sa.Column("test_id", sa.BigInteger(), nullable=False),
        sa.Column("group_id", sa.BigInteger(), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("test_id", name=op.f("pk_failure_group_tests")),
    )
    op.create_index("ix_failure_group_tests_group", "failure_group_tests", ["group_id", "test_id"])
    op.create_index(
        "ix_failure_group_tests_run_group",
        "failure_group_tests",
        ["run_id", "group_id", "test_id"],
    )
    op.create_table(
        "failure_categories",
        sa.Column("project_id", sa.BigInteger(), nullable=False),
        sa.Column("rules", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_failure_categories")),
    )
    # Runs completed before this revision get their groups when folded in again
    # (`runhub db reanalyze`).


def downgrade() -> None:
    op.drop_table("failure_categories")
    op.drop_index("ix_failure_group_tests_run_group", table_name="failure_group_tests")
    op.drop_index("ix_failure_group_tests_group", table_name="failure_group_tests")
    op.drop_table("failure_group_tests")
    op.drop_index("ix_failure_group_runs_source", table_name="failure_group_runs")
    op.drop_index("ix_failure_group_runs_project_created", table_name="failure_group_runs")
    op.drop_index("ix_failure_group_runs_run", table_name="failure_group_runs")
    op.drop_table("failure_group_runs")
    op.drop_index("ix_failure_groups_project_first_seen", table_name="failure_groups")
    op.drop_index("ix_failure_groups_project_last_seen", table_name="failure_groups")
    op.drop_index("ux_failure_groups_project_digest", table_name="failure_groups")
    op.drop_table("failure_groups")
