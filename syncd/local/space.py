"""The low-disk guard: a download that would leave too little free space is not started.

1. Checked with ``os.statvfs`` on the folder's file system before each download, and
   before each E6 batch with the bytes of the whole batch, so that a refused download
   writes nothing, not even a temp file: never a half-written file.
2. The space kept free (``min_free_space``) is a size, a share of the disk (``"5%"``),
   or by default 1 GiB or 5% of the disk, whichever is less; ``0`` turns the guard off.
3. A refusal is ``LowDiskSpace``, an item error: reported, listed by ``status`` with the
   numbers, and retried by the next sync (the daemon retries failed items), by which
   time space may have been freed.
4. A file system that cannot be asked is no refusal: it is logged and the download goes
   on, meeting ENOSPC as it would without the guard.
5. Downloads in flight claim their bytes until they end, so several transfers at once
   cannot each pass the check on the same free space and fill the disk together.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from syncd.errors import ItemError

log = logging.getLogger("syncd.worker")

DEFAULT_RESERVE = 1 << 30  # 1 GiB ...
DEFAULT_SHARE = 5.0  # ... or 5% of the disk, whichever is less


class LowDiskSpace(ItemError):
    """A download was not started: it would leave less free space than ``min_free_space``.

    ``folder`` is where the space was measured and ``free_needed`` the free bytes there
    that would let it start, so the daemon can tell when to try again.
    """

    title = "low disk space"

    def __init__(
        self,
        message: str = "",
        *,
        path: str | None = None,
        hint: str | None = None,
        folder: Path | None = None,
        free_needed: int = 0,
    ) -> None:
        super().__init__(message, path=path, hint=hint)
        self.folder = folder
        self.free_needed = free_needed


def for_path(exc: LowDiskSpace, path: str) -> LowDiskSpace:
    """The same refusal for another file of the batch it was measured for."""
    return LowDiskSpace(
        exc.message, path=path, hint=exc.hint, folder=exc.folder, free_needed=exc.free_needed
    )


def free_bytes(folder: Path) -> int | None:
    """The bytes this user may still write on the file system of ``folder`` (None: unknown)."""
    try:
        st = os.statvfs(folder)
    except OSError:
        return None
    return st.f_bavail * st.f_frsize


def _size(nbytes: int) -> str:
    """A size as a person reads it: ``1.5 GiB``, ``300 kiB``, ``12 bytes``."""
    value = float(nbytes)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{nbytes} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


class SpaceGuard:
    """``min_free``: bytes, ``"N%"`` of the disk, None for the default rule, 0 for off.

    One guard is shared by every transfer of a sync (thread-safe); ``claim`` is the door.
    """

    def __init__(self, min_free: int | str | None = None) -> None:
        self.min_free = min_free
        self._lock = threading.Lock()
        self.claimed = 0  # bytes of downloads in flight that passed the check

    def __repr__(self) -> str:
        return f"SpaceGuard(min_free={self.min_free!r})"

    def reserve(self, total: int) -> int:
        """The bytes to keep free on a file system of ``total`` bytes."""
        if self.min_free is None:
            return min(DEFAULT_RESERVE, int(total * DEFAULT_SHARE / 100))
        if isinstance(self.min_free, str):
            return int(total * float(self.min_free.rstrip("%")) / 100)
        return self.min_free

    @contextmanager
    def claim(
        self, folder: Path, incoming: int, *, path: str, what: str | None = None
    ) -> Iterator[None]:
        """Hold ``incoming`` bytes of the disk of ``folder`` while the body runs, or raise
        ``LowDiskSpace`` before it runs; ``what`` names a batch in the message (the path
        is the caller's to show, as every item error's is)."""
        with self._lock:
            self.check(folder, incoming, path=path, what=what, pending=self.claimed)
            self.claimed += incoming
        try:
            yield
        finally:
            with self._lock:
                self.claimed -= incoming

    def check(
        self,
        folder: Path,
        incoming: int,
        *,
        path: str,
        what: str | None = None,
        pending: int = 0,
    ) -> None:
        """Raise ``LowDiskSpace`` unless ``incoming`` bytes, after the ``pending`` bytes
        of downloads in flight, still leave the reserve free on the disk of ``folder``."""
        if self.min_free == 0:
            return
        try:
            st = os.statvfs(folder)
        except OSError as exc:
            log.warning("event=free_space_unknown folder=%s error=%s", folder, exc.strerror)
            return
        free = st.f_bavail * st.f_frsize
        reserve = self.reserve(st.f_blocks * st.f_frsize)
        if free - pending - incoming >= reserve:
            return
        left = max(0, free - pending - incoming)
        also = f", with {_size(pending)} of other downloads under way" if pending else ""
        raise LowDiskSpace(
            f"not downloaded{f' ({what})' if what else ''}: {_size(incoming)} would leave "
            f"{_size(left)} free{also}, less than the {_size(reserve)} kept free "
            "(min_free_space)",
            path=path,
            hint="free some disk space or lower min_free_space; it is tried again next sync",
            folder=folder,
            free_needed=incoming + reserve,
        )
