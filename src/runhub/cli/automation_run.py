"""`runhub automation:run:*`: submit, create, submit-thread and complete, with the official
testmo CLI's options, output lines and exit codes (reference §8.1-§8.3, §8.6).

Differences (better, documented in the README): http:// and localhost work, requests are
retried (429/502/503/504, connection errors; `--max-retries`), appends carry an
Idempotency-Key, reports of any number of entity references are read and streamed in
bounded memory (`automation_reports`), `--dry-run`
shows what would be sent without a network, and in a known CI submit and create add the
commit, branch and build URL to the run (`runhub.client.ci_metadata`; `--no-ci-metadata`).
"""

from __future__ import annotations

import argparse
import os
import re
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO
from urllib.parse import urlsplit

from runhub.cli import automation_quarantine
from runhub.cli.automation_reports import Collected, CommandError, collect, dry_run, say, send
from runhub.client import resources as res

_SOURCE = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]+$")
_TAG = re.compile(r"^[\w-]+$")


def register(command: Callable[..., argparse.ArgumentParser]) -> None:
    p = command("automation:run:submit", submit, "create a run, submit results, complete it")
    _run_options(p, create=True)
    _results_options(p)
    p.add_argument("--resources", metavar="FILE", help="fields, links and artifacts for the run")
    _ci_metadata_option(p)

    p = command("automation:run:create", create, "create a new run for parallel threads")
    _run_options(p, create=True)
    p.add_argument("--resources", metavar="FILE", help="fields, links and artifacts for the run")
    _ci_metadata_option(p)

    p = command("automation:run:submit-thread", submit_thread, "submit results as a new thread")
    _run_options(p, create=False)
    _results_options(p)
    p.add_argument("--run-resources", metavar="FILE", help="fields, links, artifacts for the run")
    p.add_argument("--thread-resources", metavar="FILE", help="fields, artifacts for the thread")

    p = command("automation:run:complete", complete, "mark a run as completed")
    _run_options(p, create=False)
    p.add_argument(
        "--no-measure-elapsed",
        dest="measure_elapsed",
        action="store_false",
        help="take the run's time from its longest thread, not from the clock",
    )
    p.add_argument("--resources", metavar="FILE", help="fields, links and artifacts for the run")


def _run_options(p: argparse.ArgumentParser, *, create: bool) -> None:
    p.add_argument(
        "--instance",
        required=True,
        metavar="URL",
        help="the server's address (https://… or http://…)",
    )
    if create:
        p.add_argument(
            "--project-id", required=True, metavar="ID", help="the project the run is added to"
        )
        p.add_argument("--name", required=True, help="the name of the new run")
        p.add_argument(
            "--source",
            required=True,
            help="the source of this run and later runs of the same suite (one word, dashes "
            "allowed)",
        )
        p.add_argument(
            "--tags", nargs="+", metavar="TAG", help="tags of the run (they also link milestones)"
        )
        p.add_argument("--config", help="the configuration of the run, by name")
        p.add_argument("--config-id", metavar="ID", help="or the configuration by id")
        p.add_argument("--milestone", help="the milestone of the run, by name")
        p.add_argument("--milestone-id", metavar="ID", help="or the milestone by id")
    else:
        p.add_argument(
            "--run-id",
            required=True,
            metavar="ID",
            help="the run (as printed by automation:run:create)",
        )
    connection_options(p)


def connection_options(p: argparse.ArgumentParser) -> None:
    """--proxy and --max-retries, for every command that talks to the server."""
    p.add_argument("--proxy", metavar="URL", help="an HTTP(S) proxy for all requests")
    p.add_argument(
        "--max-retries",
        type=int,
        default=5,
        metavar="N",
        help="tries per request on 429/502/503/504 and connection errors (default 5)",
    )


def _ci_metadata_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--no-ci-metadata",
        action="store_true",
        help="do not add the CI's commit, branch and build URL to the run (default: in a "
        "known CI they are added as Commit and Branch fields and a Build link, unless "
        "--resources has them)",
    )


