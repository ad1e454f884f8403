"""How transfers report bytes done: a small protocol the CLI and the daemon implement.

1. ``start(path, total)`` once per transfer, ``advance(n)`` as bytes move, ``finish()`` once.
2. ``advance`` may be negative: a download that must start again gives its bytes back.
3. Implementations must be thread-safe; transfers run on worker threads.
"""

from __future__ import annotations

import threading
from typing import Protocol


class Progress(Protocol):
    def start(self, path: str, total: int | None) -> None: ...

    def advance(self, nbytes: int) -> None: ...

    def finish(self) -> None: ...


class CountingProgress:
    """A Progress that only counts; for tests and for status reports."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.path: str | None = None
        self.total: int | None = None
        self.done = 0
        self.finished = False

    def start(self, path: str, total: int | None) -> None:
        with self._lock:
            self.path, self.total, self.done, self.finished = path, total, 0, False

    def advance(self, nbytes: int) -> None:
        with self._lock:
            self.done += nbytes

    def finish(self) -> None:
        with self._lock:
            self.finished = True


class PathSink(Protocol):
    """A display shared by every transfer, told which path each call is about."""

    def start(self, path: str, total: int | None) -> None: ...

    def advance(self, path: str, nbytes: int) -> None: ...

    def finish(self, path: str) -> None: ...


class SyncDisplay(PathSink, Protocol):
    """A ``PathSink`` that is also told, before a plan runs, how much it will move."""

    def set_totals(self, files: int, nbytes: int) -> None: ...


class PerTransfer:
    """A ``Progress`` for one transfer that reports to a shared ``PathSink`` by path.

    Make one per transfer (``PerTransfer(display)``): the transport calls ``start`` once,
    so the path it names is the one every later ``advance`` and ``finish`` is about.
    """

    def __init__(self, sink: PathSink) -> None:
        self._sink = sink
        self._path = ""

    def start(self, path: str, total: int | None) -> None:
        self._path = path
        self._sink.start(path, total)

    def advance(self, nbytes: int) -> None:
        self._sink.advance(self._path, nbytes)

    def finish(self) -> None:
        self._sink.finish(self._path)
