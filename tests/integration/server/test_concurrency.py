"""Concurrency: racing writers leave one whole version; readers see old or new, whole."""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx

from syncd.soak.harness import ServerProcess
from tests.integration.server.conftest import files_url, listing, put

SIZE = 256 << 10


def body(n: int) -> bytes:
    return bytes([n]) * SIZE


def test_racing_writers_to_one_path(
    shared_server: ServerProcess, api_key: str, client: httpx.Client, ws: str
) -> None:
    versions = {body(n) for n in range(8)}

    def write(n: int) -> int:
        with shared_server.client(api_key) as own:
            return put(own, ws, "same.bin", body(n)).status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(write, range(8))) == {204}
    final = client.get(files_url(ws, "same.bin")).content
    assert final in versions
    entry = listing(client, ws)["same.bin"]
    assert entry["hash"] == "sha256:" + hashlib.sha256(final).hexdigest()
    assert entry["size"] == SIZE


def test_revisions_stay_strictly_increasing(
    shared_server: ServerProcess, api_key: str, client: httpx.Client, ws: str
) -> None:
    def write(n: int) -> None:
        with shared_server.client(api_key) as own:
            assert put(own, ws, f"f{n}", b"x").status_code == 204

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(write, range(30)))
    page = client.get(f"/api/v1/workspaces/{ws}/changes", params={"from_revision": 0}).json()
    revisions = sorted(e["revision"] for e in page["created"])
    assert revisions == list(range(1, 31))  # one revision each, none shared, none skipped
    assert page["end_revision"] == 30


def test_get_during_put_sees_old_or_new_whole(client: httpx.Client, ws: str) -> None:
    old, new = body(1), body(2)
    put(client, ws, "doc", old)
    half_sent = threading.Event()
    release = threading.Event()

    def slow_body():  # the PUT stalls half way until the reader has looked
        yield new[: SIZE // 2]
        half_sent.set()
        assert release.wait(30)
        yield new[SIZE // 2 :]

    result: dict[str, int] = {}
    writer = threading.Thread(
        target=lambda: result.update(
            status=client.put(files_url(ws, "doc"), content=slow_body()).status_code
        )
    )
    with httpx.Client(base_url=client.base_url, headers=client.headers) as reader:
        writer.start()
        assert half_sent.wait(30)
        during = reader.get(files_url(ws, "doc")).content
        release.set()
        writer.join(30)
        after = reader.get(files_url(ws, "doc")).content
    assert result["status"] == 204
    assert during == old
    assert after == new


def test_readers_racing_writers_never_see_a_mix(
    shared_server: ServerProcess, api_key: str, ws: str, client: httpx.Client
) -> None:
    put(client, ws, "hot", body(0))
    versions = {body(n) for n in range(6)}
    done = threading.Event()
    seen: list[bytes] = []

    def read() -> None:
        with shared_server.client(api_key) as own:
            while not done.is_set():
                seen.append(own.get(files_url(ws, "hot")).content)

    readers = [threading.Thread(target=read) for _ in range(2)]
    for thread in readers:
        thread.start()
    with shared_server.client(api_key) as own:
        for round_ in range(2):
            for n in range(6):
                put(own, ws, "hot", body((n + round_) % 6))
    done.set()
    for thread in readers:
        thread.join(30)
    assert seen and all(content in versions for content in seen)
