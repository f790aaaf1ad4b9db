"""Reading reports and uploading their tests, for `runhub automation:run:*`: every file
is checked and counted first (several large ones in parallel processes), then streamed to
the server batch by batch from a worker thread while parsing goes on."""

from __future__ import annotations

import argparse
import functools
import multiprocessing
import os
import queue
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

BATCH_SIZE = 250  # tests per append, as the official CLI
UPLOAD_QUEUE = 4  # parsed batches that may wait for the uploader
PARALLEL_MIN_BYTES = 4 << 20  # below this, checking files in worker processes costs more
T = TypeVar("T")


class CommandError(Exception):
    """Ends a command with exit code 1; the message is printed as the official CLI does."""


def say(message: str) -> None:
    print(message, flush=True)


@dataclass
class Collected:
    """The readable reports, checked and counted by a first pass that keeps no test."""

    paths: list[Path]
    tests: int
    elapsed_us: int


def _readable(args: argparse.Namespace, work: Callable[[Path], T]) -> list[tuple[Path, T]]:
    """`work` done on each result file among --results, with its answer; a file it refuses
    (ReportError) stops the command (exit 1, as the official CLI) or, with
    --ignore-parse-error, is skipped. Several large files are read in parallel processes."""
    from runhub.client import junit

    _check_named_files(args.results)
    paths = [path for path in junit.expand_results(args.results) if junit.is_result_file(path)]
    readable: list[tuple[Path, T]] = []
    for path, outcome in zip(paths, _per_file(work, paths), strict=True):
        if isinstance(outcome, Exception):  # a ReportError
            if not args.ignore_parse_error:
                raise CommandError(f"Failed to parse file: {path}\n{outcome}")
            print(f"Failed to parse file: {path}", file=sys.stderr)
            continue
        readable.append((path, outcome))
    if not readable:
        # The official CLI warns and goes on to submit an empty run, which passes the build;
        # runhub stops (docs/decisions.md "Client").
        for line in (
            "Warning: Could not find any valid result files or tests",
            "Please review the --results option and specify one or more result files",
            "Ensure the files have an expected file extension (.xml) and format",
        ):
            print(line, file=sys.stderr)
        raise CommandError("No result files were found, so no run or thread was created")
    return readable


def _check_named_files(patterns: list[str]) -> None:
    """A file named without a wildcard must exist (a typo in CI must not go green); the
    official CLI fails the same way on it (Node's ENOENT), before any request."""
    import glob

    for pattern in patterns:
        if not glob.has_magic(pattern) and not Path(pattern).is_file():
            raise CommandError(f"Result file does not exist: {pattern}")


def _per_file(work: Callable[[Path], T], paths: list[Path]) -> list[T | Exception]:
    """`work(path)` for each path, in order; a ReportError is returned, not raised. With
    two or more files and PARALLEL_MIN_BYTES in all, one process per core reads them (forked
    on Linux, so nothing is re-imported)."""
    attempt = functools.partial(_attempt, work)
    workers = min(len(paths), os.cpu_count() or 1)
    if (
        workers < 2
        or "fork" not in multiprocessing.get_all_start_methods()
        or sum(path.stat().st_size for path in paths) < PARALLEL_MIN_BYTES
    ):
        return [attempt(path) for path in paths]
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        return list(pool.map(attempt, paths))


def _attempt(work: Callable[[Path], T], path: Path) -> T | Exception:
    from runhub.client import junit

    try:
        return work(path)
    except junit.ReportError as exc:
        return exc


def _found(files: int, tests: int) -> None:
    say(f"Found {files} result files with a total of {tests} tests")


def collect(args: argparse.Namespace) -> Collected:
    """Check every report before anything is sent, so a broken file creates no run."""
    from runhub.client import junit

    say("Collecting log files ..")
    scanned = _readable(args, junit.scan)
    tests = sum(report.tests for _, report in scanned)
    elapsed_us = sum(
        report.tests_elapsed_us if report.elapsed_us is None else report.elapsed_us
        for _, report in scanned
    )
    _found(len(scanned), tests)
    return Collected([path for path, _ in scanned], tests, elapsed_us)


