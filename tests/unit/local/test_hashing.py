"""hashing.py: streamed sha256, and no hash of a torn read."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from syncd.errors import ItemError, SourceChanged
from syncd.local import hashing
from syncd.local.hashing import StatSig, hash_bytes, hash_file, hash_file_stable


def test_hash_file_matches_sha256_across_blocks(tmp_path: Path) -> None:
    data = os.urandom(hashing.BLOCK_SIZE * 2 + 123)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    assert hash_file(path) == ("sha256:" + hashlib.sha256(data).hexdigest(), len(data))
    assert hash_bytes(data) == hash_file(path)[0]


def test_hash_file_stable_returns_sig_of_read_version(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(b"hello")
    digest, sig = hash_file_stable(path)
    assert digest == hash_bytes(b"hello")
    assert sig == StatSig.from_stat(os.lstat(path))


def test_hash_file_stable_refuses_a_file_written_during_the_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(b"x" * (hashing.BLOCK_SIZE + 10))
    real_read = os.read
    calls = []

    def read_then_append(fd: int, n: int) -> bytes:
        block = real_read(fd, n)
        if not calls:
            with open(path, "ab") as fh:
                fh.write(b"more")
        calls.append(n)
        return block

    monkeypatch.setattr(hashing.os, "read", read_then_append)
    with pytest.raises(SourceChanged) as info:
        hash_file_stable(path, rel_path="a.txt")
    assert info.value.path == "a.txt"


def test_hash_file_stable_refuses_a_file_replaced_during_the_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(b"old")
    real_read = os.read

    def read_then_replace(fd: int, n: int) -> bytes:
        block = real_read(fd, n)
        if block:
            other = tmp_path / "new"
            other.write_bytes(b"old")
            os.utime(other, ns=(os.lstat(path).st_mtime_ns,) * 2)
            os.replace(other, path)  # same size and mtime, another inode
        return block

    monkeypatch.setattr(hashing.os, "read", read_then_replace)
    with pytest.raises(SourceChanged):
        hash_file_stable(path)


def test_vanished_file_is_source_changed(tmp_path: Path) -> None:
    with pytest.raises(SourceChanged):
        hash_file_stable(tmp_path / "gone", rel_path="gone")


def test_unreadable_file_maps_to_item_error_with_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "secret.txt"
    path.write_bytes(b"x")

    def denied(*args: object, **kwargs: object) -> int:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(hashing.os, "open", denied)
    with pytest.raises(ItemError) as info:
        hash_file(path, rel_path="secret.txt")
    assert info.value.path == "secret.txt"
    assert "permission" in (info.value.hint or "").lower()
    assert not isinstance(info.value, SourceChanged)
    assert str(tmp_path) not in str(info.value)


def test_statsig_identity_ignores_ctime() -> None:
    a = StatSig(1, 2, 3, 4)
    assert a.same_content_identity(StatSig(1, 2, 3, 99))
    assert not a.same_content_identity(StatSig(1, 2, 4, 4))
    assert a != StatSig(1, 2, 3, 99)
