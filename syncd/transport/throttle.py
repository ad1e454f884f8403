"""The optional bandwidth limit: one token bucket shared by every transfer of a Client.

1. ``consume(n)`` returns once ``n`` bytes fit under the limit; with no limit it is free.
2. The bucket holds at most one second of bytes, so an idle spell does not buy a burst.
3. Thread-safe: the worker runs several transfers through one Client.
"""

from __future__ import annotations

import threading
import time


class Throttle:
    def __init__(self, rate: int | None) -> None:
        if rate is not None and rate <= 0:
            raise ValueError("bandwidth limit must be positive")
        self.rate = rate
        self._lock = threading.Lock()
        self._tokens = float(rate or 0)
        self._stamp = time.monotonic()

    def consume(self, nbytes: int) -> None:
        """Block until ``nbytes`` may pass (a large request is allowed to go into debt)."""
        if self.rate is None or nbytes <= 0:
            return
        with self._lock:
            now = time.monotonic()
            self._tokens = min(float(self.rate), self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            self._tokens -= nbytes
            debt = -self._tokens
        if debt > 0:
            time.sleep(debt / self.rate)
