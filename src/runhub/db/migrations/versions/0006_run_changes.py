"""run change summaries (the web UI's run page counts)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "automation_run_changes",
        sa.Column("run_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("base_run_id", sa.BigInteger(), nullable=True),
        sa.Column("rules", sa.String(length=200), nullable=False),
        sa.Column("new_failure", sa.Integer(), nullable=False),
        sa.Column("still_failing", sa.Integer(), nullable=False),
        sa.Column("fixed", sa.Integer(), nullable=False),
        sa.Column("new_test", sa.Integer(), nullable=False),
        sa.Column("missing", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("flaky_failures", sa.Integer(), nullable=False),
        sa.Column("flaky_new_failures", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_automation_run_changes")),
    )
    # Completed runs get their summary when folded in again (`runhub db reanalyze`); until
    # then their pages count live (small runs) or say the counts are not ready.


def downgrade() -> None:
    op.drop_table("automation_run_changes")
