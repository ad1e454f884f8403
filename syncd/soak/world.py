"""One schedule's world: a real server, the fault proxy, N client folders, and the ledger.

1. Every client talks to the server through one proxy whose address never changes, so a
   server restart or an armed fault is invisible to the client's state database path.
   With ``cluster_url`` the server keeps its metadata in a fresh PostgreSQL database on
   that cluster, and ``processes`` server processes share it and one data directory; the
   proxy sends each request to the next process in turn, as a load balancer would.
2. ``ledger`` records every version a step wrote, and ``superseded`` every version a
   client deliberately removed: only a version that was on that client's disk when it was
   deleted or overwritten counts as seen, so "overwritten after seeing it" is not a loss.
3. Each ``syncd sync`` is a subprocess with short timeouts and few retries; its exit code
   and stderr are kept in ``runs`` for the checks.
4. A daemon client runs ``syncd run`` throughout (``harness.DaemonProcess``); the harness changes its
   folder only with atomic renames (``userfs``), so the ledger knows exactly which
   version each step displaced even while the daemon writes into the folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from syncd.soak import userfs
from syncd.soak.database import create_database, drop_database
from syncd.soak.harness import (
    DaemonProcess,
    DidNotStop,
    ServerProcess,
    client_argv,
    create_workspace,
)
from syncd.soak.proxy import FaultProxy
from syncd.soak.trees import entries, file_hashes, local_tree, remote_tree

FAST_CLIENT_ENV = {
    "SYNCD_TIMEOUT": "3",
    "SYNCD_MAX_RETRIES": "3",
    "SYNCD_DEADLINE": "20",
    "SYNCD_TRANSFERS": "2",
    "PYTHONUNBUFFERED": "1",
}
DAEMON_ENV = {
    "SYNCD_DEBOUNCE": "0.2",
    "SYNCD_FEED_WAIT": "2",
    "SYNCD_POLL_INTERVAL": "1",
}
SYNC_TIMEOUT = 120.0
QUIET_POLL = 0.2


@dataclass
class Run:
    """One ``syncd sync`` as the harness saw it (``killed``: we sent SIGKILL)."""

    client: int
    code: int
    stderr: str
    killed: bool = False
    faulty: bool = False  # a fault was armed or the server was disturbed before it ran
    final: bool = False
    daemon: bool = False  # the end of a ``syncd run`` (SIGTERM at the end of the schedule)


@dataclass
class Client:
    index: int
    folder: Path
    state_dir: Path
    daemon: DaemonProcess | None = None

    def argv(self, url: str, workspace: str, command: str = "sync") -> list[str]:
        return client_argv(command, url, workspace, self.folder, self.state_dir)


@dataclass
class World:
    root: Path
    base_only: bool
    processes: int = 1
    cluster_url: str | None = None  # a PostgreSQL cluster; None: SQLite in the data dir
    database_url: str | None = None  # this schedule's own database on that cluster
    clients: list[Client] = field(default_factory=list)
    server: ServerProcess | None = None  # the first process: admin, listings, checks
    servers: list[ServerProcess] = field(default_factory=list)
    proxy: FaultProxy | None = None
    api_key: str = ""
    workspace: str = ""
    ledger: dict[str, str] = field(default_factory=dict)  # sha256 -> which step wrote it
    superseded: set[str] = field(default_factory=set)
    runs: list[Run] = field(default_factory=list)
    trace: list[str] = field(default_factory=list)
    disturbed: bool = False
    backup: Path | None = None

    @property
    def quarantine(self) -> Path:
        return self.root / "quarantine"

    def start(self, clients: int, seed: int, daemons: int = 0) -> World:
        """Start the server and the proxy, create the account, workspace and folders."""
        extra = ["--base-only"] if self.base_only else []
        if self.cluster_url is not None:
            self.database_url = create_database(self.cluster_url, seed)
        for _ in range(max(1, self.processes)):
            server = ServerProcess(self.root / "server", extra, self.database_url)
            self.servers.append(server.start())
        self.server = self.servers[0]
        self.proxy = FaultProxy([s.url for s in self.servers], seed=seed).start()
        self.api_key = self.server.create_account("soak")
        self.workspace = create_workspace(self.server, self.api_key, "soak")
        for i in range(clients):
            folder = self.root / f"c{i}"
            folder.mkdir()
            self.clients.append(Client(i, folder, self.root / f"state-c{i}"))
        (self.root / "backups").mkdir()
        self.quarantine.mkdir()
        for client in self.clients[:daemons]:
            client.daemon = self._daemon(client).start()
        return self

    def _daemon(self, client: Client) -> DaemonProcess:
        """``syncd run`` through the proxy, with short timings so a schedule stays short."""
        assert self.proxy is not None
        env = {**FAST_CLIENT_ENV, **DAEMON_ENV}
        folder, state = client.folder, client.state_dir
        return DaemonProcess(self.proxy, self.api_key, self.workspace, folder, state, env)

    def stop_daemons(self) -> None:
        """SIGTERM every daemon; each exit is a run for the checks (0, within the timeout)."""
        for client in self.clients:
            if client.daemon is None or client.daemon.proc is None:
                continue
            try:
                code = client.daemon.stop()
            except DidNotStop:
                code = None
            stderr = "\n".join(client.daemon.lines)
            if code is None:
                stderr += "\ndid not stop within the timeout after SIGTERM"
            self.runs.append(Run(client.index, -1 if code is None else code, stderr, daemon=True))

    def stop(self) -> None:
        for client in self.clients:
            if client.daemon is not None and client.daemon.proc is not None:
                with contextlib.suppress(DidNotStop):
                    client.daemon.stop()
        if self.proxy is not None:
            self.proxy.stop()
        for server in self.servers:
            server.stop()
        if self.cluster_url is not None and self.database_url is not None:
            drop_database(self.cluster_url, self.database_url)
            self.database_url = None

    # -- the ledger ----------------------------------------------------------------

    def write(self, index: int, path: Path, data: bytes, why: str) -> None:
        """Write a version (superseding what the file held) and remember it."""
        if self.clients[index].daemon is not None:
            if (old := userfs.replace(path, data, self.quarantine)) is not None:
                self._displaced(old)
        else:
            if path.is_file():
                self.supersede(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        self.ledger[hashlib.sha256(data).hexdigest()] = why

    def delete(self, index: int, path: Path) -> None:
        """Delete a file or folder as the user: every version under it was seen."""
        if self.clients[index].daemon is not None:
            if (old := userfs.remove(path, self.quarantine)) is not None:
                self._displaced(old)
            return
        self.supersede(path)
        if path.is_dir():
            _rmtree(path)
        else:
            path.unlink()

    def move(self, index: int, src: Path, dest: Path) -> bool:
        """Rename as the user; False (a no-op) when ``dest`` is taken."""
        if self.clients[index].daemon is not None:
            return userfs.move(src, dest)
        if dest.exists():
            return False
        os.rename(src, dest)
        return True

    def _displaced(self, old: Path) -> None:
        self.supersede(old)
        userfs.discard(old)

    def supersede(self, path: Path) -> None:
        """The client is about to remove ``path``: every version under it was seen."""
        if path.is_file() and not path.is_symlink():
            self.superseded.add(hashlib.sha256(path.read_bytes()).hexdigest())
        elif path.is_dir():
            self.superseded.update(file_hashes(path).values())

    # -- syncs -----------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        return {**os.environ, **FAST_CLIENT_ENV, "SYNCD_API_KEY": self.api_key}

    def is_daemon(self, index: int) -> bool:
        return self.clients[index].daemon is not None

    def await_quiet(self, index: int, timeout: float) -> float | None:
        """Wait until a daemon client is idle and its tree equals the server's.

        Returns the seconds it took, or None at the deadline or if the daemon died (its
        exit then becomes a failed run).
        """
        client = self.clients[index]
        assert client.daemon is not None and self.server is not None
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if (code := client.daemon.exited()) is not None:
                self.runs.append(Run(index, code, "\n".join(client.daemon.lines), daemon=True))
                client.daemon.start()  # as systemd would; the failed run is reported
                return None
            remote = remote_tree(self.server.url, self.api_key, self.workspace)
            if local_tree(client.folder) == remote and client.daemon.is_quiet():
                return time.monotonic() - start
            time.sleep(QUIET_POLL)  # a poll with a deadline
        return None

    def kill_daemon(self, index: int, delay: float) -> bool:
        """SIGKILL a daemon client ``delay`` seconds from now and restart it."""
        daemon = self.clients[index].daemon
        assert daemon is not None
        time.sleep(delay)  # the kill moment is the point: a random instant of its work
        self.runs.append(Run(index, -9, "", killed=True, faulty=True, daemon=True))
        alive = daemon.kill()
        daemon.start()  # as systemd's Restart=on-failure does
        return alive

    def sync(self, index: int, *, final: bool = False) -> Run:
        assert self.proxy is not None
        client = self.clients[index]
        proc = subprocess.run(
            client.argv(self.proxy.url, self.workspace),
            capture_output=True,
            text=True,
            env=self.env(),
            timeout=SYNC_TIMEOUT,
        )
        run = Run(index, proc.returncode, proc.stderr, faulty=self.disturbed, final=final)
        self.runs.append(run)
        return run

    def kill_sync(self, index: int, delay: float) -> Run:
        """Start a sync and SIGKILL it after ``delay`` seconds (if it is still running)."""
        assert self.proxy is not None
        client = self.clients[index]
        proc = subprocess.Popen(
            client.argv(self.proxy.url, self.workspace),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env(),
        )
        deadline = time.monotonic() + delay
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)  # a poll with a deadline: the kill moment is the point
        killed = proc.poll() is None
        if killed:
            proc.send_signal(signal.SIGKILL)
        _out, err = proc.communicate(timeout=SYNC_TIMEOUT)
        run = Run(index, proc.returncode, err or "", killed=killed, faulty=True)
        self.runs.append(run)
        return run

    # -- the server side -----------------------------------------------------------

    def restart_server(self) -> None:
        for server in self.servers:
            server.restart(keep_port=True)
        self.disturbed = True

    def take_backup(self) -> None:
        assert self.server is not None
        self.backup = self.root / "backups" / "ws.backup"
        if self.backup.exists():
            self.backup.unlink()
        self.server.admin("backup", self.workspace, str(self.backup))

    def restore_backup(self) -> bool:
        assert self.server is not None
        if self.backup is None:
            return False
        self.server.admin("restore", str(self.backup))
        self.disturbed = True
        return True

    # -- reading the trees -----------------------------------------------------------

    def client_entries(self, index: int) -> list[Path]:
        return entries(self.clients[index].folder)


def _rmtree(path: Path) -> None:
    for dirpath, dirnames, filenames in os.walk(path, topdown=False):
        for name in filenames:
            os.unlink(os.path.join(dirpath, name))
        for name in dirnames:
            os.rmdir(os.path.join(dirpath, name))
    os.rmdir(path)
