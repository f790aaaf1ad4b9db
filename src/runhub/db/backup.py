"""Online backup and restore of a SQLite database (`runhub db backup|restore`).

The copy is made with SQLite's online backup API (Python's `Connection.backup`), in steps
of STEP_PAGES pages, while the source connection holds one read transaction: in WAL mode a
reader never blocks the server's writers, and the held snapshot keeps the backup from
restarting each time another process commits (without it, a step after a foreign commit
starts the copy over, and a busy server can keep a backup from ever finishing). The copy
is the database as of the moment the read transaction began, written to a temporary file
beside the destination, checked (`PRAGMA integrity_check`), synced and renamed into place.

Restore copies a backup the same way into a temporary file beside the target, checks it,
then replaces the target and removes its stale -wal/-shm/-journal files (an old -wal left
beside a new database file would be replayed into it). A server using the target is
detected with SQLite's own lock: every connection to a WAL database holds a shared lock on
one byte of the -shm file (the "dead man switch" SQLite uses to find the last connection),
so restore takes that byte exclusively, fails if it cannot, and keeps it until the new file
is in place.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.engine import make_url

from runhub.db.engine import normalise_url
from runhub.db.migrate import MIGRATIONS_DIR

STEP_PAGES = 1024  # pages per backup step (4 MiB at SQLite's default page size)
SQLITE_MAGIC = b"SQLite format 3\x00"
COMPANIONS = ("-wal", "-shm", "-journal")
SHM_DMS_OFFSET = 128  # the -shm byte every connection locks shared (SQLite's os_unix.c)


class BackupError(Exception):
    """The backup or restore failed (exit 1)."""

    code = 1


class Refused(BackupError):
    """The backup or restore was refused before anything was written (exit 2)."""

    code = 2


@dataclass(frozen=True)
class Copied:
    """What a backup or restore wrote."""

    path: Path
    size: int
    revision: str
    head: str | None
    runs: int
    seconds: float

    @property
    def at_head(self) -> bool:
        return self.revision == self.head


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite database URL; None for PostgreSQL. Refuses in-memory URLs."""
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() != "sqlite":
        return None
    if not parsed.database or parsed.database == ":memory:":
        raise Refused("an in-memory SQLite database has nothing to back up or restore")
    return Path(parsed.database)


def backup(source: Path, dest: Path, *, force: bool = False) -> Copied:
    """Copy the live database `source` to `dest` (which must not exist unless `force`)."""
    if not source.is_file():
        raise Refused(f"no such database: {source}")
    _check_destination(dest, force, other=source)
    return _copy(source, dest, live_source=True)


def restore(backup_file: Path, target: Path, *, force: bool = False) -> Copied:
    """Install `backup_file` as the database `target` (which must not exist unless
    `force`, and must not be open in any process)."""
    if not backup_file.is_file():
        raise Refused(f"no such file: {backup_file}")
    with backup_file.open("rb") as f:
        if f.read(len(SQLITE_MAGIC)) != SQLITE_MAGIC:
            raise Refused(f"{backup_file} is not a SQLite database")
    _check_destination(target, force, other=backup_file)
    with _unused(target):
        return _copy(backup_file, target, live_source=False)


def _check_destination(dest: Path, force: bool, other: Path) -> None:
    if dest.exists() and other.exists() and os.path.samefile(dest, other):
        raise Refused(f"{dest} is the database being copied")
    if dest.exists() and not force:
        raise Refused(f"{dest} exists (use --force to replace it)")
    if dest.is_dir():
        raise Refused(f"{dest} is a directory")
    if not dest.parent.is_dir():
        raise Refused(f"no such directory: {dest.parent}")


def _copy(source: Path, dest: Path, *, live_source: bool) -> Copied:
    started = time.monotonic()
    src = _connect(source)
    try:
        src.execute("BEGIN")  # one snapshot for the whole copy (see the module docstring)
        revision = _revision(src, source)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            out = sqlite3.connect(tmp, isolation_level=None)
            try:
                src.backup(out, pages=STEP_PAGES)
                src.execute("COMMIT")
                # The copy is one self-contained file; `runhub serve` turns WAL on again.
                out.execute("PRAGMA journal_mode=DELETE")
                problems = [row[0] for row in out.execute("PRAGMA integrity_check")]
                if problems != ["ok"]:
                    raise BackupError("integrity check of the copy: " + "; ".join(problems[:5]))
                runs = out.execute("SELECT count(*) FROM automation_runs").fetchone()[0]
            finally:
                out.close()
            _fsync(tmp)
            if not live_source and dest.exists():  # a restore keeps the target's permissions
                os.chmod(tmp, stat.S_IMODE(dest.stat().st_mode))
            _install(tmp, dest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    except (sqlite3.Error, OSError) as exc:
        raise BackupError(f"cannot copy {source} to {dest}: {exc}") from exc
    finally:
        src.close()
    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    return Copied(dest, dest.stat().st_size, revision, head, runs, time.monotonic() - started)


def _connect(path: Path) -> sqlite3.Connection:
    """A connection that never creates the file. Read-write when it can be: a read-only
    connection to a WAL database leaves empty -wal and -shm files behind."""
    writable = os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)
    mode = "rw" if writable else "ro"
    try:
        return sqlite3.connect(
            f"{path.resolve().as_uri()}?mode={mode}", uri=True, timeout=30, isolation_level=None
        )
    except sqlite3.Error as exc:
        raise Refused(f"cannot open {path}: {exc}") from exc


def _revision(conn: sqlite3.Connection, path: Path) -> str:
    """The runhub schema revision of the database; refuses other files."""
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError as exc:  # no such table, or not a database at all
        raise Refused(f"{path} is not a runhub database ({exc})") from exc
    if row is None:
        raise Refused(f"{path} is not a runhub database (no schema revision)")
    try:
        known = ScriptDirectory(str(MIGRATIONS_DIR)).get_revision(row[0])
    except CommandError:
        known = None
    if known is None:
        raise Refused(
            f"{path} is at schema revision {row[0]}, which this runhub does not know "
            "(a newer runhub made it; install that version or newer)"
        )
    return str(row[0])


def _install(tmp: Path, dest: Path) -> None:
    """Rename the checked copy over `dest` once its stale companions are gone."""
    for suffix in COMPANIONS:
        if suffix != "-shm":  # the -shm may hold restore's lock; removed after the rename
            Path(f"{dest}{suffix}").unlink(missing_ok=True)
    os.replace(tmp, dest)
    Path(f"{dest}-shm").unlink(missing_ok=True)
    _fsync(dest.parent)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def _unused(target: Path) -> Iterator[None]:
    """Hold SQLite's -shm lock of `target` (see the module docstring); Refused when a
    process has the database open. Without fcntl (Windows) nothing is checked."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on POSIX
        yield
        return
    try:
        fd = os.open(f"{target}-shm", os.O_RDWR)
    except FileNotFoundError:  # no connection in WAL mode has the database open
        yield
        return
    except OSError as exc:
        raise Refused(f"cannot check whether {target} is in use: {exc}") from exc
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, SHM_DMS_OFFSET, os.SEEK_SET)
        except OSError as exc:
            raise Refused(
                f"{target} is in use (a runhub server or another process has it open); "
                "stop it before restoring"
            ) from exc
        yield
    finally:
        os.close(fd)
