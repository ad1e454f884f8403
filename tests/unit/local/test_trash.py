"""trash.py: readable layout, cross-device copy before remove, pruning."""

from __future__ import annotations

import errno
import os
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from pyfakefs.fake_filesystem import FakeFilesystem

from syncd.errors import ItemError, SourceChanged
from syncd.local import trash as trash_module
from syncd.local.trash import Trash

NOW = datetime(2026, 11, 22, 10, 30, 5)


def _trash(path: str = "/state/trash", now: datetime = NOW) -> Trash:
    return Trash(Path(path), clock=lambda: now)


def test_put_keeps_the_tree_readable(fs: FakeFilesystem) -> None:
    fs.create_file("/root/docs/a.txt", contents=b"old")
    dest = _trash().put(Path("/root/docs/a.txt"), "docs/a.txt")
    assert dest.read_bytes() == b"old"
    assert not Path("/root/docs/a.txt").exists()
    assert dest.parts[:4] == ("/", "state", "trash", "2026-11-22")
    assert dest.parent.parent.name.startswith("103005-")
    assert dest.relative_to(dest.parent.parent).as_posix() == "docs/a.txt"


def test_two_puts_of_one_path_never_collide(fs: FakeFilesystem) -> None:
    trash = _trash()
    fs.create_file("/root/a.txt", contents=b"1")
    first = trash.put(Path("/root/a.txt"), "a.txt")
    fs.create_file("/root/a.txt", contents=b"2")
    second = trash.put(Path("/root/a.txt"), "a.txt")
    assert first != second
    assert (first.read_bytes(), second.read_bytes()) == (b"1", b"2")


def test_cross_device_file_is_copied_then_removed(fs: FakeFilesystem) -> None:
    fs.add_mount_point("/mnt/usb")
    fs.create_file("/mnt/usb/root/a.txt", contents=b"precious")
    os.utime("/mnt/usb/root/a.txt", ns=(1, 123_000_000_000))
    dest = _trash().put(Path("/mnt/usb/root/a.txt"), "a.txt")
    assert dest.read_bytes() == b"precious"
    assert os.stat(dest).st_mtime_ns == 123_000_000_000
    assert not Path("/mnt/usb/root/a.txt").exists()


def test_cross_device_folder_is_copied_then_removed(fs: FakeFilesystem) -> None:
    fs.add_mount_point("/mnt/usb")
    fs.create_file("/mnt/usb/root/d/x.txt", contents=b"x")
    fs.create_file("/mnt/usb/root/d/e/y.txt", contents=b"y")
    fs.create_dir("/mnt/usb/root/d/empty")
    dest = _trash().put(Path("/mnt/usb/root/d"), "d")
    assert (dest / "x.txt").read_bytes() == b"x"
    assert (dest / "e" / "y.txt").read_bytes() == b"y"
    assert (dest / "empty").is_dir()
    assert not Path("/mnt/usb/root/d").exists()


