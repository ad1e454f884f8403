"""The local trash: where every local delete or overwrite puts the old version first.

1. ``put`` moves a file or folder to ``DIR/YYYY-MM-DD/HHMMSS-<rand>/<rel_path>`` (local
   time), so the trash reads like the synced folder and one put never collides with another.
2. Within one device the move is one ``rename``. Across devices it is copy, fsync, and
   only then remove: the original is never removed before its copy is durable, and a file
   that changed during the copy is left in place (``SourceChanged``).
3. ``prune`` removes entries older than N days (30 by default); nothing else ever deletes
   from the trash.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from syncd.errors import SourceChanged
from syncd.local.errors import item_error
from syncd.local.hashing import StatSig

DEFAULT_KEEP_DAYS = 30
_DATE_FMT = "%Y-%m-%d"
_TIME_FMT = "%H%M%S"

__all__ = ["DEFAULT_KEEP_DAYS", "Trash", "TrashEntry", "fsync_dir", "make_dirs_durably"]


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


@dataclass(frozen=True, slots=True)
class TrashEntry:
    """One file (or empty folder) in the trash: where it is, where it was, and when."""

    path: Path
    rel_path: str
    trashed_at: datetime


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


class Trash:
    """The trash folder under the state directory (never inside the synced folder)."""

    def __init__(self, dir: Path, *, clock: Callable[[], datetime] = datetime.now) -> None:
        self.dir = Path(dir)
        self._clock = clock

    def __repr__(self) -> str:
        return f"Trash({str(self.dir)!r})"

    def _new_entry(self) -> Path:
        now = self._clock()
        day = self.dir / now.strftime(_DATE_FMT)
        entry = day / f"{now.strftime(_TIME_FMT)}-{secrets.token_hex(3)}"
        make_dirs_durably(entry)
        return entry

    def put(self, abs_path: Path, rel_path: str) -> Path:
        """Move ``abs_path`` (the local copy of ``rel_path``) into the trash; return where.

        Raises ``SourceChanged`` when a cross-device copy saw the source change: what
        changed stays in place, what was copied stays in the trash, nothing is lost.
        """
        try:
            entry = self._new_entry()
            dest = entry.joinpath(*rel_path.split("/"))
            make_dirs_durably(dest.parent)
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
        for entry, when in self._entries():
            for dirpath, dirnames, filenames in os.walk(entry):
                names = filenames + ([] if dirnames or filenames else [""])
                for name in names:
                    p = Path(dirpath, name) if name else Path(dirpath)
                    if p != entry:
                        out.append(TrashEntry(p, p.relative_to(entry).as_posix(), when))
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

    def prune(self, days: int = DEFAULT_KEEP_DAYS, *, now: datetime | None = None) -> list[Path]:
        """Remove entries trashed more than ``days`` days ago; return the removed entries."""
        cutoff = (now or self._clock()) - timedelta(days=days)
        removed: list[Path] = []
        for entry, when in self._entries():
            if when < cutoff:
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry)
                with contextlib.suppress(OSError):
                    entry.parent.rmdir()  # the day folder, once empty
        return removed
