"""Local events -> dirty paths, debounced: the watcher's output, the daemon's input.

1. A path is ready once its last event is ``debounce`` seconds old, so a burst of writes to
   one file becomes one dirty path, delivered once, after the burst settles.
2. A path that never settles is still delivered ``max_latency`` seconds after its first
   event, so a file that keeps changing forever still syncs.
3. A path born and gone within one window (an editor's temp file renamed over its target,
   a scratch file created and deleted) is dropped: its net effect is nothing.
4. A directory event marks the directory; paths below a ready directory, settled or not,
   are folded into it, because the daemon scans that whole subtree anyway.
5. A rescan request covers every path: the batch that carries it carries no paths.
6. A file its writer closed (inotify IN_CLOSE_WRITE) is ready ``CLOSE_GRACE`` seconds
   after the close instead of ``debounce``: its bytes are complete, and the grace only
   lets an editor's rename of the closed temp file reach us first (rule 3). Any later
   event for it (a new write) puts it back on the debounce, and so does a pending moved
   or deleted directory above it (rule 4 keeps it with that directory). During a burst
   (more than ``BURST_PATHS`` paths waiting at once: a copy, a checkout, an unpack writes
   files faster than the daemon takes them) closed files wait the debounce like the rest,
   so the burst leaves in a few large batches, not one pass per file. Files saved one
   after another, each taken before the next arrives, are no burst however closely they
   follow each other: each waits only the grace (a count over the last debounce window
   made every ninth quick save wait the whole debounce). The daemon's stable-hash check
   still guards a file reopened for writing.
7. Pure and thread-safe: no I/O, the clock is injected, one lock guards all state, and
   ``wait`` sleeps on a condition until something can be ready (no polling loop).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from syncd.paths import ancestors

CLOSE_GRACE = 0.02  # seconds a closed file waits for an editor's rename of it
BURST_PATHS = 8  # more paths than this waiting at once are a burst


@dataclass(frozen=True)
class Batch:
    """What the daemon should look at now: these paths, or everything when ``rescan``."""

    paths: frozenset[str] = frozenset()
    rescan: bool = False
    dirs: frozenset[str] = frozenset()  # the subset of ``paths`` seen as directories

    def __bool__(self) -> bool:
        return bool(self.paths) or self.rescan


@dataclass
class _Entry:
    first: float
    last: float
    is_dir: bool = False
    is_born: bool = False  # first event of this window was a create: nothing to undo if gone
    is_closed: bool = False  # the last event was its writer's close: no debounce needed


class Coalescer:
    """Collects dirty paths and hands them out once they have settled."""

    def __init__(
        self,
        debounce: float,
        clock: Callable[[], float] = time.monotonic,
        *,
        max_latency: float | None = None,
    ) -> None:
        if debounce < 0:
            raise ValueError("debounce must not be negative")
        self.debounce = debounce
        self.max_latency = max(debounce, 10 * debounce if max_latency is None else max_latency)
        self._clock = clock
        self._cond = threading.Condition()
        self._entries: dict[str, _Entry] = {}
        self._rescan_since: float | None = None
        self._woken = False

    # -- producers (the watcher's threads) -------------------------------------------------

    def add(
        self, path: str, is_dir: bool = False, *, created: bool = False, closed: bool = False
    ) -> None:
        """Mark ``path`` dirty; ``created``: the event brought it into existence;
        ``closed``: its writer closed it, so it may go without the debounce."""
        with self._cond:
            now = self._clock()
            was_idle = not self._entries and self._rescan_since is None
            entry = self._entries.get(path)
            if entry is None:
                entry = self._entries[path] = _Entry(now, now, is_dir=is_dir, is_born=created)
            else:
                entry.last = now
                entry.is_dir = entry.is_dir or is_dir
            # A file below a pending moved or deleted directory leaves with it (rule 4),
            # never ahead of it: a moved folder's children are not synced before the move.
            # A new directory holds nothing back: its files are new whichever goes first.
            entry.is_closed = (
                closed
                and not is_dir
                and not any(
                    (e := self._entries.get(a)) is not None and e.is_dir and not e.is_born
                    for a in ancestors(path)
                )
            )
            if was_idle or entry.is_closed:
                # A new entry is never due before the ones already pending, except a
                # closed file: the waiter needs waking when it slept on an empty set or
                # on a later deadline than this file's.
                self._cond.notify_all()

    def remove(self, path: str, is_dir: bool = False) -> None:
        """Record a delete; a path born in this window and deleted again is forgotten."""
        with self._cond:
            entry = self._entries.get(path)
            if entry is not None and entry.is_born:
                del self._entries[path]
                # One path fewer may end a burst: closed files may be due sooner now.
                self._cond.notify_all()
                return
            self.add(path, is_dir)  # the condition's lock is re-entrant

    def move(self, src: str | None, dest: str | None, is_dir: bool = False) -> None:
        """Record a rename: both ends are dirty, unless the source was born in this window.

        That exception is the editor's save-via-rename: the temp name never existed as far
        as the other side knows, so only the target is an edit. A file renamed into place
        is complete (the safe-save pattern), so the target counts as closed.
        """
        if src is not None:
            self.remove(src, is_dir)
        if dest is not None:
            self.add(dest, is_dir, closed=not is_dir)

    def add_rescan(self) -> None:
        """Ask for a full rescan: events were lost (overflow) or the watcher failed."""
        with self._cond:
            if self._rescan_since is None:
                self._rescan_since = self._clock()
            self._cond.notify_all()

    def wake(self) -> None:
        """Make a sleeping ``wait`` return now (shutdown, reload)."""
        with self._cond:
            self._woken = True
            self._cond.notify_all()

    # -- the consumer (the daemon) ---------------------------------------------------------

    def pending(self) -> int:
        """How many dirty paths wait (ready or not): for the status output."""
        with self._cond:
            return len(self._entries)

    def take_ready(self, now: float | None = None) -> Batch:
        """Remove and return what has settled; an empty batch when nothing has."""
        with self._cond:
            now = self._clock() if now is None else now
            if self._rescan_since is not None and now - self._rescan_since >= self.debounce:
                self._rescan_since = None
                self._entries.clear()
                return Batch(rescan=True)
            ready = {p: e for p, e in self._entries.items() if self._due(e) <= now}
            dirs = {p for p, e in ready.items() if e.is_dir}
            # Pending paths below a ready directory leave with it, settled or not: the
            # subtree is scanned after this call, so it sees every event received so far.
            below = [p for p in self._entries if any(a in dirs for a in ancestors(p))]
            for path in [*ready, *below]:
                self._entries.pop(path, None)
            paths = {p for p in ready if p not in below}
            return Batch(paths=frozenset(paths), dirs=frozenset(dirs & paths))

    def next_due(self) -> float | None:
        """The clock time at which something becomes ready; None when nothing is pending."""
        with self._cond:
            return self._next_due()

    def wait(self, timeout: float | None = None) -> bool:
        """Sleep until something is ready, ``wake`` is called, or ``timeout`` passes.

        Returns True when ``take_ready`` would return a non-empty batch now.
        """
        with self._cond:
            deadline = None if timeout is None else self._clock() + timeout
            while True:
                now = self._clock()
                due = self._next_due()
                if due is not None and due <= now:
                    return True
                if self._woken:
                    self._woken = False
                    return False
                if deadline is not None and now >= deadline:
                    return False
                delays = [t - now for t in (due, deadline) if t is not None]
                self._cond.wait(min(delays) if delays else None)

    # -- internals (lock held) --------------------------------------------------------------

    def _due(self, entry: _Entry) -> float:
        settle = self.debounce
        if entry.is_closed and len(self._entries) <= BURST_PATHS:
            settle = min(self.debounce, CLOSE_GRACE)
        return min(entry.last + settle, entry.first + self.max_latency)

    def _next_due(self) -> float | None:
        dues = [self._due(e) for e in self._entries.values()]
        if self._rescan_since is not None:
            dues.append(self._rescan_since + self.debounce)
        return min(dues, default=None)
