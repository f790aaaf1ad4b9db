"""Fixtures of the API tests: a run with an open thread that bad input must leave empty."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from ..helpers import Api


@dataclass
class Target:
    """A run with one open thread that must stay empty, and a canary to prove liveness."""

    run_id: int
    thread_id: int
    canary_thread_id: int


@pytest.fixture
def target(api: Api) -> Target:
    run_id = api.create_run(name="Target")
    thread_id = api.create_thread(run_id)
    canary = api.create_thread(api.create_run(name="Canary", project_id=api.other_project_id))
    return Target(run_id, thread_id, canary)
