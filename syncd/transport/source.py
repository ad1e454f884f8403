"""Reading a local file for upload: what was read is what is sent, and its hash.

1. The file's identity (inode, size, mtime_ns) is taken when it is opened; ``check``
   compares it with both the open descriptor and the path, so an edit in place, a growth
   or a replacement by rename is seen; the caller then drops the upload (``SourceChanged``).
2. ``check`` runs before the last byte of every body leaves, so a changed file never
   completes a request: the server sees a body cut short and keeps nothing.
3. Reads use ``os.pread``: several readers of one file need no shared seek position.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from syncd.errors import ItemError, SourceChanged

READ_SIZE = 1024 * 1024


def sha256_text(hasher: hashlib._Hash) -> str:
    return f"sha256:{hasher.hexdigest()}"


class SourceFile:
    """An open local file being uploaded (a context manager)."""

    def __init__(self, path: Path, display: str) -> None:
        self.path = path
        self.display = display  # the workspace path, for messages
        try:
            self._fd = os.open(path, os.O_RDONLY)
        except OSError as exc:
            raise ItemError(f"cannot read {path}: {exc.strerror}", path=display) from exc
        info = os.fstat(self._fd)
        self.size = info.st_size
        self.mtime_ns = info.st_mtime_ns
        self.inode = info.st_ino

    def check(self) -> None:
        """Raise ``SourceChanged`` when the file is no longer the one that was opened."""
        try:
            now = os.fstat(self._fd)
            at_path = os.stat(self.path)
        except OSError as exc:
            raise SourceChanged(
                f"{self.display}: vanished while uploading", path=self.display
            ) from exc
        for info in (now, at_path):
            if (info.st_ino, info.st_size, info.st_mtime_ns) != (
                self.inode,
                self.size,
                self.mtime_ns,
            ):
                raise SourceChanged(f"{self.display}: changed while uploading", path=self.display)

    def read_at(self, offset: int, length: int) -> bytes:
        """Exactly ``length`` bytes at ``offset``; fewer means the file shrank."""
        parts: list[bytes] = []
        done = 0
        while done < length:
            try:
                part = os.pread(self._fd, length - done, offset + done)
            except OSError as exc:
                raise ItemError(
                    f"cannot read {self.path}: {exc.strerror}", path=self.display
                ) from exc
            if not part:
                raise SourceChanged(f"{self.display}: shrank while uploading", path=self.display)
            parts.append(part)
            done += len(part)
        return b"".join(parts)

    def hash_range(self, hasher: hashlib._Hash, start: int, end: int) -> None:
        """Feed bytes ``start..end`` to ``hasher`` (to catch up after a resume)."""
        offset = start
        while offset < end:
            data = self.read_at(offset, min(READ_SIZE, end - offset))
            hasher.update(data)
            offset += len(data)

    def stream(self, hasher: hashlib._Hash, sent: list[int]) -> Iterator[bytes]:
        """The whole file as a request body, hashed as it is read.

        ``sent[0]`` counts the bytes yielded, so the caller can tell a progress bar how
        much to give back when the attempt fails.
        """
        offset = 0
        while offset < self.size:
            data = self.read_at(offset, min(READ_SIZE, self.size - offset))
            hasher.update(data)
            offset += len(data)
            if offset >= self.size:
                self.check()
            sent[0] += len(data)
            yield data
        if self.size == 0:
            self.check()

    def close(self) -> None:
        os.close(self._fd)

    def __enter__(self) -> SourceFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
