"""retention settings per project and pinned runs

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 19:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "project_retention",
        sa.Column("project_id", sa.BigInteger(), nullable=False),
        sa.Column("run_days", sa.Integer(), nullable=True),
        sa.Column("passed_detail_days", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_project_retention")),
    )
    op.create_table(
        "automation_run_pins",
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("project_id", sa.BigInteger(), nullable=False),
        sa.Column("pinned_at", sa.DateTime(), nullable=False),
        sa.Column("pinned_by", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_automation_run_pins")),
    )
    op.create_index(
        "ix_automation_run_pins_project", "automation_run_pins", ["project_id", "run_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_automation_run_pins_project", table_name="automation_run_pins")
    op.drop_table("automation_run_pins")
    op.drop_table("project_retention")
