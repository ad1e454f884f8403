"""Watch one folder with watchdog and feed relative NFC paths to a ``Coalescer``.

1. Every event path becomes an NFC path relative to the root, or is dropped: our own temp
   files (``local.ignore.is_temp_name``), ignored paths (the ``ignore`` callable, checked
   for every ancestor too), the state directory, and reads (open / close without write).
2. A move reports both ends; a source born in the current window is dropped by the
   coalescer, so an editor's save-via-rename is one edit of the target.
3. Lost events become a rescan request, never silence. watchdog neither raises nor emits an
   event on an inotify queue overflow: it logs a warning (``watchdog.observers.inotify_c``)
   from the observer's own thread and rebuilds its watches. Any watchdog warning raised on
   one of this watcher's threads, an exception in our handler, the root itself vanishing,
   or a watchdog thread dying therefore asks the coalescer for a rescan.
4. A write's close (``closed``: inotify IN_CLOSE_WRITE) is told to the coalescer as such:
   a closed file may go without the debounce.
5. A dead observer is restarted (at most ``MAX_RESTARTS`` per minute); when that fails,
   ``error`` says why and the daemon's rescans carry on without live events.
6. Folders the inotify limits leave unwatched (the root included) are told once and then
   scanned every ``fallback_interval`` seconds (limits.py): never a failure, never silence.
"""

from __future__ import annotations

import logging
import threading
import time
import unicodedata
from collections import deque
from collections.abc import Callable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers.api import BaseObserver
from watchdog.utils import BaseThread

from syncd.errors import UsageError
from syncd.local.ignore import is_temp_name
from syncd.paths import ancestors
from syncd.watcher.coalesce import Coalescer
from syncd.watcher.limits import LIMIT_ERRNOS, Fallback, Unwatched, limited_observer

log = logging.getLogger(__name__)

MAX_RESTARTS = 5
RESTART_WINDOW = 60.0

Ignore = Callable[[str, bool], bool]

# Reads change nothing; our own uploads would otherwise echo back as events.
_READ_EVENTS = frozenset({"opened", "closed_no_write"})


class _WatchdogAlarm(logging.Handler):
    """Hears watchdog's warnings and routes each to the watcher whose thread logged it.

    A warning is watchdog's only signal of lost events (queue overflow, watches it could not
    rebuild), so hearing one is reason enough to rescan.
    """

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self._routes: dict[int, Callable[[logging.LogRecord], None]] = {}
        self._routes_lock = threading.Lock()
        self._is_installed = False

    def register(
        self, threads: list[threading.Thread], route: Callable[[logging.LogRecord], None]
    ) -> None:
        with self._routes_lock:
            if not self._is_installed:
                logging.getLogger("watchdog").addHandler(self)
                self._is_installed = True
            for thread in threads:
                if thread.ident is not None:
                    self._routes[thread.ident] = route

    def unregister(self, threads: list[threading.Thread]) -> None:
        with self._routes_lock:
            for thread in threads:
                if thread.ident is not None:
                    self._routes.pop(thread.ident, None)

    def emit(self, record: logging.LogRecord) -> None:
        with self._routes_lock:
            route = self._routes.get(record.thread) if record.thread is not None else None
        if route is not None:
            route(record)


ALARM = _WatchdogAlarm()


class EventHandler(FileSystemEventHandler):
    """Turns watchdog events into coalescer calls; never lets an exception kill the thread."""

    def __init__(self, root: Path, ignore: Ignore, sink: Coalescer, state_dir: Path | None):
        super().__init__()
        self._root = str(root)
        self._ignore = ignore
        self._sink = sink
        self._state_rel = _relative_to(root, state_dir) if state_dir is not None else None

    def dispatch(self, event: FileSystemEvent) -> None:
        """Handle one event; a failure here costs a rescan, not the watcher."""
        try:
            self._handle(event)
        except Exception:
            log.exception(
                "watcher: failed to handle %s event; asking for a rescan", event.event_type
            )
            self._sink.add_rescan()

    def on_overflow(self) -> None:
        """Events were lost: only a full rescan can tell what changed."""
        log.warning("watcher: events were lost (queue overflow); asking for a rescan")
        self._sink.add_rescan()

    def relative(self, raw: bytes | str) -> str | None:
        """The NFC relative path of an absolute event path; ``""`` is the root itself."""
        path = raw.decode("utf-8", "surrogateescape") if isinstance(raw, bytes) else raw
        if path == self._root:
            return ""
        if not path.startswith(self._root + "/"):
            return None
        return unicodedata.normalize("NFC", path[len(self._root) + 1 :])

    def is_dropped(self, rel: str, is_dir: bool) -> bool:
        """True for paths the sync never sees: temp files, ignored paths, the state dir."""
        segments = rel.split("/")
        if any(is_temp_name(s) for s in segments):
            return True
        if self._state_rel is not None and (
            rel == self._state_rel or rel.startswith(self._state_rel + "/")
        ):
            return True
        if any(self._ignore(a, True) for a in ancestors(rel)):
            return True
        return self._ignore(rel, is_dir)

    def _handle(self, event: FileSystemEvent) -> None:
        kind, is_dir = event.event_type, event.is_directory
        if kind in _READ_EVENTS:
            return
        if kind == "moved":
            src = self.relative(event.src_path) if event.src_path else None
            dest = self.relative(event.dest_path) if event.dest_path else None
            if src == "" or dest == "":
                self._root_changed(kind)
                return
            src = None if src is None or self.is_dropped(src, is_dir) else src
            dest = None if dest is None or self.is_dropped(dest, is_dir) else dest
            if src is not None or dest is not None:
                self._sink.move(src, dest, is_dir)
            return
        rel = self.relative(event.src_path)
        if rel is None:
            return
        if rel == "":
            if kind == "deleted":
                self._root_changed(kind)
            return
        if is_dir and kind in ("modified", "attrib"):
            return  # a directory's own mtime says only that a child changed; the child says which
        if self.is_dropped(rel, is_dir):
            return
        if kind == "deleted":
            self._sink.remove(rel, is_dir)
        else:
            self._sink.add(rel, is_dir, created=kind == "created", closed=kind == "closed")

    def _root_changed(self, kind: str) -> None:
        log.warning("watcher: the folder itself was %s; asking for a rescan", kind)
        self._sink.add_rescan()


