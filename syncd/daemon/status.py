"""What the daemon is doing, published for ``syncd status`` and for systemd.

1. ``StatusBoard`` is the progress sink of every transfer (``start``/``advance``/``finish``
   by path, thread-safe), so the status row lists what is transferring and how far it got.
2. A change of state (syncing, idle, offline, paused, error) is written at once; progress
   alone is written at most once per ``interval``, so a fast transfer costs no extra commits.
3. Every write also sends ``STATUS=`` to systemd and, when systemd asked for it, a watchdog
   ping: bytes moving prove the daemon is alive even while one sync runs for long.
4. Once a stop is requested, ``advance`` raises ``StopRequested`` in the transfer thread:
   the transfer ends at the next chunk boundary and the resumable upload keeps its offset.
   A wait between the transport's retries (``sleep``) raises it too, at once, so a daemon
   stopping while the server is down does not wait out the backoff.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

from syncd.state.schema import DaemonState

log = logging.getLogger("syncd.daemon")

DETAIL_KEY = "daemon_detail"


class StopRequested(BaseException):
    """Raised inside a transfer once the daemon is stopping; not an error of the sync.

    A ``BaseException`` so that no ``except Exception`` on the way turns it into an item
    failure: it must reach the loop, which then closes everything cleanly.
    """


class StatusBoard:
    """Transfers in flight, the current state, and when it was last published."""

    def __init__(
        self,
        *,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._transfers: dict[str, dict[str, Any]] = {}
        self._state = DaemonState.SYNCING
        self._detail: str | None = None
        self._published = float("-inf")
        self._store: Any = None
        self._notifier: Any = None
        self.stop_event = threading.Event()

    def bind(self, store: Any, notifier: Any) -> None:
        """Start publishing to this store and notifier (before that, only count)."""
        self._store, self._notifier = store, notifier

    def unbind(self) -> None:
        self._store = None

    @property
    def state(self) -> DaemonState:
        return self._state

    @property
    def detail(self) -> str | None:
        return self._detail

    # -- the progress sink (transfer threads) ------------------------------------------

    def start(self, path: str, total: int | None) -> None:
        with self._lock:
            self._transfers[path] = {"path": path, "total": total, "done": 0}
        self._maybe_publish()

    def advance(self, path: str, nbytes: int) -> None:
        if self.stop_event.is_set():
            raise StopRequested(path)
        with self._lock:
            entry = self._transfers.get(path)
            if entry is not None:
                entry["done"] = max(0, entry["done"] + nbytes)
        self._maybe_publish()

    def sleep(self, seconds: float) -> None:
        """The transport's wait between retries: ``StopRequested`` the moment a stop is
        requested (or at once, if it already was), else return after ``seconds``."""
        if self.stop_event.wait(seconds):
            raise StopRequested("stopping during a retry wait")

    def finish(self, path: str) -> None:
        with self._lock:
            self._transfers.pop(path, None)
        self._maybe_publish()

    def set_totals(self, files: int, nbytes: int) -> None:
        """A pass planned work (the engine's announcement): from now on it is syncing."""
        if self._state is not DaemonState.SYNCING:
            self.set_state(DaemonState.SYNCING)

    def transfers(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(t) for t in self._transfers.values()]

    # -- state (the loop) ----------------------------------------------------------------

    def set_state(self, state: DaemonState, detail: str | None = None) -> None:
        """Record a new state; publish now when it or its detail changed."""
        changed = state is not self._state or detail != self._detail
        self._state, self._detail = state, detail
        if changed:
            log.info("event=state state=%s%s", state.value, f" detail={detail}" if detail else "")
            if self._store is not None:
                self._store.meta.set_json(DETAIL_KEY, {"state": state.value, "detail": detail})
        self.publish(force=changed)

    def text(self) -> str:
        """The one line systemd shows: ``syncing 2 transfers``, ``offline: ...``."""
        words = self._state.value
        count = len(self._transfers)
        if self._state is DaemonState.SYNCING and count:
            words += f" {count} transfer{'s' if count != 1 else ''}"
        return f"{words}: {self._detail}" if self._detail else words

    def publish(self, *, force: bool = False) -> None:
        """Write the status row (throttled unless ``force``) and tell systemd."""
        now = self._clock()
        with self._lock:
            if not force and now - self._published < self.interval:
                return
            self._published = now
            transfers = [dict(t) for t in self._transfers.values()]
        if self._store is not None:
            try:
                self._store.daemon_status.write(self._state, transfers=transfers)
            except (sqlite3.Error, OSError) as exc:  # busy or gone: the next write tries
                log.warning("event=status_write_failed error=%s", type(exc).__name__)
            except Exception:  # a bug; still, a status write must never stop a transfer
                log.exception("status: could not write the status row")
        if self._notifier is not None:
            self._notifier.status(self.text())
            self._notifier.watchdog()

    def _maybe_publish(self) -> None:
        if self._clock() - self._published >= self.interval:
            self.publish()

    def stopped(self) -> None:
        """The daemon ends: no row means no daemon running."""
        if self._store is not None:
            try:
                self._store.daemon_status.clear()
                self._store.meta.set_json(DETAIL_KEY, None)
            except (sqlite3.Error, OSError) as exc:  # status then says "not running" late
                log.warning("event=status_clear_failed error=%s", type(exc).__name__)
            except Exception:  # a bug: the daemon still ends
                log.exception("status: could not clear the status row")
        self._store = None