def _results_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--results",
        required=True,
        nargs="+",
        metavar="FILE",
        help="JUnit XML files; one quoted pattern is expanded as a glob",
    )
    p.add_argument(
        "--ignore-parse-error", action="store_true", help="skip files that cannot be parsed"
    )
    p.add_argument("--exec-suppress", action="store_true", help="hide the command's stdout")
    p.add_argument(
        "--exec-stop-error",
        action="store_true",
        help="stop without submitting when the command fails",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print what would be sent (counts per status and folder), no network",
    )
    automation_quarantine.add_option(p)
    p.add_argument("executable", nargs=argparse.REMAINDER, help="-- command to run and capture")


# --- shared steps -----------------------------------------------------------------------


def _positive(value: str | None, what: str) -> int | None:
    if value is None:
        return None
    if not value.strip().isdigit() or int(value) < 1:
        raise CommandError(f"{what} needs to be a positive number")
    return int(value)


def _origin(instance: str) -> str:
    parts = urlsplit(instance.strip())
    if not instance.strip():
        raise CommandError("The Testmo instance address cannot be empty")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CommandError("The Testmo instance address must be a valid URL")
    return f"{parts.scheme}://{parts.netloc}"


def _token() -> str:
    token = (os.environ.get("TESTMO_TOKEN") or os.environ.get("RUNHUB_TOKEN") or "").strip()
    if not token:
        raise CommandError("Missing Testmo API token (TESTMO_TOKEN environment variable)")
    return token


def _client(args: argparse.Namespace) -> Any:
    from runhub.client.api import Client

    if args.proxy:
        os.environ.setdefault("HTTPS_PROXY", args.proxy)
        os.environ.setdefault("HTTP_PROXY", args.proxy)
    return Client(
        _origin(args.instance), _token(), max_retries=max(1, args.max_retries), verify=_trust()
    )


CA_VARIABLES = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS")


def _trust() -> ssl.SSLContext:
    """The system's CAs plus any named by SSL_CERT_FILE, REQUESTS_CA_BUNDLE or (as for the
    official CLI) NODE_EXTRA_CA_CERTS, so the same CI settings work with both tools."""
    context = ssl.create_default_context()
    for name in CA_VARIABLES:
        path = os.environ.get(name)
        if path and os.path.isfile(path):
            context.load_verify_locations(cafile=path)
    return context


def _check_run_options(args: argparse.Namespace) -> None:
    _positive(args.project_id, "Project ID")
    if not args.name.strip():
        raise CommandError("Name cannot be empty")
    if not args.source.strip():
        raise CommandError("Source cannot be empty")
    if not _SOURCE.match(args.source.strip()):
        raise CommandError("Invalid source name: needs to be a single word (with dashes allowed)")
    for tag in args.tags or ():
        if not _TAG.match(tag):
            raise CommandError(
                "Invalid tag name: only letters, numbers, underscore and dash allowed"
            )
    _positive(args.config_id, "Config ID")
    _positive(args.milestone_id, "Milestone ID")


def _resources(path: str | None) -> res.Resources:
    if path is None:
        return res.Resources()
    if not os.path.exists(path):
        raise CommandError(f"Resource file does not exist: {path}")
    return res.Resources.read(path)


_SHA = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")


