"""Reading an upload source: what was read is what is sent, and a change is caught."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from syncd.errors import ItemError, SourceChanged
from syncd.transport.progress import CountingProgress
from syncd.transport.source import SourceFile
from syncd.transport.throttle import Throttle


def make(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    return path


def test_stream_hashes_what_it_yields(tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    with SourceFile(make(tmp_path, data), "f.bin") as src:
        hasher, sent = hashlib.sha256(), [0]
        body = b"".join(src.stream(hasher, sent))
    assert body == data and sent[0] == len(data)
    assert hasher.hexdigest() == hashlib.sha256(data).hexdigest()


def test_append_during_read_is_caught_before_the_last_byte(tmp_path: Path) -> None:
    path = make(tmp_path, os.urandom(2 * 1024 * 1024 + 5))
    with SourceFile(path, "f.bin") as src:
        stream = src.stream(hashlib.sha256(), [0])
        next(stream)
        with open(path, "ab") as handle:
            handle.write(b"more")
        with pytest.raises(SourceChanged):
            list(stream)


def test_edit_in_place_is_caught_by_mtime(tmp_path: Path) -> None:
    path = make(tmp_path, b"x" * 100)
    with SourceFile(path, "f.bin") as src:
        later = time.time_ns() + 5_000_000_000
        os.utime(path, ns=(later, later))
        with pytest.raises(SourceChanged, match="changed"):
            src.check()


def test_replacement_by_rename_is_caught(tmp_path: Path) -> None:
    path = make(tmp_path, b"x" * 100)
    with SourceFile(path, "f.bin") as src:
        other = tmp_path / "other"
        other.write_bytes(b"x" * 100)
        os.utime(other, ns=(src.mtime_ns, src.mtime_ns))
        os.replace(other, path)
        with pytest.raises(SourceChanged):
            src.check()


def test_vanished_file_is_caught(tmp_path: Path) -> None:
    path = make(tmp_path, b"abc")
    with SourceFile(path, "f.bin") as src:
        path.unlink()
        with pytest.raises(SourceChanged, match="vanished"):
            src.check()


def test_unreadable_source_is_an_item_error(tmp_path: Path) -> None:
    with pytest.raises(ItemError, match="cannot read"):
        SourceFile(tmp_path / "missing", "missing")


def test_hash_range_catches_up(tmp_path: Path) -> None:
    data = os.urandom(10_000)
    with SourceFile(make(tmp_path, data), "f.bin") as src:
        hasher = hashlib.sha256()
        src.hash_range(hasher, 0, 4000)
        src.hash_range(hasher, 4000, 10_000)
    assert hasher.hexdigest() == hashlib.sha256(data).hexdigest()


def test_throttle_holds_the_rate() -> None:
    throttle = Throttle(1_000_000)
    start = time.monotonic()
    for _ in range(5):
        throttle.consume(100_000)  # 0.5 MB in all; the first 1 MB/s of credit is full
    throttle.consume(1_000_000)
    assert time.monotonic() - start >= 0.4
    unlimited = Throttle(None)
    start = time.monotonic()
    unlimited.consume(10**12)
    assert time.monotonic() - start < 0.05


def test_counting_progress() -> None:
    progress = CountingProgress()
    progress.start("a", 10)
    progress.advance(7)
    progress.advance(-2)
    progress.finish()
    assert (progress.path, progress.total, progress.done, progress.finished) == ("a", 10, 5, True)


def test_per_transfer_progress_names_its_path() -> None:
    from syncd.transport.progress import PerTransfer

    calls: list[tuple[object, ...]] = []

    class Display:
        def start(self, path: str, total: int | None) -> None:
            calls.append(("start", path, total))

        def advance(self, path: str, nbytes: int) -> None:
            calls.append(("advance", path, nbytes))

        def finish(self, path: str) -> None:
            calls.append(("finish", path))

    one = PerTransfer(Display())
    one.start("a.txt", 3)
    one.advance(3)
    one.finish()
    assert calls == [("start", "a.txt", 3), ("advance", "a.txt", 3), ("finish", "a.txt")]
