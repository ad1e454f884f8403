"""The download sink: one shared hashing pool, small files hashed inline, hash exact."""

from __future__ import annotations

import hashlib
import io

import pytest

from syncd.transport import download


def _feed(sink: download._Sink, data: bytes, piece: int) -> None:
    for start in range(0, len(data), piece):
        sink.write(data[start : start + piece])
    sink.flush()


def test_small_file_is_hashed_inline(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_pool() -> None:
        raise AssertionError("a file below one block went through the pool")

    monkeypatch.setattr(download, "_hashing_pool", no_pool)
    handle = io.BytesIO()
    sink = download._Sink(handle, None)
    data = b"x" * 1000
    _feed(sink, data, 64)
    assert sink.digest() == "sha256:" + hashlib.sha256(data).hexdigest()
    assert handle.getvalue() == data
    assert sink.written == len(data)


def test_large_file_hash_matches_across_blocks_and_a_reset() -> None:
    data = bytes(range(256)) * (download.BLOCK // 256 * 3 + 17)
    handle = io.BytesIO()
    sink = download._Sink(handle, None)
    _feed(sink, b"stale bytes" * 100_000, 65536)
    sink.reset()  # a restart from byte 0 forgets what came before
    _feed(sink, data, 65536)
    assert sink.digest() == "sha256:" + hashlib.sha256(data).hexdigest()
    assert handle.getvalue() == data
    sink.close()


def test_one_pool_serves_every_download() -> None:
    first = download._hashing_pool()
    assert download._hashing_pool() is first
    sinks = [download._Sink(io.BytesIO(), None) for _ in range(3)]
    data = b"y" * (download.BLOCK * 2)
    for sink in sinks:
        _feed(sink, data, download.BLOCK)
    assert {s.digest() for s in sinks} == {"sha256:" + hashlib.sha256(data).hexdigest()}
    assert download._hashing_pool() is first
