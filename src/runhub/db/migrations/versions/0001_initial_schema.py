"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-29 14:50:37.487821
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from runhub.db.seed import insert_default_statuses

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "automation_artifacts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("thread_id", sa.BigInteger(), nullable=True),
        sa.Column("test_id", sa.BigInteger(), nullable=True),
        sa.Column("name", sa.String(length=750), nullable=False),
        sa.Column("note", sa.String(length=80), nullable=True),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("mime_type", sa.String(length=750), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automation_artifacts")),
    )
    with op.batch_alter_table("automation_artifacts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_automation_artifacts_run",
            ["run_id"],
            unique=False,
            sqlite_where=sa.text("test_id IS NULL"),
            postgresql_where=sa.text("test_id IS NULL"),
        )
        batch_op.create_index(
            "ix_automation_artifacts_test",
            ["test_id"],
            unique=False,
            sqlite_where=sa.text("test_id IS NOT NULL"),
            postgresql_where=sa.text("test_id IS NOT NULL"),
        )

    op.create_table(
        "automation_fields",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("thread_id", sa.BigInteger(), nullable=True),
        sa.Column("test_id", sa.BigInteger(), nullable=True),
        sa.Column("type", sa.SmallInteger(), nullable=False),
        sa.Column("name", sa.String(length=750), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("meta", sa.Text(), nullable=True),
        sa.Column("is_highlight", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automation_fields")),
    )
    with op.batch_alter_table("automation_fields", schema=None) as batch_op:
        batch_op.create_index(
            "ix_automation_fields_run",
            ["run_id"],
            unique=False,
            sqlite_where=sa.text("test_id IS NULL"),
            postgresql_where=sa.text("test_id IS NULL"),
        )
        batch_op.create_index(
            "ix_automation_fields_test",
            ["test_id"],
            unique=False,
            sqlite_where=sa.text("test_id IS NOT NULL"),
            postgresql_where=sa.text("test_id IS NOT NULL"),
        )

    op.create_table(
        "automation_links",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=750), nullable=False),
        sa.Column("note", sa.String(length=80), nullable=True),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automation_links")),
    )
    with op.batch_alter_table("automation_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_automation_links_run_id"), ["run_id"], unique=False)

    op.create_table(
        "automation_run_tests",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("thread_id", sa.BigInteger(), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("status_id", sa.SmallInteger(), nullable=False),
        sa.Column("elapsed", sa.BigInteger(), nullable=True),
        sa.Column("file", sa.String(length=750), nullable=True),
        sa.Column("line", sa.Integer(), nullable=True),
        sa.Column("assertions", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automation_run_tests")),
    )
    with op.batch_alter_table("automation_run_tests", schema=None) as batch_op:
        batch_op.create_index("ix_automation_run_tests_case", ["case_id", "id"], unique=False)
        batch_op.create_index("ix_automation_run_tests_run", ["run_id", "id"], unique=False)
        batch_op.create_index(
            "ix_automation_run_tests_run_status", ["run_id", "status_id", "id"], unique=False
        )
        batch_op.create_index("ix_automation_run_tests_thread", ["thread_id", "id"], unique=False)

    op.create_table(
        "projects",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=750), nullable=False),
        sa.Column("is_completed", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.Column("updated_by", sa.BigInteger(), nullable=True),
        sa.Column("completed_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
    )
    op.create_table(
        "statuses",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("system_name", sa.String(length=100), nullable=False),
        sa.Column("color", sa.String(length=16), nullable=False),
        sa.Column("is_final", sa.Boolean(), nullable=False),
        sa.Column("is_untested", sa.Boolean(), nullable=False),
        sa.Column("is_passed", sa.Boolean(), nullable=False),
        sa.Column("is_failed", sa.Boolean(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statuses")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=750), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("is_api", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.Column("updated_by", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("token_prefix", sa.String(length=24), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_tokens_user_id"), ["user_id"], unique=False)

    op.create_table(
        "automation_sources",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("name", sa.String(length=750), nullable=False),
        sa.Column("is_retired", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("status", sa.SmallInteger(), server_default=sa.text("1"), nullable=False),
        sa.Column("run_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("completed_run_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("test_count_sum", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("elapsed_sum", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("ran_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.Column("updated_by", sa.BigInteger(), nullable=True),
        sa.Column("retired_at", sa.DateTime(), nullable=True),
        sa.Column("retired_by", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_automation_sources_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automation_sources")),
    )
    with op.batch_alter_table("automation_sources", schema=None) as batch_op:
        batch_op.create_index(
            "ix_automation_sources_project_created", ["project_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "ux_automation_sources_project_name", ["project_id", "name"], unique=True
        )

    op.create_table(
        "configs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("name", sa.String(length=750), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_configs_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_configs")),
    )
    with op.batch_alter_table("configs", schema=None) as batch_op:
        batch_op.create_index("ux_configs_project_name", ["project_id", "name"], unique=True)

    op.create_table(
        "milestones",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("root_id", sa.BigInteger(), nullable=True),
        sa.Column("parent_id", sa.BigInteger(), nullable=True),
        sa.Column("type_id", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("name", sa.String(length=750), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("is_started", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("is_completed", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("start_date", sa.String(length=10), nullable=True),
        sa.Column("due_date", sa.String(length=10), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.Column("updated_by", sa.BigInteger(), nullable=True),
        sa.Column("completed_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_milestones_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_milestones")),
    )
    with op.batch_alter_table("milestones", schema=None) as batch_op:
        batch_op.create_index(
            "ix_milestones_project_created", ["project_id", "created_at"], unique=False
        )
        batch_op.create_index("ix_milestones_project_name", ["project_id", "name"], unique=False)

    op.create_table(
        "project_members",
        sa.Column(
            "project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_project_members_project_id_projects")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_project_members_user_id_users")
        ),
        sa.PrimaryKeyConstraint("project_id", "user_id", name=op.f("pk_project_members")),
    )
    with op.batch_alter_table("project_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_project_members_user_id"), ["user_id"], unique=False)

    op.create_table(
        "status_aliases",
        sa.Column("alias", sa.String(length=64), nullable=False),
        sa.Column("status_id", sa.SmallInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["status_id"], ["statuses.id"], name=op.f("fk_status_aliases_status_id_statuses")
        ),
        sa.PrimaryKeyConstraint("alias", name=op.f("pk_status_aliases")),
    )
    with op.batch_alter_table("status_aliases", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_status_aliases_status_id"), ["status_id"], unique=False
        )

    op.create_table(
        "automation_cases",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "source_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=750), nullable=False),
        sa.Column("folder", sa.String(length=750), nullable=False),
        sa.Column("test_count", sa.BigInteger(), nullable=False),
        sa.Column("success_count", sa.BigInteger(), nullable=False),
        sa.Column("failure_count", sa.BigInteger(), nullable=False),
        sa.Column("flaky_count", sa.BigInteger(), nullable=False),
        sa.Column("elapsed_sum", sa.BigInteger(), nullable=False),
        sa.Column("elapsed_n", sa.BigInteger(), nullable=False),
        sa.Column("first_category", sa.SmallInteger(), nullable=False),
        sa.Column("last_category", sa.SmallInteger(), nullable=False),
        sa.Column("last_status_id", sa.SmallInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_automation_cases_project_id_projects")
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["automation_sources.id"],
            name=op.f("fk_automation_cases_source_id_automation_sources"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automation_cases")),
    )
    with op.batch_alter_table("automation_cases", schema=None) as batch_op:
        batch_op.create_index(
            "ix_automation_cases_project_name", ["project_id", "name"], unique=False
        )
        batch_op.create_index("ux_automation_cases_source_key", ["source_id", "key"], unique=True)

    op.create_table(
        "automation_runs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "source_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("config_id", sa.BigInteger(), nullable=True),
        sa.Column("milestone_id", sa.BigInteger(), nullable=True),
        sa.Column("name", sa.String(length=750), nullable=False),
        sa.Column("status", sa.SmallInteger(), server_default=sa.text("4"), nullable=False),
        sa.Column("elapsed", sa.BigInteger(), nullable=True),
        sa.Column("is_completed", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.Column("updated_by", sa.BigInteger(), nullable=True),
        sa.Column("completed_at", sa.DateTime(), nullable=True),
        sa.Column("completed_by", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_automation_runs_project_id_projects")
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["automation_sources.id"],
            name=op.f("fk_automation_runs_source_id_automation_sources"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automation_runs")),
    )
    with op.batch_alter_table("automation_runs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_automation_runs_project_config",
            ["project_id", "config_id", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_automation_runs_project_created", ["project_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_automation_runs_project_creator",
            ["project_id", "created_by", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_automation_runs_project_milestone",
            ["project_id", "milestone_id", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_automation_runs_project_source",
            ["project_id", "source_id", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_automation_runs_project_status",
            ["project_id", "status", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_automation_runs_source_created", ["source_id", "created_at"], unique=False
        )

    op.create_table(
        "milestone_tags",
        sa.Column(
            "milestone_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("tag", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["milestone_id"],
            ["milestones.id"],
            name=op.f("fk_milestone_tags_milestone_id_milestones"),
        ),
        sa.PrimaryKeyConstraint("milestone_id", "tag", name=op.f("pk_milestone_tags")),
    )
    with op.batch_alter_table("milestone_tags", schema=None) as batch_op:
        batch_op.create_index("ix_milestone_tags_project_tag", ["project_id", "tag"], unique=False)

    op.create_table(
        "automation_run_tags",
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("tag", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["automation_runs.id"],
            name=op.f("fk_automation_run_tags_run_id_automation_runs"),
        ),
        sa.PrimaryKeyConstraint("run_id", "tag", name=op.f("pk_automation_run_tags")),
    )
    with op.batch_alter_table("automation_run_tags", schema=None) as batch_op:
        batch_op.create_index(
            "ix_automation_run_tags_project_tag", ["project_id", "tag", "run_id"], unique=False
        )

    op.create_table(
        "automation_run_threads",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("status", sa.SmallInteger(), server_default=sa.text("4"), nullable=False),
        sa.Column("is_completed", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("elapsed_observed", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("elapsed_computed", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("status1_count", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("status2_count", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("status3_count", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("status4_count", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("status5_count", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("status6_count", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("status7_count", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("status8_count", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("status9_count", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("status10_count", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("status11_count", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("status12_count", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("status13_count", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("status14_count", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("status15_count", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("status16_count", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("status17_count", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("status18_count", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("status19_count", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("status20_count", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("status21_count", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("status22_count", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("status23_count", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("status24_count", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("completed_at", sa.DateTime(), nullable=True),
        sa.Column("completed_by", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["automation_runs.id"],
            name=op.f("fk_automation_run_threads_run_id_automation_runs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automation_run_threads")),
    )
    with op.batch_alter_table("automation_run_threads", schema=None) as batch_op:
        batch_op.create_index(
            "ux_automation_run_threads_run_index", ["run_id", "index"], unique=True
        )

    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE SEQUENCE automation_run_tests_id_seq")
    insert_default_statuses(op.get_bind())


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP SEQUENCE automation_run_tests_id_seq")
    with op.batch_alter_table("automation_run_threads", schema=None) as batch_op:
        batch_op.drop_index("ux_automation_run_threads_run_index")

    op.drop_table("automation_run_threads")
    with op.batch_alter_table("automation_run_tags", schema=None) as batch_op:
        batch_op.drop_index("ix_automation_run_tags_project_tag")

    op.drop_table("automation_run_tags")
    with op.batch_alter_table("milestone_tags", schema=None) as batch_op:
        batch_op.drop_index("ix_milestone_tags_project_tag")

    op.drop_table("milestone_tags")
    with op.batch_alter_table("automation_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_automation_runs_source_created")
        batch_op.drop_index("ix_automation_runs_project_status")
        batch_op.drop_index("ix_automation_runs_project_source")
        batch_op.drop_index("ix_automation_runs_project_milestone")
        batch_op.drop_index("ix_automation_runs_project_creator")
        batch_op.drop_index("ix_automation_runs_project_created")
        batch_op.drop_index("ix_automation_runs_project_config")

    op.drop_table("automation_runs")
    with op.batch_alter_table("automation_cases", schema=None) as batch_op:
        batch_op.drop_index("ux_automation_cases_source_key")
        batch_op.drop_index("ix_automation_cases_project_name")

    op.drop_table("automation_cases")
    with op.batch_alter_table("status_aliases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_status_aliases_status_id"))

    op.drop_table("status_aliases")
    with op.batch_alter_table("project_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_project_members_user_id"))

    op.drop_table("project_members")
    with op.batch_alter_table("milestones", schema=None) as batch_op:
        batch_op.drop_index("ix_milestones_project_name")
        batch_op.drop_index("ix_milestones_project_created")

    op.drop_table("milestones")
    with op.batch_alter_table("configs", schema=None) as batch_op:
        batch_op.drop_index("ux_configs_project_name")

    op.drop_table("configs")
    with op.batch_alter_table("automation_sources", schema=None) as batch_op:
        batch_op.drop_index("ux_automation_sources_project_name")
        batch_op.drop_index("ix_automation_sources_project_created")

    op.drop_table("automation_sources")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_tokens_user_id"))

    op.drop_table("api_tokens")
    op.drop_table("users")
    op.drop_table("statuses")
    op.drop_table("projects")
    with op.batch_alter_table("automation_run_tests", schema=None) as batch_op:
        batch_op.drop_index("ix_automation_run_tests_thread")
        batch_op.drop_index("ix_automation_run_tests_run_status")
        batch_op.drop_index("ix_automation_run_tests_run")
        batch_op.drop_index("ix_automation_run_tests_case")

    op.drop_table("automation_run_tests")
    with op.batch_alter_table("automation_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_automation_links_run_id"))

    op.drop_table("automation_links")
    with op.batch_alter_table("automation_fields", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_automation_fields_test",
            sqlite_where=sa.text("test_id IS NOT NULL"),
            postgresql_where=sa.text("test_id IS NOT NULL"),
        )
        batch_op.drop_index(
            "ix_automation_fields_run",
            sqlite_where=sa.text("test_id IS NULL"),
            postgresql_where=sa.text("test_id IS NULL"),
        )

    op.drop_table("automation_fields")
    with op.batch_alter_table("automation_artifacts", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_automation_artifacts_test",
            sqlite_where=sa.text("test_id IS NOT NULL"),
            postgresql_where=sa.text("test_id IS NOT NULL"),
        )
        batch_op.drop_index(
            "ix_automation_artifacts_run",
            sqlite_where=sa.text("test_id IS NULL"),
            postgresql_where=sa.text("test_id IS NULL"),
        )

    op.drop_table("automation_artifacts")
