"""Atomic local writes: every change the worker makes to the folder goes through here.

1. New content is written to a temp name of ours in the target's folder, fsynced, checked
   against the announced hash, and only then renamed into place; a crash never leaves
   half a file under a user's name, only a temp file that ``clean_temp_files`` removes.
2. Nothing is overwritten, moved or deleted unless it is still what the plan saw (size,
   mtime_ns and inode; a folder by inode and known content). Otherwise ``LocalChanged``:
   the worker makes it a conflict. Every overwrite and delete goes into the trash first.
3. A rename never replaces what appeared at the destination: ``renameat2(RENAME_NOREPLACE)``
   where the kernel offers it, else ``link`` + ``unlink`` for files.
4. A group of files can be made durable together at a lower cost: ``write_temp`` each,
   ``fsync_file`` each, ``install(..., folders=...)`` each, then ``fsync_folders`` once per
   folder; only after that may the caller record any of them as synced.

The race that remains, honestly: a program that writes to a file between our last stat
and the rename into the trash (a few microseconds) writes into the trashed copy. When the
rename kept the inode we stat the trashed file again and, if it changed, put it back and
report a conflict; a write landing after that second stat stays in the trash, not lost.
On a file system without ``renameat2`` a folder rename checks the destination first, so a
folder created at the destination in between could be replaced if it was empty.
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat
import unicodedata
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import BinaryIO

from syncd.errors import SourceChanged
from syncd.local.errors import ContentMismatch, LocalChanged, item_error
from syncd.local.hashing import StatSig, hash_file
from syncd.local.ignore import is_builtin_ignored, is_our_temp_file, new_temp_name
from syncd.local.trash import Trash, TrashReason, fsync_dir
from syncd.planner.trees import LocalNode

__all__ = [
    "LocalChanged",
    "clean_temp_files",
    "fsync_file",
    "fsync_folders",
    "install",
    "mkdir",
    "open_temp",
    "remove_temp_files",
    "rename",
    "temp_path_for",
    "trash_path",
    "write_temp",
]

_AT_FDCWD = -100
_RENAME_NOREPLACE = 1


def temp_path_for(target: Path) -> Path:
    """A fresh temp name in the target's folder, so the final rename stays on one device."""
    return target.parent / new_temp_name()


def open_temp(target: Path) -> tuple[Path, BinaryIO]:
    """Create a new temp file for ``target`` (never an existing one) and open it for writing."""
    temp = temp_path_for(target)
    return temp, open(temp, "xb")  # the caller owns and closes it


def write_temp(target: Path, chunks: Iterable[bytes], *, rel_path: str) -> Path:
    """Write ``chunks`` to a new temp file beside ``target``; not yet durable.

    The caller makes a group of such files durable at once (``fsync_file`` each, then
    ``fsync_folders``), instead of one fsync per file and folder in series. On any
    failure, an error of ``chunks`` included, the temp file is removed.
    """
    try:
        temp, handle = open_temp(target)
    except OSError as exc:
        raise item_error(exc, rel_path, "write") from exc
    try:
        with handle:
            for chunk in chunks:
                handle.write(chunk)
    except BaseException as exc:
        temp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise item_error(exc, rel_path, "write") from exc
        raise
    return temp


def fsync_file(path: Path, *, rel_path: str) -> None:
    """Make a written file's bytes durable before it is installed."""
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise item_error(exc, rel_path, "write") from exc


def fsync_folders(folders: Iterable[Path]) -> None:
    """Make the renames ``install(..., folders=...)`` left pending durable: once per folder."""
    for folder in sorted(set(folders)):
        fsync_dir(folder)


@cache
def _renameat2() -> object | None:
    try:
        return getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    except OSError:
        return None


def _rename_noreplace(src: Path, dst: Path) -> None:
    """Rename ``src`` to ``dst``; ``FileExistsError`` if anything is at ``dst``."""
    fn = _renameat2()
    if fn is not None:
        rc = fn(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), _RENAME_NOREPLACE)  # type: ignore[operator]
        if rc == 0:
            return
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
            raise OSError(err, os.strerror(err), os.fspath(src), None, os.fspath(dst))
    if not stat.S_ISDIR(os.lstat(src).st_mode):
        try:
            os.link(src, dst, follow_symlinks=False)
        except FileExistsError:
            raise
        except OSError:
            pass  # no hard links here (FAT, some network file systems): fall through
        else:
            os.unlink(src)
            return
    if os.path.lexists(dst):
        raise FileExistsError(errno.EEXIST, "destination exists", os.fspath(dst))
    os.rename(src, dst)


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def _is_as_seen(st: os.stat_result | None, expected: LocalNode | None) -> bool:
    """True when the disk still holds what the plan saw (``None``: nothing there)."""
    if expected is None or st is None:
        return expected is None and st is None
    if expected.is_dir:
        return stat.S_ISDIR(st.st_mode) and expected.inode in (None, st.st_ino)
    return (
        stat.S_ISREG(st.st_mode)
        and st.st_size == expected.size
        and st.st_mtime_ns == expected.mtime_ns
        and st.st_ino == expected.inode
    )


