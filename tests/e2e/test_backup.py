"""Backups against real servers (README "Backup and restore").

SQLite: `runhub db backup` copies the database while a real `runhub serve` keeps taking
appends; each copy is checked on its own (integrity, schema head, every thread's counters
equal to its stored results plus its pending batches, results numbered without gaps) and
holds everything acknowledged before the backup started. `runhub db restore` installs a
copy that a new server then serves. PostgreSQL: pg_dump of a database runhub filled,
pg_restore into a new database, and runhub reads it and keeps writing to it.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text

from runhub.db.engine import make_engine
from runhub.db.migrate import MIGRATIONS_DIR, upgrade

from ..conftest import _pg_admin, _pg_url
from .conftest import RUNHUB, ServerProcess, StartServer, runhub_cli, server_env

pytestmark = pytest.mark.e2e

STATUSES = ("passed", "failed", "skipped", "blocked")
HEAD = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
COUNTERS = " + ".join(f"status{n}_count" for n in range(1, 25))


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RUNHUB, *args], env=server_env(), capture_output=True, text=True, timeout=120
    )


def expect(response: Any, status: int) -> Any:
    assert response.status_code == status, f"{response.request.url}: {response.text[:300]}"
    return response


def make_tests(n: int, salt: int) -> list[dict[str, Any]]:
    return [
        {
            "key": f"case_{(salt + i) % 300}",
            "name": f"test {(salt + i) % 300}",
            "folder": "suite",
            "status": STATUSES[(salt + i) % len(STATUSES)],
            "elapsed": i,
        }
        for i in range(n)
    ]


class Writer(threading.Thread):
    """Creates runs and appends to them through the API until stopped; `acked` holds
    (monotonic time of the 204, thread id, tests) for every acknowledged append."""

    def __init__(self, server: ServerProcess, batch: int = 100) -> None:
        super().__init__(name="writer", daemon=True)
        self.server, self.batch = server, batch
        self.stop = threading.Event()
        self.acked: list[tuple[float, int, int]] = []
        self.runs: list[int] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._write()
        except BaseException as exc:  # re-raised by finish()
            self.error = exc

    def _write(self) -> None:
        pid = self.server.project_id
        body = {"name": "", "source": "backup", "fields": [], "links": [], "artifacts": []}
        with self.server.client() as client:
            n = 0
            while not self.stop.is_set():
                n += 1
                body["name"] = f"Run {n}"
                run = expect(client.post(f"/projects/{pid}/automation/runs", json=body), 201)
                run_id = run.json()["id"]
                self.runs.append(run_id)
                for _ in range(2):
                    thread = client.post(f"/automation/runs/{run_id}/threads", json={})
                    thread_id = expect(thread, 201).json()["id"]
                    for b in range(3):
                        tests = make_tests(self.batch, n * 7 + b)
                        path = f"/automation/runs/threads/{thread_id}/append"
                        expect(client.post(path, json={"tests": tests}), 204)
                        self.acked.append((time.monotonic(), thread_id, len(tests)))
                    if n % 2:
                        path = f"/automation/runs/threads/{thread_id}/complete"
                        expect(client.post(path, json={}), 204)
                if n % 3:
                    expect(client.post(f"/automation/runs/{run_id}/complete", json={}), 204)

    def finish(self) -> None:
        self.stop.set()
        self.join(120)
        assert not self.is_alive(), "the writer did not stop"
        if self.error is not None:
            raise self.error

    def acked_before(self, moment: float) -> Counter[int]:
        """Tests acknowledged per thread before `moment`."""
        done: Counter[int] = Counter()
        for at, thread_id, count in list(self.acked):
            if at < moment:
                done[thread_id] += count
        return done


def check_copy(path: Path) -> tuple[dict[int, int], dict[int, int]]:
    """Assert the copy is whole and consistent; its tests per run and per thread."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        (revision,) = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        assert revision == HEAD
        counted = dict(conn.execute(f"SELECT id, {COUNTERS} FROM automation_run_threads"))
        stored = Counter(
            dict(
                conn.execute(
                    "SELECT thread_id, count(*) FROM automation_run_tests GROUP BY thread_id"
                )
            )
        )
        pending = Counter(
            dict(
                conn.execute(
                    "SELECT thread_id, sum(test_count) FROM automation_run_batches"
                    " GROUP BY thread_id"
                )
            )
        )
        for thread_id, total in counted.items():
            assert total == stored[thread_id] + pending[thread_id], f"thread {thread_id}"
        assert set(stored) | set(pending) <= set(counted)
        # Each run's expanded results are numbered 1..n (positions are gap-free).
        for run_id, count, first, last in conn.execute(
            "SELECT run_id, count(*), min(seq), max(seq) FROM automation_run_tests GROUP BY run_id"
        ):
            assert (first, last) == (1, count), f"run {run_id}"
        per_run = dict(
            conn.execute(
                f"SELECT r.id, coalesce(sum({COUNTERS}), 0) FROM automation_runs r"
                " LEFT JOIN automation_run_threads t ON t.run_id = r.id GROUP BY r.id"
            )
        )
        threads_of = dict(conn.execute("SELECT id, run_id FROM automation_run_threads"))
        assert set(threads_of.values()) <= set(per_run)
    finally:
        conn.close()
    return per_run, counted


