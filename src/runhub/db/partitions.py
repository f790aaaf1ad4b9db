"""PostgreSQL partitions of the big tables (migration 0010; README "Retention").

Results, fields and artifacts are range-partitioned by `run_id`: a run's rows share one
partition, and since run ids grow with time a partition holds a period of runs. Every
table has the same ranges, a DEFAULT partition catches ids past the newest range (it
stays empty while the server keeps a range ahead), and expiring a period is dropping a
partition; a partition that still holds rows to keep is rewritten (the kept rows copied
into a fresh table that takes its place), so the disk comes back either way.

Catalog changes take the parent's lock for a moment: they run with a 50 ms lock timeout
and are retried on the next pass rather than queueing ingest behind them.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from sqlalchemy import Connection, text

PARTITIONED_TABLES = ("automation_run_tests", "automation_fields", "automation_artifacts")
LOCK_TIMEOUT_MS = 50
MIN_SPAN_RUNS = 100
_NAME = re.compile(rf"^({'|'.join(PARTITIONED_TABLES)})_p(\d+|default)(_new)?$")
_BOUND = re.compile(r"FOR VALUES FROM \((\w+|'?-?\d+'?)\) TO \((\w+|'?-?\d+'?)\)")


def is_partition_name(name: str) -> bool:
    """Whether `name` is one of the partitions (not a table of the schema itself)."""
    return _NAME.match(name) is not None


@dataclass(frozen=True)
class Partition:
    name: str
    lo: int | None  # None: MINVALUE
    hi: int | None  # None: the DEFAULT partition


def _bound(value: str) -> int | None:
    value = value.strip("'")
    return None if value.upper() in ("MINVALUE", "MAXVALUE") else int(value)


def list_partitions(conn: Connection, table: str) -> list[Partition]:
    """The table's range partitions in run id order, then its DEFAULT partition."""
    rows = conn.execute(
        text(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i"
            " JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent"
            " WHERE p.relname = :t"
        ),
        {"t": table},
    ).all()
    ranges: list[Partition] = []
    default: list[Partition] = []
    for name, bound in rows:
        if bound == "DEFAULT":
            default.append(Partition(name, None, None))
            continue
        match = _BOUND.search(bound)
        assert match is not None, bound
        ranges.append(Partition(name, _bound(match.group(1)), _bound(match.group(2))))
    ranges.sort(key=lambda p: -1 if p.lo is None else p.lo)
    return ranges + default


def _set_lock_timeout(conn: Connection) -> None:
    conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT_MS}ms'")


def newest_run_id(conn: Connection) -> int:
    """The id the newest run took (or will take next): the run id sequence's position."""
    return int(conn.execute(text("SELECT last_value FROM automation_runs_id_seq")).scalar_one())


def span_runs(conn: Connection, newest: int) -> int:
    """Run ids a new partition covers: about a day of runs (the ids taken in the last 24
    hours), at least MIN_SPAN_RUNS. Reads the runs of one day, newest first, by id."""
    day_old = conn.execute(
        text(
            "SELECT id FROM automation_runs"
            " WHERE created_at <= (now() AT TIME ZONE 'UTC') - interval '1 day'"
            " ORDER BY id DESC LIMIT 1"
        )
    ).scalar_one_or_none()
    return max(MIN_SPAN_RUNS, newest - int(day_old or 0))


def _index_definitions(conn: Connection, table: str, target: str) -> list[str]:
    """CREATE INDEX statements for `target` matching the parent's partitioned indexes."""
    rows = conn.execute(
        text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = :t"), {"t": table}
    ).all()
    token = secrets.token_hex(6)
    statements = []
    for number, (name, definition) in enumerate(sorted(rows)):
        if name == f"pk_{table}":
            continue
        statement = definition.replace(f"ON ONLY public.{table} ", f"ON public.{target} ", 1)
        statement = statement.replace(f" {name} ON ", f" ix_part_{token}_{number} ON ", 1)
        statements.append(statement)
    return statements


