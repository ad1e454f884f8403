"""The retry policy alone: what is retried, how long it waits, when it gives up."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from syncd import errors
from syncd.transport.retry import Attempts, RetryPolicy

FAST = RetryPolicy(max_retries=3, deadline=10.0, backoff_initial=0.001, backoff_max=0.002)


def failing(*excs: BaseException, result: str = "ok"):  # type: ignore[no-untyped-def]
    seen: list[Attempts] = []
    queue = list(excs)

    def attempt(state: Attempts) -> str:
        seen.append(Attempts(state.number, state.ambiguous))
        if queue:
            raise queue.pop(0)
        return result

    return attempt, seen


def test_transients_are_retried_until_success() -> None:
    attempt, seen = failing(errors.ServerFault("500"), errors.ConnectionLost("reset"))
    assert FAST.run(attempt, what="GET") == "ok"
    assert [s.number for s in seen] == [1, 2, 3]


@pytest.mark.parametrize(
    "exc",
    [
        errors.Unauthorized("401"),
        errors.PreconditionFailed("412"),
        errors.InvalidParameter("400"),
        errors.NotFound("404"),
        errors.OffsetMismatch("409", offset=3),
    ],
)
def test_permanent_errors_are_not_retried(exc: errors.SyncdError) -> None:
    attempt, seen = failing(exc)
    with pytest.raises(type(exc)):
        FAST.run(attempt, what="GET")
    assert len(seen) == 1


def test_retries_run_out_into_server_unreachable() -> None:
    attempt, seen = failing(*[errors.ServerFault("500")] * 10)
    with pytest.raises(errors.ServerUnreachable, match="gave up after 4 attempts") as info:
        FAST.run(attempt, what="GET x")
    assert len(seen) == 4 and isinstance(info.value.__cause__, errors.ServerFault)
    assert info.value.exit_code == 4


def test_retry_after_is_honoured() -> None:
    attempt, _ = failing(errors.ServerBusy("429", retry_after=0.2))
    start = time.monotonic()
    FAST.run(attempt, what="GET")
    assert time.monotonic() - start >= 0.2


def test_a_wait_past_the_deadline_is_not_started() -> None:
    policy = RetryPolicy(max_retries=5, deadline=1.0, backoff_initial=0.001)
    attempt, seen = failing(errors.ServerBusy("503", retry_after=30))
    start = time.monotonic()
    with pytest.raises(errors.ServerUnreachable):
        policy.run(attempt, what="GET")
    assert time.monotonic() - start < 1.0 and len(seen) == 1


def test_non_idempotent_request_is_retried_only_when_surely_unsent() -> None:
    attempt, seen = failing(
        errors.ServerBusy("503"), errors.ConnectionLost("reset", ambiguous=True)
    )
    with pytest.raises(errors.ConnectionLost):
        FAST.run(attempt, what="POST", idempotent=False)
    assert len(seen) == 2


def test_later_attempts_know_an_earlier_one_may_have_landed() -> None:
    attempt, seen = failing(errors.ConnectionLost("reset", ambiguous=True))
    FAST.run(attempt, what="POST")
    assert [s.ambiguous for s in seen] == [False, True]


def test_backoff_grows_and_is_capped() -> None:
    import random

    policy = RetryPolicy(backoff_initial=1.0, backoff_max=8.0)
    rng = random.Random(1)
    waits = [policy.backoff(n, rng) for n in range(1, 7)]
    assert 0.5 <= waits[0] <= 1.0 and 4.0 <= waits[3] <= 8.0
    assert all(w <= 8.0 for w in waits)


def test_waits_go_through_the_given_sleep() -> None:
    waits: list[float] = []
    policy = replace(FAST, backoff_initial=4.0, backoff_max=8.0, deadline=60.0, sleep=waits.append)
    attempt, seen = failing(errors.ServerFault("500"), errors.ServerBusy("429", retry_after=7))
    assert policy.run(attempt, what="GET") == "ok"
    assert len(seen) == 3 and 2.0 <= waits[0] <= 4.0 and waits[1] == 7


class Stopping(BaseException):
    """What a stopping daemon's sleep raises."""


def test_a_sleep_that_raises_ends_the_call_with_its_own_exception() -> None:
    def sleep(_seconds: float) -> None:
        raise Stopping

    policy = replace(FAST, sleep=sleep)
    attempt, seen = failing(*[errors.ConnectionLost("refused")] * 3)
    with pytest.raises(Stopping):
        policy.run(attempt, what="GET")
    assert len(seen) == 1  # no attempt after the interrupted wait, no ServerUnreachable
