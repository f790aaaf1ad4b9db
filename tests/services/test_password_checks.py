"""The per-process bound on concurrent password hashes (services/auth.py): at most
`concurrent` at once, a bounded number waiting for a short while, the others refused."""

from __future__ import annotations

import threading
import time

import pytest

from runhub.services.auth import PasswordCheckLimit, PasswordChecksBusy


def test_holders_never_exceed_the_bound_and_waiters_get_their_turn() -> None:
    limit = PasswordCheckLimit(2, waiting=6, wait_s=30)
    lock, active, peak, done = threading.Lock(), [0], [0], []

    def check() -> None:
        with limit.slot():
            with lock:
                active[0] += 1
                peak[0] = max(peak[0], active[0])
            time.sleep(0.02)
            with lock:
                active[0] -= 1
        done.append(1)

    threads = [threading.Thread(target=check) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peak[0] == 2 and len(done) == 8


def test_refused_when_the_queue_is_full() -> None:
    limit = PasswordCheckLimit(1, waiting=0)
    with limit.slot(), pytest.raises(PasswordChecksBusy) as exc, limit.slot():
        pass
    assert exc.value.status_code == 503 and int(exc.value.headers["Retry-After"]) > 0
    with limit.slot():  # the slot was given back
        pass


def test_refused_after_waiting_too_long() -> None:
    limit = PasswordCheckLimit(1, waiting=1, wait_s=0.05)
    started = time.monotonic()
    with limit.slot(), pytest.raises(PasswordChecksBusy), limit.slot():
        pass
    assert time.monotonic() - started >= 0.05
    with limit.slot():
        pass


def test_at_least_one_check() -> None:
    with pytest.raises(ValueError):
        PasswordCheckLimit(0)
