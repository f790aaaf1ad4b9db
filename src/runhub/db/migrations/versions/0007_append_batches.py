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


def downgrade() -> None:
    op.drop_index("ux_automation_run_tests_run_seq", table_name="automation_run_tests")
    op.create_index("ix_automation_run_tests_run", "automation_run_tests", ["run_id", "id"])
    with op.batch_alter_table("automation_run_tests") as batch_op:
        batch_op.drop_column("seq")
    op.drop_index("ix_automation_run_batches_project", table_name="automation_run_batches")
    op.drop_index("ix_automation_run_batches_source", table_name="automation_run_batches")
    op.drop_index("ix_automation_run_batches_run", table_name="automation_run_batches")
    op.drop_table("automation_run_batches")
