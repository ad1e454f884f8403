"""The local trash: where every local delete or overwrite puts the old version first.

1. ``put`` moves a file or folder to ``DIR/YYYY-MM-DD/HHMMSS-<rand>/<rel_path>`` (local
   time), so the trash reads like the synced folder and one put never collides with another.
   Before the move, one line (entry, original path, why) is appended and fsynced to
   ``DIR/index.jsonl``: an entry is never in the trash without its why, and an entry the
   index does not know (an older trash, a lost line) is listed with "why unknown".
2. Within one device the move is one ``rename``. Across devices it is copy, fsync, and
   only then remove: the original is never removed before its copy is durable, and a file
   that changed during the copy is left in place (``SourceChanged``).
3. ``prune`` is the only thing that ever deletes from the trash, oldest entry first:
   every entry older than ``retention_days`` (30), then, while the trash is larger than
   ``max_size`` (a size, or a share of the disk that holds it: 10%), more of the oldest,
   but never one younger than ``MIN_AGE`` (one day) for the size alone, so a large loss
   a moment ago is never thrown away at once to make room.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import secrets
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path

from syncd.errors import SourceChanged
from syncd.local.errors import item_error
from syncd.local.hashing import StatSig

log = logging.getLogger("syncd.trash")

DEFAULT_KEEP_DAYS = 30
DEFAULT_MAX_SIZE = "10%"  # of the file system that holds the trash
MIN_AGE = timedelta(days=1)
_DATE_FMT = "%Y-%m-%d"
_TIME_FMT = "%H%M%S"
INDEX_NAME = "index.jsonl"

__all__ = [
    "DEFAULT_KEEP_DAYS",
    "DEFAULT_MAX_SIZE",
    "MIN_AGE",
    "Trash",
    "TrashEntry",
    "TrashReason",
    "disk_share",
    "fsync_dir",
    "make_dirs_durably",
]


def fsync_dir(path: Path | str) -> None:
    """Make a rename or create in ``path`` durable (a no-op where folders cannot be synced)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):  # some file systems refuse fsync on folders
            os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs_durably(path: Path) -> None:
    """Create ``path`` and its missing parents, fsyncing each folder that gained one.

    A version moved into a folder whose own entry is not yet durable could vanish with it
    in a power cut, after the rename already took it out of the synced folder.
    """
    missing: list[Path] = []
    while not path.is_dir():
        missing.append(path)
        path = path.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):
            folder.mkdir()
        fsync_dir(folder.parent)


class TrashReason(StrEnum):
    """Why a version went to the trash, as ``syncd trash list`` shows it."""

    REMOTE_CHANGE = "replaced by a remote change"
    REMOTE_DELETE = "deleted by a remote delete"
    CONFLICT_LOSER = "conflict loser"
    EXCLUDED = "excluded"
    UNKNOWN = "why unknown"


@dataclass(frozen=True, slots=True)
class TrashEntry:
    """One file (or empty folder) in the trash: where it is, where it was, when and why."""

    path: Path
    rel_path: str
    trashed_at: datetime
    reason: TrashReason = TrashReason.UNKNOWN
    entry: str = ""  # the put's folder, DAY/TIME-RAND, relative to the trash

    @property
    def size(self) -> int:
        with contextlib.suppress(OSError):
            st = os.lstat(self.path)
            return 0 if stat.S_ISDIR(st.st_mode) else st.st_size
        return 0


