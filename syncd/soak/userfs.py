"""What a user does to a folder that a running daemon writes into, without racing it.

A user's in-place write to a file that a daemon replaces at that very instant lands in
the replaced inode: no sync engine can keep it, and a harness that wrote that way would
report the loss as syncd's. So on a daemon's folder every step is one atomic rename, and
the harness learns exactly which version it displaced:

1. ``replace`` puts new bytes at a path with ``renameat2(RENAME_EXCHANGE)`` (or
   ``RENAME_NOREPLACE`` when nothing is there): what the path held at that instant comes
   back in the quarantine and is returned, so it is the version the user overwrote.
2. ``remove`` renames the path into the quarantine first and returns what it held.
3. ``move`` never replaces a destination (``RENAME_NOREPLACE``): a name that appeared
   meanwhile makes it a no-op, as the same step on an occupied name is everywhere else.

The quarantine is a folder beside the client folders, on the same file system.
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
from itertools import count
from pathlib import Path

AT_FDCWD = -100
RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2

_libc = ctypes.CDLL(None, use_errno=True)
_serial = count()


def renameat2(src: Path, dest: Path, flags: int) -> None:
    """Linux ``renameat2(2)``; raises ``OSError`` with the errno as ``os.rename`` does."""
    if _libc.renameat2(AT_FDCWD, os.fsencode(src), AT_FDCWD, os.fsencode(dest), flags) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), str(src), None, str(dest))


def _spare(quarantine: Path) -> Path:
    return quarantine / f"q{os.getpid()}-{next(_serial)}"


def replace(path: Path, data: bytes, quarantine: Path) -> Path | None:
    """Put ``data`` at ``path`` atomically; return the quarantined old entry, or None."""
    fresh = _spare(quarantine)
    fresh.write_bytes(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        renameat2(fresh, path, RENAME_NOREPLACE)
        return None
    except FileExistsError:
        pass
    try:
        renameat2(fresh, path, RENAME_EXCHANGE)
    except FileNotFoundError:  # gone again between the two calls: a create after all
        renameat2(fresh, path, RENAME_NOREPLACE)
        return None
    return fresh  # now holds what the path held


def remove(path: Path, quarantine: Path) -> Path | None:
    """Take ``path`` out of the folder in one rename; return where it went (None: gone)."""
    aside = _spare(quarantine)
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return None
    return aside


def move(src: Path, dest: Path) -> bool:
    """Rename without replacing; False when ``src`` vanished or ``dest`` is taken."""
    try:
        renameat2(src, dest, RENAME_NOREPLACE)
    except OSError as exc:
        if exc.errno in (errno.EEXIST, errno.ENOENT, errno.ENOTEMPTY, errno.EINVAL):
            return False
        raise
    return True


def discard(entry: Path) -> None:
    """Delete a quarantined entry for good (file or folder)."""
    if entry.is_dir() and not entry.is_symlink():
        shutil.rmtree(entry)
    else:
        entry.unlink(missing_ok=True)
