"""The download sink: one shared hashing pool, small files hashed inline, hash exact."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

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


def test_a_big_file_is_handed_to_writeback_as_it_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hints: list[tuple[int, int, int]] = []
    on_disk: list[int] = []
    target = tmp_path / "big"

    def start_writeback(fd: int, offset: int, length: int) -> bool:
        hints.append((fd, offset, length))
        on_disk.append(target.stat().st_size)  # the bytes hinted are in the file already
        return True

    monkeypatch.setattr(download, "start_writeback", start_writeback)
    data = bytes(range(256)) * (download.WRITE_BEHIND * 2 // 256 + 999)
    with open(target, "wb") as handle:
        sink = download._Sink(handle, None, size_hint=len(data))
        _feed(sink, data, 65536 + 7)  # pieces that straddle blocks
        digest = sink.digest()
    assert digest == "sha256:" + hashlib.sha256(data).hexdigest()
    assert target.read_bytes() == data
    assert len(hints) == 2
    assert [offset for _, offset, _ in hints] == [0, hints[0][2]]  # contiguous, from 0
    assert all(length >= download.WRITE_BEHIND for _, _, length in hints)
    assert all(
        size >= offset + length for (_, offset, length), size in zip(hints, on_disk, strict=True)
    )


def test_a_small_file_allocates_no_more_than_its_size() -> None:
    sink = download._Sink(io.BytesIO(), None, size_hint=100)
    sink.write(b"z" * 60)
    assert sink.received == 60
    assert len(sink._block) == 100  # not a whole BLOCK per small file
    sink.write(b"z" * 40)
    sink.write(b"z" * 5)  # the listed size is only a hint: a longer body still lands
    sink.flush()
    assert sink.written == 105
    assert sink.digest() == "sha256:" + hashlib.sha256(b"z" * 105).hexdigest()
