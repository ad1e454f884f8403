"""The data directory is private to the server's user: every account's files live in it.

1. ``prepare`` creates the directory 0700; a file, or a folder we cannot write, is
   ``UsageError``.
2. While ``syncd serve`` or ``syncd admin`` runs, the process umask is 077 (``private``),
   so whatever is created below (database, its ``-wal`` and ``-shm`` side files, blobs,
   upload chunks, backups, temp files) is 0600 and every folder 0700. The modules that
   create files also pass these modes themselves, so they hold without the umask too.
3. A data directory that is open to other users (from an older version, or made by hand)
   is tightened at start-up with one warning: the directory itself becomes 0700, which
   alone shuts everyone else out, and the server's own members below it lose their group
   and other bits. This walks the tree once: afterwards the directory is private and the
   check costs one ``stat``. A directory that holds anything but the server's own members
   (``--data-dir /tmp``, a home folder) is not the server's to change: it is left as it
   is, with a warning at every start.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from syncd.errors import UsageError

log = logging.getLogger("syncd.server")

PRIVATE_UMASK = 0o077
DIR_MODE = 0o700
FILE_MODE = 0o600
# What the server keeps in its data directory (``settings.py``, ``db.default_url``).
OWN_MEMBERS = (
    "syncd.db",
    "syncd.db-wal",
    "syncd.db-shm",
    "syncd.db-journal",
    "blobs",
    "uploads",
    "backups",
)


@contextmanager
def private() -> Iterator[None]:
    """PROMISE 2: umask 077 for the block, the previous umask again after it."""
    previous = os.umask(PRIVATE_UMASK)
    try:
        yield
    finally:
        os.umask(previous)


def prepare(data_dir: Path) -> Path:
    """PROMISES 1 and 3; the resolved path of a usable, private data directory."""
    try:
        data_dir.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot use data directory {data_dir}: {exc.strerror or exc}") from exc
    if not data_dir.is_dir():
        raise UsageError(f"data directory {data_dir} is not a directory")
    if not os.access(data_dir, os.W_OK | os.X_OK):
        raise UsageError(f"data directory {data_dir} is not writable")
    data_dir = data_dir.resolve()
    tighten(data_dir)
    return data_dir


def tighten(data_dir: Path) -> bool:
    """PROMISE 3; True when the directory was open to others (and the warning was logged)."""
    mode = stat.S_IMODE(data_dir.stat().st_mode)
    if not mode & 0o077:
        return False
    foreign = sorted(set(os.listdir(data_dir)) - set(OWN_MEMBERS))
    if foreign:
        log.warning(
            "data directory %s is open to other users (mode %04o) and holds more than the "
            "server's files (%s), so it is left as it is; give the server a folder of its "
            "own, or run chmod 700 on it",
            data_dir,
            mode,
            ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else ""),
        )
        return True
    try:
        os.chmod(data_dir, mode & ~0o077)
        for name in OWN_MEMBERS:
            _make_private(data_dir / name)
    except OSError as exc:
        log.warning(
            "data directory %s is open to other users (mode %04o) and could not be made "
            "private: %s; run chmod 700 on it",
            data_dir,
            mode,
            exc.strerror or exc,
        )
        return True
    log.warning(
        "data directory %s was open to other users (mode %04o); made it %04o and the "
        "server's files in it private",
        data_dir,
        mode,
        mode & ~0o077,
    )
    return True


def _make_private(path: Path) -> None:
    """Drop group and other bits from ``path`` and, for a folder, everything below it."""
    if path.is_symlink() or not path.exists():
        return
    _drop_open_bits(path)
    if path.is_dir():
        for folder, dirs, files in os.walk(path):
            for name in dirs + files:
                child = Path(folder, name)
                if not child.is_symlink():
                    _drop_open_bits(child)


def _drop_open_bits(path: Path) -> None:
    mode = stat.S_IMODE(path.lstat().st_mode)
    if mode & 0o077:
        os.chmod(path, mode & ~0o077)
