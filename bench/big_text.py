"""Huge text in one element: seconds and peak RSS of the JUnit parser on one testcase whose
`<system-out>` holds 64 MiB or 256 MiB of text, and on one whose `<failure message="…">`
attribute holds 64 MiB (issue 9, item 8: the parser was quadratic on big text).

Each figure is one fresh process (`python -c`, timed inside, peak RSS from VmHWM), repeated;
a process still running after --timeout seconds is killed and shown as `>T`, and not
repeated. Beside the parser, in the same run, two floors on the same file: reading it in
64 KiB chunks, and expat alone (no handlers, fed the same 64 KiB chunks). The parsed
result is checked against what the CLI's truncation must give for the generated text.
The reports are written to a temp dir, removed afterwards.
Usage: .venv/bin/python bench/big_text.py [--repeat 3] [--timeout 120] [--cases out-64,...]
[--rows read,expat,iter_tests,scan,dry-run]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path

MIB = 1 << 20
RUNHUB = str(Path(sys.executable).with_name("runhub"))
KEEP, JOIN = 8_182, "...\n\n[...]\n\n..."  # the CLI's text truncation (§8.7)
MARKER = "[[ATTACHMENT|https://ci.example/artifacts/big.log]]"

# Run in a fresh interpreter: argv = [what, path]; prints one JSON line.
CHILD = r"""
import hashlib, json, sys, time
what, path = sys.argv[1], sys.argv[2]
if what in ("iter_tests", "scan"):
    from pathlib import Path
    from runhub.client import junit
else:
    from xml.parsers import expat
t0 = time.perf_counter()
digest = None
if what == "read":
    with open(path, "rb") as f:
        while f.read(1 << 16):
            pass
elif what == "expat":
    parser = expat.ParserCreate(None, "}")
    with open(path, "rb") as f:
        while chunk := f.read(1 << 16):
            parser.Parse(chunk, False)
    parser.Parse(b"", True)
elif what == "iter_tests":
    tests = list(junit.iter_tests(Path(path)))
    digest = hashlib.sha256(json.dumps(tests, sort_keys=True).encode()).hexdigest()
else:
    junit.scan(Path(path))
seconds = time.perf_counter() - t0
with open("/proc/self/status") as f:
    hwm = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
