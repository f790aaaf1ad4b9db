"""The rules of test intelligence as plain functions (services.outcomes): each rule on a
small designed history. The same rules are held end to end, on both backends, by
tests/api/test_intelligence.py."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runhub.services.outcomes import (
    HealthRules,
    Outcome,
    WindowEntry,
    bucket,
    evaluate,
    extend_passing_window,
    flip_rate,
    is_infrastructure_failure,
    merged_window,
    run_outcomes,
    stored_window,
)
from runhub.services.vcs import commit_and_branch

PASSED, FAILED, SKIPPED = 2, 3, 4
RULES = HealthRules()


def window(pattern: str, *, retry: str = "", first_run: int = 1) -> list[WindowEntry]:
    """'PFP' -> entries for runs 1, 2, 3; `retry` marks runs (by position) as retried."""
    return [
        WindowEntry(first_run + i, c == "P", str(i) in retry, PASSED if c == "P" else FAILED)
        for i, c in enumerate(pattern)
    ]


def test_the_outcome_is_the_last_passed_or_failed_result() -> None:
    results = [
        (1, FAILED, 10), (1, PASSED, 11),  # a retry that passed: passed, with retry
        (2, PASSED, 12), (2, SKIPPED, 13),  # a later skip changes nothing
        (3, SKIPPED, 14),  # neutral only: no outcome, but present
        (4, PASSED, 15), (4, FAILED, 16),  # failed last
    ]  # fmt: skip
    outcomes, present = run_outcomes(7, results, {PASSED}, {FAILED})
    assert outcomes == {
        1: Outcome(7, True, True, PASSED, 11),
        2: Outcome(7, True, False, PASSED, 12),
        4: Outcome(7, False, True, FAILED, 16),
    }
    assert present == {1, 2, 3, 4}


def test_buckets() -> None:
    p, f = Outcome(1, True, False, PASSED, 1), Outcome(1, False, False, FAILED, 1)
    assert bucket(f, True, p, True) == "new_failure"
    assert bucket(f, True, f, True) == "still_failing"
    assert bucket(p, True, f, True) == "fixed"
    assert bucket(p, True, p, True) is None  # unchanged
    assert bucket(p, True, None, False) == "new_test"
    assert bucket(None, False, f, True) == "missing"
    # Only neutral results on one side: never listed.
    assert bucket(None, True, p, True) is None
    assert bucket(f, True, None, True) is None


def test_flip_rate() -> None:
    assert flip_rate([True, False] * 5) == 1.0
    assert flip_rate([True] * 6) == 0.0
    assert flip_rate([True, True, False, False]) == 1 / 3
    assert flip_rate([False]) == 0.0 and flip_rate([]) == 0.0


def test_flips_are_evidence_over_at_least_five_outcomes() -> None:
    health = evaluate(window("PFPFPF"), {}, RULES)
    assert health.state == "flaky" and health.flip_rate == 1.0
    assert health.evidence == [{"kind": "flips", "run_ids": [2, 3, 4, 5, 6]}]
    assert evaluate(window("PFPF"), {}, RULES).state == "healthy"  # only 4 outcomes
    assert evaluate(window("PPPPPPPPPF"), {}, RULES).state == "healthy"  # 1/9 < 0.3
    rate = evaluate(window("PPPFPPF"), {}, RULES)  # 3 flips / 6 = 0.5
    assert rate.state == "flaky" and rate.flip_rate == 0.5


def test_a_retry_is_evidence() -> None:
    health = evaluate(window("PPP", retry="1"), {}, RULES)
    assert health.state == "flaky"
    assert health.evidence == [{"kind": "retry", "run_ids": [2]}]


def test_different_outcomes_on_one_commit_are_evidence() -> None:
    commits = {1: "abc", 2: "abc", 3: "def"}
    health = evaluate(window("PFF"), commits, RULES)
    assert health.state == "flaky"
    assert health.evidence == [{"kind": "same_commit", "run_ids": [1, 2]}]
    # Same outcome on one commit, or no commit: no evidence.
    assert evaluate(window("PPF"), commits, RULES).evidence == []
    assert evaluate(window("PF"), {1: "", 2: ""}, RULES).evidence == []


def test_broken_is_five_failures_in_a_row_and_wins_over_evidence() -> None:
    assert evaluate(window("PPFFFFF"), {}, RULES).state == "broken"
    assert evaluate(window("PFPFFFFF"), {}, RULES).state == "broken"  # flips too
    assert evaluate(window("FFFF"), {}, RULES).state == "healthy"  # only four
    assert evaluate(window("FFFFFP"), {}, RULES).state == "healthy"


def test_new_and_healthy() -> None:
    new = evaluate(window("F"), {}, RULES)
    assert new.state == "new" and new.results_considered == 1 and new.failure_rate == 1.0
    healthy = evaluate(window("PPPPPP"), {}, RULES)
    assert healthy.state == "healthy" and healthy.failure_rate == 0.0
    assert healthy.last_status_id == PASSED


def test_the_window_keeps_the_latest_runs_in_run_order() -> None:
    entries = window("P" * 30)
    merged = merged_window(entries, WindowEntry(40, False, False, FAILED), 30)
    assert len(merged) == 30 and merged[0].run_id == 2 and merged[-1].run_id == 40
    # A run folded in late takes its place by id; a run folded twice is replaced.
    late = merged_window(merged, WindowEntry(35, False, False, FAILED), 30)
    assert [e.run_id for e in late[-3:]] == [30, 35, 40] and late[0].run_id == 3
    again = merged_window(late, WindowEntry(35, True, False, PASSED), 30)
    assert len(again) == 30 and next(e for e in again if e.run_id == 35).passed


def test_the_infrastructure_guard() -> None:
    def outcomes(failed: int, passed: int) -> list[Outcome]:
        return [Outcome(1, False, False, FAILED, 0)] * failed + [
            Outcome(1, True, False, PASSED, 0)
        ] * passed

    assert is_infrastructure_failure(outcomes(17, 3), RULES)  # 85 % of 20
    assert not is_infrastructure_failure(outcomes(16, 4), RULES)  # exactly 80 %
    assert not is_infrastructure_failure(outcomes(19, 0), RULES)  # fewer than 20


@given(st.lists(st.booleans(), min_size=2, max_size=60))
def test_flip_rate_counts_changes(passed: list[bool]) -> None:
    rate = flip_rate(passed)
    assert 0.0 <= rate <= 1.0
    changes = sum(a != b for a, b in zip(passed, passed[1:], strict=False))
    assert rate * (len(passed) - 1) == pytest.approx(changes)  # 15 / 22 * 22 is not 15.0


def test_the_stored_window_is_its_json() -> None:
    entries = window("PF", retry="1") + [WindowEntry(12345678901, True, False, 17)]
    stored = json.dumps([e.stored() for e in entries], separators=(",", ":"))
    assert stored_window(entries) == stored and stored_window([]) == "[]"
    assert [WindowEntry.load(item) for item in json.loads(stored)] == entries


@st.composite
def _windows(draw: st.DrawFn) -> tuple[list[WindowEntry], WindowEntry, dict, HealthRules]:
    """A stored window (mostly all passes, as most cases are), a run folded into it (mostly
    a newer run, sometimes one already in it or older), commits and rules."""
    size = draw(st.integers(0, 40))
    steps = draw(st.lists(st.integers(1, 3), max_size=size))
    runs = [sum(steps[: i + 1]) for i in range(len(steps))]
    mostly_passes = draw(st.booleans())
    entries = []
    for run_id in runs:
        passed = True if mostly_passes else draw(st.booleans())
        retry = False if mostly_passes else draw(st.booleans())
        entries.append(WindowEntry(run_id, passed, retry, draw(st.sampled_from([1, 2, 6, 17]))))
    last = runs[-1] if runs else 0
    run_id = draw(st.one_of(st.integers(last + 1, last + 5), st.integers(1, last + 1)))
    passed = draw(st.booleans()) if draw(st.booleans()) else True
    entry = WindowEntry(run_id, passed, draw(st.booleans()) and not mostly_passes, 1)
    commits = {r: draw(st.sampled_from(["a", "b", "", None])) for r in [*runs, run_id]}
    rules = HealthRules(
        window=draw(st.one_of(st.just(30), st.integers(0, 35))),
        flip_rate=draw(st.sampled_from([0.3, 0.0, 0.1, 1.0])),
        flip_min_outcomes=draw(st.integers(0, 8)),
        broken_streak=draw(st.sampled_from([5, 0, 1, 3])),
    )
    return entries, entry, commits, rules


@given(_windows())
def test_the_passing_shortcut_equals_the_full_evaluation(case: tuple) -> None:
    entries, entry, commits, rules = case
    quick = extend_passing_window(stored_window(entries), entry, rules)
    merged = merged_window(entries, entry, rules.window)
    if quick is not None:
        assert quick == (stored_window(merged), evaluate(merged, commits, rules))
    usual = entries and all(e.passed and not e.retry for e in entries)
    usual = usual and entry.passed and not entry.retry and entry.run_id > entries[-1].run_id
    usual = usual and len(entries) <= rules.window and rules.window >= 2
    if usual and rules.flip_rate > 0 and rules.broken_streak >= 1:
        assert quick is not None  # the shortcut is taken where it applies


class _Field:
    def __init__(self, type: int, name: str, value: str | None) -> None:
        self.type, self.name, self.value = type, name, value


def test_commit_and_branch_from_fields() -> None:
    fields = [
        _Field(3, "commit", "<b>html does not count</b>"),
        _Field(1, "Git SHA", " 1a2b3c "),
        _Field(1, "git", "second-commit-field"),
        _Field(2, "git_branch", "refs/heads/feature/x"),
        _Field(1, "Branch", "later"),
    ]
    assert commit_and_branch(fields) == ("1a2b3c", "feature/x")
    assert commit_and_branch([_Field(1, "Commit-SHA", ""), _Field(5, "ref", "x")]) == (None, None)
    for name in ("commit", "GIT COMMIT", "git-sha", "sha", "CommitSha", "revision"):
        assert commit_and_branch([_Field(1, name, "c")]) == ("c", None), name
    for name in ("branch", "Git Branch", "ref", "git_ref"):
        assert commit_and_branch([_Field(1, name, "b")]) == (None, "b"), name