def _changed(rel_path: str, what: str, temp: Path | None = None) -> LocalChanged:
    return LocalChanged(
        f"{rel_path!r} {what}", path=rel_path, hint="both versions are kept", temp=temp
    )


def _to_trash(
    path: Path, expected: LocalNode, trash: Trash, rel_path: str, reason: TrashReason
) -> Path:
    """Trash ``path``; if the rename kept the inode, check it once more and undo on change."""
    try:
        trashed = trash.put(path, rel_path, reason)
    except SourceChanged as exc:
        raise _changed(rel_path, "changed while it was moved to the trash") from exc
    after = _lstat(trashed)
    same_inode = after is not None and after.st_ino == expected.inode
    if not expected.is_dir and same_inode and not _is_as_seen(after, expected):
        try:
            _rename_noreplace(trashed, path)
            where = "put back"
        except OSError:
            where = f"kept in the trash at {trashed}"
        raise _changed(rel_path, f"changed at the last moment and was {where}")
    return trashed


def install(
    temp: Path,
    target: Path,
    *,
    expected: LocalNode | None,
    expected_hash: str | None = None,
    verified_hash: str | None = None,
    trash: Trash,
    rel_path: str,
    folders: set[Path] | None = None,
    reason: TrashReason = TrashReason.REMOTE_CHANGE,
) -> StatSig:
    """Put a fully written temp file at ``target`` and return the installed file's sig.

    ``expected`` None means the target must be absent; otherwise it must still match the
    plan's node and is moved into the trash first. On ``LocalChanged`` both the temp file
    (``exc.temp``) and the target are left for the caller; on ``ContentMismatch`` the temp
    file is removed.

    ``verified_hash`` says "the caller hashed exactly these bytes as it wrote them and
    fsynced the file" (a download does both): then the file is neither fsynced nor read
    again, which halves the cost of installing a small file. ``expected_hash`` is still
    compared with it when both are given.

    ``folders`` collects the target's folder instead of fsyncing it at once: a caller that
    installs many files fsyncs each folder once (``fsync_folders``), and only then may it
    record any of them as synced.
    """
    if expected is not None and expected.is_dir:
        # A folder -> file change: the folder must go through trash_path (which checks
        # what is inside) before anything is installed in its place.
        raise _changed(rel_path, "is a folder; trash it with trash_path first", temp)
    try:
        if verified_hash is None:
            fd = os.open(temp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        if expected_hash is not None:
            if verified_hash is None:
                actual, _ = hash_file(temp, rel_path=rel_path)
            else:
                actual = verified_hash
            if actual != expected_hash:
                os.unlink(temp)
                raise ContentMismatch(
                    f"{rel_path!r}: downloaded {actual}, server announced {expected_hash}",
                    path=rel_path,
                    hint="it is downloaded again on the next sync",
                )
        st = _lstat(target)
        if not _is_as_seen(st, expected):
            raise _changed(rel_path, "is no longer what the plan saw", temp)
        if expected is not None and st is not None:
            os.chmod(temp, stat.S_IMODE(st.st_mode))  # an executable stays executable
            _to_trash(target, expected, trash, rel_path, reason)
        try:
            _rename_noreplace(temp, target)
        except FileExistsError as exc:
            raise _changed(rel_path, "was created by another program meanwhile", temp) from exc
        if folders is None:
            fsync_dir(target.parent)
        else:
            folders.add(target.parent)
        return StatSig.from_stat(os.lstat(target))
    except OSError as exc:
        raise item_error(exc, rel_path, "write") from exc


def mkdir(path: Path, *, rel_path: str | None = None) -> StatSig:
    """Create a folder (its parent must exist); an existing folder is fine, a file is not.

    ``rel_path`` names the folder in errors (default: its last name).
    """
    rel_path = rel_path or path.name
    try:
        try:
            os.mkdir(path)
        except FileExistsError:
            st = os.lstat(path)
            if not stat.S_ISDIR(st.st_mode):
                raise _changed(rel_path, "exists and is not a folder") from None
            return StatSig.from_stat(st)
        fsync_dir(path.parent)
        return StatSig.from_stat(os.lstat(path))
    except OSError as exc:
        raise item_error(exc, rel_path, "create folder") from exc


def rename(src: Path, dst: Path, expected: LocalNode, *, rel_path: str | None = None) -> StatSig:
    """Rename ``src`` (still as the plan saw it) to ``dst``, never replacing anything there.

    A case-only or normalisation-only rename on a folding file system (``dst`` is the same
    file as ``src``) is allowed. ``rel_path`` names it in errors (default: the plan's path).
    """
    rel_path = rel_path or expected.path
    try:
        st = _lstat(src)
        if not _is_as_seen(st, expected):
            raise _changed(rel_path, "is no longer what the plan saw")
        other = _lstat(dst)
        if (
            other is not None
            and st is not None
            and (other.st_dev, other.st_ino) == (st.st_dev, st.st_ino)
        ):
            os.rename(src, dst)  # same file under another spelling
        else:
            try:
                _rename_noreplace(src, dst)
            except FileExistsError as exc:
                raise _changed(rel_path, f"cannot move: {dst.name!r} already exists") from exc
        fsync_dir(dst.parent)
        if dst.parent != src.parent:
            fsync_dir(src.parent)
        return StatSig.from_stat(os.lstat(dst))
    except OSError as exc:
        raise item_error(exc, rel_path, "move") from exc


def _raise(exc: OSError) -> None:
    raise exc  # a folder we cannot list is never trashed blind


def _unknown_inside(folder: Path, rel_path: str, known: dict[str, LocalNode]) -> str | None:
    """The first thing inside ``folder`` the plan does not know as it is now, else None.

    Built-in ignores and our temp files hold no user data and go along with the folder.
    """
    for dirpath, dirnames, filenames in os.walk(folder, onerror=_raise, followlinks=False):
        for name in dirnames + filenames:
            p = Path(dirpath, name)
            rel = rel_path + "/" + unicodedata.normalize("NFC", p.relative_to(folder).as_posix())
            if is_builtin_ignored(rel):
                continue
            if not _is_as_seen(_lstat(p), known.get(rel)):
                return rel
    return None


def trash_path(
    path: Path,
    expected: LocalNode,
    *,
    trash: Trash,
    rel_path: str,
    known: dict[str, LocalNode] | None = None,
    reason: TrashReason = TrashReason.REMOTE_DELETE,
) -> Path | None:
    """Move a file or folder into the trash only if it is unchanged; return where it went.

    A folder moves in one rename only when everything inside it is in ``known`` (the
    plan's nodes below it, keyed by workspace path) and unchanged; otherwise
    ``LocalChanged``, and the plan deletes what it knows one by one, keeping the rest.
    Already absent: ``None`` (the plan's goal holds).
    """
    try:
        st = _lstat(path)
        if st is None:
            return None
        if not _is_as_seen(st, expected):
            raise _changed(rel_path, "is no longer what the plan saw")
        if expected.is_dir:
            stray = _unknown_inside(path, rel_path, known or {})
            if stray is not None:
                raise _changed(rel_path, f"holds {stray!r}, which the plan does not know")
        return _to_trash(path, expected, trash, rel_path, reason)
    except OSError as exc:
        raise item_error(exc, rel_path, "move to the trash") from exc


def remove_temp_files(paths: list[Path]) -> list[Path]:
    """Remove the given leftover temp files (from ``ScanResult.temp_files``) that are ours."""
    removed: list[Path] = []
    for p in paths:
        st = _lstat(p)
        if st is not None and stat.S_ISREG(st.st_mode) and is_our_temp_file(p.name):
            try:
                os.unlink(p)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise item_error(exc, p.name, "remove temp file") from exc
            removed.append(p)
    return removed


def clean_temp_files(root: Path) -> list[Path]:
    """Remove temp files of ours left by a crash anywhere in the folder; touch nothing else.

    A temp file only ever holds bytes that exist elsewhere (a download not yet installed,
    or a second link to an installed file), so removing it cannot lose data.
    """
    found = [
        Path(dirpath, name)
        for dirpath, _dirs, files in os.walk(root, followlinks=False)
        for name in files
        if is_our_temp_file(name)
    ]
    return remove_temp_files(found)
