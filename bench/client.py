"""runhub's Python client against the official testmo Node CLI on JUnit reports.

Starts a real `runhub serve` (SQLite, fresh temp database, HTTPS with a trustme CA), then
times, in the same run: both CLIs end to end (`automation:run:submit`), both parse only
(official: pointed at a closed port; runhub: `--dry-run`; also `iter_tests` in-process), and
each client process's peak RSS. See bench/README.md.
Usage: .venv/bin/python bench/client.py [--tests N]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path

import trustme

from ingest import free_port, start_server  # bench/ is the script's folder
from runhub.client import junit

ROOT = Path(__file__).resolve().parent.parent
RUNHUB = str(Path(sys.executable).with_name("runhub"))
TESTMO = str(ROOT / "tests/e2e/compat/node_modules/.bin/testmo")
TIME = "/usr/bin/time"


def write_reports(tmp: Path, n: int, per_file: int, seed: int = 2026) -> tuple[list[Path], int]:
    """N testcases in files of at most `per_file`, each with one suite per class (~300),
    ~10% failures with a 500-char message. Plain text only: no entity or character
    references (the official CLI refuses files with more than 1,000)."""
    rnd = random.Random(seed)
    trace = "".join(f" at com.example.Helper{k}.check(Helper{k}.java:{40 + k})" for k in range(20))
    paths, failures = [], 0
    for start in range(0, n, per_file):
        by_class: dict[int, list[str]] = {}
        for i in range(start, min(n, start + per_file)):
            f = rnd.randrange(300)
            secs = f"{rnd.randint(1, 3_000_000) / 1e6:.6f}"
            classname = f"com.example.module{f // 10}.Foo{f}Test"
            case = f'<testcase name="shouldHandleCase{i}" classname="{classname}" time="{secs}"'
            if rnd.random() < 0.1:
                failures += 1
                msg = f"expected {i} but was {i + 1}"
                body = f"AssertionError: {msg}{trace}"[:500]
                case += f'>\n<failure message="{msg}" type="AssertionError">{body}</failure>\n'
                case += "</testcase>"
            else:
                case += "/>"
            by_class.setdefault(f, []).append(case)
        paths.append(tmp / f"junit-{len(paths) + 1:03}.xml")
        with paths[-1].open("w", encoding="utf-8") as out:
            out.write('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="bench">\n')
            for f, cases in sorted(by_class.items()):
                name = f"com.example.module{f // 10}.Foo{f}Test"
                out.write(f'<testsuite name="{name}" tests="{len(cases)}">\n')
                out.write("\n".join(cases) + "\n</testsuite>\n")
            out.write("</testsuites>\n")
    return paths, failures


def start_tls_server(
    stack: ExitStack,
    tmp: Path,
    ctx: ssl.SSLContext,
    url: str | None = None,
    env_extra: dict[str, str] | None = None,
) -> tuple[int, str, str]:
    """`runhub serve` over HTTPS on `url` (default: a fresh SQLite file in `tmp`), with a
    new CA in tmp/ca.pem (trusted by `ctx`) and tmp/cert.pem, tmp/key.pem for 127.0.0.1;
    returns (port, token, database URL)."""
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp / "ca.pem"))
    cert = ca.issue_cert("127.0.0.1")
    cert.private_key_pem.write_to_path(str(tmp / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(tmp / "cert.pem"))
    ctx.load_verify_locations(cafile=str(tmp / "ca.pem"))
    url = url or f"sqlite:///{tmp}/bench.db"
    tls_args = ["--tls-cert", str(tmp / "cert.pem"), "--tls-key", str(tmp / "key.pem")]
    port, token, _ = start_server(stack, url, str(tmp), "client", tls_args, ctx, env_extra)
    return port, token, url


def timed(label: str, cmd: list[str], env: dict, tmp: Path, expect_ok: bool = True) -> dict:
    """Run one client process under /usr/bin/time: wall seconds and peak RSS (MiB)."""
    rss_file = tmp / f"rss-{label}.txt"
    t0 = time.perf_counter()
    proc = subprocess.run(
        [TIME, "-f", "%M", "-o", str(rss_file), *cmd], env=env, capture_output=True, text=True
    )
    seconds = time.perf_counter() - t0
    if (proc.returncode == 0) != expect_ok:
        sys.exit(f"{label}: exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    rss_kib = int(rss_file.read_text().strip().splitlines()[-1])
    return {"seconds": seconds, "rss_mib": rss_kib / 1024, "out": proc.stdout + proc.stderr}


def stored_total(port: int, token: str, project_id: str, ctx: ssl.SSLContext) -> int:
    """total_count of the project's one run."""

    def get(path: str) -> dict:
        url = f"https://127.0.0.1:{port}/api/v1{path}"
        req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(req, context=ctx) as resp:
            return json.load(resp)

    (run,) = get(f"/projects/{project_id}/automation/runs")["result"]
    return get(f"/automation/runs/{run['id']}")["result"]["total_count"]


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("bench: terminated"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=200_000)
    # The official CLI 1.4.5 fails on one file of 200,000 tests ("Maximum call stack size
    # exceeded": `this.tests.push(...fileResult.tests)` in dist/core/automation.js).
    parser.add_argument("--per-file", type=int, default=50_000, help="tests per JUnit file")
    args = parser.parse_args()
    n = args.tests
    for tool in (TESTMO, TIME):
        if not os.access(tool, os.X_OK):
            sys.exit(f"missing {tool}")
    with ExitStack() as stack:
        tmp = Path(tempfile.mkdtemp(prefix="runhub-bench-client-"))
        stack.callback(shutil.rmtree, tmp, ignore_errors=True)
        reports, failures = write_reports(tmp, n, args.per_file)
        size = sum(p.stat().st_size for p in reports) / 2**20
        print(f"{len(reports)} reports: {n} tests, {failures} failures, {size:.1f} MiB", flush=True)
        ctx = ssl.create_default_context()
        port, token, url = start_tls_server(stack, tmp, ctx)
        # One project per client, so both insert N new cases (cases are per project).
        projects = {
            name: subprocess.run(
                [RUNHUB, "admin", "create-project", name, "--database", url],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            for name in ("official", "runhub")
        }
        base = {**os.environ, "TESTMO_TOKEN": token, "CI": "true"}
        official_env = {**base, "NODE_EXTRA_CA_CERTS": str(tmp / "ca.pem")}
        runhub_env = {**base, "SSL_CERT_FILE": str(tmp / "ca.pem")}

        def submit(exe: str, name: str, instance: str) -> list[str]:
            return [exe, "automation:run:submit", "--instance", instance, "--project-id"] + [
                projects.get(name, projects["official"]), "--name", name, "--source", "bench",
                "--results", *map(str, reports),
            ]  # fmt: skip

        live, closed = f"https://127.0.0.1:{port}", f"https://127.0.0.1:{free_port()}"
        rows: dict[str, dict] = {}
        print("official CLI, end to end ...", flush=True)
        rows["official end to end"] = timed(
            "oe", submit(TESTMO, "official", live), official_env, tmp
        )
        print("runhub client, end to end ...", flush=True)
        rows["runhub end to end"] = timed("re", submit(RUNHUB, "runhub", live), runhub_env, tmp)
        print("parse only ...", flush=True)
        rows["official parse (closed port)"] = timed(
            "op", submit(TESTMO, "x", closed), official_env, tmp, expect_ok=False
        )
        if f"{n} tests" not in rows["official parse (closed port)"]["out"]:
            sys.exit(
                "official parse: did not report N tests\n"
                + rows["official parse (closed port)"]["out"][-2000:]
            )
        rows["runhub parse (--dry-run)"] = timed(
            "rp", [*submit(RUNHUB, "x", closed), "--dry-run"], runhub_env, tmp
        )
        t0 = time.perf_counter()
        parsed = sum(len(list(junit.iter_tests(p))) for p in reports)
        rows["runhub iter_tests (in-process)"] = {
            "seconds": time.perf_counter() - t0,
            "rss_mib": None,
        }
        totals = {name: stored_total(port, token, p, ctx) for name, p in projects.items()}
    if parsed != n or totals != {"official": n, "runhub": n}:
        sys.exit(f"stored/parsed counts wrong: iter_tests {parsed}, runs {totals}")

    print(
        f"\nClient: {n} tests ({failures} failures) in {len(reports)} JUnit files, {size:.1f} MiB"
    )
    head = f"{'':<32}{'seconds':>9}{'tests/s':>11}{'peak RSS MiB':>14}"
    print(head + "\n" + "-" * len(head))
    for label, r in rows.items():
        rss = f"{r['rss_mib']:.0f}" if r["rss_mib"] is not None else "-"
        print(f"{label:<32}{r['seconds']:>9.2f}{n / r['seconds']:>11,.0f}{rss:>14}")
    e2e = rows["official end to end"]["seconds"] / rows["runhub end to end"]["seconds"]
    parse = (
        rows["official parse (closed port)"]["seconds"]
        / rows["runhub parse (--dry-run)"]["seconds"]
    )
    print(f"\nstored: official {totals['official']}, runhub {totals['runhub']} (both = N)")
    print(
        f"end to end, official/runhub: {e2e:.2f}x  (target >= 1.00: {'ok' if e2e >= 1 else 'MISS'})"
    )
    verdict = "ok" if parse >= 2 else "MISS"
    print(f"parse, official/runhub:      {parse:.2f}x  (target >= 2.00: {verdict})")


if __name__ == "__main__":
    main()
