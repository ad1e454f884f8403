"""Resumable uploads under faults: resets at random offsets, lost answers, restarts."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd import errors
from syncd.soak.harness import ServerProcess
from syncd.soak.proxy import Fault, FaultProxy
from syncd.transport import MemoryUploadSessionStore
from tests.integration.transport.conftest import Live
from tests.integration.transport.helpers import MiB, file_hash, make_file

CHUNK = r"/uploads/[^/]+\?offset="
COMMIT = r"/uploads/[^/]+/commit$"


def chunk_offsets(proxy: FaultProxy) -> list[int]:
    """The ``offset`` of every chunk PUT the proxy saw, in order."""
    found = (re.search(r"offset=(\d+)", e.target) for e in proxy.log if e.method == "PUT")
    return [int(m.group(1)) for m in found if m]


def test_64_mib_upload_survives_resets_at_random_offsets(
    full: Live, proxy: FaultProxy, workspace: str, tmp_path: Path
) -> None:
    size = 64 * MiB
    digest = make_file(tmp_path / "big", size, seed=64)
    chunk = 4 * MiB
    rng = random.Random(64)
    for _ in range(6):  # requests cut while the chunk is still arriving
        proxy.add(
            Fault(
                "reset_request",
                method="PUT",
                path=CHUNK,
                after_bytes=rng.randrange(1, chunk),
                probability=0.4,
            )
        )
    for _ in range(3):  # chunks applied whose answer never arrives: offset_mismatch next
        proxy.add(Fault("reset_response", method="PUT", path=CHUNK, probability=0.3))
    proxy.add(Fault("reset_response", method="POST", path=COMMIT))  # the commit's answer lost
    with full.client(url=proxy.url, chunk_size=chunk, max_retries=8) as client:
        sent = client.files.upload(workspace, "big.bin", tmp_path / "big")
        assert sent.hash == digest and sent.entry is not None and sent.entry.hash == digest
        got = client.files.download(workspace, "big.bin", tmp_path / "big.dl")
    assert got.hash == digest and file_hash(tmp_path / "big.dl") == digest
    faults = [e.fault for e in proxy.log if e.fault]
    assert faults.count("reset_request") >= 2 and "reset_response" in faults
    assert any(e.status == 409 for e in proxy.log)  # an offset_mismatch was re-synced
    assert any(e.fault and e.target.endswith("/commit") for e in proxy.log)


def test_upload_resumes_after_a_client_restart(
    full: Live, proxy: FaultProxy, workspace: str, tmp_path: Path
) -> None:
    chunk = 256 * 1024
    digest = make_file(tmp_path / "r", 8 * chunk + 1000)
    store = MemoryUploadSessionStore()
    proxy.add(
        Fault(
            "status", method="PUT", path=r"offset=(?!0$|262144$|524288$)\d+", status=500, times=None
        )
    )
    with (
        full.client(url=proxy.url, upload_sessions=store, max_retries=1) as first,
        pytest.raises(errors.ServerUnreachable),
    ):
        first.files.upload(workspace, "r", tmp_path / "r")
    assert store._rows, "the session is kept for the next run"
    proxy.clear()
    mark = len(proxy.log)
    with full.client(url=proxy.url, upload_sessions=store) as second:
        sent = second.files.upload(workspace, "r", tmp_path / "r")
    assert sent.hash == digest and sent.entry is not None and sent.entry.hash == digest
    resumed = [e for e in proxy.log[mark:] if "/uploads" in e.target]
    assert resumed[0].method == "GET" and "/uploads/" in resumed[0].target  # asked the offset
    assert not any(e.method == "POST" and e.target.endswith("/uploads") for e in resumed)
    offsets = [int(m.group(1)) for e in resumed if (m := re.search(r"offset=(\d+)", e.target))]
    assert offsets[0] == 3 * chunk  # from the server's offset, not from 0
    assert store._rows == {}


def test_changed_file_starts_a_new_session(
    full: Live, proxy: FaultProxy, workspace: str, tmp_path: Path
) -> None:
    make_file(tmp_path / "c", 4 * 256 * 1024)
    store = MemoryUploadSessionStore()
    proxy.add(Fault("status", method="PUT", path=r"offset=[1-9]", status=500, times=None))
    with (
        full.client(url=proxy.url, upload_sessions=store, max_retries=0) as first,
        pytest.raises(errors.ServerUnreachable),
    ):
        first.files.upload(workspace, "c", tmp_path / "c")
    proxy.clear()
    digest = make_file(tmp_path / "c", 4 * 256 * 1024, seed=9)  # new mtime: no resume
    mark = len(proxy.log)
    with full.client(url=proxy.url, upload_sessions=store) as second:
        assert second.files.upload(workspace, "c", tmp_path / "c").hash == digest
    assert chunk_offsets_after(proxy, mark)[0] == 0


def chunk_offsets_after(proxy: FaultProxy, mark: int) -> list[int]:
    found = (re.search(r"offset=(\d+)", e.target) for e in proxy.log[mark:] if e.method == "PUT")
    return [int(m.group(1)) for m in found if m]


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[Live]:
    """A server of this test alone, since the test restarts it."""
    with ServerProcess(tmp_path / "own") as server:
        yield Live(server, server.create_account("carol"))


def test_upload_survives_a_server_restart_between_chunks(own_server: Live, tmp_path: Path) -> None:
    digest = make_file(tmp_path / "s", 6 * 256 * 1024 + 7)
    with FaultProxy(upstream=own_server.server.url, seed=3).start() as proxy:
        proxy.add(
            Fault("hook", method="PUT", path=r"offset=786432$", hook=own_server.server.restart)
        )
        with own_server.client(url=proxy.url, max_retries=8) as client:
            workspace = client.workspaces.create("r").id
            sent = client.files.upload(workspace, "s", tmp_path / "s")
            assert client.files.entry(workspace, "s").hash == digest  # type: ignore[union-attr]
        assert sent.hash == digest
        assert any(e.fault == "hook" for e in proxy.log)
    assert chunk_offsets(proxy) == sorted(chunk_offsets(proxy))  # never started again


def test_expired_session_starts_again(
    full: Live, proxy: FaultProxy, workspace: str, tmp_path: Path
) -> None:
    digest = make_file(tmp_path / "x", 3 * 256 * 1024)
    proxy.add(Fault("status", method="PUT", path=r"offset=262144$", status=404))
    with full.client(url=proxy.url) as client:
        assert client.files.upload(workspace, "x", tmp_path / "x").hash == digest
    assert proxy.count("POST", r"/uploads$") == 2
