"""Small PUTs: kept in the database, committed in groups, each answered on its own merits."""

from __future__ import annotations

import hashlib
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from syncd.server.blobs import INLINE_MAX
from syncd.soak.harness import ServerProcess
from tests.integration.server.conftest import files_url, first_column, listing, put


def content(n: int, size: int = 3000) -> bytes:
    """Distinct bytes for file ``n`` (distinct contents, so no blob is shared by accident)."""
    seed = hashlib.sha256(str(n).encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def kept_in_db(server: ServerProcess) -> set[str]:
    """Hashes of the blobs whose bytes the database holds."""
    return first_column(server, "SELECT hash FROM blob_bytes")


def test_concurrent_puts_each_get_their_own_answer(
    shared_server: ServerProcess, api_key: str, client: httpx.Client, ws: str
) -> None:
    assert put(client, ws, "taken.txt", b"first").status_code == 204
    assert put(client, ws, "plain", b"a file, not a folder").status_code == 204
    revision = listing(client, ws)["taken.txt"]["revision"]
    good = {f"batch/d{n % 5}/f{n:03d}.bin": content(n) for n in range(60)}
    bad = {  # path -> (headers, expected status): each refused inside a shared group
        "taken.txt": ({"If-None-Match": "*"}, 412),
        "plain/below.txt": ({}, 409),
        "batch": ({"If-Match": f'"{revision + 1000}"'}, 412),
    }

    def send(path: str) -> tuple[str, int]:
        headers, _ = bad.get(path, ({}, 0))
        with shared_server.client(api_key) as own:
            return path, put(own, ws, path, good.get(path, b"refused"), **headers).status_code

    paths = list(good) + list(bad) * 3  # the refusals land among the good ones
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(send, paths))
    for path, status in answers:
        assert status == (bad[path][1] if path in bad else 204), path
    entries = listing(client, ws)
    for path, data in good.items():
        assert entries[path]["hash"] == sha(data)
        assert client.get(files_url(ws, path)).content == data
    assert "plain/below.txt" not in entries and entries["plain"]["type"] == "file"
    assert client.get(files_url(ws, "taken.txt")).content == b"first"
    revisions = [entries[path]["revision"] for path in good]
    assert len(set(revisions)) == len(good)  # one revision each, even inside one commit


def test_small_and_large_files_read_back_whole_and_in_ranges(
    shared_server: ServerProcess, client: httpx.Client, ws: str
) -> None:
    small, edge, large = content(1, 5000), content(2, INLINE_MAX), content(3, INLINE_MAX + 1)
    for name, data in (("small", small), ("edge", edge), ("large", large), ("empty", b"")):
        assert put(client, ws, name, data).status_code == 204
        assert client.get(files_url(ws, name)).content == data
        if data:
            ranged = client.get(files_url(ws, name), headers={"Range": "bytes=100-"})
            assert ranged.status_code == 206 and ranged.content == data[100:]
    held = kept_in_db(shared_server)
    for data in (small, edge, b""):
        assert hashlib.sha256(data).hexdigest() in held
    assert hashlib.sha256(large).hexdigest() not in held  # a file in blobs/, as before


def test_shared_small_contents_live_until_their_last_path_goes(
    shared_server: ServerProcess, client: httpx.Client, ws: str
) -> None:
    data = content(40, 4321)  # no other test of the module stores these bytes
    digest = hashlib.sha256(data).hexdigest()
    assert put(client, ws, "one", data).status_code == 204
    assert put(client, ws, "two", data).status_code == 204
    assert client.delete(files_url(ws, "one")).status_code == 204
    assert client.get(files_url(ws, "two")).content == data
    assert put(client, ws, "two", content(41)).status_code == 204
    assert digest not in kept_in_db(shared_server)  # gone with the overwrite's commit
    assert put(client, ws, "three", data).status_code == 204  # and it comes back whole
    assert client.get(files_url(ws, "three")).content == data


def test_sigkill_right_after_2xx_keeps_every_answered_file(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data").start()
    try:
        key = server.create_account("killed")
        with server.client(key) as client:
            ws = client.post("/api/v1/workspaces", json={"name": "k"}).json()["id"]
        files = {f"k/d{n % 4}/f{n:03d}": content(n, 1000 + 300 * n) for n in range(80)}
        files["k/large"] = content(999, INLINE_MAX * 3)

        def send(path: str) -> str | None:
            with server.client(key) as own:
                return path if put(own, ws, path, files[path]).status_code == 204 else None

        with ThreadPoolExecutor(8) as pool:
            answered = [path for path in pool.map(send, files) if path]
        server.stop(signal.SIGKILL)  # no shutdown: whatever was answered must be on disk
        server.start()
        with server.client(key) as client:
            entries = listing(client, ws)
            assert len(answered) == len(files)
            for path in answered:
                assert entries[path]["hash"] == sha(files[path])
                assert client.get(files_url(ws, path)).content == files[path]
    finally:
        server.stop()
