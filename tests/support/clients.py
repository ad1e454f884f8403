"""Drive ``syncd sync`` as a user does: a subprocess with flags, a real folder, a real state db."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx

from syncd.soak.harness import ServerProcess, client_argv, create_workspace, wait_until

__all__ = [
    "SyncClient",
    "create_workspace",
    "local_tree",
    "remote_tree",
    "server_files",
    "settled_files",
    "write",
]


@dataclass
class SyncClient:
    """One local folder synced with one workspace through the ``syncd`` command."""

    server: ServerProcess
    api_key: str
    workspace: str
    folder: Path
    state_dir: Path

    def run(
        self, *args: str, command: str = "sync", timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "SYNCD_API_KEY": self.api_key, "PYTHONUNBUFFERED": "1"}
        return subprocess.run(
            client_argv(
                command, self.server.url, self.workspace, self.folder, self.state_dir, *args
            ),
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
        )

    def sync(self, *args: str, expect: int | None = 0) -> subprocess.CompletedProcess[str]:
        proc = self.run(*args)
        if expect is not None:
            assert proc.returncode == expect, (
                f"sync exited {proc.returncode}, expected {expect}\n"
                f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
            )
        return proc

    def tree(self) -> dict[str, str]:
        return local_tree(self.folder)


def write(path: Path, data: bytes | str) -> None:
    """Write a file as a user would, creating its folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)


def local_tree(root: Path) -> dict[str, str]:
    """path -> sha256 of every file of the user's (our marker and temp files left out)."""
    result = {}
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            if name.startswith(".syncd-"):
                continue
            full = Path(dirpath) / name
            rel = full.relative_to(root).as_posix()
            result[rel] = hashlib.sha256(full.read_bytes()).hexdigest()
    return result


def remote_tree(server: ServerProcess, api_key: str, workspace: str) -> dict[str, str]:
    """path -> sha256 of every file on the server, fetched over the base API.

    A daemon may delete a file between the listing and its download; the 404 that gives
    means the listing is stale, so the snapshot starts again rather than failing.
    """
    with server.client(api_key) as http:
        for _attempt in range(20):
            result = _remote_snapshot(http, workspace)
            if result is not None:
                return result
    raise AssertionError("the remote tree kept changing while it was read")


def _remote_snapshot(http: httpx.Client, workspace: str) -> dict[str, str] | None:
    result = {}
    entries = http.get(f"/api/v1/workspaces/{workspace}/files").json()["entries"]
    for entry in entries:
        if entry["type"] != "file":
            continue
        body = http.get(f"/api/v1/workspaces/{workspace}/files/{_quote(entry['path'])}")
        if body.status_code == 404:
            return None
        body.raise_for_status()
        result[entry["path"]] = hashlib.sha256(body.content).hexdigest()
    return result


def _quote(path: str) -> str:
    return quote(path, safe="/")


_BOOKKEEPING = re.compile(r"reason=(UPLOAD_CONFIRMED|REMOTE_ECHO)\b")


def sync_settled(client: SyncClient) -> subprocess.CompletedProcess[str]:
    """One more sync, and one after it when that one only confirmed our own uploads.

    A base-only server cannot prove an upload ours from its listing, so the sync after an
    upload downloads and hashes it once (``RecordBase`` ``UPLOAD_CONFIRMED``): bookkeeping,
    not a change. Our own upload's new revision coming back through the feed is adopted
    alike (``REMOTE_ECHO``). The sync returned is the one that must have nothing to do.
    """
    proc = client.sync()
    ops = [line for line in proc.stderr.splitlines() if " op=" in line]
    if ops and all("op=RecordBase" in op and _BOOKKEEPING.search(op) for op in ops):
        proc = client.sync()
    return proc


def server_files(server: ServerProcess, key: str, workspace: str) -> dict[str, int]:
    """path -> revision of every file on the server: a second upload is a new revision."""
    with server.client(key) as http:
        answer = http.get(f"/api/v1/workspaces/{workspace}/files")
        answer.raise_for_status()
        return {e["path"]: e["revision"] for e in answer.json()["entries"] if e["type"] == "file"}


def settled_files(server: ServerProcess, key: str, workspace: str) -> dict[str, str]:
    """The server's files once a batch the killed client had sent whole has been applied:
    the same answer over a second of reads (a poll with a deadline)."""
    seen = [server_files(server, key, workspace)]

    def still() -> bool:
        seen.append(server_files(server, key, workspace))
        return len(seen) >= 5 and all(s == seen[-1] for s in seen[-5:])

    assert wait_until(still, timeout=30, interval=0.25), "the server's files kept changing"
    return seen[-1]
