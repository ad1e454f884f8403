"""The retry policy of every request (tenacity): which failures, how long, how often.

1. Only ``Transient`` errors are retried (ServerBusy, ServerFault, ConnectionLost);
   every other error reaches the caller at once, so permanent errors cost one request.
2. 429 and 503 wait ``Retry-After`` when the server sent it; everything else waits an
   exponential backoff with equal jitter (``backoff``), capped by ``backoff_max``.
3. At most ``max_retries`` retries and never past ``deadline`` seconds from the first
   attempt (a wait that would end past it is not started); then ``ServerUnreachable``.
4. A request that is not idempotent is retried only after a failure that proves it was
   not applied (refused connection, 429, 503), unless the caller can resolve the doubt
   (``Attempts.ambiguous`` tells it that an earlier attempt may have been applied).
5. Every wait between attempts goes through ``sleep``. The daemon passes one that ends
   the moment it is asked to stop by raising; that exception reaches the caller as it is
   (no further attempt, no ``ServerUnreachable``), so a stop never waits out a backoff.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import tenacity

from syncd.errors import ServerBusy, ServerUnreachable, Transient
from syncd.transport.errors import is_ambiguous

log = logging.getLogger("syncd.transport")

T = TypeVar("T")
Sleep = Callable[[float], None]


@dataclass
class Attempts:
    """What the attempts of one call have seen so far; handed to every attempt."""

    number: int = 0
    ambiguous: bool = False  # an earlier attempt failed after it may have been applied


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 5
    deadline: float = 300.0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    seed: int | None = None  # a fixed jitter sequence, for tests and benchmarks
    sleep: Sleep = field(default=time.sleep, repr=False, compare=False)

    def backoff(self, retry_number: int, rng: random.Random) -> float:
        """Equal jitter: uniform in [c/2, c], c = min(max, initial * 2**(n-1)).

        Half the wait is guaranteed, so retries back off; the other half is random, so many
        clients failing at once do not come back in step.
        """
        ceiling = min(self.backoff_max, self.backoff_initial * (2 ** max(0, retry_number - 1)))
        return rng.uniform(ceiling / 2, ceiling)

    def run(
        self,
        attempt: Callable[[Attempts], T],
        *,
        what: str,
        idempotent: bool = True,
    ) -> T:
        """Call ``attempt`` until it returns, fails for good, or the budget runs out."""
        rng = random.Random(self.seed)
        state = Attempts()
        start = time.monotonic()

        def should_retry(retry_state: tenacity.RetryCallState) -> bool:
            exc = retry_state.outcome.exception() if retry_state.outcome else None
            if not isinstance(exc, Transient):
                return False
            return idempotent or not is_ambiguous(exc)

        def wait(retry_state: tenacity.RetryCallState) -> float:
            exc = retry_state.outcome.exception() if retry_state.outcome else None
            if isinstance(exc, ServerBusy) and exc.retry_after is not None:
                return exc.retry_after
            return self.backoff(retry_state.attempt_number, rng)

        def stop(retry_state: tenacity.RetryCallState) -> bool:
            if retry_state.attempt_number > self.max_retries:
                return True
            upcoming = getattr(retry_state, "upcoming_sleep", 0.0) or 0.0
            return time.monotonic() - start + upcoming > self.deadline

        def before_sleep(retry_state: tenacity.RetryCallState) -> None:
            exc = retry_state.outcome.exception() if retry_state.outcome else None
            log.info(
                "retry what=%s attempt=%d wait=%.2fs error=%s",
                what,
                retry_state.attempt_number,
                getattr(retry_state, "upcoming_sleep", 0.0),
                exc,
            )

        def one() -> T:
            state.number += 1
            try:
                return attempt(state)
            except Transient as exc:
                if is_ambiguous(exc):
                    state.ambiguous = True
                raise

        retrying = tenacity.Retrying(
            retry=should_retry,
            wait=wait,
            stop=stop,
            before_sleep=before_sleep,
            sleep=self.sleep,
            reraise=False,
        )
        try:
            return retrying(one)
        except tenacity.RetryError as exc:
            last = exc.last_attempt.exception()
            elapsed = time.monotonic() - start
            raise ServerUnreachable(
                f"{what}: gave up after {state.number} attempts in {elapsed:.1f}s: {last}",
                hint="the server kept failing; try again later",
            ) from last
