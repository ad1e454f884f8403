"""The bandwidth limit's bucket: its accounting, and a rate changed while it runs."""

from __future__ import annotations

import threading

import pytest

from syncd.transport.throttle import Throttle


def test_the_bucket_counts_what_it_lets_through_and_what_it_waited() -> None:
    throttle = Throttle(1_000_000)
    throttle.consume(1_000_000)  # the first second of credit is free
    assert throttle.waited == 0.0
    throttle.consume(100_000)
    assert throttle.passed == 1_100_000
    assert throttle.waited >= 0.09  # a tenth of a second owed at 1 MB/s


def test_unlimited_counts_but_never_waits() -> None:
    throttle = Throttle(None)
    throttle.consume(10**12)
    assert (throttle.passed, throttle.waited) == (10**12, 0.0)


def test_a_new_rate_applies_to_the_next_bytes_and_starts_its_own_count() -> None:
    throttle = Throttle(None)
    throttle.consume(10**9)
    throttle.set_rate(100_000)
    assert (throttle.passed, throttle.waited, throttle.span) == (0, 0.0, 0.0)
    throttle.consume(100_000)  # the full bucket of the new rate
    throttle.consume(10_000)
    assert throttle.rate == 100_000 and throttle.waited >= 0.09
    assert throttle.passed == 110_000
    throttle.set_rate(None)
    throttle.consume(10**9)
    assert throttle.waited == 0.0 and throttle.passed == 10**9


def test_what_passed_never_outruns_the_rate_however_slow_the_caller() -> None:
    """The invariant the end-to-end tests check: passed <= rate * (span + 1 s)."""
    rate = 200_000
    throttle = Throttle(rate)
    workers = [
        threading.Thread(target=lambda: [throttle.consume(20_000) for _ in range(10)])
        for _ in range(3)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    assert throttle.passed == 600_000
    assert throttle.passed <= rate * (throttle.span + 1) * 1.01
    assert throttle.span >= 1.9  # 400 kB over the first second's 200 kB, at 200 kB/s


def test_set_rate_refuses_nonsense_and_is_safe_beside_transfers() -> None:
    throttle = Throttle(10**9)
    with pytest.raises(ValueError):
        throttle.set_rate(0)
    workers = [threading.Thread(target=throttle.consume, args=(1000,)) for _ in range(8)]
    for worker in workers:
        worker.start()
    throttle.set_rate(5 * 10**9)
    for worker in workers:
        worker.join(5)
    assert not any(w.is_alive() for w in workers) and throttle.rate == 5 * 10**9
    assert throttle.passed <= 8000  # counted since the new rate only
