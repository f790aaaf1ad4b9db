"""Quarantine in the client (README "Quarantine"): `--quarantine` on automation:run:submit
and submit-thread, and `runhub automation:quarantine:list`.

The contract: after the results are submitted, the client reads the source's active
`mute` entries. When the build would fail (the command failed, or, without a command, a
result failed) and every failed result's test has one, the client exits 0 and prints each
quarantined failure with its reason and owner. Otherwise the exit code is what it would
be without the flag; without a command, a failure that is not quarantined exits 1 (the
flag then gates the build on the results). When the entries cannot be read, nothing is
hidden: the client fails as it would without the flag (1 without a command) and says why.
The stored results always keep their real status.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

FAILED_CATEGORY = 3  # the status_id filter of GET /automation/runs/{id}/tests


def add_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--quarantine",
        action="store_true",
        help="exit 0 when every failed result's test is quarantined (mute) on the server; "
        "without a command, exit 1 on any other failure (runhub only; off by default)",
    )


def _label(test: dict[str, Any]) -> str:
    return f"{test['folder']} > {test['name']}" if test.get("folder") else str(test["name"])


def gate(
    client: Any, run_id: int, thread_id: int | None, exit_code: int | None, say: Callable
) -> int:
    """The exit code with --quarantine; `exit_code` is the command's (None without one)."""
    from runhub.client.api import ApiError

    without_flag = exit_code if exit_code is not None else 0
    try:
        params: dict[str, Any] = {"status_id": FAILED_CATEGORY, "per_page": 1000}
        if thread_id is not None:
            params["thread_id"] = thread_id
        failed = list(client.iter_run_tests(run_id, **params))
        if exit_code is not None and exit_code != 0 and not failed:
            say("Quarantine: the command failed but no result failed; nothing to excuse")
            return exit_code
        if not failed:
            return without_flag
        run = client.get_run(run_id)["result"]
        entries = {
            entry["case_id"]: entry
            for entry in client.iter_quarantine(
                run["project_id"], source_id=run["source_id"], mode="mute", per_page=100
            )
        }
    except ApiError as exc:
        print(f"Quarantine: could not read the quarantine list ({exc}); nothing is excused",
              file=sys.stderr)  # fmt: skip
        return exit_code if exit_code is not None else 1
    failing = [test for test in failed if test["automation_case_id"] not in entries]
    if failing:
        say(f"Quarantine: {len(failing)} of {len(failed)} failed results are not quarantined:")
        for test in failing[:20]:
            say(f"  {_label(test)}")
        if len(failing) > 20:
            say(f"  ... and {len(failing) - 20} more")
        return exit_code if exit_code is not None else 1
    for test in failed:
        entry = entries[test["automation_case_id"]]
        owner = f" (owner: {entry['owner']})" if entry.get("owner") else ""
        say(f"Quarantined failure: {_label(test)}: {entry['reason']}{owner}")
    say(f"Quarantine: all {len(failed)} failed results are quarantined; exiting 0")
    return 0


def register(command: Callable[..., argparse.ArgumentParser]) -> None:
    p = command(
        "automation:quarantine:list",
        list_entries,
        "print the active quarantine entries of a source (runhub only)",
    )
    p.add_argument("--instance", required=True, metavar="URL", help="the server's address")
    p.add_argument("--project-id", required=True, metavar="ID", help="the project")
    p.add_argument("--source", required=True, help="the source's name")
    p.add_argument(
        "--mode", choices=("mute", "skip"), help="only entries of this mode (default: both)"
    )
    p.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text: one tab-separated line per entry (mode, folder, name, owner, expires, "
        "reason); json: the entries as a JSON array (default text)",
    )
    from runhub.cli.automation_run import connection_options

    connection_options(p)


def list_entries(args: argparse.Namespace) -> int:
    from runhub.cli.automation_run import CommandError, _client, _guard, _positive

    def run() -> int:
        project_id = _positive(args.project_id, "Project ID")
        client = _client(args)
        source = next(
            (s for s in client.iter_sources(project_id, per_page=100) if s["name"] == args.source),
            None,
        )
        if source is None:
            raise CommandError(f"No source named {args.source!r} in project {project_id}")
        params: dict[str, Any] = {"source_id": source["id"], "per_page": 100}
        if args.mode:
            params["mode"] = args.mode
        entries = list(client.iter_quarantine(project_id, **params))
        if args.format == "json":
            print(json.dumps(entries, indent=2))
            return 0
        for e in entries:
            values = (e["mode"], e["folder"], e["name"], e["owner"] or "", e["expires_at"] or "")
            reason = " ".join(e["reason"].split())  # one line per entry
            print("\t".join((*values, reason)))
        return 0

    return _guard(run)
