"""Start the real reference server (``syncd serve``) on a loopback port: for the soak and tests.

1. The server is a subprocess running the installed code, exactly as a user runs it.
2. ``start`` waits for the ``listening on`` line (a poll with a deadline, never a sleep).
3. ``restart`` keeps the data directory and, by default, the port, so a client or a proxy
   pointed at the old address reaches the new process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import httpx

LISTEN_PREFIX = "listening on "


def run_admin(data_dir: Path, *args: str) -> str:
    """Run ``syncd admin`` and return its stdout; raise with stderr when it fails."""
    proc = subprocess.run(
        [sys.executable, "-m", "syncd", "admin", "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"syncd admin {' '.join(args)} exited {proc.returncode}: {proc.stderr}")
    return proc.stdout


def create_account(data_dir: Path, tag: str) -> str:
    """Create an account and return its API key (the last stdout line, as CLI.md says)."""
    return run_admin(data_dir, "create-account", tag).strip().splitlines()[-1]


@dataclass
class ServerProcess:
    """One ``syncd serve`` subprocess over a data directory."""

    data_dir: Path
    extra_args: list[str] = field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = 0
    proc: subprocess.Popen[str] | None = None
    url: str = ""
    stderr_lines: list[str] = field(default_factory=list)

    def start(self, timeout: float = 30.0) -> ServerProcess:
        cmd = [
            sys.executable,
            "-m",
            "syncd",
            "serve",
            "--data-dir",
            str(self.data_dir),
            "--host",
            self.host,
            "--port",
            str(self.port),
            *self.extra_args,
        ]
        self.proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        found = threading.Event()

        def read_stdout() -> None:
            assert self.proc is not None and self.proc.stdout is not None
            for line in self.proc.stdout:
                if line.startswith(LISTEN_PREFIX) and not found.is_set():
                    self.url = line[len(LISTEN_PREFIX) :].strip()
                    found.set()

        def read_stderr() -> None:
            assert self.proc is not None and self.proc.stderr is not None
            for line in self.proc.stderr:
                self.stderr_lines.append(line.rstrip("\n"))

        threading.Thread(target=read_stdout, daemon=True).start()
        threading.Thread(target=read_stderr, daemon=True).start()
        if not found.wait(timeout):
            self.stop()
            raise RuntimeError("server did not start:\n" + "\n".join(self.stderr_lines[-30:]))
        self.port = int(self.url.rsplit(":", 1)[1])
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int | None:
        """Stop the process (SIGTERM by default) and return its exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        code = self.proc.returncode
        self.proc = None
        return code

    def restart(self, keep_port: bool = True) -> ServerProcess:
        self.stop()
        if not keep_port:
            self.port = 0
        return self.start()

    def create_account(self, tag: str) -> str:
        return create_account(self.data_dir, tag)

    def client(self, api_key: str) -> httpx.Client:
        """A plain httpx client with the key set: for tests that speak raw HTTP."""
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {api_key}"}, timeout=30
        )

    def __enter__(self) -> ServerProcess:
        return self.start() if self.proc is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()
