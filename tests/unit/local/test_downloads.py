"""downloads.py: which downloads are staged, when a partial is continued, what is pruned."""

from __future__ import annotations

import os
import time
from pathlib import Path

from syncd.local.downloads import MAX_AGE, RESUME_MIN_SIZE, Downloads
from syncd.planner.trees import Kind, RemoteNode

BIG = RESUME_MIN_SIZE + 1


def node(path: str = "a/big.bin", *, size: int = BIG, hash: str | None = "sha256:aa") -> RemoteNode:
    return RemoteNode(path, Kind.FILE, size, None, 3, hash)


def area(tmp_path: Path, **kwargs) -> Downloads:
    (tmp_path / "state").mkdir(exist_ok=True)
    (tmp_path / "folder").mkdir(exist_ok=True)
    return Downloads(tmp_path / "state" / "db.downloads", **kwargs)


def test_only_large_files_with_a_hash_are_staged(tmp_path: Path) -> None:
    downloads = area(tmp_path)
    folder = tmp_path / "folder"
    assert downloads.stage("s", node(size=RESUME_MIN_SIZE - 1), folder) is None
    assert downloads.stage("h", node(hash=None), folder) is None
    assert not downloads.dir.exists()
    staged = downloads.stage("a/big.bin", node(), folder)
    assert staged is not None and staged.resume_etag is None
    assert staged.part.parent == downloads.dir


def test_a_partial_is_continued_only_for_the_same_version(tmp_path: Path) -> None:
    downloads = area(tmp_path)
    folder = tmp_path / "folder"
    staged = downloads.stage("a/big.bin", node(), folder)
    assert staged is not None
    staged.remember('"3"')
    staged.part.write_bytes(b"x" * 1000)
    again = downloads.stage("a/big.bin", node(), folder)
    assert again is not None and again.resume_etag == '"3"' and again.part.exists()
    other = downloads.stage("a/big.bin", node(hash="sha256:bb"), folder)
    assert other is not None and other.resume_etag is None
    assert not other.part.exists() and not other.record.exists()


def test_a_part_without_its_record_is_not_continued(tmp_path: Path) -> None:
    downloads = area(tmp_path)
    staged = downloads.stage("a/big.bin", node(), tmp_path / "folder")
    assert staged is not None
    staged.part.write_bytes(b"x" * 10)  # killed before the ETag was recorded
    again = downloads.stage("a/big.bin", node(), tmp_path / "folder")
    assert again is not None and again.resume_etag is None and not again.part.exists()


def test_prune_keeps_only_wanted_and_fresh_partials(tmp_path: Path) -> None:
    now = [time.time()]
    downloads = area(tmp_path, clock=lambda: now[0])
    folder = tmp_path / "folder"
    for path in ("keep.bin", "drop.bin", "old.bin"):
        staged = downloads.stage(path, node(path), folder)
        assert staged is not None
        staged.remember('"1"')
        staged.part.write_bytes(b"x")
    old = downloads.stage("old.bin", node("old.bin"), folder)
    assert old is not None
    stale = now[0] - MAX_AGE - 60
    for p in (old.part, old.record):
        os.utime(p, (stale, stale))
    (downloads.dir / "orphan.part").write_bytes(b"y")
    dropped = downloads.prune(lambda path: path in {"keep.bin", "old.bin"})
    assert sorted(dropped) == ["drop.bin", "old.bin"]
    assert len(list(downloads.dir.iterdir())) == 2  # keep.bin's part and record
    again = downloads.stage("keep.bin", node("keep.bin"), folder)
    assert again is not None and again.resume_etag == '"1"'


def test_prune_without_an_area_does_nothing(tmp_path: Path) -> None:
    downloads = area(tmp_path)
    assert downloads.prune(lambda _path: False) == []
    assert not downloads.dir.exists()
