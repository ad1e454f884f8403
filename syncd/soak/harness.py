"""Run syncd's own commands as subprocesses: for the soak, the tests, the benches and the demo.

1. ``ServerProcess`` starts ``syncd serve`` exactly as a user runs it and waits for its
   ``listening on`` line (a poll with a deadline, never a sleep); ``restart`` keeps the
   data directory and, by default, the port, so a client or a proxy pointed at the old
   address reaches the new process.
2. ``DaemonProcess`` runs ``syncd run`` on one folder, one process at a time, and keeps
   its stderr lines as they arrive; ``client_argv`` builds the common
   ``--server/--workspace/--dir/--state-dir`` argv of every client command.
3. ``free_port`` and ``wait_until`` are the small pieces every one of them needs.

This module speaks raw HTTP with httpx on purpose: the harness checks the client against
the server, so it never reads the server through the client code under test.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Protocol, TypeVar

import httpx

LISTEN_PREFIX = "listening on "
SYNCD = (sys.executable, "-m", "syncd")
STOP_TIMEOUT = 15.0
PR_SET_PDEATHSIG = 1

T = TypeVar("T")


class HasUrl(Protocol):
    """Where a client connects: a ``ServerProcess`` or a proxy in front of one."""

    @property
    def url(self) -> str: ...


class DidNotStop(RuntimeError):
    """A process ignored SIGTERM past its timeout; it was killed (``code`` is its exit)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (for programs that cannot listen on port 0)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def wait_until(check: Callable[[], T], timeout: float, interval: float = 0.05) -> T | None:
    """``check()``'s first truthy value within ``timeout`` seconds, else None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(interval)  # the poll interval of a deadline loop, not a sync point
    return None


def client_argv(
    command: str, url: str, workspace: str, folder: Path, state_dir: Path, *args: str
) -> list[str]:
    """``python -m syncd COMMAND --server --workspace --dir --state-dir ARGS``."""
    return [
        *SYNCD,
        command,
        *("--server", url, "--workspace", workspace),
        *("--dir", str(folder), "--state-dir", str(state_dir)),
        *args,
    ]


def run_admin(data_dir: Path, *args: str, database_url: str | None = None) -> str:
    """Run ``syncd admin`` and return its stdout; raise with stderr when it fails."""
    env = {**os.environ, "SYNCD_DATABASE_URL": database_url} if database_url else None
    proc = subprocess.run(
        [*SYNCD, "admin", "--data-dir", str(data_dir), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"syncd admin {' '.join(args)} exited {proc.returncode}: {proc.stderr}")
    return proc.stdout


def create_account(data_dir: Path, tag: str, database_url: str | None = None) -> str:
    """Create an account and return its API key (the last stdout line, as CLI.md says)."""
    out = run_admin(data_dir, "create-account", tag, database_url=database_url)
    return out.strip().splitlines()[-1]


def create_workspace(server: ServerProcess, api_key: str, name: str = "work") -> str:
    """Create a workspace over the base API and return its id."""
    with server.client(api_key) as http:
        answer = http.post("/api/v1/workspaces", json={"name": name})
        answer.raise_for_status()
        return answer.json()["id"]


def die_with_parent() -> None:
    """Linux: SIGTERM the child when the process that started it dies, however it dies."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # elsewhere the starter's own cleanup is all there is


def _keep_lines(stream: Iterable[str], into: list[str], name: str) -> None:
    """Append each line of ``stream`` (newline stripped) to ``into`` from a daemon thread."""

    def read() -> None:
        for line in stream:
            into.append(line.rstrip("\n"))

    threading.Thread(target=read, name=name, daemon=True).start()


