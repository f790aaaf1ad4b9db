"""retention: settings per project, pinned runs, the prune queue, run positions that survive
deleting old runs, and (PostgreSQL) results, fields and artifacts partitioned by run id

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 19:00:00.000000

Run positions: `projects.automation_run_position_base` is the position before the
project's first run, so a project's runs hold the dense positions base+1 .. base+N.
Deleting a run now shifts whichever side of it is shorter: the runs before it move up
(and the base with them) or the runs after it move down. Pruning deletes the oldest runs,
so it shifts (almost) nothing; before, each deleted run moved every later one.

Partitions (PostgreSQL; README "Retention"): the three big tables become range-partitioned
by `run_id` (a run's rows share its partition; ids grow with time, so a partition is a
period). This revision copies the rows into one partition holding every existing run and a
DEFAULT partition for ids past the newest partition; the server creates the next
partitions ahead (db.partitions) and drops or rewrites expired ones. The primary key
becomes (id, run_id), as a partitioned table's must include the partition key.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PARTITIONED = ("automation_run_tests", "automation_fields", "automation_artifacts")
FIRST_SPAN_RUNS = 1000

PG_TRIGGERS = [
    """
    CREATE OR REPLACE FUNCTION runhub_run_position() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        base bigint;
    BEGIN
        SELECT automation_run_position_base INTO base
          FROM projects WHERE id = NEW.project_id FOR NO KEY UPDATE;
        NEW.list_position := 1 + COALESCE((
            SELECT r.list_position FROM automation_runs r
             WHERE r.project_id = NEW.project_id
               AND (r.created_at, r.id) < (NEW.created_at, NEW.id)
             ORDER BY r.created_at DESC, r.id DESC LIMIT 1), base, 0);
        UPDATE automation_runs SET list_position = list_position + 1
         WHERE project_id = NEW.project_id AND (created_at, id) > (NEW.created_at, NEW.id);
        RETURN NEW;
    END $$
    """,
    """
    CREATE OR REPLACE FUNCTION runhub_run_unposition() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        base bigint;
        n bigint;
    BEGIN
        SELECT automation_run_position_base, automation_run_count INTO base, n
          FROM projects WHERE id = OLD.project_id;
        IF 2 * OLD.list_position <= 2 * base + n THEN
            UPDATE automation_runs SET list_position = list_position + 1
             WHERE project_id = OLD.project_id
               AND (created_at, id) < (OLD.created_at, OLD.id);
            UPDATE projects SET automation_run_position_base = automation_run_position_base + 1
             WHERE id = OLD.project_id;
        ELSE
            UPDATE automation_runs SET list_position = list_position - 1
             WHERE project_id = OLD.project_id
               AND (created_at, id) > (OLD.created_at, OLD.id);
        END IF;
        RETURN NULL;
    END $$
    """,
]

_SQLITE_EARLIER_SIDE = (
    "(SELECT 2 * OLD.list_position <= 2 * automation_run_position_base + automation_run_count"
    " FROM projects WHERE id = OLD.project_id)"
)
SQLITE_TRIGGERS = [
    "DROP TRIGGER tr_automation_runs_insert",
    "DROP TRIGGER tr_automation_runs_delete",
    """
    CREATE TRIGGER tr_automation_runs_insert AFTER INSERT ON automation_runs
    BEGIN
        UPDATE projects
           SET automation_run_count = automation_run_count + 1,
               automation_run_completed_count = automation_run_completed_count
                   + CASE WHEN NEW.is_completed THEN 1 ELSE 0 END
         WHERE id = NEW.project_id;
        UPDATE automation_runs SET list_position = list_position + 1
         WHERE project_id = NEW.project_id AND created_at >= NEW.created_at
           AND (created_at > NEW.created_at OR id > NEW.id);
        UPDATE automation_runs SET list_position = 1 + COALESCE((
            SELECT r.list_position FROM automation_runs r
             WHERE r.project_id = NEW.project_id AND r.created_at <= NEW.created_at
               AND (r.created_at < NEW.created_at OR r.id < NEW.id)
             ORDER BY r.created_at DESC, r.id DESC LIMIT 1),
            (SELECT automation_run_position_base FROM projects WHERE id = NEW.project_id), 0)
         WHERE id = NEW.id;
    END
    """,
    f"""
    CREATE TRIGGER tr_automation_runs_delete AFTER DELETE ON automation_runs
    BEGIN
        UPDATE automation_runs SET list_position = list_position + 1
         WHERE project_id = OLD.project_id AND created_at <= OLD.created_at
           AND (created_at < OLD.created_at OR id < OLD.id) AND {_SQLITE_EARLIER_SIDE};
        UPDATE automation_runs SET list_position = list_position - 1
         WHERE project_id = OLD.project_id AND created_at >= OLD.created_at
           AND (created_at > OLD.created_at OR id > OLD.id) AND NOT {_SQLITE_EARLIER_SIDE};
        UPDATE projects
           SET automation_run_position_base = automation_run_position_base
                   + CASE WHEN {_SQLITE_EARLIER_SIDE} THEN 1 ELSE 0 END,
               automation_run_count = automation_run_count - 1,
               automation_run_completed_count = automation_run_completed_count
                   - CASE WHEN OLD.is_completed THEN 1 ELSE 0 END
         WHERE id = OLD.project_id;
    END
    """,
]


def _partition(table: str) -> None:
    """Turn `table` into a table partitioned by run_id with the same columns and indexes."""
    indexes = [
        row[0]
        for row in op.get_bind().execute(
            sa.text(
                "SELECT indexdef FROM pg_indexes WHERE tablename = :t"
                " AND indexname <> :pk ORDER BY indexname"
            ),
            {"t": table, "pk": f"pk_{table}"},
        )
    ]
    sequence = f"{table}_id_seq"
    owned = op.get_bind().execute(
        sa.text("SELECT 1 FROM pg_class WHERE relname = :s AND relkind = 'S'"), {"s": sequence}
    )
    has_own_sequence = owned.first() is not None and table != "automation_run_tests"
    if has_own_sequence:
        op.execute(f"ALTER SEQUENCE {sequence} OWNED BY NONE")
    op.execute(
        f"CREATE TABLE {table}_partitioned (LIKE {table} INCLUDING DEFAULTS)"
        " PARTITION BY RANGE (run_id)"
    )
    op.execute(
        f"ALTER TABLE {table}_partitioned ADD CONSTRAINT pk_{table}_partitioned"
        " PRIMARY KEY (id, run_id)"
    )
    upper = op.get_bind().execute(
        sa.text("SELECT COALESCE(max(id), 0) + 1 + :span FROM automation_runs"),
        {"span": FIRST_SPAN_RUNS},
    )
    op.execute(
        f"CREATE TABLE {table}_p0 PARTITION OF {table}_partitioned"
        f" FOR VALUES FROM (MINVALUE) TO ({int(upper.scalar_one())})"
    )
    op.execute(f"CREATE TABLE {table}_pdefault PARTITION OF {table}_partitioned DEFAULT")
    op.execute(f"INSERT INTO {table}_partitioned SELECT * FROM {table}")
    op.execute(f"DROP TABLE {table}")
    op.execute(f"ALTER TABLE {table}_partitioned RENAME TO {table}")
    op.execute(f"ALTER TABLE {table} RENAME CONSTRAINT pk_{table}_partitioned TO pk_{table}")
    for definition in indexes:
        op.execute(definition)
    if has_own_sequence:
        op.execute(f"ALTER SEQUENCE {sequence} OWNED BY {table}.id")


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
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
    op.create_table(
        "prune_queue",
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("project_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.SmallInteger(), nullable=False),
        sa.Column("done_seq", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("queued_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_prune_queue")),
    )
    op.create_table(
        "pruned_details",
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("pruned_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_pruned_details")),
    )
    op.add_column(
        "projects",
        sa.Column(
            "automation_run_position_base",
            sa.BigInteger(),
            server_default=sa.text("0"),
            nullable=False,
        ),
    )
    for statement in SQLITE_TRIGGERS if sqlite else PG_TRIGGERS:
        op.execute(statement)
    if not sqlite:
        for table in PARTITIONED:
            _partition(table)


def downgrade() -> None:
    raise NotImplementedError("runhub does not support downgrades (README 'Operations')")