def _add_ci_metadata(args: argparse.Namespace, resources: res.Resources, out: TextIO) -> None:
    """Add the CI's commit, branch and build URL to the run's resources where the user gave
    none (by the server's naming rule), and say so in one line on `out`."""
    from runhub.client import ci_metadata as ci

    found = None if args.no_ci_metadata else ci.detect(os.environ)
    if found is None:
        return
    added = []
    if found.commit and not any(ci.is_commit_field(f["name"]) for f in resources.fields):
        resources.fields.append({"type": "string", "name": "Commit", "value": found.commit})
        added.append(f"commit {found.commit[:7] if _SHA.match(found.commit) else found.commit}")
    if found.branch and not any(ci.is_branch_field(f["name"]) for f in resources.fields):
        resources.fields.append({"type": "string", "name": "Branch", "value": found.branch})
        added.append(f"branch {found.branch}")
    if found.build_url and not any(ci.is_build_link(link["name"]) for link in resources.links):
        resources.links.append({"name": ci.BUILD_LINK, "url": found.build_url})
        added.append("build link")
    if added:
        print(f"Added CI metadata from {found.ci}: {', '.join(added)}", file=out, flush=True)


@dataclass
class Executed:
    exit_code: int
    elapsed_us: int
    field: dict[str, Any]


def _execute(argv: list[str], suppress: bool) -> Executed:
    """Run the command, passing its output through, and capture it for the Output field."""
    started = time.perf_counter()
    try:
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    except OSError as exc:
        raise CommandError(f"Could not execute {argv[0]}: {exc.strerror}") from None
    captured: list[bytes] = []
    stream = process.stdout
    assert stream is not None
    for chunk in iter(lambda: os.read(stream.fileno(), 65536), b""):
        captured.append(chunk)
        if not suppress:
            sys.stdout.buffer.write(chunk)
            sys.stdout.flush()
    exit_code = process.wait()
    elapsed_us = round((time.perf_counter() - started) * 1_000_000)
    seconds = repr(elapsed_us / 1_000_000).removesuffix(".0")
    output = b"".join(captured).decode("utf-8", "replace").strip()
    value = (
        f"Executing: {' '.join(argv)}\n\n{output}\n\n"
        f"Exited after {seconds} seconds with exit code {exit_code}"
    )
    say(f"Program executed in {seconds} seconds with exit code {exit_code}")
    return Executed(exit_code, elapsed_us, {"type": 4, "name": "Output", "value": value})


def _execute_command(args: argparse.Namespace) -> Executed | None:
    """Run the `-- command args` given, if any."""
    argv = list(args.executable or [])
    if argv and argv[0] == "--":
        argv = argv[1:]
    return _execute(argv, args.exec_suppress) if argv else None


def _run_body(args: argparse.Namespace, resources: res.Resources) -> dict[str, Any]:
    body: dict[str, Any] = {
        "fields": resources.api_fields(),
        "links": resources.api_links(),
        "artifacts": resources.api_artifacts(),
    }
    if args.tags:
        body["tags"] = args.tags
    for key in ("config", "milestone"):
        if getattr(args, key):
            body[key] = getattr(args, key).strip()
    for key in ("config_id", "milestone_id"):
        if getattr(args, key):
            body[key] = int(getattr(args, key))
    return body


def _exit_code(
    args: argparse.Namespace,
    client: Any,
    run_id: int,
    thread_id: int | None,
    executed: Executed | None,
) -> int:
    """The command's exit code (0 without one), or what --quarantine makes of it."""
    command_code = executed.exit_code if executed else None
    if not args.quarantine:
        return command_code or 0
    return automation_quarantine.gate(client, run_id, thread_id, command_code, say)


# --- commands -----------------------------------------------------------------------------


def _guard(action: Callable[[], int]) -> int:
    from runhub.client.api import ApiError

    try:
        return action()
    except (CommandError, res.ResourceError) as exc:
        print(str(exc), file=sys.stderr)
    except ApiError as exc:
        print(str(exc), file=sys.stderr)
        if exc.status == 401:
            print("Please verify your Testmo API token", file=sys.stderr)
        elif exc.status == 422:
            for line in exc.validation_lines():
                print(line, file=sys.stderr)
    return 1


def _create_run(args: argparse.Namespace, resources: res.Resources) -> tuple[Any, int]:
    client = _client(args)
    run_id = client.create_run(
        int(args.project_id), args.name.strip(), args.source.strip(), **_run_body(args, resources)
    )
    return client, run_id


