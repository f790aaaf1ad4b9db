"""run list positions and per-project run counters (issue 12: reads at 100,000 runs)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-09 09:00:00.000000

`automation_runs.list_position` is the run's 1-based rank among its project's runs in the
list order (created_at, id), dense (1..N); `projects.automation_run_count` is N and
`projects.automation_run_completed_count` the completed ones. Triggers keep all three
exact for every INSERT, DELETE and completion, whichever code writes the rows (the
server, `runhub admin`, a benchmark's direct seeding): a run inserted in order (the
newest of its project, as the server inserts them) costs two index probes and one
projects row update; one inserted out of order shifts the positions of the runs after
it. The projects row update also serialises run inserts per project on PostgreSQL,
so concurrent creators never hand out one position twice.

It only adds columns, an index and triggers, and rebuilds ix_automation_runs_project_created
with `id` (the list's tie-break) as its last column.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# --- PostgreSQL: PL/pgSQL triggers --------------------------------------------------------
# BEFORE INSERT (row) sets NEW.list_position (the id default has been applied by then)
# after locking the projects row. Every statement of a VOLATILE function takes a fresh
# snapshot under READ COMMITTED, so once the lock is held the runs a concurrent creator
# committed are visible, and so are the rows inserted before this one by the same
# statement. The counters change once per statement (transition tables): a row update of
# one projects row per inserted run would grow one version chain per bulk insert.
PG_UP = [
    """
    CREATE FUNCTION runhub_run_position() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM 1 FROM projects WHERE id = NEW.project_id FOR NO KEY UPDATE;
        NEW.list_position := 1 + COALESCE((
            SELECT r.list_position FROM automation_runs r
             WHERE r.project_id = NEW.project_id
               AND (r.created_at, r.id) < (NEW.created_at, NEW.id)
             ORDER BY r.created_at DESC, r.id DESC LIMIT 1), 0);
        UPDATE automation_runs SET list_position = list_position + 1
         WHERE project_id = NEW.project_id AND (created_at, id) > (NEW.created_at, NEW.id);
        RETURN NEW;
    END $$
    """,
    """
    CREATE FUNCTION runhub_runs_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE projects p
           SET automation_run_count = p.automation_run_count + a.n,
               automation_run_completed_count = p.automation_run_completed_count + a.done
          FROM (SELECT project_id, count(*) AS n, count(*) FILTER (WHERE is_completed) AS done
                  FROM added GROUP BY project_id) a
         WHERE p.id = a.project_id;
        RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION runhub_run_unposition() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE automation_runs SET list_position = list_position - 1
         WHERE project_id = OLD.project_id AND (created_at, id) > (OLD.created_at, OLD.id);
        RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION runhub_runs_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE projects p
           SET automation_run_count = p.automation_run_count - a.n,
               automation_run_completed_count = p.automation_run_completed_count - a.done
          FROM (SELECT project_id, count(*) AS n, count(*) FILTER (WHERE is_completed) AS done
                  FROM removed GROUP BY project_id) a
         WHERE p.id = a.project_id;
        RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION runhub_run_completion() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE projects
           SET automation_run_completed_count = automation_run_completed_count
                   + CASE WHEN NEW.is_completed THEN 1 ELSE -1 END
         WHERE id = NEW.project_id;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER tr_automation_runs_position BEFORE INSERT ON automation_runs
    FOR EACH ROW EXECUTE FUNCTION runhub_run_position()
    """,
    """
    CREATE TRIGGER tr_automation_runs_insert AFTER INSERT ON automation_runs
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION runhub_runs_inserted()
    """,
    """
    CREATE TRIGGER tr_automation_runs_unposition AFTER DELETE ON automation_runs
    FOR EACH ROW EXECUTE FUNCTION runhub_run_unposition()
    """,
    """
    CREATE TRIGGER tr_automation_runs_delete AFTER DELETE ON automation_runs
    REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION runhub_runs_deleted()
    """,
    """
    CREATE TRIGGER tr_automation_runs_completion AFTER UPDATE OF is_completed ON automation_runs
    FOR EACH ROW WHEN (OLD.is_completed IS DISTINCT FROM NEW.is_completed)
    EXECUTE FUNCTION runhub_run_completion()
    """,
]
PG_DOWN = [
    "DROP TRIGGER tr_automation_runs_completion ON automation_runs",
    "DROP TRIGGER tr_automation_runs_delete ON automation_runs",
    "DROP TRIGGER tr_automation_runs_unposition ON automation_runs",
    "DROP TRIGGER tr_automation_runs_insert ON automation_runs",
    "DROP TRIGGER tr_automation_runs_position ON automation_runs",
    "DROP FUNCTION runhub_run_completion()",
    "DROP FUNCTION runhub_runs_deleted()",
    "DROP FUNCTION runhub_run_unposition()",
    "DROP FUNCTION runhub_runs_inserted()",
    "DROP FUNCTION runhub_run_position()",
]

# --- SQLite: row triggers (AFTER, since a SQLite trigger cannot assign NEW) ---------------
# "created_at >= x AND (created_at > x OR id > y)" is the row-value comparison written so
# that SQLite bounds the index range on created_at.
SQLITE_UP = [
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
             ORDER BY r.created_at DESC, r.id DESC LIMIT 1), 0)
         WHERE id = NEW.id;
    END
    """,
    """
    CREATE TRIGGER tr_automation_runs_delete AFTER DELETE ON automation_runs
    BEGIN
        UPDATE projects
           SET automation_run_count = automation_run_count - 1,
               automation_run_completed_count = automation_run_completed_count
                   - CASE WHEN OLD.is_completed THEN 1 ELSE 0 END
         WHERE id = OLD.project_id;
        UPDATE automation_runs SET list_position = list_position - 1
         WHERE project_id = OLD.project_id AND created_at >= OLD.created_at
           AND (created_at > OLD.created_at OR id > OLD.id);
    END
    """,
    """
    CREATE TRIGGER tr_automation_runs_completion AFTER UPDATE OF is_completed ON automation_runs
    WHEN OLD.is_completed IS NOT NEW.is_completed
    BEGIN
        UPDATE projects
           SET automation_run_completed_count = automation_run_completed_count
                   + CASE WHEN NEW.is_completed THEN 1 ELSE -1 END
         WHERE id = NEW.project_id;
    END
    """,
]
SQLITE_DOWN = [
    "DROP TRIGGER tr_automation_runs_completion",
    "DROP TRIGGER tr_automation_runs_delete",
    "DROP TRIGGER tr_automation_runs_insert",
]

