"""Desktop notifications of the daemon: a conflict, a safety stop, a persistent error.

1. Every notice is one log line (``event=notice``), whether or not a desktop shows it.
2. It is shown with ``notify-send`` when that program is on PATH and a session bus is
   there (``DBUS_SESSION_BUS_ADDRESS``, or ``$XDG_RUNTIME_DIR/bus``); off with
   ``notifications = false`` (``SYNCD_NOTIFICATIONS=false``).
3. It never blocks the daemon: the program runs in a thread of its own, is waited for at
   most ``TIMEOUT`` seconds, then killed; any failure is a debug line.
4. The same notice is not repeated while it stays true (a retried error says it once).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import threading
from pathlib import Path

log = logging.getLogger("syncd.daemon")

TIMEOUT = 5.0
APP = "syncd"


def has_session_bus() -> bool:
    """Whether a D-Bus session bus is reachable by the usual means."""
    if os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return True
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    return bool(runtime) and Path(runtime, "bus").exists()


class DesktopNotifier:
    """Logs each notice and, where a desktop is there, shows it."""

    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self._last: dict[str, str] = {}  # kind -> the last text said for it

    def notify(self, kind: str, summary: str, body: str = "") -> None:
        """Say ``summary`` once for ``kind`` (conflict, safety_stop, error) until it changes."""
        text = f"{summary}: {body}" if body else summary
        if self._last.get(kind) == text:
            return
        self._last[kind] = text
        log.warning("event=notice kind=%s %s", kind, text)
        program = shutil.which("notify-send")
        if not self.enabled or program is None or not has_session_bus():
            return
        argv = [program, "--app-name", APP, "--urgency", "normal", f"syncd: {summary}", body]
        threading.Thread(target=_run, args=(argv,), name="syncd-notice", daemon=True).start()

    def cleared(self, kind: str) -> None:
        """The condition behind ``kind`` ended: its next occurrence is said again."""
        self._last.pop(kind, None)


def _run(argv: list[str]) -> None:
    try:
        subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        log.debug("notice: notify-send failed: %s", exc)
