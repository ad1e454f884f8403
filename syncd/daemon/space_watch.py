"""Waiting for disk space: downloads refused for low disk space go again once it frees.

1. ``arm`` reads a pass's outcomes: the least free space that any refused download
   (``LowDiskSpace``) needs, on the disk where it was measured. A pass without such a
   refusal disarms the watch.
2. ``is_freed`` costs one ``statvfs`` and is asked at most once per ``interval``, so the
   daemon's idle loop (which wakes about once a second) stays cheap.
3. Freed means the next pass can start at least one of the refused downloads; the retry
   then comes at once instead of at the failed items' backoff (5 s doubling to 5 min).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path

from syncd.local.space import LowDiskSpace, free_bytes
from syncd.worker.outcome import Outcome


class SpaceWatch:
    def __init__(
        self, *, interval: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.interval = interval
        self._clock = clock
        self.folder: Path | None = None
        self.free_needed: int | None = None
        self._asked_at: float | None = None

    @property
    def is_armed(self) -> bool:
        return self.free_needed is not None

    def arm(self, outcomes: Iterable[Outcome]) -> None:
        """Watch for the smallest free space a refused download of this pass needs."""
        refusals = [o.error for o in outcomes if isinstance(o.error, LowDiskSpace)]
        usable = [e for e in refusals if e.folder is not None]
        if not usable:
            self.folder = self.free_needed = None
            return
        least = min(usable, key=lambda e: e.free_needed)
        self.folder, self.free_needed = least.folder, least.free_needed
        self._asked_at = self._clock()

    def is_freed(self) -> bool:
        """True once the disk has room for a refused download; the watch then disarms."""
        if self.folder is None or self.free_needed is None:
            return False
        now = self._clock()
        if self._asked_at is not None and now - self._asked_at < self.interval:
            return False
        self._asked_at = now
        free = free_bytes(self.folder)
        if free is None or free < self.free_needed:
            return False
        self.folder = self.free_needed = None
        return True