def _stop(proc: subprocess.Popen[str], sig: int, timeout: float) -> tuple[int, bool]:
    """Send ``sig`` and wait: (exit code, whether it stopped without a SIGKILL)."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)
            return proc.returncode, False
    return proc.returncode, True


@dataclass
class ServerProcess:
    """One ``syncd serve`` subprocess over a data directory.

    ``log_file`` sends its stderr to a file instead of ``stderr_lines``; ``own_session``
    puts it in a session of its own (a Ctrl-C at the terminal does not reach it) that
    dies with its starter.
    """

    data_dir: Path
    extra_args: list[str] = field(default_factory=list)
    database_url: str | None = None  # None: SQLite in the data directory
    host: str = "127.0.0.1"
    port: int = 0
    log_file: Path | None = None
    own_session: bool = False
    proc: subprocess.Popen[str] | None = None
    url: str = ""
    stderr_lines: list[str] = field(default_factory=list)

    def start(self, timeout: float = 30.0) -> ServerProcess:
        cmd = [*SYNCD, "serve", "--data-dir", str(self.data_dir)]
        cmd += ["--host", self.host, "--port", str(self.port), *self.extra_args]
        log = open(self.log_file, "ab") if self.log_file else None  # noqa: SIM115 - see below
        self.proc = proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=log or subprocess.PIPE,
            text=True,
            env=self._env(),
            start_new_session=self.own_session,
            preexec_fn=die_with_parent if self.own_session else None,
        )
        if log is not None:
            log.close()  # the server holds its own copy for its whole life
        found: list[str] = []
        done = threading.Event()

        def read_stdout() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                if line.startswith(LISTEN_PREFIX) and not found:
                    found.append(line[len(LISTEN_PREFIX) :].strip())
                    done.set()
            done.set()  # it exited before it listened: no need to wait out the timeout

        threading.Thread(target=read_stdout, name="serve-stdout", daemon=True).start()
        if proc.stderr is not None:
            _keep_lines(proc.stderr, self.stderr_lines, "serve-stderr")
        if not done.wait(timeout) or not found:
            self.stop()
            where = f"see {self.log_file}" if self.log_file else "\n".join(self.stderr_lines[-30:])
            raise RuntimeError(f"the server did not start: {where}")
        self.url = found[0]
        self.port = int(self.url.rsplit(":", 1)[1])
        return self

    def _env(self) -> dict[str, str]:
        """The server's environment; a database URL goes there, never in argv (a password)."""
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        if self.database_url:
            env["SYNCD_DATABASE_URL"] = self.database_url
        else:
            env.pop("SYNCD_DATABASE_URL", None)
        return env

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> int | None:
        """Stop the process (SIGTERM by default, SIGKILL after ``timeout``); its exit code."""
        if self.proc is None:
            return None
        code, _in_time = _stop(self.proc, sig, timeout)
        self.proc = None
        return code

    def restart(self, keep_port: bool = True) -> ServerProcess:
        self.stop()
        if not keep_port:
            self.port = 0
        return self.start()

    def create_account(self, tag: str) -> str:
        return create_account(self.data_dir, tag, self.database_url)

    def admin(self, *args: str) -> str:
        """``syncd admin`` on this server's data directory and database; its stdout."""
        return run_admin(self.data_dir, *args, database_url=self.database_url)

    def client(self, api_key: str) -> httpx.Client:
        """A plain httpx client with the key set: for callers that speak raw HTTP."""
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {api_key}"}, timeout=30
        )

    def __enter__(self) -> ServerProcess:
        return self.start() if self.proc is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class DaemonProcess:
    """One ``syncd run`` at a time on one folder; the stderr lines of every run, in order.

    ``server`` is read at each start, so a restarted server (same port) or a proxy in
    front of it is reached the same way. ``ENV`` holds the environment every process of
    the class gets before ``extra_env`` (short timings, say).
    """

    ENV: ClassVar[dict[str, str]] = {"PYTHONUNBUFFERED": "1"}

    server: HasUrl
    api_key: str
    workspace: str
    folder: Path
    state_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[str] | None = None
    lines: list[str] = field(default_factory=list)
    starts: int = 0

    def command(self, name: str, *args: str) -> list[str]:
        """The argv of ``syncd NAME`` on this folder, with the common options."""
        return client_argv(
            name, self.server.url, self.workspace, self.folder, self.state_dir, *args
        )

    def env(self) -> dict[str, str]:
        return {**os.environ, **self.ENV, "SYNCD_API_KEY": self.api_key, **self.extra_env}

    def start(self, *args: str) -> DaemonProcess:
        """Start ``syncd run ARGS`` without waiting for it to be ready."""
        self.starts += 1
        self.proc = subprocess.Popen(
            self.command("run", *args),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env(),
        )
        assert self.proc.stderr is not None
        _keep_lines(self.proc.stderr, self.lines, f"run-{self.folder.name}")
        return self

    def wait_for(self, text: str, *, timeout: float = 20.0) -> str:
        """The first log line holding ``text``; raise if the daemon exits or time runs out."""

        def found() -> str | None:
            if (code := self.exited()) is not None:
                raise RuntimeError(f"daemon exited {code}:\n{self.log()}")
            return next((line for line in list(self.lines) if text in line), None)

        line = wait_until(found, timeout)
        if line is None:
            raise RuntimeError(f"no log line {text!r} within {timeout}s:\n{self.log()}")
        return line

    def exited(self) -> int | None:
        """The exit code if the daemon ended on its own, else None."""
        return None if self.proc is None else self.proc.poll()

    def kill(self) -> bool:
        """SIGKILL now (a crash); whether the kill hit a live process."""
        assert self.proc is not None
        alive = self.proc.poll() is None
        if alive:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(STOP_TIMEOUT)
        return alive

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> int | None:
        """Signal and wait; its exit code. ``DidNotStop`` if it had to be killed."""
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        code, in_time = _stop(proc, sig, timeout)
        if not in_time:
            raise DidNotStop(f"daemon did not stop in {timeout}s:\n{self.log()}", code)
        return code

    def status(self) -> subprocess.CompletedProcess[str]:
        """``syncd status --json`` for this folder, as the user would ask."""
        return subprocess.run(
            self.command("status", "--json"),
            capture_output=True,
            text=True,
            env=self.env(),
            timeout=60,
        )

    def is_quiet(self) -> bool:
        """Whether ``syncd status`` says idle with nothing pending or dirty."""
        answer = self.status()
        if answer.returncode != 0:
            return False
        status = json.loads(answer.stdout)
        return status["state"] == "idle" and not status["pending"] and not status["dirty"]

    def log(self, lines: int = 40, sep: str = "\n") -> str:
        return sep.join(self.lines[-lines:])
