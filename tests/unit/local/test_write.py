"""write.py on a real folder: fsync, rename and link semantics need the real kernel."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from syncd.errors import ItemError
from syncd.local import write as write_module
from syncd.local.errors import ContentMismatch, LocalChanged
from syncd.local.hashing import hash_bytes
from syncd.local.trash import Trash
from syncd.local.write import (
    clean_temp_files,
    install,
    mkdir,
    open_temp,
    rename,
    temp_path_for,
    trash_path,
)
from syncd.planner.trees import Kind, LocalNode


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "root").mkdir()
    return tmp_path / "root"


@pytest.fixture
def trash(tmp_path: Path) -> Trash:
    return Trash(tmp_path / "state" / "trash")


@pytest.fixture(params=["renameat2", "fallback"])
def no_replace(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with the kernel's RENAME_NOREPLACE and with the link fallback."""
    if request.param == "fallback":
        monkeypatch.setattr(write_module, "_renameat2", lambda: None)
    return request.param


def node(path: Path, rel: str) -> LocalNode:
    st = os.lstat(path)
    kind = Kind.DIR if path.is_dir() else Kind.FILE
    if kind is Kind.DIR:
        return LocalNode(rel, kind, inode=st.st_ino)
    return LocalNode(rel, kind, st.st_size, st.st_mtime_ns, st.st_ino)


def downloaded(target: Path, data: bytes) -> Path:
    temp, fh = open_temp(target)
    with fh:
        fh.write(data)
    return temp


def test_temp_names_are_ours_and_in_the_same_folder(root: Path) -> None:
    temp = temp_path_for(root / "a" / "b.txt")
    assert temp.parent == root / "a"
    assert temp.name.startswith(".syncd-tmp-")
    assert temp != temp_path_for(root / "a" / "b.txt")


def test_install_new_file(root: Path, trash: Trash, no_replace: str) -> None:
    target = root / "a.txt"
    temp = downloaded(target, b"new")
    sig = install(
        temp, target, expected=None, expected_hash=hash_bytes(b"new"), trash=trash, rel_path="a.txt"
    )
    assert target.read_bytes() == b"new"
    assert not temp.exists()
    assert sig.inode == os.lstat(target).st_ino and sig.size == 3
    assert trash.list() == []


def test_install_replaces_the_seen_version_via_the_trash(
    root: Path, trash: Trash, no_replace: str
) -> None:
    target = root / "run.sh"
    target.write_bytes(b"old")
    target.chmod(0o755)
    seen = node(target, "run.sh")
    temp = downloaded(target, b"new")
    install(temp, target, expected=seen, expected_hash=None, trash=trash, rel_path="run.sh")
    assert target.read_bytes() == b"new"
    assert target.stat().st_mode & 0o777 == 0o755
    (entry,) = trash.list()
    assert (entry.rel_path, entry.path.read_bytes()) == ("run.sh", b"old")


@pytest.mark.parametrize("edit", ["size", "mtime", "inode"])
def test_install_refuses_a_changed_target(
    root: Path, trash: Trash, edit: str, no_replace: str
) -> None:
    target = root / "a.txt"
    target.write_bytes(b"seen")
    seen = node(target, "a.txt")
    if edit == "size":
        target.write_bytes(b"user edit")
    elif edit == "mtime":
        os.utime(target, ns=(seen.mtime_ns, seen.mtime_ns + 1))
    else:
        other = root / "other"
        other.write_bytes(b"seen")
        os.utime(other, ns=(seen.mtime_ns, seen.mtime_ns))
        os.replace(other, target)
    before = target.read_bytes()
    temp = downloaded(target, b"remote")
    with pytest.raises(LocalChanged) as info:
        install(temp, target, expected=seen, expected_hash=None, trash=trash, rel_path="a.txt")
    assert info.value.path == "a.txt" and info.value.temp == temp
    assert target.read_bytes() == before
    assert temp.read_bytes() == b"remote"
    assert trash.list() == []


def test_install_refuses_a_target_that_appeared(root: Path, trash: Trash, no_replace: str) -> None:
    target = root / "a.txt"
    temp = downloaded(target, b"remote")
    target.write_bytes(b"made by the user meanwhile")
    with pytest.raises(LocalChanged):
        install(temp, target, expected=None, expected_hash=None, trash=trash, rel_path="a.txt")
    assert target.read_bytes() == b"made by the user meanwhile"
    assert temp.exists()


