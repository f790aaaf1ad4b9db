"""A flood of sign-ins against the real server (2 worker processes): each process checks at
most RUNHUB_PASSWORD_CHECKS passwords at a time (argon2 takes 64 MiB each), so memory stays
bounded; the excess is refused with 503 and Retry-After (decisions.md "Web UI")."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from .conftest import StartServer
from .signin import sign_in_at_once

pytestmark = pytest.mark.e2e

WORKERS = 2
ARGON2_MIB = 64  # argon2-cffi's default memory cost, per password check


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for process {pid}")


def _process_tree(root: int) -> list[int]:
    """The server process and all its descendants (uvicorn's worker processes)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rpartition(")")[2].split()[1])
    tree = [root]
    for pid in tree:
        tree.extend(child for child, parent in parents.items() if parent == pid)
    return tree


def test_sign_in_flood_keeps_memory_bounded(tmp_path: Path, start_server: StartServer) -> None:
    """100 sign-ins at once from 100 addresses for 100 emails (so the failed sign-in limit
    never applies): each process's peak RSS grows by at most its password-check cap × 64
    MiB (plus a margin), and every answer is a refusal (401) or 503, never a 500."""
    cap = 2
    server = start_server(
        f"sqlite:///{tmp_path / 'flood.db'}",
        args=["--workers", str(WORKERS)],
        env={"RUNHUB_PASSWORD_CHECKS": str(cap)},
    )
    processes = _process_tree(server.process.pid)
    assert len(processes) >= 1 + WORKERS, processes
    rss_before = {pid: _status_kib(pid, "VmRSS") for pid in processes}
    attempts = [(f"flood{i}@example.com", "wrong password", f"127.0.1.{i + 1}") for i in range(100)]
    responses = sign_in_at_once(server, attempts)
    peak = {pid: _status_kib(pid, "VmHWM") for pid in processes}
    statuses = Counter(r.status_code for r in responses)
    growth_mib = {pid: (peak[pid] - rss_before[pid]) / 1024 for pid in processes}
    print(f"\nflood: statuses {dict(statuses)}; peak RSS growth per process (MiB) {growth_mib}")
    print(f"flood: peak RSS of the server's processes (MiB) {sum(peak.values()) / 1024:.0f}")
    margin_mib = 96
    for pid in processes:
        assert growth_mib[pid] <= cap * ARGON2_MIB + margin_mib, (pid, growth_mib, statuses)
    assert set(statuses) <= {401, 503}, statuses
    assert statuses[401] >= cap, statuses  # some passwords were checked
    for response in responses:
        if response.status_code == 503:
            assert int(response.headers["retry-after"]) > 0
            assert "text/html" in response.headers["content-type"]
