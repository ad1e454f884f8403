"""The optional bandwidth limit: one token bucket shared by every transfer of a Client.

1. ``consume(n)`` returns once ``n`` bytes fit under the limit; with no limit it is free.
2. The bucket holds at most one second of bytes, so an idle spell does not buy a burst.
3. Thread-safe: the worker runs several transfers through one Client.
4. ``set_rate`` changes the limit of a running client (the daemon's SIGHUP): later
   ``consume`` calls wait at the new rate; a wait already begun is not cut short.
5. Since the rate was last set, ``passed`` counts the bytes let through, ``waited`` the
   seconds slept for them and ``span`` the seconds from the first byte to the end of the
   last wait. ``passed <= rate * (span + 1)`` always holds (a full bucket is one second),
   however slow the machine: a caller, and a test, can check the limit without timing it.
"""

from __future__ import annotations

import threading
import time


class Throttle:
    def __init__(self, rate: int | None) -> None:
        self._lock = threading.Lock()
        self.rate: int | None = None
        self.set_rate(rate)

    def set_rate(self, rate: int | None) -> None:
        """Bytes per second from now on (None: unlimited); the bucket starts full."""
        if rate is not None and rate <= 0:
            raise ValueError("bandwidth limit must be positive")
        with self._lock:
            self.rate = rate
            self._tokens = float(rate or 0)
            self._stamp = time.monotonic()
            self.passed = 0
            self.waited = 0.0
            self._first: float | None = None
            self._last: float | None = None

    @property
    def span(self) -> float:
        """Seconds from the first byte since the rate was set to the end of the last wait."""
        with self._lock:
            if self._first is None or self._last is None:
                return 0.0
            return self._last - self._first

    def consume(self, nbytes: int) -> None:
        """Block until ``nbytes`` may pass (a large request is allowed to go into debt)."""
        if nbytes <= 0:
            return
        with self._lock:
            now = time.monotonic()
            if self._first is None:
                self._first = now
            self._last = max(self._last or now, now)
            self.passed += nbytes
            rate = self.rate
            if rate is None:
                return
            self._tokens = min(float(rate), self._tokens + (now - self._stamp) * rate)
            self._stamp = now
            self._tokens -= nbytes
            wait = -self._tokens / rate if self._tokens < 0 else 0.0
            self.waited += wait
        if wait > 0:
            time.sleep(wait)
            with self._lock:
                self._last = max(self._last or now, time.monotonic())
