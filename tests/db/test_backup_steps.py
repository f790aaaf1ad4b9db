"""runhub.db.backup steps through a database another connection keeps committing to:
the held read transaction keeps the copy from restarting, and the copy is one snapshot
(decisions.md "Operations")."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from runhub.db import backup

ROWS = 20_000  # 20 MB: the copy takes long enough for many commits
WATCHDOG_S = 20.0
WRITER = """
import sqlite3, sys
w = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
w.execute("PRAGMA synchronous=OFF")  # as many commits a second as possible
for n in range(10**9):
    w.execute("BEGIN IMMEDIATE")
    w.execute("INSERT INTO filler (v) VALUES (randomblob(1000))")
    w.execute("UPDATE tally SET n = n + 1")
    w.execute("COMMIT")
    if n == 10:
        print("ready", flush=True)
"""


def tally_of(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT n FROM tally").fetchone()[0])
    finally:
        conn.close()


def test_a_stepped_backup_finishes_and_is_one_snapshot_under_constant_commits(
    tmp_path: Path, sqlite_template: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "live.db"
    shutil.copy(sqlite_template, source)
    conn = sqlite3.connect(source, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE filler (id INTEGER PRIMARY KEY, v BLOB)")
    conn.execute("CREATE TABLE tally (n INTEGER)")
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO filler (v) VALUES (randomblob(1000))", [()] * ROWS)
    conn.execute("INSERT INTO tally VALUES (?)", (ROWS,))
    conn.execute("COMMIT")
    conn.close()
    monkeypatch.setattr(backup, "STEP_PAGES", 8)  # ~700 steps: many commits in between

    # Another process commits as fast as it can, as a busy server does.
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(source)], stdout=subprocess.PIPE, text=True
    )
    watchdog = threading.Timer(WATCHDOG_S, writer.kill)  # a restarting copy ends with it
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
        before = tally_of(source)
        watchdog.start()
        done = backup.backup(source, tmp_path / "copy.db")
        after = tally_of(source)
    finally:
        watchdog.cancel()
        writer.kill()
        writer.wait()
        assert writer.stdout is not None
        writer.stdout.close()
    assert done.seconds < WATCHDOG_S, "the copy restarted until the writer stopped"
    assert after > before  # the writer was never blocked by the copy
    copy = sqlite3.connect(tmp_path / "copy.db")
    try:
        (count,) = copy.execute("SELECT count(*) FROM filler").fetchone()
        (tally,) = copy.execute("SELECT n FROM tally").fetchone()
        assert count == tally >= ROWS  # one snapshot
        # ... taken when the backup began (not when a restarted copy last began over).
        assert tally - before <= (after - before) // 2, (before, tally, after)
        assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    finally:
        copy.close()
    assert not Path(f"{tmp_path / 'copy.db'}-wal").exists()
