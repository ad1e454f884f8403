"""Remote events: a thread that long-polls the change feed and wakes the daemon's loop.

1. It only watches: it never applies a page. When the feed moved past the cursor the loop
   last synced to, it calls ``on_change`` and waits until the loop reports a new cursor
   (``synced``); the engine then follows the feed itself, from the stored cursor.
2. ``wait`` holds each request on the server (long poll), so an idle daemon sends one
   request per ``wait`` seconds; with ``wait`` 0 it pauses ``interval`` between polls.
3. A failure from the error tree never ends the thread: an unreachable server is retried
   with a capped backoff (waiting on the stop event, not sleeping); the first answer after
   failures calls ``on_change`` too, so an offline loop retries at once.
4. Two things end it, each handed to ``on_fatal`` since no retry can help: a refusing
   server (401, 404), and any other exception, which is a bug: it is logged with its
   traceback at ERROR, never retried (the same poll would fail the same way, forever).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from syncd.errors import FeedReset, ServerRefused, SyncdError
from syncd.transport.changes import MAX_WAIT

log = logging.getLogger("syncd.daemon.remote")

BACKOFF_MIN = 1.0
BACKOFF_MAX = 10.0  # short: a poll that works again is how the loop learns we are back


class RemoteWatcher:
    """Long-polls ``client.changes.page`` from the cursor of the last sync."""

    def __init__(
        self,
        client: object,
        workspace_id: str,
        *,
        wait: float,
        interval: float,
        on_change: Callable[[], None],
        on_fatal: Callable[[Exception], None],
    ) -> None:
        self._client = client
        self._workspace_id = workspace_id
        self.wait = min(max(0.0, wait), float(MAX_WAIT))
        self.interval = max(0.1, interval)
        self._on_change = on_change
        self._on_fatal = on_fatal
        self._cond = threading.Condition()
        self._cursor: int | None = None
        self._is_armed = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.polls = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="syncd-remote", daemon=True)
        self._thread.start()

    def synced(self, cursor: int | None) -> None:
        """The loop finished a sync at ``cursor``: watch for changes after it."""
        with self._cond:
            self._cursor = cursor
            self._is_armed = cursor is not None
            self._cond.notify_all()

    def stop(self, timeout: float = 0.2) -> None:
        """Ask the thread to end; a long poll in flight is abandoned, not awaited."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _next_cursor(self) -> int | None:
        """Block until armed (or stopping); the cursor to poll from."""
        with self._cond:
            while not self._is_armed and not self._stop.is_set():
                self._cond.wait()
            return None if self._stop.is_set() else self._cursor

    def _disarm(self, cursor: int) -> None:
        with self._cond:
            if self._cursor == cursor:
                self._is_armed = False

    def _run(self) -> None:
        delay = 0.0
        while not self._stop.is_set():
            cursor = self._next_cursor()
            if cursor is None:
                return
            try:
                self.polls += 1
                page = self._client.changes.page(self._workspace_id, cursor, wait=self.wait)
            except FeedReset:
                has_changed = True
            except ServerRefused as exc:
                if not self._stop.is_set():
                    self._on_fatal(exc)
                return
            except SyncdError as exc:  # unreachable, busy, an answer that breaks the protocol
                if self._stop.is_set():
                    return
                delay = min(BACKOFF_MAX, max(BACKOFF_MIN, delay * 2))
                log.info("event=feed_poll_failed retry_in=%.0fs error=%s", delay, _short(exc))
                self._stop.wait(delay)
                continue
            except Exception as exc:
                if self._stop.is_set():  # the client was closed under the poll at shutdown
                    return
                log.exception("event=feed_watch_failed action=stop error=%s", _short(exc))
                self._on_fatal(exc)
                return
            else:
                has_changed = page.end_revision != cursor or bool(
                    page.created or page.updated or page.deleted
                )
            if delay:  # the server answers again: let the loop retry now, not at its backoff
                log.info("event=feed_poll_recovered")
                has_changed = True
            delay = 0.0
            if self._stop.is_set():
                return
            if has_changed:
                self._disarm(cursor)
                self._on_change()
            elif self.wait == 0:
                self._stop.wait(self.interval)


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]
