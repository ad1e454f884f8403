"""The edge where ``OSError`` becomes a ``syncd.errors`` class, for everything under ``local/``.

1. Every ``OSError`` raised by the disk is translated here, once, with ``raise ... from exc``;
   nothing above ``local/`` catches ``OSError``.
2. The translated error names the workspace path and carries a hint a user can act on.
3. ``LocalChanged`` is the local twin of a 412: the disk no longer holds what the plan saw,
   so the worker turns the op into a conflict instead of overwriting or deleting.
"""

from __future__ import annotations

import errno
from pathlib import Path

from syncd.errors import ItemError, SafetyStop, SourceChanged

__all__ = [
    "ContentMismatch",
    "LocalChanged",
    "RootUnreadable",
    "SourceChanged",
    "item_error",
]

_HINTS: dict[int, str] = {
    errno.EACCES: "check the permissions of the file and its folder",
    errno.EPERM: "the operating system refused the operation; check permissions and flags",
    errno.EIO: "the disk reported an I/O error; check the drive",
    errno.ENOSPC: "the disk is full; free some space",
    errno.EDQUOT: "the disk quota is exhausted; free some space",
    errno.EROFS: "the folder is on a read-only file system",
    errno.ENAMETOOLONG: "the name is too long for this file system",
    errno.EILSEQ: "the name is not allowed by this file system",
    errno.EINVAL: "the name or operation is not supported by this file system",
    errno.ENOENT: "the file vanished while syncd worked on it; it is retried next time",
    errno.EBUSY: "the file is in use by another program",
    errno.ETXTBSY: "the file is in use by another program",
}


class LocalChanged(ItemError):
    """The local path is no longer what the plan saw: it is a conflict, not an overwrite.

    ``temp`` is a downloaded temporary file that was left in place (the caller decides
    whether to use it for the conflict or remove it); ``None`` when there is none.
    """

    title = "local file changed"

    def __init__(
        self,
        message: str = "",
        *,
        path: str | None = None,
        hint: str | None = None,
        temp: Path | None = None,
    ) -> None:
        super().__init__(message, path=path, hint=hint)
        self.temp = temp


class ContentMismatch(ItemError):
    """A downloaded file does not have the hash the server announced; it was discarded."""

    title = "downloaded content does not match"


class RootUnreadable(SafetyStop):
    """The local folder itself cannot be listed; nothing is decided from a blind scan."""

    title = "local folder unreadable"


def item_error(exc: OSError, rel_path: str, action: str) -> ItemError:
    """Turn an ``OSError`` on one path into an ``ItemError`` the worker can report.

    ``action`` is a short verb phrase ("read", "write", "move to the trash") for the
    message. The message carries the errno text, never the absolute path of the folder,
    so reports stay short and the workspace path is the one users recognise.
    """
    reason = exc.strerror or type(exc).__name__
    hint = _HINTS.get(exc.errno or -1)
    return ItemError(f"cannot {action} {rel_path!r}: {reason}", path=rel_path, hint=hint)
