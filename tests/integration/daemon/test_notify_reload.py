"""systemd ``Type=notify`` on a real datagram socket, and SIGHUP reloading the config."""

from __future__ import annotations

import signal
import socket
import threading
from pathlib import Path

from tests.integration.daemon.daemons import eventually


class NotifySocket:
    """A real ``NOTIFY_SOCKET``: a bound AF_UNIX datagram socket, read on a thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.messages: list[str] = []
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(str(path))
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                data = self._sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            self.messages.append(data.decode("utf-8", "replace"))

    def lines(self) -> list[str]:
        return [line for message in list(self.messages) for line in message.splitlines()]

    def has(self, text: str) -> bool:
        return any(line.startswith(text) for line in self.lines())

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self._sock.close()


def test_ready_status_watchdog_reload_and_stopping(make_daemon, tmp_path):
    notify = NotifySocket(tmp_path / "notify.sock")
    config = tmp_path / "daemon.toml"
    config.write_text('rescan_interval = "6h"\n')
    daemon = make_daemon(
        "a", NOTIFY_SOCKET=str(notify.path), WATCHDOG_USEC="400000", SYNCD_CONFIG=str(config)
    )
    try:
        daemon.start()
        eventually(lambda: notify.has("READY=1"), what="READY=1")
        eventually(lambda: notify.has("STATUS=idle"), what="STATUS=idle")
        # pings every 0.2 s (half of WATCHDOG_USEC) from an idle loop
        eventually(lambda: notify.lines().count("WATCHDOG=1") >= 3, what="watchdog pings")

        config.write_text('rescan_interval = "5h"\nchunk_size = "1MiB"\n')
        assert daemon.proc is not None
        daemon.proc.send_signal(signal.SIGHUP)
        line = daemon.wait_for("event=reload")
        assert "rescan_interval=21600.0->18000.0" in line
        assert "chunk_size=1048576(needs restart)" in line
        eventually(lambda: notify.has("RELOADING=1"), what="RELOADING=1")
        assert daemon.proc.poll() is None  # still running, still on the old server
        ready_count = sum(1 for ln in notify.lines() if ln == "READY=1")
        assert ready_count >= 2  # READY again once the reload is applied

        assert daemon.stop(signal.SIGTERM) == 0
        assert notify.has("STOPPING=1")
    finally:
        notify.close()
