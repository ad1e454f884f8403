"""One writer per folder: an exclusive ``flock`` on a file next to the state database.

1. Every command that changes the folder or its state (``sync``, ``run``) holds the lock
   for its whole life, taken before the state database is opened. It is taken without
   blocking: a second command on the same folder and workspace fails at once with a
   ``UsageError`` (exit 2) naming the holder: its pid, its command and since when.
2. The kernel drops a ``flock`` when its process dies, so a kill -9 never leaves a stale
   lock behind; the holder line written into the file is only for the message.
3. A dry run writes nothing, so it takes no lock and creates no file: ``check_free``
   opens an existing lock file read-only and refuses while another command holds it.
   ``syncd status`` only reads and never looks at the lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

from syncd.errors import UsageError

LOCK_SUFFIX = ".lock"


def lock_path_for(db_path: Path) -> Path:
    """The lock file of a state database: same directory, same stem."""
    return db_path.with_name(db_path.stem + LOCK_SUFFIX)


class FolderLock:
    """Held for a command's whole life; ``release`` (or exiting the ``with``) lets go."""

    def __init__(self, path: Path, command: str = "syncd") -> None:
        self.path = Path(path)
        self.command = command
        self._fd: int | None = None

    @property
    def is_held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock or raise ``UsageError`` saying who holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            refusal = _refusal(fd, self.path)
            os.close(fd)
            raise refusal from None
        except OSError as exc:
            os.close(fd)
            raise UsageError(f"cannot lock {self.path}: {exc.strerror or exc}") from exc
        since = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        holder = {"pid": os.getpid(), "command": self.command, "since": since}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(holder) + "\n").encode(), 0)
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


def check_free(path: Path) -> None:
    """Refuse (``UsageError``) while another command holds the lock; create nothing.

    For a dry run: it must not write a file, and its plan must not be made from a state
    that another command is changing. A lock file that does not exist is held by nobody.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise UsageError(f"cannot read the lock {path}: {exc.strerror or exc}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        raise _refusal(fd, path) from None
    except OSError as exc:
        raise UsageError(f"cannot lock {path}: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)  # also lets go of the shared lock at once


@contextlib.contextmanager
def folder_lock(db_path: Path, command: str, *, dry_run: bool = False) -> Iterator[None]:
    """The one way a command takes the folder's lock: held for the ``with`` block.

    ``dry_run`` only checks that nobody holds it (``check_free``) and writes nothing.
    """
    path = lock_path_for(db_path)
    if dry_run:
        check_free(path)
        yield
        return
    with FolderLock(path, command):
        yield


def _refusal(fd: int, path: Path) -> UsageError:
    holder = read_holder(fd)
    if holder is None:
        who = ""
    else:
        who = f": pid {holder['pid']}"
        if holder.get("command"):
            who += f" ({holder['command']})"
        if holder.get("since"):
            who += f" since {holder['since']}"
    return UsageError(
        f"another syncd already syncs this folder{who}",
        hint=f"wait for it or stop it; lock file {path}",
    )


def read_holder(fd: int) -> dict[str, object] | None:
    """The holder written by ``acquire`` (an older syncd wrote its pid alone), or None."""
    try:
        text = os.pread(fd, 512, 0).decode("utf-8", "replace").strip()
    except OSError:
        return None
    if text.isdigit():
        return {"pid": int(text)}
    try:
        holder = json.loads(text)
    except ValueError:
        return None
    if not isinstance(holder, dict) or not isinstance(holder.get("pid"), int):
        return None
    return holder
