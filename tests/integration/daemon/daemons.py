"""Drive ``syncd run`` as systemd does: a subprocess per folder, watched through its log.

1. ``FastDaemon`` is the harness's ``syncd run`` with small timings (debounce, feed
   wait, retries) so that the tests stay fast; ``start`` waits for the first remote pass
   and each start begins a fresh ``lines``.
2. ``eventually`` polls a condition until a deadline: never a fixed sleep as a sync point.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, TypeVar

from syncd.soak import harness
from tests.support.clients import local_tree

T = TypeVar("T")

FAST_ENV = {
    "SYNCD_DEBOUNCE": "0.2",
    "SYNCD_FEED_WAIT": "5",
    "SYNCD_POLL_INTERVAL": "1",
    "SYNCD_MAX_RETRIES": "1",
    "SYNCD_DEADLINE": "5",
    "SYNCD_TIMEOUT": "10",
    "PYTHONUNBUFFERED": "1",
}


def eventually(
    check: Callable[[], T], *, timeout: float = 20.0, interval: float = 0.05, what: str = ""
) -> T:
    """Return ``check()``'s first truthy value, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)  # the poll interval of a deadline loop, not a sync point
    raise AssertionError(f"not reached within {timeout}s: {what or check} (last: {last!r})")


def start_all(*daemons: FastDaemon) -> tuple[FastDaemon, ...]:
    """Start several daemons at once (their start-up overlaps), then wait for each."""
    for daemon in daemons:
        daemon.start(wait_ready=False)
    for daemon in daemons:
        daemon.wait_for("event=remote", timeout=30)
    return daemons


def write(path: Path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)


@dataclass
class FastDaemon(harness.DaemonProcess):
    """One ``syncd run`` on one folder, with the test timings."""

    ENV: ClassVar[dict[str, str]] = FAST_ENV

    def start(self, *args: str, wait_ready: bool = True) -> FastDaemon:
        self.lines = []
        super().start(*args)
        if wait_ready:
            self.wait_for("event=remote", timeout=30)
        return self

    def tree(self) -> dict[str, str]:
        return local_tree(self.folder)