def _new_partition_table(conn: Connection, table: str, name: str, lo: int, hi: int) -> None:
    """A free-standing table shaped like a partition of `table` for [lo, hi), with the
    parent's indexes and a CHECK that lets ATTACH skip its validating scan."""
    conn.exec_driver_sql(f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS)")
    conn.exec_driver_sql(
        f"ALTER TABLE {name} ADD CONSTRAINT {name}_range"
        f" CHECK (run_id IS NOT NULL AND run_id >= {lo} AND run_id < {hi})"
    )
    conn.exec_driver_sql(
        f"ALTER TABLE {name} ADD CONSTRAINT pk_part_{secrets.token_hex(6)} PRIMARY KEY (id, run_id)"
    )
    for statement in _index_definitions(conn, table, name):
        conn.exec_driver_sql(statement)


def ensure_ahead(conn: Connection) -> list[str]:
    """Create the next range of every partitioned table while the newest run id is within
    half a span of the newest range's end. Returns the partitions created."""
    created: list[str] = []
    newest = newest_run_id(conn)
    span = span_runs(conn, newest)
    for table in PARTITIONED_TABLES:
        ranges = [p for p in list_partitions(conn, table) if p.hi is not None]
        top = max((p.hi for p in ranges if p.hi is not None), default=1)
        if newest + span // 2 < top:
            continue
        in_default = conn.execute(
            text(f"SELECT max(run_id) FROM {table}_pdefault")
        ).scalar_one_or_none()
        lo = max(top, (in_default or 0) + 1)
        hi = max(lo, newest + 1) + span
        name = f"{table}_p{lo}"
        _new_partition_table(conn, table, name, lo, hi)
        _set_lock_timeout(conn)
        conn.exec_driver_sql(
            f"ALTER TABLE {table} ATTACH PARTITION {name} FOR VALUES FROM ({lo}) TO ({hi})"
        )
        conn.exec_driver_sql(f"ALTER TABLE {name} DROP CONSTRAINT {name}_range")
        created.append(name)
    return created


def drop_partition(conn: Connection, table: str, partition: Partition) -> None:
    """Detach and drop a partition (its rows are all expired)."""
    _set_lock_timeout(conn)
    conn.exec_driver_sql(f"ALTER TABLE {table} DETACH PARTITION {partition.name}")
    conn.exec_driver_sql(f"DROP TABLE {partition.name}")


def rewrite_partition(conn: Connection, table: str, partition: Partition, keep: str) -> int:
    """Replace a partition by a copy of its rows that satisfy `keep` (SQL over alias x).
    Writes to the old partition wait for the copy (it holds only old runs); the parent is
    locked only for the swap. Returns the rows kept."""
    assert partition.hi is not None
    lo = partition.lo if partition.lo is not None else 0
    new_name = f"{partition.name}_new"
    conn.exec_driver_sql(f"LOCK TABLE {partition.name} IN SHARE MODE")
    _new_partition_table(conn, table, new_name, lo, partition.hi)
    kept = conn.exec_driver_sql(
        f"INSERT INTO {new_name} SELECT x.* FROM {partition.name} x WHERE {keep}"
    ).rowcount
    _set_lock_timeout(conn)
    conn.exec_driver_sql(f"ALTER TABLE {table} DETACH PARTITION {partition.name}")
    lower = "MINVALUE" if partition.lo is None else str(partition.lo)
    conn.exec_driver_sql(
        f"ALTER TABLE {table} ATTACH PARTITION {new_name}"
        f" FOR VALUES FROM ({lower}) TO ({partition.hi})"
    )
    conn.exec_driver_sql(f"DROP TABLE {partition.name}")
    conn.exec_driver_sql(f"ALTER TABLE {new_name} RENAME TO {partition.name}")
    conn.exec_driver_sql(f"ALTER TABLE {partition.name} DROP CONSTRAINT {new_name}_range")
    return int(kept)


def relation_bytes(conn: Connection) -> dict[str, int]:
    """Each partitioned table's size with its partitions, indexes and TOAST."""
    sizes = {}
    for table in PARTITIONED_TABLES:
        sizes[table] = int(
            conn.execute(
                text(
                    "SELECT COALESCE(sum(pg_total_relation_size(c.oid)), 0) FROM pg_inherits i"
                    " JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p"
                    " ON p.oid = i.inhparent WHERE p.relname = :t"
                ),
                {"t": table},
            ).scalar_one()
        )
    return sizes
