"""Content hashes of local files, and the stat signature that says when to hash again.

1. Hashes are ``"sha256:<hex>"``, the spelling of PROTOCOL.md (E1), computed by streaming
   1 MiB blocks, so memory use does not grow with the file.
2. ``StatSig`` is the identity of one version of a file on disk: (size, mtime_ns, inode,
   ctime_ns). The scanner rehashes only when it differs from the cached one.
3. ``hash_file_stable`` never returns a hash of a torn read: if the file changed while it
   was read, it raises ``SourceChanged`` and the caller tries again later.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import NamedTuple

from syncd.errors import SourceChanged
from syncd.local.errors import item_error

BLOCK_SIZE = 1 << 20
HASH_PREFIX = "sha256:"

__all__ = ["BLOCK_SIZE", "HASH_PREFIX", "StatSig", "hash_bytes", "hash_file", "hash_file_stable"]


class StatSig(NamedTuple):
    """What the disk says about one version of a file; equal sigs mean "not touched".

    A named tuple rather than a dataclass: the scanner makes one per file, and a no-op
    scan of 100,000 files has to stay near one second.
    """

    size: int
    mtime_ns: int
    inode: int
    ctime_ns: int

    @classmethod
    def from_stat(cls, st: os.stat_result) -> StatSig:
        return cls(st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)

    def same_content_identity(self, other: StatSig) -> bool:
        """True when size, mtime_ns and inode agree: the test a writer uses before it
        overwrites or deletes (ctime also moves on chmod, which changes no content)."""
        return (
            self.size == other.size
            and self.mtime_ns == other.mtime_ns
            and self.inode == other.inode
        )


def hash_bytes(data: bytes) -> str:
    """The protocol's hash of an in-memory body."""
    return HASH_PREFIX + hashlib.sha256(data).hexdigest()


def _hash_fd(fd: int) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    while block := os.read(fd, BLOCK_SIZE):
        digest.update(block)
        size += len(block)
    return HASH_PREFIX + digest.hexdigest(), size


def hash_file(path: Path, *, rel_path: str | None = None) -> tuple[str, int]:
    """Hash a file and return (hash, bytes read); reads in 1 MiB blocks, never follows
    a symlink at ``path`` itself."""
    name = rel_path if rel_path is not None else str(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise item_error(exc, name, "read") from exc
    try:
        return _hash_fd(fd)
    except OSError as exc:
        raise item_error(exc, name, "read") from exc
    finally:
        os.close(fd)


def hash_file_stable(path: Path, *, rel_path: str | None = None) -> tuple[str, StatSig]:
    """Hash a file and return the hash with the signature of the version that was read.

    The file is stat-ed before and after the read (and the open descriptor checked
    against the first stat), so a writer racing the read shows up as a change of size,
    mtime_ns or inode and raises ``SourceChanged``: a torn read is never mistaken for a
    version. The returned sig is the one from before the read; if only ctime moved during
    the read, the next scan simply hashes again.
    """
    name = rel_path if rel_path is not None else str(path)
    changed = SourceChanged(
        f"{name!r} changed while it was read", path=name, hint="it is retried on the next sync"
    )
    try:
        before = StatSig.from_stat(os.lstat(path))
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError as exc:
        raise changed from exc
    except OSError as exc:
        raise item_error(exc, name, "read") from exc
    try:
        opened = StatSig.from_stat(os.fstat(fd))
        digest, size = _hash_fd(fd)
        after = StatSig.from_stat(os.lstat(path))
    except FileNotFoundError as exc:
        raise changed from exc
    except OSError as exc:
        raise item_error(exc, name, "read") from exc
    finally:
        os.close(fd)
    if not (
        before.same_content_identity(opened)
        and before.same_content_identity(after)
        and size == before.size
    ):
        raise changed
    return digest, before
