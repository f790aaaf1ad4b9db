"""One huge JUnit report through `runhub automation:run:submit`: wall time and the client's
peak RSS, to show that parsing streams (issue 4: a 1 GB report with 2,000,000 tests
submits with the client under 300 MB).

Starts a real `runhub serve` (SQLite, fresh temp database), writes one report of N tests
padded to about `--bytes-per-test`, then times the client end to end and `--dry-run`.
Usage: .venv/bin/python bench/huge_report.py [--tests 2000000] [--bytes-per-test 520]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

from client import RUNHUB, TIME, timed  # bench/ is the script's folder
from ingest import start_server


def write_report(path: Path, n: int, bytes_per_test: int) -> int:
    """N testcases in suites of 1,000; every 10th fails with a message and a trace that
    pads it; every test has a line of output. Returns the failure count."""
    trace = "x" * max(0, bytes_per_test * 10 - 1_500)
    failures = 0
    with path.open("w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="huge">\n')
        for start in range(0, n, 1_000):
            out.write(f'<testsuite name="suite{start // 1_000}" time="1.5">\n')
            for i in range(start, min(n, start + 1_000)):
                head = (
                    f'<testcase name="test_{i}" classname="pkg.mod{i % 97}.Case{i % 13}" '
                    f'time="0.{i % 1000:03}" file="tests/test_{i % 97}.py" line="{i % 500}">'
                )
                if i % 10 == 0:
                    failures += 1
                    out.write(
                        f'{head}<failure message="assert {i} == {i + 1}" type="AssertionError">'
                        f"Traceback: {trace}</failure><system-out>ran {i}</system-out>"
                        "</testcase>\n"
                    )
                else:
                    out.write(f"{head}<system-out>ran {i}</system-out></testcase>\n")
            out.write("</testsuite>\n")
        out.write("</testsuites>\n")
    return failures


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("bench: terminated"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=2_000_000)
    parser.add_argument("--bytes-per-test", type=int, default=520)
    args = parser.parse_args()
    if not os.access(TIME, os.X_OK):
        sys.exit(f"missing {TIME}")
    with ExitStack() as stack:
        tmp = Path(tempfile.mkdtemp(prefix="runhub-bench-huge-"))
        stack.callback(shutil.rmtree, tmp, ignore_errors=True)
        report = tmp / "huge.xml"
        failures = write_report(report, args.tests, args.bytes_per_test)
        size_mib = report.stat().st_size / 2**20
        print(f"1 report: {args.tests} tests, {failures} failures, {size_mib:.0f} MiB", flush=True)
        url = f"sqlite:///{tmp}/bench.db"
        port, token, _ = start_server(stack, url, str(tmp), "huge")
        project_id = subprocess.run(
            [RUNHUB, "admin", "create-project", "huge", "--database", url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        env = {**os.environ, "TESTMO_TOKEN": token, "CI": "true"}
        submit = [
            RUNHUB,
            "automation:run:submit",
            "--instance",
            f"http://127.0.0.1:{port}",
            "--project-id",
            project_id,
            "--name",
            "huge",
            "--source",
            "bench",
            "--results",
            str(report),
        ]
        rows = {
            "runhub --dry-run (parse only)": timed("dry", [*submit, "--dry-run"], env, tmp),
            "runhub submit (end to end)": timed("submit", submit, env, tmp),
        }
        print(f"\n{'':32}{'seconds':>9}{'tests/s':>11}{'peak RSS MiB':>14}")
        for label, row in rows.items():
            rate = args.tests / row["seconds"]
            print(f"{label:32}{row['seconds']:9.1f}{rate:11,.0f}{row['rss_mib']:14.0f}")
        peak = max(row["rss_mib"] for row in rows.values())
        verdict = "ok" if peak < 300 else "MISS"
        print(f"\npeak client RSS {peak:.0f} MiB for {size_mib:.0f} MiB (target < 300: {verdict})")


if __name__ == "__main__":
    main()