COUNTERS = ("automation_run_count", "automation_run_completed_count")


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.add_column(
        "automation_runs",
        sa.Column("list_position", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
    )
    for name in COUNTERS:
        op.add_column(
            "projects",
            sa.Column(name, sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        )
    # Existing runs: their rank in (created_at, id) order; existing projects: their counts.
    ranked = (
        "SELECT id, row_number() OVER (PARTITION BY project_id ORDER BY created_at, id) AS pos"
        " FROM automation_runs"
    )
    if sqlite:
        op.execute("CREATE TEMP TABLE runhub_positions (id INTEGER PRIMARY KEY, pos INTEGER)")
        op.execute(f"INSERT INTO runhub_positions (id, pos) {ranked}")
        op.execute(
            "UPDATE automation_runs SET list_position ="
            " (SELECT pos FROM runhub_positions p WHERE p.id = automation_runs.id)"
        )
        op.execute("DROP TABLE runhub_positions")
    else:
        op.execute(
            f"UPDATE automation_runs r SET list_position = p.pos FROM ({ranked}) p"
            " WHERE p.id = r.id"
        )
    op.execute(
        "UPDATE projects SET"
        " automation_run_count ="
        " (SELECT count(*) FROM automation_runs r WHERE r.project_id = projects.id),"
        " automation_run_completed_count ="
        " (SELECT count(*) FROM automation_runs r"
        "  WHERE r.project_id = projects.id AND r.is_completed)"
    )
    op.drop_index("ix_automation_runs_project_created", table_name="automation_runs")
    op.create_index(
        "ix_automation_runs_project_created",
        "automation_runs",
        ["project_id", "created_at", "id"],
    )
    op.create_index(
        "ix_automation_runs_project_position", "automation_runs", ["project_id", "list_position"]
    )
    for statement in SQLITE_UP if sqlite else PG_UP:
        op.execute(statement)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in SQLITE_DOWN if sqlite else PG_DOWN:
        op.execute(statement)
    op.drop_index("ix_automation_runs_project_position", table_name="automation_runs")
    op.drop_index("ix_automation_runs_project_created", table_name="automation_runs")
    op.create_index(
        "ix_automation_runs_project_created", "automation_runs", ["project_id", "created_at"]
    )
    # Plain ALTER TABLE ... DROP COLUMN (SQLite >= 3.35): a batch copy of `projects` would
    # drop a table that foreign keys reference.
    for table, column in (
        *(("projects", c) for c in COUNTERS),
        ("automation_runs", "list_position"),
    ):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