@pytest.fixture
def sqlite_file(tmp_path: Path, sqlite_template: Path) -> Path:
    path = tmp_path / "live.db"
    shutil.copy(sqlite_template, path)
    return path


def started_with_project(start_server: StartServer, url: str) -> ServerProcess:
    server = start_server(url)
    assert server.token, server.output()
    server.project_id = int(runhub_cli("admin", "create-project", "Backups", "--database", url))
    return server


def test_backup_while_the_server_writes_is_consistent_and_restores(
    sqlite_file: Path, tmp_path: Path, start_server: StartServer
) -> None:
    url = f"sqlite:///{sqlite_file}"
    server = started_with_project(start_server, url)
    writer = Writer(server)
    writer.start()
    copies: list[tuple[Path, Counter[int], int]] = []
    try:
        while len(writer.runs) < 3 and writer.is_alive():
            time.sleep(0.05)
        for n in range(3):
            copy = tmp_path / f"copy{n}.db"
            started = time.monotonic()
            done = cli("db", "backup", str(copy), "--database", url)
            ended = time.monotonic()
            assert done.returncode == 0, done.stderr
            assert "integrity check ok" in done.stdout and "(head)" in done.stdout
            during = sum(1 for at, _, _ in list(writer.acked) if started <= at <= ended)
            copies.append((copy, writer.acked_before(started), during))
            time.sleep(0.3)
    finally:
        writer.finish()

    assert sum(during for _, _, during in copies) > 0, "no append was answered during a backup"
    for copy, acked, _ in copies:
        _, in_copy = check_copy(copy)
        for thread_id, count in acked.items():
            assert in_copy.get(thread_id, 0) >= count, f"{copy.name}: thread {thread_id}"
    again = cli("db", "backup", str(copies[0][0]), "--database", url)
    assert again.returncode == 2 and "exists" in again.stderr and "--force" in again.stderr
    assert cli("db", "backup", str(copies[0][0]), "--force", "--database", url).returncode == 0

    # Restore the last copy elsewhere; a new server serves exactly what it holds.
    backup_file = copies[-1][0]
    per_run, _ = check_copy(backup_file)
    target = tmp_path / "restored.db"
    done = cli("db", "restore", str(backup_file), "--database", f"sqlite:///{target}")
    assert done.returncode == 0, done.stderr
    assert "(head)" in done.stdout and f"{len(per_run)} runs" in done.stdout
    restored = start_server(f"sqlite:///{target}")
    restored.token, restored.project_id = server.token, server.project_id
    with restored.client() as client:
        listed = list_runs(client, server.project_id)
        assert {r["id"] for r in listed} == set(per_run)
        assert {r["id"]: r["total_count"] for r in listed} == per_run
        for run_id in sorted(per_run)[-5:]:  # the newest ones: some have pending batches
            run = expect(client.get(f"/automation/runs/{run_id}"), 200).json()["result"]
            assert run["total_count"] == per_run[run_id], f"run {run_id}"
            page = client.get(f"/automation/runs/{run_id}/tests", params={"per_page": 1000})
            tests = expect(page, 200).json()["result"]
            assert len(tests) == per_run[run_id], f"run {run_id}"

    # The live server's database cannot be restored over, even with --force.
    busy = cli("db", "restore", str(backup_file), "--force", "--database", url)
    assert busy.returncode == 2 and "in use" in busy.stderr, busy.stderr
    with server.client() as client:  # and the live server did not notice
        expect(client.get(f"/automation/runs/{max(per_run)}"), 200)
    exists = cli("db", "restore", str(backup_file), "--database", f"sqlite:///{target}")
    assert exists.returncode == 2 and "--force" in exists.stderr
    # Once the server is stopped it can.
    assert server.stop() == 0
    done = cli("db", "restore", str(backup_file), "--force", "--database", url)
    assert done.returncode == 0, done.stderr
    for suffix in ("-wal", "-shm", "-journal"):
        assert not Path(f"{sqlite_file}{suffix}").exists()
    assert check_copy(sqlite_file)[0] == per_run


