"""One daemon per folder: an exclusive ``flock`` on a file next to the state database.

1. The lock is taken without blocking: a second ``syncd run`` on the same folder and
   workspace fails at once with a ``UsageError`` (exit 2) naming the holder's pid.
2. The kernel drops a ``flock`` when its process dies, so a kill -9 never leaves a stale
   lock behind; the pid written into the file is only for the message.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from syncd.errors import UsageError

LOCK_SUFFIX = ".lock"


def lock_path_for(db_path: Path) -> Path:
    """The lock file of a state database: same directory, same stem."""
    return db_path.with_name(db_path.stem + LOCK_SUFFIX)


class FolderLock:
    """Held for the daemon's whole life; ``release`` (or exiting the ``with``) lets go."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    @property
    def is_held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock or raise ``UsageError`` saying who holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            who = f" (pid {holder})" if holder else ""
            raise UsageError(
                f"another syncd run already syncs this folder{who}; lock file {self.path}"
            ) from None
        except OSError as exc:
            os.close(fd)
            raise UsageError(f"cannot lock {self.path}: {exc.strerror or exc}") from exc
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)  # closing the last descriptor releases the flock

    def __enter__(self) -> FolderLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
