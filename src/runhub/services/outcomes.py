"""The rules of test intelligence, as plain functions over plain values (no SQL):
a case's outcome in a run, the buckets of a comparison, and a case's health.

Each rule is spelled out in the README ("Test intelligence") and held by golden tests
(tests/services/test_outcomes.py, tests/api/test_intelligence.py).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

# Buckets of a comparison, in list order.
BUCKETS = ("new_failure", "still_failing", "fixed", "new_test", "missing")
# Health states, in list order ("flaky and broken first"); the number is stored.
STATES = {"flaky": 1, "broken": 2, "new": 3, "healthy": 4}
STATE_NAMES = {number: name for name, number in STATES.items()}


class Outcome(NamedTuple):
    """A case's outcome in one run: its last result with a passed or failed status. (A
    tuple: a comparison builds one per case of both runs, 40,000 for two 20,000-test runs.)"""

    run_id: int
    passed: bool
    retry: bool  # the run has both a failed and a passed result of the case
    status_id: int  # the status of that last passed/failed result
    test_id: int  # that result


def run_outcomes(
    run_id: int,
    results: Iterable[tuple[int, int, int]],
    passed_ids: Collection[int],
    failed_ids: Collection[int],
) -> tuple[dict[int, Outcome], set[int]]:
    """From a run's results as (case_id, status_id, result_id) in arrival (id) order: the
    outcome of each case that has one, and every case present (neutral-only ones too)."""
    last: dict[int, tuple[bool, int, int]] = {}  # the last passed/failed result of a case
    failed: set[int] = set()  # cases with a failed result
    retried: set[int] = set()  # ... and a passed one
    neutral: set[int] = set()
    for case_id, status_id, test_id in results:
        if status_id in passed_ids:
            if case_id in failed:
                retried.add(case_id)
            last[case_id] = (True, status_id, test_id)
        elif status_id in failed_ids:
            # The first failure after a pass finds it as the last passed/failed result.
            before = last.get(case_id)
            if before is not None and before[0]:
                retried.add(case_id)
            failed.add(case_id)
            last[case_id] = (False, status_id, test_id)
        else:
            neutral.add(case_id)
    outcomes = {
        case_id: Outcome(run_id, passed, case_id in retried, status_id, test_id)
        for case_id, (passed, status_id, test_id) in last.items()
    }
    return outcomes, neutral.union(last)


def bucket(
    now: Outcome | None, now_present: bool, base: Outcome | None, base_present: bool
) -> str | None:
    """A case's bucket against the base run, or None when it is unchanged or has no
    outcome on a side where it is present (neutral-only results are never listed)."""
    if now is not None and base is not None:
        if not now.passed:
            return "still_failing" if not base.passed else "new_failure"
        return "fixed" if not base.passed else None
    if now is not None and not base_present:
        return "new_test"
    if base is not None and not now_present:
        return "missing"
    return None


# --- health --------------------------------------------------------------------------------


@dataclass(frozen=True)
class HealthRules:
    """The thresholds of the health rules (settings, README "Test intelligence")."""

    window: int = 30  # run outcomes considered per case
    flip_rate: float = 0.3  # at least this flip rate ...
    flip_min_outcomes: int = 5  # ... over at least this many outcomes is evidence
    broken_streak: int = 5  # the last this many outcomes all failed: broken
    infra_failure_ratio: float = 0.8  # a run where more than this share ...
    infra_min_outcomes: int = 20  # ... of at least this many outcomes failed is left out


class WindowEntry(NamedTuple):
    """One run outcome in a case's health window (stored as [run_id, passed, retry,
    status_id]). A tuple: the analysis loads ~30 of them per case and run, and a tuple is
    several times cheaper to build than a dataclass (bench/README.md "Test intelligence")."""

    run_id: int
    passed: bool
    retry: bool
    status_id: int

    def stored(self) -> list[int]:
        return [self.run_id, int(self.passed), int(self.retry), self.status_id]

    @classmethod
    def load(cls, item: Sequence[int]) -> WindowEntry:
        return cls(int(item[0]), bool(item[1]), bool(item[2]), int(item[3]))


def stored_window(window: Sequence[WindowEntry]) -> str:
    """The window as stored: the JSON of [e.stored() for e in window] without spaces
    (formatted directly; the same text as json.dumps with separators (",", ":"))."""
    return "[" + ",".join([f"[{r:d},{p:d},{t:d},{s:d}]" for r, p, t, s in window]) + "]"


@dataclass(frozen=True)
class Health:
    state: str
    flip_rate: float
    failure_rate: float
    results_considered: int
    last_status_id: int
    evidence: list[dict[str, object]] = field(default_factory=list)


def is_infrastructure_failure(outcomes: Collection[Outcome], rules: HealthRules) -> bool:
    """More than infra_failure_ratio of at least infra_min_outcomes outcomes failed: a
    broken environment, whose run must not flag every test."""
    if len(outcomes) < rules.infra_min_outcomes:
        return False
    failed = sum(1 for outcome in outcomes if not outcome.passed)
    return failed > rules.infra_failure_ratio * len(outcomes)


def flip_rate(passed: Sequence[bool]) -> float:
    """Changes between consecutive outcomes ÷ (outcomes − 1); PFPFPFPFPF is 1.0."""
    if len(passed) < 2:
        return 0.0
    flips = sum(1 for a, b in zip(passed, passed[1:], strict=False) if a != b)
    return flips / (len(passed) - 1)


def merged_window(
    window: Sequence[WindowEntry], entry: WindowEntry, size: int
) -> list[WindowEntry]:
    """The window with `entry` in run order (replacing an entry of the same run), keeping
    the latest `size` runs. The window is in run order (as this function leaves it)."""
    if not window or window[-1].run_id < entry.run_id:  # the usual case: a newer run
        kept = list(window)
        kept.append(entry)
        return kept[-size:]
    kept = [item for item in window if item.run_id != entry.run_id]
    kept.append(entry)
    kept.sort(key=lambda item: item.run_id)
    return kept[-size:]


def evaluate(
    window: Sequence[WindowEntry], commits: Mapping[int, str | None], rules: HealthRules
) -> Health:
    """A case's health from its window (oldest first) and the runs' commits."""
    passed = [entry.passed for entry in window]
    rate = flip_rate(passed)
    evidence: list[dict[str, object]] = []
    retried = [entry.run_id for entry in window if entry.retry]
    if retried:
        evidence.append({"kind": "retry", "run_ids": retried})
    if rate > 0:  # both outcomes occur (else no commit can have both)
        by_commit: dict[str, list[WindowEntry]] = {}
        for entry in window:
            commit = commits.get(entry.run_id)
            if commit:
                by_commit.setdefault(commit, []).append(entry)
        for entries in by_commit.values():
            if len({entry.passed for entry in entries}) > 1:
                evidence.append({"kind": "same_commit", "run_ids": [e.run_id for e in entries]})
    if len(window) >= rules.flip_min_outcomes and rate >= rules.flip_rate:
        pairs = zip(window, window[1:], strict=False)
        flipped = [later.run_id for earlier, later in pairs if earlier.passed != later.passed]
        evidence.append({"kind": "flips", "run_ids": flipped})
    streak = passed[-rules.broken_streak :]
    if len(streak) >= rules.broken_streak and not any(streak):
        state = "broken"
    elif evidence:
        state = "flaky"
    elif len(window) == 1:
        state = "new"
    else:
        state = "healthy"
    return Health(
        state=state,
        flip_rate=round(rate, 4),
        failure_rate=round(passed.count(False) / len(passed), 4) if passed else 0.0,
        results_considered=len(window),
        last_status_id=window[-1].status_id if window else 0,
        evidence=evidence,
    )


# A stored window (stored_window's text) of passed outcomes without retries only.
_PASSING_WINDOW = re.compile(r"\[(?:\[\d+,1,0,\d+\],)*\[\d+,1,0,\d+\]\]")


def extend_passing_window(
    stored: str, entry: WindowEntry, rules: HealthRules
) -> tuple[str, Health] | None:
    """The usual case of folding a run in, without parsing the window: `stored` (the
    stored text of a window) holds only passed outcomes without retries, all of runs before
    `entry`'s, and `entry` passed without a retry. Then the window stays all passes, so the
    rules find nothing (no flips, no retry, no commit with both outcomes, no failing
    streak): the case is healthy. Returns the text of the merged window and its health,
    exactly what merged_window, evaluate and stored_window give; None when the case is not
    this one (the caller then evaluates the window)."""
    if not entry.passed or entry.retry:
        return None
    if rules.window < 2 or rules.flip_rate <= 0 or rules.broken_streak < 1:
        return None  # degenerate thresholds: leave them to evaluate
    if _PASSING_WINDOW.fullmatch(stored) is None:
        return None
    last = stored.rfind("[") + 1
    if int(stored[last : stored.index(",", last)]) >= entry.run_id:
        return None  # a run folded in late or again: merged_window sorts it in
    count = stored.count("[") - 1
    if count > rules.window:
        return None  # the window was longer (the setting changed): merged_window trims it
    body = stored[1:-1]
    if count == rules.window:  # full: the oldest outcome goes
        body = body[body.index("],[") + 2 :]
    text = f"[{body},[{entry.run_id:d},1,0,{entry.status_id:d}]]"
    size = min(count + 1, rules.window)
    return text, Health("healthy", 0.0, 0.0, size, entry.status_id, [])
