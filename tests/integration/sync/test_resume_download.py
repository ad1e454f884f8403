"""End to end: a download broken by a client restart goes on where it stopped.

The client reaches the real server through the fault proxy, which stalls the body of a
multi-MiB file half way; the client is killed with SIGKILL while it waits. The next sync
asks ``Range: bytes=N-`` from exactly the bytes kept, and the file arrives whole and
verified. When the remote file changed meanwhile, or went away, the partial is dropped.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from syncd.soak.harness import ServerProcess
from syncd.soak.proxy import Fault, FaultProxy
from tests.support.clients import SyncClient, create_workspace

MiB = 1024 * 1024
SIZE = 12 * MiB
BIG = r"/files/big\.bin$"


@dataclass
class Via:
    """What ``SyncClient`` needs of a server: the URL it talks to (here, the proxy's)."""

    url: str


@pytest.fixture
def proxy(server: ServerProcess) -> Iterator[FaultProxy]:
    with FaultProxy(upstream=server.url, seed=10).start() as fault_proxy:
        yield fault_proxy


@pytest.fixture
def setup(server: ServerProcess, proxy: FaultProxy, tmp_path: Path):
    key = server.create_account("alice")
    workspace = create_workspace(server, key)
    (tmp_path / "b").mkdir()
    client = SyncClient(Via(proxy.url), key, workspace, tmp_path / "b", tmp_path / "state-b")  # type: ignore[arg-type]
    return server, key, workspace, client


def put(server: ServerProcess, key: str, workspace: str, path: str, data: bytes) -> None:
    with server.client(key) as http:
        http.put(f"/api/v1/workspaces/{workspace}/files/{path}", content=data).raise_for_status()


def delete(server: ServerProcess, key: str, workspace: str, path: str) -> None:
    with server.client(key) as http:
        http.delete(f"/api/v1/workspaces/{workspace}/files/{path}").raise_for_status()


def area(client: SyncClient) -> list[Path]:
    """The files of the client's downloads area."""
    return sorted(p for p in client.state_dir.glob("*.downloads/*") if p.is_file())


def kill_mid_download(client: SyncClient, proxy: FaultProxy) -> int:
    """Start a sync, stall the body of big.bin after 5 MiB, SIGKILL the client once it
    holds 4 MiB of it; return how many bytes the partial kept."""
    proxy.add(Fault("stall", method="GET", path=BIG, after_bytes=5 * MiB, delay=None))
    env = {**os.environ, "SYNCD_API_KEY": client.api_key}
    argv = [sys.executable, "-m", "syncd", "sync", "--server", client.server.url]
    argv += ["--workspace", client.workspace, "--dir", str(client.folder)]
    argv += ["--state-dir", str(client.state_dir)]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            parts = [p for p in area(client) if p.suffix == ".part"]
            if parts and parts[0].stat().st_size >= 4 * MiB:
                break
            time.sleep(0.02)
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    proxy.clear()
    parts = [p for p in area(client) if p.suffix == ".part"]
    assert len(parts) == 1 and [p.suffix for p in area(client)] == [".json", ".part"]
    assert not (client.folder / "big.bin").exists()
    return parts[0].stat().st_size


def gets_of_big(proxy: FaultProxy, mark: int) -> list:
    return [e for e in proxy.log[mark:] if e.method == "GET" and e.target.endswith("/big.bin")]


def test_a_killed_download_resumes_with_range(setup, proxy):
    server, key, workspace, b = setup
    data = os.urandom(SIZE)
    put(server, key, workspace, "big.bin", data)
    kept = kill_mid_download(b, proxy)
    assert 4 * MiB <= kept < SIZE
    mark = len(proxy.log)
    b.sync()
    gets = gets_of_big(proxy, mark)
    assert [(e.headers.get("range"), e.status) for e in gets] == [(f"bytes={kept}-", 206)]
    assert (b.folder / "big.bin").read_bytes() == data
    assert area(b) == []


def test_a_partial_of_an_older_version_is_dropped(setup, proxy):
    server, key, workspace, b = setup
    put(server, key, workspace, "big.bin", os.urandom(SIZE))
    kill_mid_download(b, proxy)
    newer = os.urandom(SIZE + 1000)
    put(server, key, workspace, "big.bin", newer)
    mark = len(proxy.log)
    b.sync()
    gets = gets_of_big(proxy, mark)
    assert [(e.headers.get("range"), e.status) for e in gets] == [(None, 200)]
    assert (b.folder / "big.bin").read_bytes() == newer
    assert area(b) == []


def test_a_partial_whose_path_went_away_is_dropped(setup, proxy):
    server, key, workspace, b = setup
    put(server, key, workspace, "big.bin", os.urandom(SIZE))
    put(server, key, workspace, "small.txt", b"still here")
    kill_mid_download(b, proxy)
    delete(server, key, workspace, "big.bin")
    mark = len(proxy.log)
    b.sync()
    assert gets_of_big(proxy, mark) == []
    assert not (b.folder / "big.bin").exists()
    assert (b.folder / "small.txt").read_bytes() == b"still here"
    assert area(b) == []
