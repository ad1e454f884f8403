"""One schedule's world: a real server, the fault proxy, N client folders, and the ledger.

1. Every client talks to the server through one proxy whose address never changes, so a
   server restart or an armed fault is invisible to the client's state database path.
2. ``ledger`` records every version a step wrote, and ``superseded`` every version a
   client deliberately removed: only a version that was on that client's disk when it was
   deleted or overwritten counts as seen, so "overwritten after seeing it" is not a loss.
3. Each ``syncd sync`` is a subprocess with short timeouts and few retries; its exit code
   and stderr are kept in ``runs`` for the checks.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from syncd.soak.proxy import FaultProxy
from syncd.soak.server import ServerProcess, run_admin
from syncd.soak.trees import entries, file_hashes

FAST_CLIENT_ENV = {
    "SYNCD_TIMEOUT": "3",
    "SYNCD_MAX_RETRIES": "3",
    "SYNCD_DEADLINE": "20",
    "SYNCD_TRANSFERS": "2",
    "PYTHONUNBUFFERED": "1",
}
SYNC_TIMEOUT = 120.0


@dataclass
class Run:
    """One ``syncd sync`` as the harness saw it (``killed``: we sent SIGKILL)."""

    client: int
    code: int
    stderr: str
    killed: bool = False
    faulty: bool = False  # a fault was armed or the server was disturbed before it ran
    final: bool = False


@dataclass
class Client:
    index: int
    folder: Path
    state_dir: Path

    def argv(self, url: str, workspace: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "syncd",
            "sync",
            "--server",
            url,
            "--workspace",
            workspace,
            "--dir",
            str(self.folder),
            "--state-dir",
            str(self.state_dir),
        ]


@dataclass
class World:
    root: Path
    base_only: bool
    clients: list[Client] = field(default_factory=list)
    server: ServerProcess | None = None
    proxy: FaultProxy | None = None
    api_key: str = ""
    workspace: str = ""
    ledger: dict[str, str] = field(default_factory=dict)  # sha256 -> which step wrote it
    superseded: set[str] = field(default_factory=set)
    runs: list[Run] = field(default_factory=list)
    trace: list[str] = field(default_factory=list)
    disturbed: bool = False
    backup: Path | None = None

    def start(self, clients: int, seed: int) -> World:
        """Start the server and the proxy, create the account, workspace and folders."""
        extra = ["--base-only"] if self.base_only else []
        self.server = ServerProcess(self.root / "server", extra_args=extra).start()
        self.proxy = FaultProxy(self.server.url, seed=seed).start()
        self.api_key = self.server.create_account("soak")
        with self.server.client(self.api_key) as http:
            answer = http.post("/api/v1/workspaces", json={"name": "soak"})
            answer.raise_for_status()
            self.workspace = answer.json()["id"]
        for i in range(clients):
            folder = self.root / f"c{i}"
            folder.mkdir()
            self.clients.append(Client(i, folder, self.root / f"state-c{i}"))
        (self.root / "backups").mkdir()
        return self

    def stop(self) -> None:
        if self.proxy is not None:
            self.proxy.stop()
        if self.server is not None:
            self.server.stop()

    # -- the ledger ----------------------------------------------------------------

    def write(self, path: Path, data: bytes, why: str) -> None:
        """Write a version (superseding what the file held) and remember it."""
        if path.is_file():
            self.supersede(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.ledger[hashlib.sha256(data).hexdigest()] = why

    def supersede(self, path: Path) -> None:
        """The client is about to remove ``path``: every version under it was seen."""
        if path.is_file() and not path.is_symlink():
            self.superseded.add(hashlib.sha256(path.read_bytes()).hexdigest())
        elif path.is_dir():
            self.superseded.update(file_hashes(path).values())

    # -- syncs -----------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        return {**os.environ, **FAST_CLIENT_ENV, "SYNCD_API_KEY": self.api_key}

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
        assert self.server is not None
        self.server.restart(keep_port=True)
        self.disturbed = True

    def take_backup(self) -> None:
        assert self.server is not None
        self.backup = self.root / "backups" / "ws.backup"
        if self.backup.exists():
            self.backup.unlink()
        run_admin(self.server.data_dir, "backup", self.workspace, str(self.backup))

    def restore_backup(self) -> bool:
        assert self.server is not None
        if self.backup is None:
            return False
        run_admin(self.server.data_dir, "restore", str(self.backup))
        self.disturbed = True
        return True

    # -- reading the trees -----------------------------------------------------------

    def client_entries(self, index: int) -> list[Path]:
        return entries(self.clients[index].folder)

    def sibling_clash(self, path: Path) -> bool:
        """Whether another spelling of this name (same NFC form) exists in its folder."""
        if not path.parent.is_dir():
            return False
        key = unicodedata.normalize("NFC", path.name)
        return any(
            unicodedata.normalize("NFC", p.name) == key and p.name != path.name
            for p in path.parent.iterdir()
        )