print(json.dumps({"seconds": seconds, "rss_kib": hwm, "digest": digest}))
"""


def _lines(size: int, attribute: bool) -> Iterator[tuple[str, str]]:
    """Lines of generated text, `size` bytes in all: (as written, with references; as
    read). Log lines for an element, assertion messages for an attribute."""
    written = i = 0
    while written < size:
        if attribute:
            raw = f"{i:08d} expected &quot;item {i % 1000}&quot; to equal &quot;x&quot;\n"
            text = raw.replace("&quot;", '"')
        else:
            raw = f"{i:08d} worker-{i % 7}: GET &lt;/api/items/{i % 1000}&gt; took {i % 997} ms\n"
            text = raw.replace("&lt;", "<").replace("&gt;", ">")
        yield raw, text
        written += len(raw)
        i += 1


def _write(path: Path, size: int, attribute: bool) -> str:
    """One testcase with `size` bytes of text in its `<system-out>` (with one attachment
    marker line after 1,000 lines) or in its failure's `message` attribute. Returns the
    digest of the test the CLI would send for it."""
    head: list[str] = []
    head_size = 0
    tail: deque[str] = deque(maxlen=2 * KEEP // 40)
    with path.open("w", encoding="utf-8") as out:
        out.write('<testsuites><testsuite name="big"><testcase classname="big" name="t">')
        out.write('<failure type="AssertionError" message="' if attribute else "<system-out>\n")
        block: list[str] = []
        for i, (raw, text) in enumerate(_lines(size, attribute)):
            if i == 1000 and not attribute:
                block.append(MARKER + "\n")
            block.append(raw)
            if head_size < 2 * KEEP:
                head.append(text)
                head_size += len(text)
            tail.append(text)
            if len(block) >= 4096:
                out.write("".join(block))
                block.clear()
        out.write("".join(block))
        out.write('"/>' if attribute else "</system-out>")
        out.write("</testcase></testsuite></testsuites>\n")
    value = "".join(head)[:KEEP] + JOIN + "".join(tail).rstrip("\n")[-KEEP:]
    test: dict = {"key": _sha256("big.t"), "name": "t", "folder": "big"}
    if attribute:
        test["status"], test["artifacts"] = "failure", []
        test["fields"] = [
            {"type": 4, "name": "Failure", "meta": {"type": "AssertionError"}, "value": value,
             "is_highlight": True}
        ]  # fmt: skip
    else:
        test["status"] = "passed"
        test["artifacts"] = [{"name": "big.log", "url": MARKER[13:-2], "mime_type": "text/plain"}]
        test["fields"] = [{"type": 4, "name": "Output", "value": value, "is_highlight": False}]
    return _sha256(json.dumps([test], sort_keys=True))


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


CASES = {
    "out-64": ("64 MiB in one <system-out>", 64 * MIB, False),
    "out-256": ("256 MiB in one <system-out>", 256 * MIB, False),
    "attr-64": ("64 MiB in one attribute", 64 * MIB, True),
    "attr-256": ("256 MiB in one attribute", 256 * MIB, True),  # not run by default
}
DEFAULT_CASES = "out-64,out-256,attr-64"
ROWS = {
    "read": "read (floor)",
    "expat": "expat alone (floor)",
    "iter_tests": "iter_tests",
    "scan": "scan",
    "dry-run": "runhub --dry-run",
}


def _run_once(what: str, path: Path, timeout: float) -> dict:
    """One fresh process: {seconds, rss_kib, digest}, or seconds=None after the timeout."""
    if what == "dry-run":
        cmd = [
            RUNHUB, "automation:run:submit", "--instance", "http://127.0.0.1:9",
            "--project-id", "1", "--name", "big", "--source", "bench",
            "--results", str(path), "--dry-run",
        ]  # fmt: skip
        cmd = ["/usr/bin/time", "-f", "%M %e", "-o", "/dev/stderr", *cmd]
    else:
        cmd = [sys.executable, "-c", CHILD, what, str(path)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout
    hwm = 0
    while proc.poll() is None:
        if time.monotonic() > deadline:
            pid = proc.pid if what != "dry-run" else _child_of(proc.pid)
            hwm = _vm_hwm(pid)
            proc.send_signal(signal.SIGKILL)
            if what == "dry-run" and pid != proc.pid:
                os.kill(pid, signal.SIGKILL)
            proc.communicate()
            return {"seconds": None, "rss_kib": hwm, "digest": None}
        time.sleep(0.05)
    out, err = proc.communicate()
    if proc.returncode != 0:
        sys.exit(f"{what} {path.name}: exit {proc.returncode}\n{out[-2000:]}\n{err[-2000:]}")
    if what == "dry-run":
        rss, seconds = err.strip().splitlines()[-1].split()
        return {"seconds": float(seconds), "rss_kib": int(rss), "digest": None}
    return dict(json.loads(out.strip().splitlines()[-1]))


def _child_of(pid: int) -> int:
    """The process /usr/bin/time started (for its VmHWM), else pid itself."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return pid
    return int(children[0]) if children else pid


def _vm_hwm(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _measure(what: str, path: Path, repeat: int, timeout: float, expected: str) -> str:
    seconds: list[float] = []
    rss: list[int] = []
    for _ in range(repeat):
        run = _run_once(what, path, timeout)
        rss.append(run["rss_kib"])
        if run["seconds"] is None:
            return f"{'>' + format(timeout, 'g'):>8}  {'':17}{max(rss) / 1024:9.0f}+"
        seconds.append(run["seconds"])
        if run["digest"] is not None and run["digest"] != expected:
            sys.exit(f"{what} {path.name}: the parsed test is not what the CLI would send")
    median = statistics.median(seconds)
    spread = f"{min(seconds):.2f}–{max(seconds):.2f}"
    return f"{median:8.2f}  {spread:17}{max(rss) / 1024:9.0f}"


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("bench: terminated"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per process")
    parser.add_argument("--cases", default=DEFAULT_CASES, help=",".join(CASES))
    parser.add_argument("--rows", default=",".join(ROWS), help=",".join(ROWS))
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="runhub-bench-big-text-"))
    try:
        for case in args.cases.split(","):
            label, size, attribute = CASES[case]
            path = tmp / f"{case}.xml"
            expected = _write(path, size, attribute)
            file_mib = path.stat().st_size / MIB
            print(f"\n{label}: {file_mib:.0f} MiB file, {args.repeat} runs each", flush=True)
            print(f"{'':22}{'median s':>8}  {'range s':17}{'peak RSS MiB':>12}")
            for what in args.rows.split(","):
                row = _measure(what, path, args.repeat, args.timeout, expected)
                print(f"{ROWS[what]:22}{row}", flush=True)
            path.unlink()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
