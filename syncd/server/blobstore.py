"""Where the bytes of blob files live: one small interface, and the file system behind it.

1. A ``BlobStore`` keeps immutable byte strings named by their sha256 hex. ``put`` makes
   one durable from a local file that is fsynced already and leaves that file in place
   (the caller's copy); once it returns, the blob survives a crash. A blob that is there
   already is left as it is: equal names mean equal bytes.
2. ``open`` of a blob that is not there raises ``BlobMissing`` (a ``FileNotFoundError``);
   ``delete`` of one does nothing.
3. A store knows nothing of references: ``blobs.py`` decides, on the database, what may be
   deleted and when. Small blobs never reach a store: they live in the database.
4. ``FileBlobStore`` keeps each blob at ``<root>/ab/cd/<hex>`` under ``--data-dir``,
   which every server process shares; ``put`` hard-links the caller's file (no copy) and
   fsyncs the folder. Another implementation (an object store) only needs these five
   methods.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import BinaryIO, Protocol

HEX64 = re.compile(r"^[0-9a-f]{64}$")
_FAN = re.compile(r"^[0-9a-f]{2}$")


class BlobMissing(FileNotFoundError):
    """The blob is not in the store (collected since it was looked up, or never put)."""


class BlobStore(Protocol):
    """PROMISES 1-3: what the server needs of the place where blob files live."""

    def put(self, digest: str, source: Path) -> None: ...

    def exists(self, digest: str) -> bool: ...

    def open(self, digest: str) -> BinaryIO: ...

    def delete(self, digest: str) -> None: ...

    def stored(self) -> Iterator[tuple[str, int]]:
        """Every blob in the store with its size (for the sweep of blobs without a row)."""
        ...


class FileBlobStore:
    """PROMISE 4: blobs as files in a fan-out of folders."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(mode=0o700, parents=True, exist_ok=True)

    def path_of(self, digest: str) -> Path:
        return self.root / digest[:2] / digest[2:4] / digest

    def put(self, digest: str, source: Path) -> None:
        target = self.path_of(digest)
        if target.exists():  # perhaps linked a moment ago by another process, whose
            _fsync_dir(target.parent)  # folder fsync may not have run yet
            return
        _link_durably(source, target)

    def exists(self, digest: str) -> bool:
        return self.path_of(digest).exists()

    def open(self, digest: str) -> BinaryIO:
        try:
            return open(self.path_of(digest), "rb")
        except FileNotFoundError as exc:
            raise BlobMissing(f"no blob {digest}") from exc

    def delete(self, digest: str) -> None:
        self.path_of(digest).unlink(missing_ok=True)

    def stored(self) -> Iterator[tuple[str, int]]:
        for first in self.root.iterdir():
            if not _FAN.match(first.name) or not first.is_dir():
                continue  # the staging folder, or something that is not ours
            for second in first.iterdir():
                for item in second.iterdir():
                    if HEX64.match(item.name):
                        with suppress(OSError):  # removed meanwhile
                            yield item.name, item.stat().st_size


def _link_durably(source: Path, target: Path) -> None:
    """Link ``source`` as ``target`` so that a crash after return keeps the name.

    ``source`` keeps its name. The link's folder is fsynced; of the fan-out folders above
    it, only those this call created are recorded (their parents fsynced): folders that
    existed already are durable. Two publishers of equal contents may link at once: the
    second finds the name taken, which is as good.
    """
    created: list[Path] = []
    folder = target.parent
    while not folder.is_dir():
        created.append(folder)
        folder = folder.parent
    for new_folder in reversed(created):
        new_folder.mkdir(mode=0o700, exist_ok=True)
    with suppress(FileExistsError):  # equal contents, linked by another publisher
        os.link(source, target)
    _fsync_dir(target.parent)
    for new_folder in created:
        _fsync_dir(new_folder.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
