"""Making a group of written files durable at once: one ``syncfs`` or one fsync per file.

1. ``GroupSync.open(root)`` is taken before the group's first byte is written: its folder
   descriptor samples the file system's writeback error state, so ``syncfs`` on it later
   reports any error since (Linux 5.8 and later; older kernels always take the fsync path).
2. ``syncfs`` is used only where it is as strong as an fsync of every file (Linux
   documents it so) and costs less: a local file system of a known kind (ext4, xfs,
   btrfs, f2fs), and no more dirty data waiting on the machine than ``syncfs_budget``
   allows, since syncfs writes back everyone's dirty data on that file system, not only
   ours. The budget grows with the group: an fsync per file costs at least one journal
   commit each (about 0.2 ms on a fast SSD, 5-10 ms on a spinning disk), while syncfs
   costs the dirty bytes over the write bandwidth (256 KiB take about 0.25 ms at 1 GB/s,
   2.5 ms at 100 MB/s), so up to ``SYNCFS_DIRTY_PER_FILE`` per file syncfs is the cheaper
   on either kind of disk. Otherwise, or when syncfs fails, each file and folder is
   fsynced on its own.
2b. A backlog of other programs' dirty data is paid once: after one syncfs has written it,
   the next groups' syncfs find only their own bytes. So the first group of a run
   (``Backlog``) weighs the backlog against the fsyncs of every file the run still has to
   make durable, not only its own; the groups after it weigh only their own, so a program
   that keeps dirtying the disk is never paid for twice by one run.
3. The fsyncs of that fallback run a few at a time (``FSYNC_THREADS``): the file system
   folds fsyncs that wait together into one journal commit, so a group costs a few commits
   instead of one per file. Each file is still fsynced and each error still counted.
4. ``files`` makes the written temp files durable (before any is renamed into place),
   ``folders`` the renames (before any is recorded as synced); the caller keeps that order.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import TypeVar

from syncd.local.write import fsync_file, fsync_folders

T = TypeVar("T")
R = TypeVar("R")

__all__ = [
    "FSYNC_THREADS",
    "SYNCFS_DIRTY_PER_FILE",
    "SYNCFS_FILE_SYSTEMS",
    "SYNCFS_MAX_DIRTY",
    "Backlog",
    "GroupSync",
    "syncfs_budget",
]

SYNCFS_FILE_SYSTEMS = frozenset({"ext4", "xfs", "btrfs", "f2fs"})
SYNCFS_MAX_DIRTY = 64 << 20  # dirty + writeback bytes, machine-wide, accepted for any group
SYNCFS_DIRTY_PER_FILE = 256 << 10  # and this much more per file of the group (PROMISES 2)
FSYNC_THREADS = 8  # fsyncs in flight at once on the fallback path (PROMISES 3)


def syncfs_budget(files: int) -> int:
    """The machine-wide dirty bytes up to which one syncfs beats ``files`` fsyncs."""
    return max(SYNCFS_MAX_DIRTY, files * SYNCFS_DIRTY_PER_FILE)


@cache
def _libc_syncfs() -> object | None:
    if not sys.platform.startswith("linux"):
        return None
    release = os.uname().release.split(".")
    try:
        if (int(release[0]), int(release[1].split("-")[0])) < (5, 8):
            return None  # syncfs reports no writeback errors before 5.8
    except (IndexError, ValueError):
        return None
    try:
        return getattr(ctypes.CDLL(None, use_errno=True), "syncfs", None)
    except OSError:
        return None


def fs_type(path: Path) -> str | None:
    """The kind of file system that holds ``path`` (from mountinfo), or None if unknown."""
    try:
        dev = os.stat(path).st_dev
        wanted = f"{os.major(dev)}:{os.minor(dev)}"
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as lines:
            for line in lines:
                fields = line.split()
                if len(fields) > 4 and fields[2] == wanted and " - " in line:
                    return line.split(" - ", 1)[1].split()[0]
    except OSError:
        return None
    return None


def dirty_bytes() -> int | None:
    """Dirty and writeback page bytes of the whole machine (``/proc/meminfo``)."""
    total = 0
    try:
        with open("/proc/meminfo", encoding="ascii") as lines:
            for line in lines:
                name, _, rest = line.partition(":")
                if name in ("Dirty", "Writeback"):
                    total += int(rest.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return total


class Backlog:
    """The files one run has to make durable in groups (PROMISE 2b): the first group to
    ask is told all of them, the others only their own. Thread-safe."""

    def __init__(self, files: int) -> None:
        self._files = files
        self._lock = threading.Lock()

    def files_for(self, group: int) -> int:
        """The file count that ``group`` files of this run weigh a syncfs against."""
        with self._lock:
            files, self._files = max(group, self._files), 0
        return files


class GroupSync:
    """Durability of one group of files written under one folder tree (PROMISES 1-3)."""

    def __init__(self, fd: int | None) -> None:
        self._fd = fd  # a folder on the group's file system, opened before the writes

    @classmethod
    def open(cls, root: Path, *, files: int = 1) -> GroupSync:
        """syncfs for a group of ``files`` when it is cheaper than their fsyncs and as
        strong; else fsyncs."""
        if _libc_syncfs() is None or fs_type(root) not in SYNCFS_FILE_SYSTEMS:
            return cls(None)
        dirty = dirty_bytes()
        if dirty is None or dirty > syncfs_budget(files):
            return cls(None)
        try:
            return cls(os.open(root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)))
        except OSError:
            return cls(None)

    @property
    def uses_syncfs(self) -> bool:
        return self._fd is not None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> GroupSync:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _syncfs(self) -> bool:
        """One syncfs; False (and the fsync path from now on) when it fails."""
        if self._fd is None:
            return False
        call = _libc_syncfs()
        if call is not None and call(self._fd) == 0:  # type: ignore[operator]
            return True
        self.close()  # an error: every file of the group is fsynced on its own instead
        return False

    def files(self, temps: Iterable[tuple[Path, str]]) -> list[tuple[str, Exception]]:
        """Make written files (temp path, workspace path) durable; the ones that failed."""
        temps = list(temps)
        if not temps or self._syncfs():
            return []

        def one(temp_and_path: tuple[Path, str]) -> tuple[str, Exception] | None:
            temp, rel_path = temp_and_path
            try:
                fsync_file(temp, rel_path=rel_path)
            except Exception as exc:  # an ItemError: that file alone is not installed
                return rel_path, exc
            return None

        return [failed for failed in _in_parallel(one, temps) if failed is not None]

    def folders(self, folders: Iterable[Path]) -> None:
        """Make the renames into ``folders`` durable; the first error propagates."""
        folders = sorted(set(folders))
        if not folders or self._syncfs():
            return
        if len(folders) == 1:
            fsync_folders(folders)
            return
        list(_in_parallel(lambda folder: fsync_folders([folder]), folders))


def _in_parallel(call: Callable[[T], R], items: list[T]) -> Iterator[R]:
    """``call`` on each item, ``FSYNC_THREADS`` at a time, results in order."""
    if len(items) < 2:
        yield from map(call, items)
        return
    with ThreadPoolExecutor(min(FSYNC_THREADS, len(items)), "syncd-fsync") as pool:
        yield from pool.map(call, items)
