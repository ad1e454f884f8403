"""Signals of the daemon: TERM and INT stop it, HUP reloads the config.

1. A handler only sets a flag and wakes the loop; the work happens on the loop's thread.
2. A second TERM or INT while stopping means "now": it raises ``KeyboardInterrupt``, which
   still unwinds through every ``with`` (the state database is closed, not abandoned).
3. ``restore`` puts the previous handlers back, so tests and the demo can run a daemon
   in-process more than once.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from types import FrameType
from typing import Any

log = logging.getLogger("syncd.daemon")


class SignalHandlers:
    """Installs the daemon's handlers on the main thread; ``restore`` undoes it."""

    def __init__(self, *, on_stop: Callable[[], None], on_reload: Callable[[], None]) -> None:
        self._on_stop = on_stop
        self._on_reload = on_reload
        self._previous: dict[int, Any] = {}
        self.is_stopping = False

    def install(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._previous[sig] = signal.signal(sig, self._stop)
        self._previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, self._reload)

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.is_stopping:
            log.warning("event=signal signal=%s action=stop_now", name)
            raise KeyboardInterrupt
        self.is_stopping = True
        log.info("event=signal signal=%s action=stop", name)
        self._on_stop()

    def _reload(self, signum: int, _frame: FrameType | None) -> None:
        log.info("event=signal signal=SIGHUP action=reload")
        self._on_reload()

    def __enter__(self) -> SignalHandlers:
        self.install()
        return self

    def __exit__(self, *exc: object) -> None:
        self.restore()