def _stream(paths: list[Path]) -> Iterator[dict[str, Any]]:
    from runhub.client import junit

    for path in paths:
        try:
            yield from junit.iter_tests(path)
        except junit.ReportError as exc:  # changed since it was checked
            raise CommandError(f"Failed to parse file: {path}\n{exc}") from None


def _count(path: Path) -> tuple[Counter[str], Counter[str]]:
    """Tests per status and per folder of one report (for --dry-run)."""
    from runhub.client import junit

    statuses: Counter[str] = Counter()
    folders: Counter[str] = Counter()
    for test in junit.iter_tests(path):
        statuses[test["status"]] += 1
        folders[test["folder"]] += 1
    return statuses, folders


def dry_run(args: argparse.Namespace) -> int:
    """One streaming pass: counts per status and per folder, nothing kept, no network."""
    say("Collecting log files ..")
    statuses: Counter[str] = Counter()
    folders: Counter[str] = Counter()
    counted = _readable(args, _count)
    for _, (file_statuses, file_folders) in counted:
        statuses.update(file_statuses)
        folders.update(file_folders)
    tests = statuses.total()
    _found(len(counted), tests)
    say(f"Dry run: {tests} tests from {len(counted)} files, nothing sent")
    for status, n in sorted(statuses.items()):
        say(f"  status {status}: {n}")
    for folder, n in sorted(folders.items()):
        say(f"  folder {folder}: {n}")
    return 0


@contextmanager
def _progress(total: int) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on a terminal; plain silence in CI (CI=true or not a TTY)."""
    if os.environ.get("CI", "").lower() in ("1", "true") or not sys.stdout.isatty() or not total:
        yield lambda done: None
        return
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        task = bar.add_task("Uploading", total=total)
        yield lambda done: bar.update(task, completed=done)


class _Uploader:
    """Appends batches from a worker thread while the caller goes on parsing. At most
    `UPLOAD_QUEUE` batches wait, so memory stays bounded whatever the report size; the
    first failed append stops the upload and is raised by `put` or `finish`."""

    def __init__(self, client: Any, thread_id: int, advance: Callable[[int], None]) -> None:
        self._queue: queue.Queue[list[dict[str, Any]] | None] = queue.Queue(UPLOAD_QUEUE)
        self._error: BaseException | None = None
        self._finished = False
        self._sent = 0
        self._worker = threading.Thread(
            target=self._work, args=(client, thread_id, advance), daemon=True
        )
        self._worker.start()

    def _work(self, client: Any, thread_id: int, advance: Callable[[int], None]) -> None:
        while (batch := self._queue.get()) is not None:
            if self._error is not None:
                continue  # drain, so a blocked `put` returns
            try:
                client.append_thread(thread_id, batch)
            except BaseException as exc:  # handed to the main thread
                self._error = exc
                continue
            self._sent += len(batch)
            advance(self._sent)

    def put(self, batch: list[dict[str, Any]]) -> None:
        if self._error is not None:
            self.finish()
        self._queue.put(batch)

    def finish(self) -> None:
        if not self._finished:
            self._finished = True
            self._queue.put(None)
            self._worker.join()
        if self._error is not None:
            raise self._error


def send(client: Any, thread_id: int, collected: Collected) -> None:
    """Parse the reports again, now building the tests, and upload them batch by batch
    while parsing goes on."""
    say("Sending tests to Testmo ..")
    with _progress(collected.tests) as advance:
        uploader = _Uploader(client, thread_id, advance)
        try:
            batch: list[dict[str, Any]] = []
            for test in _stream(collected.paths):
                batch.append(test)
                if len(batch) == BATCH_SIZE:
                    uploader.put(batch)
                    batch = []
            if batch:
                uploader.put(batch)
        finally:
            uploader.finish()
