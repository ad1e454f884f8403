"""install() with ``verified_hash``: no second fsync or hash, every safety check kept."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from syncd.local import write as write_module
from syncd.local.errors import ContentMismatch, LocalChanged
from syncd.local.hashing import hash_bytes
from syncd.local.trash import Trash
from syncd.local.write import install, open_temp
from syncd.planner.trees import Kind, LocalNode


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "root").mkdir()
    return tmp_path / "root"


@pytest.fixture
def trash(tmp_path: Path) -> Trash:
    return Trash(tmp_path / "state" / "trash")


@pytest.fixture
def file_fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the inode of every regular file fsynced, and refuse any re-hash."""
    seen: list[int] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        st = os.fstat(fd)
        if stat.S_ISREG(st.st_mode):
            seen.append(st.st_ino)
        real_fsync(fd)

    def no_hash(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the verified temp file was read again")

    monkeypatch.setattr(os, "fsync", spy)
    monkeypatch.setattr(write_module, "hash_file", no_hash)
    return seen


def node(path: Path, rel: str) -> LocalNode:
    st = os.lstat(path)
    return LocalNode(rel, Kind.FILE, st.st_size, st.st_mtime_ns, st.st_ino)


def downloaded(target: Path, data: bytes) -> Path:
    temp, fh = open_temp(target)
    with fh:
        fh.write(data)
    return temp


def test_verified_temp_is_installed_without_refsync_or_rehash(
    root: Path, trash: Trash, file_fsyncs: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    synced_dirs: list[Path] = []
    real_fsync_dir = write_module.fsync_dir
    monkeypatch.setattr(
        write_module, "fsync_dir", lambda p: (synced_dirs.append(Path(p)), real_fsync_dir(p))
    )
    target = root / "a.txt"
    temp = downloaded(target, b"hello")
    digest = hash_bytes(b"hello")
    sig = install(
        temp,
        target,
        expected=None,
        expected_hash=digest,
        verified_hash=digest,
        trash=trash,
        rel_path="a.txt",
    )
    assert target.read_bytes() == b"hello"
    assert not temp.exists()
    assert sig.size == 5
    assert file_fsyncs == []  # the downloader already fsynced these bytes
    assert synced_dirs == [root]  # the rename itself is still made durable


def test_verified_hash_still_overwrites_through_the_trash(
    root: Path, trash: Trash, file_fsyncs: list[int]
) -> None:
    target = root / "a.txt"
    target.write_bytes(b"old")
    seen = node(target, "a.txt")
    temp = downloaded(target, b"new")
    install(
        temp, target, expected=seen, verified_hash=hash_bytes(b"new"), trash=trash, rel_path="a.txt"
    )
    assert target.read_bytes() == b"new"
    assert [e.path.read_bytes() for e in trash.list()] == [b"old"]


def test_verified_hash_still_refuses_a_changed_target(
    root: Path, trash: Trash, file_fsyncs: list[int]
) -> None:
    target = root / "a.txt"
    target.write_bytes(b"seen")
    seen = node(target, "a.txt")
    target.write_bytes(b"edited by the user")
    temp = downloaded(target, b"remote")
    with pytest.raises(LocalChanged) as info:
        install(
            temp,
            target,
            expected=seen,
            verified_hash=hash_bytes(b"remote"),
            trash=trash,
            rel_path="a.txt",
        )
    assert info.value.temp == temp
    assert target.read_bytes() == b"edited by the user"
    assert temp.read_bytes() == b"remote"
    assert trash.list() == []


def test_verified_hash_that_differs_from_the_expected_one_is_refused(
    root: Path, trash: Trash, file_fsyncs: list[int]
) -> None:
    target = root / "a.txt"
    temp = downloaded(target, b"remote")
    with pytest.raises(ContentMismatch):
        install(
            temp,
            target,
            expected=None,
            expected_hash=hash_bytes(b"announced"),
            verified_hash=hash_bytes(b"remote"),
            trash=trash,
            rel_path="a.txt",
        )
    assert not temp.exists()
    assert not target.exists()


def test_without_verified_hash_the_temp_is_fsynced_and_hashed(root: Path, trash: Trash) -> None:
    target = root / "a.txt"
    temp = downloaded(target, b"remote")
    with pytest.raises(ContentMismatch):
        install(
            temp,
            target,
            expected=None,
            expected_hash=hash_bytes(b"other"),
            trash=trash,
            rel_path="a.txt",
        )
    assert not target.exists()