def test_cross_device_source_that_changes_during_copy_is_kept(
    fs: FakeFilesystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    fs.add_mount_point("/mnt/usb")
    fs.create_file("/mnt/usb/root/a.txt", contents=b"v1")
    real_copy = trash_module._copy_file

    def copy_then_edit(src: str, dest: str):  # type: ignore[no-untyped-def]
        sig = real_copy(src, dest)
        with open(src, "ab") as fh:
            fh.write(b" and v2")
        return sig

    monkeypatch.setattr(trash_module, "_copy_file", copy_then_edit)
    with pytest.raises(SourceChanged):
        _trash().put(Path("/mnt/usb/root/a.txt"), "a.txt")
    assert Path("/mnt/usb/root/a.txt").read_bytes() == b"v1 and v2"
    (entry,) = _trash().list()
    assert entry.path.read_bytes() == b"v1"


def test_cross_device_copy_failure_never_removes_the_source(
    fs: FakeFilesystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    fs.add_mount_point("/mnt/usb")
    fs.create_file("/mnt/usb/root/a.txt", contents=b"only copy")

    def disk_full(src: str, dest: str):  # type: ignore[no-untyped-def]
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(trash_module, "_copy_file", disk_full)
    with pytest.raises(ItemError) as info:
        _trash().put(Path("/mnt/usb/root/a.txt"), "a.txt")
    assert "space" in (info.value.hint or "")
    assert Path("/mnt/usb/root/a.txt").read_bytes() == b"only copy"


def test_list_and_prune(fs: FakeFilesystem) -> None:
    old, recent = _trash(now=NOW - timedelta(days=31)), _trash(now=NOW - timedelta(days=2))
    fs.create_file("/root/old.txt", contents=b"o")
    fs.create_file("/root/new/n.txt", contents=b"n")
    old.put(Path("/root/old.txt"), "old.txt")
    recent.put(Path("/root/new"), "new")
    fs.create_file("/state/trash/not-ours/keep.txt")
    trash = _trash()
    assert sorted(e.rel_path for e in trash.list()) == ["new/n.txt", "old.txt"]
    removed = trash.prune(30)
    assert len(removed) == 1
    assert [e.rel_path for e in trash.list()] == ["new/n.txt"]
    assert Path("/state/trash/not-ours/keep.txt").exists()
    assert not (Path("/state/trash") / (NOW - timedelta(days=31)).strftime("%Y-%m-%d")).exists()


def test_repr_is_short(fs: FakeFilesystem) -> None:
    assert repr(_trash()) == "Trash('/state/trash')"


def test_every_folder_a_put_creates_is_made_durable(
    fs: FakeFilesystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    monkeypatch.setattr(trash_module, "fsync_dir", lambda p: synced.append(str(p)))
    fs.create_file("/folder/a/b/c.txt", contents="v1")
    fs.create_dir("/state")
    dest = _trash().put(Path("/folder/a/b/c.txt"), "a/b/c.txt")
    created = [dest.parent, dest.parent.parent]  # a/b and a inside the entry
    created += [dest.parents[2], dest.parents[3], Path("/state/trash")]  # entry, day, trash
    for folder in created:
        assert str(folder.parent) in synced, f"{folder} was created but its parent not synced"
    assert str(dest.parent) in synced and "/folder/a/b" in synced  # both ends of the rename


def _put_at(trash_dir: Path, when: datetime, name: str, size: int) -> None:
    """A real file of ``size`` bytes trashed at ``when`` (the trash's clock says so)."""
    source = trash_dir.parent / "folder" / name
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_bytes(b"x" * size)
    Trash(trash_dir, clock=lambda: when).put(source, name)


def _left(trash: Trash) -> list[str]:
    return [e.rel_path for e in trash.list()]


def test_prune_by_age_removes_what_is_older_than_the_retention(tmp_path: Path) -> None:
    trash_dir = tmp_path / "trash"
    _put_at(trash_dir, NOW - timedelta(days=31), "old.txt", 10)
    _put_at(trash_dir, NOW - timedelta(days=29), "month.txt", 10)
    _put_at(trash_dir, NOW - timedelta(hours=1), "new.txt", 10)
    trash = Trash(trash_dir, clock=lambda: NOW, max_size=None)
    assert len(trash.prune()) == 1  # the default: 30 days
    assert _left(trash) == ["month.txt", "new.txt"]
    trash.retention_days = 7
    assert len(trash.prune()) == 1
    assert _left(trash) == ["new.txt"]


def test_size_cap_prunes_oldest_first_but_never_what_is_younger_than_a_day(
    tmp_path: Path,
) -> None:
    trash_dir = tmp_path / "trash"
    _put_at(trash_dir, NOW - timedelta(days=10), "a.txt", 100)
    _put_at(trash_dir, NOW - timedelta(days=5), "b.txt", 100)
    _put_at(trash_dir, NOW - timedelta(days=2), "c.txt", 100)
    _put_at(trash_dir, NOW - timedelta(hours=12), "big-recent-loss.bin", 1000)
    trash = Trash(trash_dir, clock=lambda: NOW, max_size=1250)
    assert len(trash.prune()) == 1  # 1300 bytes: the oldest goes, 1200 fit
    assert _left(trash) == ["b.txt", "c.txt", "big-recent-loss.bin"]
    trash.max_size = 250
    assert len(trash.prune()) == 2  # still over the cap, but the rest is younger than a day
    assert _left(trash) == ["big-recent-loss.bin"]
    assert timedelta(days=1) == trash_module.MIN_AGE
    a_day_later = NOW + timedelta(hours=12, seconds=1)
    assert len(trash.prune(now=a_day_later)) == 1
    assert _left(trash) == []
    assert not any(trash_dir.iterdir())  # the day folders went with their entries


def test_size_cap_as_a_share_of_the_disk(tmp_path: Path) -> None:
    st = os.statvfs(tmp_path)
    trash = Trash(tmp_path / "trash" / "not-yet", max_size="10%")
    assert trash.size_cap(trash.max_size) == int(st.f_blocks * st.f_frsize * 0.10)
    assert trash.size_cap(None) is None and trash.size_cap(123) == 123
    _put_at(tmp_path / "trash", NOW - timedelta(days=3), "kept.txt", 10)
    assert Trash(tmp_path / "trash", clock=lambda: NOW).prune() == []  # default: 30 d, 10%


def test_the_index_gives_each_entry_its_why_and_an_unindexed_one_is_why_unknown(tmp_path):
    from syncd.local.trash import INDEX_NAME, TrashReason

    trash = Trash(tmp_path / "trash")
    for name, reason in (("a.txt", TrashReason.REMOTE_DELETE), ("b.txt", None)):
        f = tmp_path / name
        f.write_text(name)
        trash.put(f, f"sub/{name}", reason) if reason else trash.put(f, f"sub/{name}")
    with open(trash.dir / INDEX_NAME, "a") as index:
        index.write('{"entry": "torn')  # a crash mid-line: skipped, not fatal
    (trash.dir / INDEX_NAME).rename(trash.dir / "kept.jsonl")
    assert {e.rel_path: e.reason for e in trash.list()} == {
        "sub/a.txt": TrashReason.UNKNOWN,
        "sub/b.txt": TrashReason.UNKNOWN,
    }
    (trash.dir / "kept.jsonl").rename(trash.dir / INDEX_NAME)
    assert {e.rel_path: e.reason for e in trash.list()} == {
        "sub/a.txt": TrashReason.REMOTE_DELETE,
        "sub/b.txt": TrashReason.UNKNOWN,
    }
    assert [e.size for e in trash.list()] == [5, 5]
