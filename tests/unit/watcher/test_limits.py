"""Unwatched folders: told once, then scanned as dirty directories (or a rescan)."""

from __future__ import annotations

import errno
import logging
from pathlib import Path

import pytest

from syncd.watcher import Coalescer
from syncd.watcher.limits import FULL_SCAN_EVERY, MAX_SCOPED, Fallback, Unwatched


def drain(coalescer: Coalescer) -> tuple[set[str], bool]:
    batch = coalescer.take_ready(now=float("inf"))
    return set(batch.paths), batch.rescan


def test_the_first_refused_watch_is_told_once_with_the_sysctl(
    caplog: pytest.LogCaptureFixture,
) -> None:
    unwatched = Unwatched(interval=30)
    with caplog.at_level(logging.WARNING, logger="syncd.watcher"):
        for rel in ("a", "a/b", "c"):
            unwatched.add(rel, errno.ENOSPC)
    lines = [r.getMessage() for r in caplog.records if "event=watch_limit" in r.getMessage()]
    assert len(lines) == 1
    assert "sudo sysctl fs.inotify.max_user_watches=" in lines[0]
    assert unwatched.describe() == {
        "unwatched_folders": 3,
        "is_root_unwatched": False,
        "scan_interval": 30,
        "limit": "fs.inotify.max_user_watches=524288",
    }


def test_the_instance_limit_names_its_own_sysctl() -> None:
    unwatched = Unwatched(interval=5)
    unwatched.add("", errno.EMFILE)
    assert unwatched.describe()["limit"] == "fs.inotify.max_user_instances=1024"
    assert unwatched.describe()["is_root_unwatched"] is True


def test_nothing_unwatched_describes_as_none() -> None:
    assert Unwatched(interval=30).describe() is None


def test_a_tick_marks_the_topmost_unwatched_folders_dirty(tmp_path: Path) -> None:
    for rel in ("a/b/c", "a/x", "d"):
        (tmp_path / rel).mkdir(parents=True)
    unwatched = Unwatched(interval=30)
    for rel in ("a/b", "a/b/c", "a/x", "d"):
        unwatched.add(rel, errno.ENOSPC)
    coalescer = Coalescer(0.0)
    Fallback(unwatched, coalescer, str(tmp_path)).tick()
    assert drain(coalescer) == ({"a/b", "a/x", "d"}, False)


def test_a_vanished_folder_is_scanned_once_more_then_forgotten(tmp_path: Path) -> None:
    (tmp_path / "kept").mkdir()
    unwatched = Unwatched(interval=30)
    unwatched.add("kept", errno.ENOSPC)
    unwatched.add("gone", errno.ENOSPC)
    coalescer = Coalescer(0.0)
    fallback = Fallback(unwatched, coalescer, str(tmp_path))
    fallback.tick()
    assert drain(coalescer) == ({"kept", "gone"}, False)  # the scan reports the delete
    fallback.tick()
    assert drain(coalescer) == ({"kept"}, False)


def test_an_unwatched_root_or_too_many_folders_ask_for_a_rescan(tmp_path: Path) -> None:
    root_only = Unwatched(interval=30)
    root_only.add("", errno.ENOSPC)
    root_only.add("a", errno.ENOSPC)
    coalescer = Coalescer(0.0)
    Fallback(root_only, coalescer, str(tmp_path)).tick()
    assert drain(coalescer) == (set(), True)

    many = Unwatched(interval=30)
    for i in range(MAX_SCOPED + 1):
        many.add(f"d{i}", errno.ENOSPC)
    Fallback(many, coalescer, str(tmp_path)).tick()
    assert drain(coalescer) == (set(), True)


def test_whole_tree_scans_come_at_most_every_few_minutes(tmp_path: Path) -> None:
    one_subtree = Unwatched(interval=30)
    for i in range(MAX_SCOPED + 1):
        one_subtree.add(f"big/d{i}", errno.ENOSPC)
    one_subtree.add("big", errno.ENOSPC)
    assert one_subtree.topmost() == ["big"]
    assert one_subtree.period() == 30  # one folder to scan: as often as asked

    root = Unwatched(interval=30)
    root.add("", errno.ENOSPC)
    assert root.period() == FULL_SCAN_EVERY
    assert root.describe()["scan_interval"] == FULL_SCAN_EVERY
