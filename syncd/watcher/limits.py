"""Folders the kernel's inotify limits left unwatched, and the scans that stand in for them.

1. inotify needs one watch per folder, counted against ``fs.inotify.max_user_watches``
   (and one instance per observer against ``max_user_instances``). ``LimitedObserver``
   hears each refused watch (ENOSPC, EMFILE), records the folder in ``Unwatched`` and,
   below the root, has watchdog skip that folder and watch the rest: watchdog 7.0 skips
   any failing folder below the root, but 7.1 fails the whole start at the first refusal,
   which would leave every folder to the fallback.
2. The first hit is logged once, at WARNING, with the sysctl that raises the limit.
3. ``Fallback`` asks the coalescer every ``interval`` seconds to scan the topmost
   unwatched folders, or the whole tree when the root itself is unwatched or the folders
   are too many to list: their changes arrive late, never not at all. A whole-tree scan
   of a big tree takes long, so it is asked at most every ``FULL_SCAN_EVERY`` seconds.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from watchdog.observers.api import DEFAULT_OBSERVER_TIMEOUT, BaseObserver

from syncd.paths import ancestors
from syncd.watcher.coalesce import Coalescer

try:  # watchdog >= 7: one inotify instance per observer, shared by its watches
    from watchdog.observers.inotify import InotifyEmitter
    from watchdog.observers.inotify_c import InotifyFD
except ImportError:  # another platform, or an older watchdog: no limit to hear
    InotifyFD = None  # type: ignore[assignment,misc]

log = logging.getLogger("syncd.watcher")

LIMIT_ERRNOS = frozenset({errno.ENOSPC, errno.EMFILE})
SYSCTL = {
    errno.ENOSPC: "fs.inotify.max_user_watches=524288",
    errno.EMFILE: "fs.inotify.max_user_instances=1024",
}
MAX_SCOPED = 500  # more unwatched folders than this: one full rescan instead of a list
FULL_SCAN_EVERY = 300.0  # seconds at least between two whole-tree scans of the fallback

OnLimit = Callable[[bytes, OSError], bool]
"""Told of a refused watch; True when the folder lies below the root (skip it, go on)."""


class _Skipped(OSError):
    """A refused watch below the root, already recorded: an OSError without an errno,
    which every watchdog 7 release takes as a folder to skip, never as a failed start."""


class Unwatched:
    """The relative folders (``""``: the root) that have no watch; thread-safe."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._lock = threading.Lock()
        self._folders: set[str] = set()
        self._has_warned = False
        self.limit: str | None = None  # the sysctl that would have given the watches

    def add(self, rel: str, err: int) -> None:
        """Record a folder the kernel refused to watch; the first one is told once."""
        with self._lock:
            self._folders.add(rel)
            self.limit = self.limit or SYSCTL.get(err)
            warn, self._has_warned = not self._has_warned, True
        if warn:
            log.warning(
                "event=watch_limit folder=%s limit=%s action=scan_every_%.0fs "
                "hint=raise it (sudo sysctl %s, and in /etc/sysctl.d/ to keep it), "
                "then restart the daemon",
                rel or ".",
                (self.limit or "inotify").split("=")[0],
                self.period(),
                self.limit or "fs.inotify.max_user_watches=524288",
            )

    def is_whole_tree(self) -> bool:
        """Whether the fallback scans everything: the root is unwatched, or the topmost
        unwatched folders are too many to list."""
        folders = self.topmost()
        return folders == [""] or len(folders) > MAX_SCOPED

    def period(self) -> float:
        """Seconds between two fallback scans (longer when each one is the whole tree)."""
        return max(self.interval, FULL_SCAN_EVERY) if self.is_whole_tree() else self.interval

    def __len__(self) -> int:
        with self._lock:
            return len(self._folders)

    def topmost(self) -> list[str]:
        """The unwatched folders that still exist and lie under no other one, sorted."""
        with self._lock:
            folders = sorted(self._folders)
        if "" in folders:
            return [""]
        kept = set()
        for rel in folders:
            if not any(a in kept for a in ancestors(rel)):
                kept.add(rel)
        return sorted(kept)

    def forget(self, rels: list[str]) -> None:
        """Drop folders that are gone: a scan of their parent already reported them."""
        with self._lock:
            self._folders.difference_update(rels)

    def describe(self) -> dict[str, Any] | None:
        """What ``syncd status`` shows: how many folders are scanned instead of watched."""
        period = self.period()
        with self._lock:
            if not self._folders:
                return None
            return {
                "unwatched_folders": len(self._folders),
                "is_root_unwatched": "" in self._folders,
                "scan_interval": period,
                "limit": self.limit,
            }


class Fallback:
    """A thread that asks for scans of the unwatched folders every ``interval`` seconds."""

    def __init__(self, unwatched: Unwatched, sink: Coalescer, root: str) -> None:
        self.unwatched = unwatched
        self.sink = sink
        self.root = root
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="syncd-unwatched", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
            self._thread = None

    def tick(self) -> None:
        """One round: the topmost unwatched folders become dirty directories."""
        folders = self.unwatched.topmost()
        if folders == [""] or len(folders) > MAX_SCOPED:
            self.sink.add_rescan()
            return
        gone = [rel for rel in folders if not os.path.isdir(os.path.join(self.root, rel))]
        self.unwatched.forget(gone)
        for rel in folders:
            self.sink.add(rel, True)

    def _run(self) -> None:
        while not self._stop.wait(self.unwatched.period()):  # the period, not a sync point
            if len(self.unwatched):
                self.tick()


class _Recording:
    """The observer's inotify instance, telling ``on_limit`` of each refused watch."""

    def __init__(self, inotify: Any, on_limit: OnLimit) -> None:
        self._inotify = inotify
        self._on_limit = on_limit

    def add_callback(self, path: bytes, *args: Any) -> Any:
        try:
            return self._inotify.add_callback(path, *args)
        except OSError as exc:
            if exc.errno in LIMIT_ERRNOS and self._on_limit(path, exc):
                raise _Skipped(f"{exc.strerror}: {os.fsdecode(path)}") from exc
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inotify, name)


def limited_observer(on_limit: OnLimit) -> BaseObserver:
    """An inotify observer that reports refused watches; watchdog's default elsewhere."""
    if InotifyFD is None:
        from watchdog.observers import Observer

        return Observer()
    return LimitedObserver(on_limit)


if InotifyFD is not None:

    class LimitedObserver(BaseObserver):
        """watchdog's ``InotifyObserver`` with its inotify instance wrapped in ``_Recording``."""

        def __init__(self, on_limit: OnLimit, *, timeout: float = DEFAULT_OBSERVER_TIMEOUT):
            self._inotify_fd = InotifyFD()  # EMFILE here: the instance limit
            self._inotify_fd.start()
            super().__init__(
                InotifyEmitter, timeout=timeout, inotify_fd=_Recording(self._inotify_fd, on_limit)
            )

        def on_thread_stop(self) -> None:
            super().on_thread_stop()
            self._inotify_fd.stop()
            self._inotify_fd.join()