def test_restoring_an_older_backup_is_migrated_by_the_next_serve(
    tmp_path: Path, start_server: StartServer
) -> None:
    old = tmp_path / "old.db"
    head = HEAD
    assert head is not None
    previous = ScriptDirectory(str(MIGRATIONS_DIR)).get_revision(head).down_revision
    assert isinstance(previous, str)
    engine = make_engine(f"sqlite:///{old}")
    upgrade(engine, previous)
    engine.dispose()
    backup_file = tmp_path / "old-backup.db"
    done = cli("db", "backup", str(backup_file), "--database", f"sqlite:///{old}")
    assert done.returncode == 0, done.stderr
    assert f"schema revision {previous} (older than this runhub's {head})" in done.stdout

    target = f"sqlite:///{tmp_path / 'target.db'}"
    done = cli("db", "restore", str(backup_file), "--database", target)
    assert done.returncode == 0, done.stderr
    assert "applies the pending migrations" in done.stdout
    server = start_server(target)
    assert runhub_cli("db", "current", "--database", target) == f"{head} (head)"
    server.project_id = int(runhub_cli("admin", "create-project", "P", "--database", target))
    with server.client() as client:
        body = {"name": "after restore", "source": "s", "fields": [], "links": [], "artifacts": []}
        expect(client.post(f"/projects/{server.project_id}/automation/runs", json=body), 201)


def test_backup_and_restore_refuse_what_they_cannot_do(
    tmp_path: Path, sqlite_template: Path
) -> None:
    pg = "postgresql://postgres@127.0.0.1:5432/postgres"
    done = cli("db", "backup", str(tmp_path / "x.db"), "--database", pg)
    assert done.returncode == 2 and "pg_dump" in done.stderr
    done = cli("db", "restore", str(tmp_path / "x.db"), "--database", pg)
    assert done.returncode == 2 and "pg_restore" in done.stderr
    missing = cli("db", "backup", str(tmp_path / "x.db"), "--database", "sqlite:///nope.db")
    assert missing.returncode == 2 and "no such database" in missing.stderr
    assert not Path("nope.db").exists()
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    target = f"sqlite:///{tmp_path / 't.db'}"
    done = cli("db", "restore", str(other), "--database", target)
    assert done.returncode == 2 and "not a runhub database" in done.stderr
    (tmp_path / "text.db").write_text("hello")
    done = cli("db", "restore", str(tmp_path / "text.db"), "--database", target)
    assert done.returncode == 2 and "not a SQLite database" in done.stderr
    # A damaged backup is not installed.
    damaged = tmp_path / "damaged.db"
    shutil.copy(sqlite_template, damaged)
    with damaged.open("r+b") as f:
        f.seek(4096 * 60)
        f.write(b"\xa5" * 4096)
    done = cli("db", "restore", str(damaged), "--database", target)
    assert done.returncode in (1, 2), done.stdout
    assert "integrity check" in done.stderr or "malformed" in done.stderr, done.stderr
    assert not (tmp_path / "t.db").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".t.db")] == []