def test_install_refuses_a_target_created_between_check_and_rename(
    root: Path, trash: Trash, monkeypatch: pytest.MonkeyPatch, no_replace: str
) -> None:
    target = root / "a.txt"
    temp = downloaded(target, b"remote")
    real_lstat = write_module._lstat

    def lstat_then_race(path: Path):  # type: ignore[no-untyped-def]
        result = real_lstat(path)
        if path == target:
            target.write_bytes(b"raced in")
        return result

    monkeypatch.setattr(write_module, "_lstat", lstat_then_race)
    with pytest.raises(LocalChanged):
        install(temp, target, expected=None, expected_hash=None, trash=trash, rel_path="a.txt")
    assert target.read_bytes() == b"raced in"


def test_install_puts_back_a_file_edited_at_the_last_moment(
    root: Path, trash: Trash, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = root / "a.txt"
    target.write_bytes(b"seen")
    seen = node(target, "a.txt")
    real_put = Trash.put

    def put_then_edit(self: Trash, abs_path: Path, rel_path: str, *args: object) -> Path:
        dest = real_put(self, abs_path, rel_path, *args)
        with open(dest, "ab") as fh:  # a writer holding the file open
            fh.write(b" + late edit")
        return dest

    monkeypatch.setattr(Trash, "put", put_then_edit)
    temp = downloaded(target, b"remote")
    with pytest.raises(LocalChanged) as info:
        install(temp, target, expected=seen, expected_hash=None, trash=trash, rel_path="a.txt")
    assert "put back" in str(info.value)
    assert target.read_bytes() == b"seen + late edit"
    assert temp.read_bytes() == b"remote"


def test_install_rejects_content_with_the_wrong_hash(root: Path, trash: Trash) -> None:
    target = root / "a.txt"
    target.write_bytes(b"keep")
    temp = downloaded(target, b"corrupt")
    with pytest.raises(ContentMismatch):
        install(
            temp,
            target,
            expected=node(target, "a.txt"),
            expected_hash=hash_bytes(b"good"),
            trash=trash,
            rel_path="a.txt",
        )
    assert target.read_bytes() == b"keep"
    assert not temp.exists()


def test_write_errors_become_item_errors(
    root: Path, trash: Trash, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = root / "a.txt"
    temp = downloaded(target, b"x")

    def denied(*args: object, **kwargs: object) -> int:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(write_module.os, "open", denied)
    with pytest.raises(ItemError) as info:
        install(temp, target, expected=None, expected_hash=None, trash=trash, rel_path="a.txt")
    assert info.value.path == "a.txt" and info.value.hint
    assert not isinstance(info.value, LocalChanged)


def test_mkdir_is_idempotent_and_refuses_a_file(root: Path) -> None:
    sig = mkdir(root / "d", rel_path="d")
    assert (root / "d").is_dir() and sig.inode == os.lstat(root / "d").st_ino
    assert mkdir(root / "d", rel_path="d").inode == sig.inode
    (root / "f").write_bytes(b"file")
    with pytest.raises(LocalChanged):
        mkdir(root / "f", rel_path="f")
    assert (root / "f").read_bytes() == b"file"


def test_rename_moves_a_seen_file_and_a_folder(root: Path, no_replace: str) -> None:
    (root / "a.txt").write_bytes(b"a")
    (root / "d").mkdir()
    (root / "d" / "x").write_bytes(b"x")
    rename(root / "a.txt", root / "b.txt", node(root / "a.txt", "a.txt"), rel_path="a.txt")
    rename(root / "d", root / "e", node(root / "d", "d"), rel_path="d")
    assert (root / "b.txt").read_bytes() == b"a" and (root / "e" / "x").read_bytes() == b"x"
    assert not (root / "a.txt").exists() and not (root / "d").exists()


def test_rename_never_replaces_the_destination(root: Path, no_replace: str) -> None:
    (root / "a.txt").write_bytes(b"a")
    (root / "b.txt").write_bytes(b"b")
    (root / "d").mkdir()
    (root / "e").mkdir()
    with pytest.raises(LocalChanged):
        rename(root / "a.txt", root / "b.txt", node(root / "a.txt", "a.txt"), rel_path="a.txt")
    with pytest.raises(LocalChanged):
        rename(root / "d", root / "e", node(root / "d", "d"), rel_path="d")
    assert (root / "a.txt").read_bytes() == b"a" and (root / "b.txt").read_bytes() == b"b"
    assert (root / "d").is_dir() and (root / "e").is_dir()


def test_rename_refuses_a_changed_source(root: Path) -> None:
    (root / "a.txt").write_bytes(b"a")
    seen = node(root / "a.txt", "a.txt")
    (root / "a.txt").write_bytes(b"edited")
    with pytest.raises(LocalChanged):
        rename(root / "a.txt", root / "b.txt", seen, rel_path="a.txt")
    assert not (root / "b.txt").exists()


def test_trash_path_file(root: Path, trash: Trash) -> None:
    (root / "a.txt").write_bytes(b"a")
    seen = node(root / "a.txt", "a.txt")
    dest = trash_path(root / "a.txt", seen, trash=trash, rel_path="a.txt")
    assert dest is not None and dest.read_bytes() == b"a"
    assert not (root / "a.txt").exists()
    assert trash_path(root / "a.txt", seen, trash=trash, rel_path="a.txt") is None


def test_trash_path_refuses_a_changed_file(root: Path, trash: Trash) -> None:
    (root / "a.txt").write_bytes(b"a")
    seen = node(root / "a.txt", "a.txt")
    (root / "a.txt").write_bytes(b"edited")
    with pytest.raises(LocalChanged):
        trash_path(root / "a.txt", seen, trash=trash, rel_path="a.txt")
    assert (root / "a.txt").read_bytes() == b"edited"


def test_trash_path_folder_only_with_what_the_plan_knows(root: Path, trash: Trash) -> None:
    d = root / "d"
    (d / "sub").mkdir(parents=True)
    (d / "sub" / "x.txt").write_bytes(b"x")
    (d / ".DS_Store").write_bytes(b"junk")
    known = {
        "d/sub": node(d / "sub", "d/sub"),
        "d/sub/x.txt": node(d / "sub" / "x.txt", "d/sub/x.txt"),
    }
    (d / "new.txt").write_bytes(b"the other side never saw this")
    with pytest.raises(LocalChanged) as info:
        trash_path(d, node(d, "d"), trash=trash, rel_path="d", known=known)
    assert "d/new.txt" in str(info.value)
    assert (d / "new.txt").exists() and (d / "sub" / "x.txt").exists()
    (d / "new.txt").unlink()
    dest = trash_path(d, node(d, "d"), trash=trash, rel_path="d", known=known)
    assert dest is not None and (dest / "sub" / "x.txt").read_bytes() == b"x"
    assert not d.exists()


def test_clean_temp_files_touches_only_ours(root: Path) -> None:
    ours = [
        root / ".syncd-tmp-0123456789abcdef",
        root / "d" / ".syncd-tmp-fedcba9876543210-probe-a",
    ]
    (root / "d").mkdir()
    for p in ours:
        p.write_bytes(b"partial download")
    theirs = [
        root / ".syncd-tmp-notes.txt",  # user data that merely looks like ours
        root / "syncd-tmp-0123456789abcdef",
        root / "d" / "report.txt",
    ]
    for p in theirs:
        p.write_bytes(b"user data")
    (root / ".syncd-tmp-aaaaaaaaaaaaaaaa").mkdir()  # a folder is never one of our temp files
    (root / ".syncd-tmp-bbbbbbbbbbbbbbbb").symlink_to(root / "d" / "report.txt")
    assert sorted(clean_temp_files(root)) == sorted(ours)
    assert not any(p.exists() for p in ours)
    assert all(p.read_bytes() == b"user data" for p in theirs)
    assert (root / ".syncd-tmp-aaaaaaaaaaaaaaaa").is_dir()
    assert (root / ".syncd-tmp-bbbbbbbbbbbbbbbb").is_symlink()


def test_install_never_trashes_a_folder_blind(root: Path, trash: Trash) -> None:
    (root / "d").mkdir()
    (root / "d" / "unknown.txt").write_bytes(b"u")
    temp = downloaded(root / "d", b"file now")
    with pytest.raises(LocalChanged):
        install(
            temp,
            root / "d",
            expected=node(root / "d", "d"),
            expected_hash=None,
            trash=trash,
            rel_path="d",
        )
    assert (root / "d" / "unknown.txt").read_bytes() == b"u"
