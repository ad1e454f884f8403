"""A hint to start writing a file's bytes to disk now, so a later fsync has less to do.

``sync_file_range(SYNC_FILE_RANGE_WRITE)`` starts writeback of a range without waiting for
it and promises nothing about durability: that stays the fsync's job. Where the call does
not exist (not Linux, or no libc symbol) the hint is silently skipped.
"""

from __future__ import annotations

import ctypes
import sys
from functools import cache

__all__ = ["start_writeback"]

_SYNC_FILE_RANGE_WRITE = 2


@cache
def _sync_file_range() -> object | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = getattr(ctypes.CDLL(None, use_errno=True), "sync_file_range", None)
    except OSError:
        return None
    if fn is not None:
        fn.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
        fn.restype = ctypes.c_int
    return fn


def start_writeback(fd: int, offset: int, length: int) -> bool:
    """Ask the kernel to start writing ``length`` bytes at ``offset`` of ``fd``; True if
    it accepted. Errors are not reported here: the fsync that follows reports them."""
    fn = _sync_file_range()
    if fn is None:
        return False
    return fn(fd, offset, length, _SYNC_FILE_RANGE_WRITE) == 0  # type: ignore[operator]
