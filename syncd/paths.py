"""Relative workspace paths: the rules of PROTOCOL.md (General), for client and server alike.

1. ``normalize`` returns the NFC spelling of a valid path, or raises ``InvalidPath``.
   An ASCII path that breaks no rule is its own NFC spelling and is returned after a few
   string tests: the client and the server check every path of every listing, feed page
   and batch record, nearly all of them plain ASCII.
2. The same rules guard the server's input and every path the client receives before it
   touches the disk, so a hostile server cannot name anything outside the folder.
3. Nothing here reads or writes the file system.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterable

from syncd.errors import InvalidPath

MAX_SEGMENT_BYTES = 255
MAX_PATH_BYTES = 4096


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def normalize(path: str | bytes) -> str:
    """Validate a workspace-relative path and return its NFC form.

    Bytes are decoded as strict UTF-8, so invalid UTF-8 is refused rather than replaced.
    Length limits apply to the NFC spelling, since that is the name the server stores.
    """
    if isinstance(path, str) and _is_plain(path):
        return path
    return _checked(path)


def _is_plain(path: str) -> bool:
    """True for an ASCII path that no rule of ``_checked`` refuses: ASCII is its own NFC
    spelling, one byte a character. A few string tests, where the rules cost a
    normalisation, an encoding and a loop."""
    if not (path.isascii() and path.isprintable()):  # ASCII controls are not printable
        return False
    wrapped = f"/{path}/"  # every segment between two slashes
    if "//" in wrapped or "/./" in wrapped or "/../" in wrapped:  # also "", "/a", "a/"
        return False
    if len(path) > MAX_PATH_BYTES:
        return False
    return len(path) <= MAX_SEGMENT_BYTES or all(
        len(segment) <= MAX_SEGMENT_BYTES for segment in path.split("/")
    )


def _checked(path: str | bytes) -> str:
    """``normalize`` rule by rule, for the paths its fast check does not pass."""
    if isinstance(path, bytes):
        try:
            path = path.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidPath("path is not valid UTF-8", path=repr(path)) from exc
    try:
        path.encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates
        raise InvalidPath("path is not valid UTF-8", path=repr(path)) from exc
    if not path:
        raise InvalidPath("path is empty", path=path)
    if path.startswith("/"):
        raise InvalidPath("path must not start with '/'", path=path)
    if _CONTROL.search(path):
        raise InvalidPath("path contains a control character", path=repr(path))
    nfc = unicodedata.normalize("NFC", path)
    if len(nfc.encode("utf-8")) > MAX_PATH_BYTES:
        raise InvalidPath(f"path is longer than {MAX_PATH_BYTES} bytes", path=path)
    for segment in nfc.split("/"):
        if not segment:
            raise InvalidPath("path has an empty segment", path=path)
        if segment in (".", ".."):
            raise InvalidPath(f"path has a '{segment}' segment", path=path)
        if len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
            raise InvalidPath(f"a segment is longer than {MAX_SEGMENT_BYTES} bytes", path=path)
    return nfc


def parent(path: str) -> str:
    """The parent of a relative path; ``""`` for a top-level name."""
    head, _, _ = path.rpartition("/")
    return head


def ancestors(path: str) -> list[str]:
    """Every proper ancestor of ``path``, outermost first (``a/b/c`` -> ``a``, ``a/b``)."""
    parts = path.split("/")[:-1]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def is_within(path: str, root: str) -> bool:
    """True when ``path`` is ``root`` or lies below it."""
    return path == root or path.startswith(root + "/")


def is_within_any(path: str, roots: Collection[str]) -> bool:
    """True when ``path`` or one of its ancestors is in ``roots`` (O(depth), not O(n))."""
    if path in roots:
        return True
    end = path.find("/")
    while end != -1:
        if path[:end] in roots:
            return True
        end = path.find("/", end + 1)
    return False


def outermost(paths: Iterable[str]) -> list[str]:
    """The paths (sorted, once each) that lie below no other one: the rest add nothing."""
    wanted = set(paths)
    return sorted(p for p in wanted if not any(a in wanted for a in ancestors(p)))


def fold_key(path: str) -> str:
    """The key under which a case-insensitive, normalising file system would store ``path``."""
    return unicodedata.normalize("NFC", path).casefold()