@pytest.fixture
def fresh_pg_databases() -> Iterator[list[str]]:
    """Two empty PostgreSQL databases (the original and the restored), dropped after."""
    names = [f"runhub_bk_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    admin = _pg_admin()
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield [_pg_url(name) for name in names]
    finally:
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def list_runs(client: Any, project_id: int) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = []
    page: int | None = 1
    while page is not None:
        params = {"per_page": 100, "page": page}
        body = expect(client.get(f"/projects/{project_id}/automation/runs", params=params), 200)
        runs += body.json()["result"]
        page = body.json()["next_page"]
    return runs


def fill(server: ServerProcess, runs: int) -> dict[int, int]:
    """Runs with two threads of appended tests each, via the API; tests per run."""
    totals: dict[int, int] = {}
    with server.client() as client:
        for n in range(runs):
            body = {"name": f"R{n}", "source": "pg", "fields": [], "links": [], "artifacts": []}
            path = f"/projects/{server.project_id}/automation/runs"
            run_id = expect(client.post(path, json=body), 201).json()["id"]
            for t in range(2):
                thread = client.post(f"/automation/runs/{run_id}/threads", json={})
                thread_id = expect(thread, 201).json()["id"]
                tests = make_tests(50 + t, n)
                path = f"/automation/runs/threads/{thread_id}/append"
                expect(client.post(path, json={"tests": tests}), 204)
            expect(client.post(f"/automation/runs/{run_id}/complete", json={}), 204)
            totals[run_id] = 101
    return totals


def read_runs(server: ServerProcess) -> tuple[dict[int, int], set[int]]:
    """Tests per run and every test id, through the API."""
    totals, test_ids = {}, set()
    with server.client() as client:
        for run in list_runs(client, server.project_id):
            totals[run["id"]] = run["total_count"]
            page = client.get(f"/automation/runs/{run['id']}/tests", params={"per_page": 1000})
            test_ids |= {t["id"] for t in expect(page, 200).json()["result"]}
    return totals, test_ids


@pytest.mark.skipif(not shutil.which("pg_dump"), reason="needs pg_dump and pg_restore")
def test_postgresql_pg_dump_and_pg_restore_round_trip(
    fresh_pg_databases: list[str], tmp_path: Path, start_server: StartServer
) -> None:
    original_url, restored_url = fresh_pg_databases
    original = started_with_project(start_server, original_url)
    sent = fill(original, 4)
    before, test_ids = read_runs(original)
    assert before == sent and len(test_ids) == sum(sent.values())

    dump = tmp_path / "runhub.dump"
    subprocess.run(["pg_dump", "-Fc", "-f", str(dump), "-d", original_url], check=True, timeout=120)
    subprocess.run(
        ["pg_restore", "--no-owner", "--exit-on-error", "-d", restored_url, str(dump)],
        check=True,
        timeout=120,
    )
    assert original.stop() == 0

    restored = start_server(restored_url)
    assert restored.token is None  # the restored database has its users: no new admin
    restored.token, restored.project_id = original.token, original.project_id
    assert read_runs(restored) == (before, test_ids)
    # The sequences came along: new runs, threads and results get fresh ids.
    more = fill(restored, 2)
    assert min(more) > max(before)
    after, all_ids = read_runs(restored)
    assert after == {**before, **more}
    assert test_ids < all_ids and min(all_ids - test_ids) > max(test_ids)
    assert restored.stop() == 0
