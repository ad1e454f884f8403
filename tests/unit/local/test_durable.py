"""GroupSync: when one syncfs stands for a group's fsyncs, and the fallback fsyncs each file."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from syncd.errors import ItemError
from syncd.local import durable
from syncd.local.durable import GroupSync, syncfs_budget


def test_the_syncfs_budget_grows_with_the_group_from_a_floor() -> None:
    assert syncfs_budget(1) == durable.SYNCFS_MAX_DIRTY
    assert syncfs_budget(0) == durable.SYNCFS_MAX_DIRTY
    many = 4 * durable.SYNCFS_MAX_DIRTY // durable.SYNCFS_DIRTY_PER_FILE
    assert syncfs_budget(many) == 4 * durable.SYNCFS_MAX_DIRTY


@pytest.mark.parametrize(
    ("dirty", "files", "uses"),
    [
        (0, 1, True),
        (durable.SYNCFS_MAX_DIRTY + 1, 1, False),
        (durable.SYNCFS_MAX_DIRTY + 1, 1000, True),  # 1,000 fsyncs cost more than that
        (syncfs_budget(1000) + 1, 1000, False),
        (None, 1000, False),  # unknown: never syncfs blind
    ],
)
def test_syncfs_is_taken_only_within_the_budget_of_the_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dirty: int | None, files: int, uses: bool
) -> None:
    monkeypatch.setattr(durable, "_libc_syncfs", lambda: lambda fd: 0)
    monkeypatch.setattr(durable, "fs_type", lambda path: "ext4")
    monkeypatch.setattr(durable, "dirty_bytes", lambda: dirty)
    with GroupSync.open(tmp_path, files=files) as group:
        assert group.uses_syncfs is uses


def test_an_unknown_file_system_never_takes_syncfs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(durable, "_libc_syncfs", lambda: lambda fd: 0)
    monkeypatch.setattr(durable, "fs_type", lambda path: "nfs4")
    monkeypatch.setattr(durable, "dirty_bytes", lambda: 0)
    with GroupSync.open(tmp_path, files=1000) as group:
        assert not group.uses_syncfs


@pytest.fixture
def fsynced(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Inodes of every real fsync, from whichever thread; syncfs is not offered."""
    monkeypatch.setattr(durable, "_libc_syncfs", lambda: None)
    seen: list[int] = []
    lock = threading.Lock()
    real = os.fsync

    def fsync(fd: int) -> None:
        with lock:
            seen.append(os.fstat(fd).st_ino)
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return seen


def test_the_fallback_fsyncs_every_file_and_every_folder_once(
    tmp_path: Path, fsynced: list[int]
) -> None:
    folders = [tmp_path / f"d{n}" for n in range(5)]
    temps = []
    for n in range(40):
        folder = folders[n % 5]
        folder.mkdir(exist_ok=True)
        temp = folder / f"t{n}"
        temp.write_bytes(b"%d" % n)
        temps.append((temp, f"d{n % 5}/f{n}"))
    with GroupSync.open(tmp_path, files=len(temps)) as group:
        assert not group.uses_syncfs
        assert group.files(temps) == []
        group.folders(folder for folder in folders for _ in range(3))
    files = sorted(temp.stat().st_ino for temp, _ in temps)
    dirs = sorted(folder.stat().st_ino for folder in folders)
    assert sorted(ino for ino in fsynced if ino in set(files)) == files
    assert sorted(ino for ino in fsynced if ino in set(dirs)) == dirs
    assert len(fsynced) == len(files) + len(dirs)


def test_a_file_that_cannot_be_made_durable_fails_alone(tmp_path: Path, fsynced: list[int]) -> None:
    temps = []
    for n in range(10):
        temp = tmp_path / f"t{n}"
        temp.write_bytes(b"x")
        temps.append((temp, f"f{n}"))
    temps[3][0].unlink()  # gone before its fsync
    temps[7][0].unlink()
    with GroupSync.open(tmp_path, files=len(temps)) as group:
        failed = group.files(temps)
    assert [rel for rel, _ in failed] == ["f3", "f7"]
    assert all(isinstance(exc, ItemError) for _, exc in failed)
    assert len(fsynced) == 8
    assert all(stat.S_ISREG(os.stat(t).st_mode) for t, rel in temps if rel not in ("f3", "f7"))
