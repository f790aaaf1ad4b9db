"""test intelligence: runs' commit and branch, the analysis queue, case health

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 03:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("automation_runs") as batch:
        batch.add_column(sa.Column("vcs_commit", sa.String(length=750), nullable=True))
        batch.add_column(sa.Column("vcs_branch", sa.String(length=750), nullable=True))
    op.create_index(
        "ix_automation_runs_source_branch",
        "automation_runs",
        ["source_id", "vcs_branch", "id"],
        unique=False,
    )
    op.create_index(
        "ix_automation_runs_project_commit",
        "automation_runs",
        ["project_id", "vcs_commit"],
        unique=False,
    )
    op.create_table(
        "analysis_queue",
        sa.Column("run_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("queued_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_analysis_queue")),
    )
    op.create_table(
        "automation_case_health",
        sa.Column("case_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("branch", sa.String(length=750), nullable=False),
        sa.Column("project_id", sa.BigInteger(), nullable=False),
        sa.Column("source_id", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.SmallInteger(), nullable=False),
        sa.Column("flip_rate", sa.Float(), nullable=False),
        sa.Column("failure_rate", sa.Float(), nullable=False),
        sa.Column("results_considered", sa.Integer(), nullable=False),
        sa.Column("last_status_id", sa.SmallInteger(), nullable=False),
        sa.Column("window", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("case_id", "branch", name=op.f("pk_automation_case_health")),
    )
    op.create_index(
        "ix_automation_case_health_list",
        "automation_case_health",
        ["project_id", "branch", "state", sa.text("flip_rate DESC"), "case_id"],
        unique=False,
    )
    _backfill(op.get_bind())


# The rule of runhub.services.vcs as it stood for this revision (a migration keeps its own
# copy so that it means the same forever).
_COMMIT_NAMES = {"commit", "gitcommit", "git", "gitsha", "sha", "commitsha", "revision"}
_BRANCH_NAMES = {"branch", "gitbranch", "ref", "gitref"}


def _normalised(name: str) -> str:
    return name.lower().replace(" ", "").replace("_", "").replace("-", "")


def _backfill(conn: sa.Connection) -> None:
    """Commit and branch from the existing run fields; every completed run queued for
    analysis (the workers fold them in, oldest first, after the upgrade)."""
    rows = conn.execute(
        sa.text(
            "SELECT run_id, name, value FROM automation_fields WHERE thread_id IS NULL"
            " AND test_id IS NULL AND type IN (1, 2) AND value IS NOT NULL ORDER BY id"
        )
    )
    found: dict[int, dict[str, str]] = {}
    for run_id, name, value in rows:
        kind = _normalised(name)
        key = "vcs_commit" if kind in _COMMIT_NAMES else ""
        key = "vcs_branch" if kind in _BRANCH_NAMES else key
        value = value.strip()
        if key == "vcs_branch":
            value = value.removeprefix("refs/heads/")
        if key and value and key not in found.setdefault(run_id, {}):
            found[run_id][key] = value[:750]
    for run_id, values in found.items():
        conn.execute(
            sa.text(
                "UPDATE automation_runs SET vcs_commit = :vcs_commit, vcs_branch = :vcs_branch"
                " WHERE id = :id"
            ),
            {
                "vcs_commit": values.get("vcs_commit"),
                "vcs_branch": values.get("vcs_branch"),
                "id": run_id,
            },
        )
    conn.execute(
        sa.text(
            "INSERT INTO analysis_queue (run_id, queued_at)"
            " SELECT id, CURRENT_TIMESTAMP FROM automation_runs WHERE is_completed"
        )
    )


def downgrade() -> None:
    op.drop_index("ix_automation_case_health_list", table_name="automation_case_health")
    op.drop_table("automation_case_health")
    op.drop_table("analysis_queue")
    op.drop_index("ix_automation_runs_project_commit", table_name="automation_runs")
    op.drop_index("ix_automation_runs_source_branch", table_name="automation_runs")
    with op.batch_alter_table("automation_runs") as batch:
        batch.drop_column("vcs_branch")
        batch.drop_column("vcs_commit")