def _append_resources(client: Any, run_id: int, resources: res.Resources) -> None:
    if resources.has_any():
        client.append_run(
            run_id,
            fields=resources.api_fields(),
            links=resources.api_links(),
            artifacts=resources.api_artifacts(),
        )


def _thread_with_tests(
    client: Any,
    run_id: int,
    collected: Collected,
    executed: Executed | None,
    thread_resources: res.Resources,
) -> int:
    """Create the thread (with the command's Output field first) and send its tests."""
    thread_id = client.create_thread(
        run_id,
        elapsed_computed=collected.elapsed_us,
        elapsed_observed=executed.elapsed_us if executed else None,
        fields=([executed.field] if executed else []) + thread_resources.api_fields(),
        artifacts=thread_resources.api_artifacts(),
    )
    say(f"Created new thread (ID: {thread_id})")
    send(client, thread_id, collected)
    return thread_id


def submit(args: argparse.Namespace) -> int:
    def run() -> int:
        _check_run_options(args)
        executed = _execute_command(args)
        if executed and args.exec_stop_error and executed.exit_code != 0:
            return executed.exit_code
        resources = _resources(args.resources)
        if args.resources:
            say(
                f"Found {len(resources.fields)} fields, {len(resources.links)} links and "
                f"{len(resources.artifacts)} artifacts"
            )
        _add_ci_metadata(args, resources, sys.stdout)
        if args.dry_run:
            return dry_run(args)
        collected = collect(args)
        client, run_id = _create_run(args, resources)
        say(f"Created new test automation run (ID: {run_id})")
        _thread_with_tests(client, run_id, collected, executed, res.Resources())
        client.complete_run(run_id, measure_elapsed=False)
        say("Successfully sent tests and completed run")
        say("Marked the run as completed")
        return _exit_code(args, client, run_id, None, executed)

    return _guard(run)


def create(args: argparse.Namespace) -> int:
    def run() -> int:
        _check_run_options(args)
        resources = _resources(args.resources)
        # stdout is the run id alone (RUN_ID=$(runhub automation:run:create ...)).
        _add_ci_metadata(args, resources, sys.stderr)
        _, run_id = _create_run(args, resources)
        say(str(run_id))
        return 0

    return _guard(run)


def submit_thread(args: argparse.Namespace) -> int:
    def run() -> int:
        run_id = _positive(args.run_id, "Run ID")
        assert run_id is not None
        executed = _execute_command(args)
        if executed and args.exec_stop_error and executed.exit_code != 0:
            return executed.exit_code
        run_resources = _resources(args.run_resources)
        thread_resources = _resources(args.thread_resources)
        if args.run_resources:
            say(
                f"Found {len(run_resources.fields)} fields, {len(run_resources.links)} links "
                f"and {len(run_resources.artifacts)} artifacts for the run"
            )
        if args.thread_resources:
            say(
                f"Found {len(thread_resources.fields)} fields and "
                f"{len(thread_resources.artifacts)} artifacts for the thread"
            )
        if args.dry_run:
            return dry_run(args)
        collected = collect(args)
        client = _client(args)
        _append_resources(client, run_id, run_resources)
        thread_id = _thread_with_tests(client, run_id, collected, executed, thread_resources)
        client.complete_thread(thread_id)
        say("Successfully sent tests and completed thread")
        say("Marked the thread as completed")
        return _exit_code(args, client, run_id, thread_id, executed)

    return _guard(run)


def complete(args: argparse.Namespace) -> int:
    def run() -> int:
        run_id = _positive(args.run_id, "Run ID")
        assert run_id is not None
        resources = _resources(args.resources)
        client = _client(args)
        _append_resources(client, run_id, resources)
        client.complete_run(run_id, measure_elapsed=args.measure_elapsed)
        say("Marked the test run as completed")
        return 0

    return _guard(run)
