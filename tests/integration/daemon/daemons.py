"""Drive ``syncd run`` as systemd does: a subprocess per folder, watched through its log.

1. ``DaemonProcess`` starts ``python -m syncd run`` with small timings (debounce, feed
   wait, retries) so that the tests stay fast; its stderr lines are kept as they arrive.
2. ``eventually`` polls a condition until a deadline: never a fixed sleep as a sync point.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from syncd.soak.server import ServerProcess
from tests.support.clients import local_tree

T = TypeVar("T")

FAST_ENV = {
    "SYNCD_DEBOUNCE": "0.2",
    "SYNCD_FEED_WAIT": "5",
    "SYNCD_POLL_INTERVAL": "1",
    "SYNCD_MAX_RETRIES": "1",
    "SYNCD_DEADLINE": "5",
    "SYNCD_TIMEOUT": "10",
    "PYTHONUNBUFFERED": "1",
}


def eventually(
    check: Callable[[], T], *, timeout: float = 20.0, interval: float = 0.05, what: str = ""
) -> T:
    """Return ``check()``'s first truthy value, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)  # the poll interval of a deadline loop, not a sync point
    raise AssertionError(f"not reached within {timeout}s: {what or check} (last: {last!r})")


def start_all(*daemons: DaemonProcess) -> tuple[DaemonProcess, ...]:
    """Start several daemons at once (their start-up overlaps), then wait for each."""
    for daemon in daemons:
        daemon.start(wait_ready=False)
    for daemon in daemons:
        daemon.wait_for("event=remote", timeout=30)
    return daemons


def write(path: Path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)


@dataclass
class DaemonProcess:
    """One ``syncd run`` on one folder."""

    server: ServerProcess
    api_key: str
    workspace: str
    folder: Path
    state_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[str] | None = None
    lines: list[str] = field(default_factory=list)

    def command(self, name: str, *args: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "syncd",
            name,
            "--server",
            self.server.url,
            "--workspace",
            self.workspace,
            "--dir",
            str(self.folder),
            "--state-dir",
            str(self.state_dir),
            *args,
        ]

    def env(self) -> dict[str, str]:
        return {**os.environ, **FAST_ENV, "SYNCD_API_KEY": self.api_key, **self.extra_env}

    def start(self, *args: str, wait_ready: bool = True) -> DaemonProcess:
        self.lines = []
        self.proc = subprocess.Popen(
            self.command("run", *args),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env(),
        )
        proc = self.proc

        def read() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                self.lines.append(line.rstrip("\n"))

        threading.Thread(target=read, daemon=True).start()
        if wait_ready:
            self.wait_for("event=remote", timeout=30)
        return self

    def wait_for(self, text: str, *, timeout: float = 20.0) -> str:
        def found() -> str | None:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"daemon exited {self.proc.returncode}:\n{self.log()}")
            return next((line for line in list(self.lines) if text in line), None)

        return eventually(found, timeout=timeout, what=f"log line {text!r}\n{self.log()}")

    def log(self) -> str:
        return "\n".join(self.lines[-40:])

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired as exc:
                self.proc.kill()
                self.proc.wait(timeout)
                raise AssertionError(f"daemon did not stop in {timeout}s:\n{self.log()}") from exc
        code = self.proc.returncode
        self.proc = None
        return code

    def status(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command("status", "--json"),
            capture_output=True,
            text=True,
            env=self.env(),
            timeout=60,
        )

    def tree(self) -> dict[str, str]:
        return local_tree(self.folder)
