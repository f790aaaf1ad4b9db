"""quarantine entries

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 04:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "quarantine_entries",
        sa.Column("id", _ID, nullable=False),
        sa.Column("project_id", _ID, nullable=False),
        sa.Column("source_id", sa.BigInteger(), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("mode", sa.SmallInteger(), nullable=False),
        sa.Column("reason", sa.String(length=1000), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=False),
        sa.Column("removed_at", sa.DateTime(), nullable=True),
        sa.Column("removed_by", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_quarantine_entries_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantine_entries")),
    )
    op.create_index(
        "ix_quarantine_entries_case", "quarantine_entries", ["case_id", "id"], unique=False
    )
    op.create_index(
        "ix_quarantine_entries_project_source",
        "quarantine_entries",
        ["project_id", "source_id", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_quarantine_entries_project_source", table_name="quarantine_entries")
    op.drop_index("ix_quarantine_entries_case", table_name="quarantine_entries")
    op.drop_table("quarantine_entries")