def _copy_file(src: str, dest: str) -> StatSig:
    """Copy one file durably; returns the signature the source had when the copy began."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(src, flags)
    try:
        before = StatSig.from_stat(os.fstat(fd))
        with open(fd, "rb", closefd=False) as fin, open(dest, "xb") as fout:
            shutil.copyfileobj(fin, fout, 1 << 20)
            fout.flush()
            os.fsync(fout.fileno())
    finally:
        os.close(fd)
    shutil.copystat(src, dest, follow_symlinks=False)
    return before


def disk_share(path: Path, percent: float) -> int:
    """``percent`` of the file system that holds ``path`` (or its nearest existing parent)."""
    probe = Path(path)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    st = os.statvfs(probe)
    return int(st.f_blocks * st.f_frsize * percent / 100)


def _size_of(entry: Path) -> int:
    total = 0
    for dirpath, _dirnames, filenames in os.walk(entry):
        for name in filenames:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, name)).st_size
    return total


class Trash:
    """The trash folder under the state directory (never inside the synced folder).

    ``retention_days`` and ``max_size`` (bytes, ``"N%"`` of the disk, or None for no
    cap) are what ``prune`` enforces when called without arguments.
    """

    def __init__(
        self,
        dir: Path,
        *,
        clock: Callable[[], datetime] = datetime.now,
        retention_days: int = DEFAULT_KEEP_DAYS,
        max_size: int | str | None = DEFAULT_MAX_SIZE,
    ) -> None:
        self.dir = Path(dir)
        self._clock = clock
        self.retention_days = retention_days
        self.max_size = max_size

    def __repr__(self) -> str:
        return f"Trash({str(self.dir)!r})"

    def _new_entry(self) -> Path:
        now = self._clock()
        day = self.dir / now.strftime(_DATE_FMT)
        entry = day / f"{now.strftime(_TIME_FMT)}-{secrets.token_hex(3)}"
        make_dirs_durably(entry)
        return entry

    def _record(self, entry: Path, rel_path: str, reason: TrashReason) -> None:
        """Append the entry's why to the index, durably, before anything moves."""
        line = {
            "entry": entry.relative_to(self.dir).as_posix(),
            "path": rel_path,
            "reason": reason.name,
            "time": self._clock().isoformat(timespec="seconds"),
        }
        with open(self.dir / INDEX_NAME, "a", encoding="utf-8") as f:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def reasons(self) -> dict[str, TrashReason]:
        """entry (DAY/TIME-RAND) -> why, from the index; a torn last line is skipped."""
        out: dict[str, TrashReason] = {}
        try:
            with open(self.dir / INDEX_NAME, encoding="utf-8") as f:
                for raw in f:
                    try:
                        line = json.loads(raw)
                        out[line["entry"]] = TrashReason[line["reason"]]
                    except (ValueError, KeyError, TypeError):
                        continue
        except OSError:
            pass
        return out

    def put(self, abs_path: Path, rel_path: str, reason: TrashReason = TrashReason.UNKNOWN) -> Path:
        """Move ``abs_path`` (the local copy of ``rel_path``) into the trash; return where.

        Raises ``SourceChanged`` when a cross-device copy saw the source change: what
        changed stays in place, what was copied stays in the trash, nothing is lost.
        """
        try:
            entry = self._new_entry()
            dest = entry.joinpath(*rel_path.split("/"))
            make_dirs_durably(dest.parent)
            self._record(entry, rel_path, reason)
        except OSError as exc:
            raise item_error(exc, rel_path, "create the trash folder for") from exc
        try:
            os.rename(abs_path, dest)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise item_error(exc, rel_path, "move to the trash") from exc
            try:
                self._copy_then_remove(os.fspath(abs_path), os.fspath(dest), rel_path)
            except OSError as exc2:
                raise item_error(exc2, rel_path, "copy to the trash") from exc2
        fsync_dir(dest.parent)
        fsync_dir(Path(abs_path).parent)
        return dest

    def _copy_then_remove(self, src: str, dest: str, rel_path: str) -> None:
        copied: list[tuple[str, StatSig | None]] = []  # source paths in copy order
        st = os.lstat(src)
        if stat.S_ISDIR(st.st_mode):
            for dirpath, dirnames, filenames in os.walk(src, followlinks=False):
                target = os.path.join(dest, os.path.relpath(dirpath, src))
                os.makedirs(target, exist_ok=True)
                copied.append((dirpath, None))
                for name in filenames + [
                    d for d in dirnames if os.path.islink(os.path.join(dirpath, d))
                ]:
                    s, t = os.path.join(dirpath, name), os.path.join(target, name)
                    if os.path.islink(s):
                        os.symlink(os.readlink(s), t)
                        copied.append((s, StatSig.from_stat(os.lstat(s))))
                    else:
                        copied.append((s, _copy_file(s, t)))
                fsync_dir(target)
        elif stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(src), dest)
            copied.append((src, StatSig.from_stat(st)))
        else:
            copied.append((src, _copy_file(src, dest)))
        fsync_dir(os.path.dirname(dest))
        # Everything is durable in the trash; now remove what did not change meanwhile.
        kept: list[str] = []
        for path, sig in reversed(copied):
            try:
                if sig is None:
                    os.rmdir(path)  # fails when something new appeared inside: keep it
                elif StatSig.from_stat(os.lstat(path)).same_content_identity(sig):
                    os.unlink(path)
                else:
                    kept.append(path)
            except OSError:
                kept.append(path)
        if kept:
            raise SourceChanged(
                f"{rel_path!r} changed while it was moved to the trash; the changed part was kept",
                path=rel_path,
                hint=f"a copy of the earlier version is in {dest}",
            )

    def list(self) -> list[TrashEntry]:
        """Every file and empty folder in the trash, oldest first."""
        out: list[TrashEntry] = []
        reasons = self.reasons()
        for entry, when in self._entries():
            key = entry.relative_to(self.dir).as_posix()
            why = reasons.get(key, TrashReason.UNKNOWN)
            for dirpath, dirnames, filenames in os.walk(entry):
                names = filenames + ([] if dirnames or filenames else [""])
                for name in names:
                    p = Path(dirpath, name) if name else Path(dirpath)
                    if p != entry:
                        rel = p.relative_to(entry).as_posix()
                        out.append(TrashEntry(p, rel, when, why, key))
        return out

    def _entries(self) -> list[tuple[Path, datetime]]:
        found: list[tuple[Path, datetime]] = []
        if not self.dir.is_dir():
            return found
        for day in sorted(self.dir.iterdir()):
            for entry in sorted(day.iterdir()) if day.is_dir() else []:
                try:
                    when = datetime.strptime(
                        f"{day.name} {entry.name.partition('-')[0]}", f"{_DATE_FMT} {_TIME_FMT}"
                    )
                except ValueError:
                    continue  # not ours: never listed, never pruned
                found.append((entry, when))
        return found

    def size_cap(self, max_size: int | str | None) -> int | None:
        """The cap in bytes: a size as it is, ``"N%"`` of the disk holding the trash."""
        if isinstance(max_size, str):
            try:
                return disk_share(self.dir, float(max_size.rstrip("%")))
            except OSError as exc:  # no size known: prune by age alone this time
                log.warning("event=trash_cap_unknown error=%s", exc.strerror or exc)
                return None
        return max_size

    def prune(self, days: int | None = None, *, now: datetime | None = None) -> list[Path]:
        """Remove what the retention allows, oldest first; return the removed entries.

        First every entry trashed more than ``days`` days ago (default
        ``retention_days``); then, while the rest is larger than ``max_size`` (None: no
        cap), the oldest entries that are at least ``MIN_AGE`` old. What is younger
        stays even above the cap: the cap bounds the space, but never throws away a
        loss the user may not have noticed yet.
        """
        days = self.retention_days if days is None else days
        cap = self.size_cap(self.max_size)
        now = now or self._clock()
        cutoff, young = now - timedelta(days=days), now - MIN_AGE
        kept: list[tuple[Path, datetime]] = []
        removed: list[Path] = []
        for entry, when in self._entries():
            if when < cutoff:
                self._remove(entry)
                removed.append(entry)
            else:
                kept.append((entry, when))
        if cap is not None and kept:
            sizes = [_size_of(entry) for entry, _ in kept]
            total = sum(sizes)
            for (entry, when), size in zip(kept, sizes, strict=True):
                if total <= cap or when > young:
                    break
                self._remove(entry)
                removed.append(entry)
                total -= size
            if total > cap:
                log.info(
                    "event=trash_over_cap size=%d cap=%d reason=entries younger than %s are kept",
                    total,
                    cap,
                    MIN_AGE,
                )
        if removed:
            self._compact_index()
            log.info("event=trash_pruned removed=%d", len(removed))
        return removed

    def _compact_index(self) -> None:
        """Drop the index lines of pruned entries (write a copy, then rename over)."""
        index = self.dir / INDEX_NAME
        try:
            with open(index, encoding="utf-8") as f:
                lines = f.readlines()
        except OSError:
            return
        keep = []
        for raw in lines:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                if (self.dir / json.loads(raw)["entry"]).exists():
                    keep.append(raw)
        try:
            if not keep:
                index.unlink()
                return
            temp = index.with_name(INDEX_NAME + ".tmp")
            with open(temp, "w", encoding="utf-8") as f:
                f.writelines(keep)
                f.flush()
                os.fsync(f.fileno())
            os.replace(temp, index)
            fsync_dir(self.dir)
        except OSError as exc:
            log.warning("event=trash_index_compact_failed error=%s", exc.strerror or exc)

    def _remove(self, entry: Path) -> None:
        shutil.rmtree(entry, ignore_errors=True)
        with contextlib.suppress(OSError):
            entry.parent.rmdir()  # the day folder, once empty
