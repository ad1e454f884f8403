"""Many files made durable together: write_temp, fsync_file, install(folders=...), fsync_folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from syncd.errors import ItemError
from syncd.local import write as write_module
from syncd.local.errors import LocalChanged
from syncd.local.hashing import hash_bytes
from syncd.local.ignore import is_our_temp_file
from syncd.local.trash import Trash
from syncd.local.write import fsync_file, fsync_folders, install, write_temp
from syncd.planner.trees import Kind, LocalNode


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "root" / "d").mkdir(parents=True)
    return tmp_path / "root"


@pytest.fixture
def trash(tmp_path: Path) -> Trash:
    return Trash(tmp_path / "state" / "trash")


@pytest.fixture
def synced_dirs(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    seen: list[Path] = []
    real = write_module.fsync_dir
    monkeypatch.setattr(write_module, "fsync_dir", lambda p: (seen.append(Path(p)), real(p)))
    return seen


def test_write_temp_writes_a_temp_of_ours_beside_the_target(root: Path) -> None:
    temp = write_temp(root / "d" / "a.txt", [b"he", b"llo"], rel_path="d/a.txt")
    assert temp.parent == root / "d" and is_our_temp_file(temp.name)
    assert temp.read_bytes() == b"hello"


def test_write_temp_leaves_nothing_when_the_chunks_fail(root: Path) -> None:
    def broken():
        yield b"part"
        raise ItemError("cut short", path="d/a.txt")

    with pytest.raises(ItemError):
        write_temp(root / "d" / "a.txt", broken(), rel_path="d/a.txt")
    assert list((root / "d").iterdir()) == []


def test_write_temp_in_a_missing_folder_is_an_item_error(root: Path) -> None:
    with pytest.raises(ItemError, match=r"cannot write 'x/a\.txt'"):
        write_temp(root / "x" / "a.txt", [b"a"], rel_path="x/a.txt")


def test_fsync_file_of_a_missing_file_is_an_item_error(root: Path) -> None:
    with pytest.raises(ItemError):
        fsync_file(root / "gone", rel_path="gone")


def test_install_with_folders_defers_the_folder_fsync_to_one_per_folder(
    root: Path, trash: Trash, synced_dirs: list[Path]
) -> None:
    folders: set[Path] = set()
    for name in ("d/a", "d/b", "c"):
        target = root / name
        temp = write_temp(target, [name.encode()], rel_path=name)
        fsync_file(temp, rel_path=name)
        install(
            temp,
            target,
            expected=None,
            verified_hash=hash_bytes(name.encode()),
            trash=trash,
            rel_path=name,
            folders=folders,
        )
    assert synced_dirs == []  # nothing yet: the caller syncs each folder once
    assert folders == {root, root / "d"}
    fsync_folders(folders)
    assert sorted(synced_dirs) == sorted([root, root / "d"])
    assert (root / "d" / "b").read_bytes() == b"d/b"


def test_install_with_folders_keeps_every_check_and_the_trash(
    root: Path, trash: Trash, synced_dirs: list[Path]
) -> None:
    target = root / "d" / "a"
    target.write_bytes(b"old")
    st = os.lstat(target)
    seen = LocalNode("d/a", Kind.FILE, st.st_size, st.st_mtime_ns, st.st_ino)
    folders: set[Path] = set()
    temp = write_temp(target, [b"new"], rel_path="d/a")
    install(
        temp,
        target,
        expected=seen,
        verified_hash=hash_bytes(b"new"),
        trash=trash,
        rel_path="d/a",
        folders=folders,
    )
    assert target.read_bytes() == b"new"
    assert [e.path.read_bytes() for e in trash.list()] == [b"old"]
    target.write_bytes(b"edited after the plan")
    temp = write_temp(target, [b"newer"], rel_path="d/a")
    with pytest.raises(LocalChanged):
        install(
            temp,
            target,
            expected=seen,
            verified_hash=hash_bytes(b"newer"),
            trash=trash,
            rel_path="d/a",
            folders=folders,
        )
    assert target.read_bytes() == b"edited after the plan"
