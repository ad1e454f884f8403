"""A client of the soak that runs ``syncd run`` for the whole schedule instead of one-shot syncs.

1. The daemon starts with the world and runs until the end, through the same proxy as
   every client, with short timings so a schedule stays short.
2. ``kill`` is a crash at a random moment (SIGKILL) followed by a restart, as systemd's
   ``Restart=on-failure`` does; ``stop`` is the clean SIGTERM at the end, whose exit code
   and log are checked like a sync's.
3. ``is_quiet`` asks ``syncd status --json`` (the user's view): idle, nothing pending,
   nothing dirty. The world decides quiet only together with equal trees.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

DAEMON_ENV = {
    "SYNCD_DEBOUNCE": "0.2",
    "SYNCD_FEED_WAIT": "2",
    "SYNCD_POLL_INTERVAL": "1",
}
STOP_TIMEOUT = 15.0


@dataclass
class Daemon:
    """One ``syncd run`` process at a time for one client folder."""

    command: Callable[[str], list[str]]  # subcommand -> the argv with the common options
    env: dict[str, str]
    proc: subprocess.Popen[str] | None = None
    lines: list[str] = field(default_factory=list)  # stderr of every run, in order
    starts: int = 0

    def start(self) -> None:
        self.starts += 1
        proc = subprocess.Popen(
            self.command("run"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**self.env, **DAEMON_ENV},
        )
        self.proc = proc

        def read() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                self.lines.append(line.rstrip("\n"))

        threading.Thread(target=read, name="soak-daemon-log", daemon=True).start()

    def exited(self) -> int | None:
        """The exit code if the daemon ended on its own, else None."""
        return None if self.proc is None else self.proc.poll()

    def kill(self) -> bool:
        """SIGKILL now (if it still runs) and start again; whether the kill hit a live one."""
        assert self.proc is not None
        alive = self.proc.poll() is None
        if alive:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(STOP_TIMEOUT)
        self.start()
        return alive

    def stop(self) -> tuple[int, bool]:
        """SIGTERM and wait: (exit code, whether it stopped within ``STOP_TIMEOUT``)."""
        if self.proc is None:
            return 0, True
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(STOP_TIMEOUT)
                return proc.returncode, False
        return proc.returncode, True

    def is_quiet(self) -> bool:
        """Whether ``syncd status`` says idle with nothing pending or dirty."""
        answer = subprocess.run(
            [*self.command("status"), "--json"],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=60,
        )
        if answer.returncode != 0:
            return False
        status = json.loads(answer.stdout)
        return status["state"] == "idle" and not status["pending"] and not status["dirty"]

    def log(self, lines: int = 6) -> str:
        return " | ".join(self.lines[-lines:])