class Watcher:
    """A recursive watchdog observer on one folder, supervised, feeding a ``Coalescer``.

    Start it before the initial full scan, so that nothing changed during the scan is missed.
    """

    def __init__(
        self,
        root: Path,
        ignore: Ignore,
        sink: Coalescer,
        *,
        state_dir: Path | None = None,
        observer_factory: Callable[[], BaseObserver] | None = None,
        fallback_interval: float = 30.0,
    ) -> None:
        self.root = Path(root).resolve()
        self.sink = sink
        self.handler = EventHandler(
            self.root, ignore, sink, Path(state_dir).resolve() if state_dir else None
        )
        self.error: str | None = None
        self.unwatched = Unwatched(fallback_interval)
        self._fallback = Fallback(self.unwatched, sink, str(self.root))
        self._factory = observer_factory or (lambda: limited_observer(self._on_limit))
        self._lock = threading.RLock()
        self._observer: BaseObserver | None = None
        self._threads: list[threading.Thread] = []
        self._is_stopping = False
        self._restarts: deque[float] = deque()

    @property
    def is_alive(self) -> bool:
        """True while every watchdog thread of this watcher runs."""
        with self._lock:
            return bool(self._threads) and all(t.is_alive() for t in self._threads)

    def start(self) -> None:
        """Start watching; a folder that cannot be watched is a usage error (exit 2).

        Past the inotify limits it is not: the folders left unwatched (the root too) are
        scanned every ``fallback_interval`` seconds instead.
        """
        with self._lock:
            self._is_stopping = False
            try:
                self._launch()
            except OSError as exc:
                if exc.errno not in LIMIT_ERRNOS:
                    raise UsageError(f"cannot watch {self.root}: {exc.strerror or exc}") from exc
                self.unwatched.add("", exc.errno)
            self._fallback.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop watching and wait (up to ``timeout``) for the threads to end."""
        with self._lock:
            self._is_stopping = True
            self._fallback.stop()
            self._teardown(timeout)

    def __enter__(self) -> Watcher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- internals ---------------------------------------------------------------------------

    def _launch(self) -> None:
        before = set(threading.enumerate())
        observer = self._factory()
        observer.schedule(self.handler, str(self.root), recursive=True)
        try:
            observer.start()
        except BaseException:
            observer.stop()
            raise
        threads = [
            t for t in threading.enumerate() if t not in before and isinstance(t, BaseThread)
        ]
        if observer not in threads:
            threads.append(observer)
        self._observer, self._threads = observer, threads
        ALARM.register(threads, self._on_alarm)
        for thread in threads:
            threading.Thread(
                target=self._supervise,
                args=(observer, thread),
                name="syncd-watch-guard",
                daemon=True,
            ).start()

    def _teardown(self, timeout: float) -> None:
        observer, threads = self._observer, self._threads
        self._observer, self._threads = None, []
        ALARM.unregister(threads)
        if observer is not None:
            try:
                observer.stop()
                observer.join(timeout)
            except Exception:  # a dead observer may fail to stop; it is gone either way
                log.debug("watcher: error while stopping the observer", exc_info=True)

    def _on_limit(self, path: bytes, exc: OSError) -> bool:
        """A folder the kernel would not watch: scanned by the fallback from now on. True
        when it lies below the root, so the rest of the tree is still watched."""
        rel = self.handler.relative(path)
        if rel is not None and exc.errno is not None:
            self.unwatched.add(rel, exc.errno)
        return bool(rel)

    def _on_alarm(self, record: logging.LogRecord) -> None:
        if not self._is_stopping:
            self.handler.on_overflow()

    def _supervise(self, observer: BaseObserver, thread: threading.Thread) -> None:
        """Wait (no polling) for one watchdog thread to end; if unexpected, recover."""
        thread.join()
        with self._lock:
            if self._is_stopping or self._observer is not observer:
                return
            log.warning("watcher: watchdog thread %s ended; restarting the watcher", thread.name)
            self.sink.add_rescan()
            self._teardown(timeout=5.0)
            now = time.monotonic()
            while self._restarts and now - self._restarts[0] > RESTART_WINDOW:
                self._restarts.popleft()
            if len(self._restarts) >= MAX_RESTARTS:
                self.error = f"the watcher died {MAX_RESTARTS} times within a minute"
                log.error("watcher: %s; live events are off, rescans go on", self.error)
                return
            self._restarts.append(now)
            try:
                self._launch()
                self.error = None
            except OSError as exc:
                if exc.errno in LIMIT_ERRNOS and exc.errno is not None:
                    self.unwatched.add("", exc.errno)  # scanned by the fallback from now on
                self.error = f"cannot watch {self.root}: {exc.strerror or exc}"
                log.error("watcher: %s; live events are off, rescans go on", self.error)


def _relative_to(root: Path, path: Path) -> str | None:
    try:
        rel = path.relative_to(root)
    except ValueError:
        return None
    return rel.as_posix() if rel.parts else None
