"""systemd notifications (``Type=notify``) for the daemon, through the ``sdnotify`` library.

1. Without ``NOTIFY_SOCKET`` (not started by systemd) every call is a no-op, so the daemon
   runs the same in a terminal, a test or a unit.
2. Messages are single lines: a status text can never smuggle in a second assignment
   (``READY=1``) through a newline, and non-ASCII text goes out as UTF-8, as systemd expects.
3. ``watchdog()`` pings only when systemd asked for it (``WATCHDOG_USEC``, and
   ``WATCHDOG_PID`` naming this process when set); ``watchdog_interval()`` tells the daemon
   how often: half the timeout, as sd_watchdog_enabled(3) advises.
4. Sending never raises: a lost notification must not stop a sync.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

import sdnotify

log = logging.getLogger(__name__)

_MAX_STATUS = 200


class SystemdNotifier:
    """Tells systemd (when it listens) that the daemon is ready, alive, busy or stopping."""

    def __init__(self) -> None:
        self._has_socket = bool(os.environ.get("NOTIFY_SOCKET"))
        self._sd = sdnotify.SystemdNotifier() if self._has_socket else None
        self._watchdog = _watchdog_interval(os.environ)

    @property
    def is_enabled(self) -> bool:
        """True when systemd gave us a notification socket."""
        return self._has_socket

    def ready(self, status: str | None = None) -> None:
        """Startup is over: systemd considers the unit started from now on."""
        self._send("READY=1", status)

    def status(self, text: str) -> None:
        """One line for ``systemctl status``: e.g. "idle", "syncing 3 files", "offline"."""
        self._send(None, text)

    def watchdog(self) -> None:
        """Prove the main loop is alive; systemd restarts the unit if pings stop."""
        if self._watchdog is not None:
            self._send("WATCHDOG=1", None)

    def watchdog_interval(self) -> float | None:
        """Seconds between watchdog pings (half of ``WatchdogSec``), or None when off."""
        return self._watchdog

    def stopping(self, status: str | None = None) -> None:
        """Shutdown has begun, so systemd does not mistake the wait for a hang."""
        self._send("STOPPING=1", status)

    def reloading(self, status: str | None = None) -> None:
        """A config reload has begun; call ``ready()`` again once it is applied."""
        self._send("RELOADING=1", status)

    def _send(self, state: str | None, status: str | None) -> None:
        if self._sd is None:
            return
        lines = [state] if state else []
        if status is not None:
            lines.append("STATUS=" + _one_line(status))
        # sdnotify encodes as Latin-1; spelling our UTF-8 bytes as Latin-1 sends them as is.
        message = "\n".join(lines).encode("utf-8").decode("latin-1")
        try:
            self._sd.notify(message)
        except OSError as exc:  # sdnotify swallows most socket errors itself
            log.warning("event=notify_failed error=%s", type(exc).__name__)
        except Exception:  # a bug: logged in full, and systemd is told again next time
            log.exception("notify: could not send to systemd")


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    flat = "".join(ch for ch in flat if ch.isprintable())
    return flat[:_MAX_STATUS]


def _watchdog_interval(env: Mapping[str, str]) -> float | None:
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    if pid and pid != str(os.getpid()):
        return None  # meant for another process (e.g. our parent)
    try:
        value = int(usec)
    except ValueError:
        return None
    return value / 2 / 1_000_000 if value > 0 else None


def watchdog_interval() -> float | None:
    """Half of the systemd watchdog timeout in seconds, from the environment; None when off."""
    return _watchdog_interval(os.environ)
