"""Content-addressed file store: every file's bytes live once, named by their sha256.

1. A blob is written to a temp file in the same file system, fsynced, then renamed into
   ``blobs/ab/cd/<hex>``, so a crash never leaves half a blob under a real name.
2. A blob row with ``refcount > 0`` always has its file. Collection deletes files only for
   rows that are unreferenced and unpinned, in a write transaction, and only in the server
   process (``collects``).
3. In the server, a blob is placed under a striped lock and stays claimed (counted in
   flight) until its reference is committed; collection only try-locks the stripe and skips
   claimed blobs: the slow fsyncs of a PUT run outside the database write lock, PUTs of
   equal contents do not wait for each other's commits, yet collection never deletes a
   blob being published.
   ``adopt`` (used by restore in another process) renames inside the write transaction.
4. Temp files that a crash left behind are removed at start-up.
5. A blob of at most ``INLINE_MAX`` bytes that arrives in one PUT is kept in the database
   (``blob_bytes``), inserted in the transaction of its first reference and deleted, with
   its row, in the transaction that drops its last one (unless a backup pins it): the
   commit's one fsync makes it durable, where a file needs three (the file, its folder,
   the commit), and a group commit shares that one fsync among many PUTs. Readers look in
   ``blob_bytes`` first, then on disk.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import (
    Connection,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    select,
    update,
)

from syncd.server.compiled import Compiled
from syncd.server.db import Database, is_shared
from syncd.server.schema import blob_bytes, blob_pins, blobs
from syncd.server.timefmt import now_iso

SHARED_ORPHAN_AGE = 3600.0  # seconds; far longer than any publish takes
INLINE_MAX = 64 << 10  # PROMISE 5: small enough that a commit carries it at no extra fsync

# Compiled once and run on the DBAPI cursor (``compiled.py``): a PUT runs these under the
# write lock, where SQLAlchemy's execution layer cost more than SQLite itself.
_ADD_REFS_SQL = (
    update(blobs)
    .where(blobs.c.hash == bindparam("digest"))
    .values(refcount=blobs.c.refcount + bindparam("count"))
)
_ADD_REFS = Compiled(_ADD_REFS_SQL)
_ADD_REF = Compiled(_ADD_REFS_SQL.returning(blobs.c.refcount))
_INSERT_BLOB = Compiled(insert(blobs), keys=("hash", "size", "refcount"))
_HAS_BYTES = Compiled(select(blob_bytes.c.hash).where(blob_bytes.c.hash == bindparam("digest")))
_INSERT_BYTES = Compiled(insert(blob_bytes), keys=("hash", "data"))
_BYTES = select(blob_bytes.c.data).where(blob_bytes.c.hash == bindparam("digest"))
_PINS = Compiled(select(blob_pins.c.hash).where(blob_pins.c.hash == bindparam("digest")))
_DELETE_BLOB = Compiled(delete(blobs).where(blobs.c.hash == bindparam("digest")))
_DELETE_BYTES = Compiled(delete(blob_bytes).where(blob_bytes.c.hash == bindparam("digest")))
# A literal 0, not a parameter, so that SQLite sees the partial index blobs_unreferenced.
_UNREFERENCED = select(blobs.c.hash).where(blobs.c.refcount <= literal_column("0"))


@dataclass
class TempBlob:
    """Bytes received so far for one body: hashed and counted as they are written."""

    path: Path
    file: BinaryIO
    size: int = 0

    def __post_init__(self) -> None:
        self._hasher = hashlib.sha256()

    def write(self, chunk: bytes) -> None:
        self.file.write(chunk)
        self._hasher.update(chunk)
        self.size += len(chunk)

    def finish(self) -> str:
        """Flush and fsync; return the sha256 hex. Called before the file is adopted."""
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        return self._hasher.hexdigest()

    def discard(self) -> None:
        if not self.file.closed:
            self.file.close()
        self.path.unlink(missing_ok=True)


class BlobStore:
    """The ``blobs/`` folder of a data directory and the rules of PROMISES 1-3."""

    def __init__(self, root: Path, *, is_server: bool = True) -> None:
        self.root = root
        self.tmp = root / "tmp"
        self.tmp.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.collects = is_server
        self._stripes = [threading.Lock() for _ in range(256)]
        # Blobs placed but not yet referenced by a commit, by digest (guarded by the stripe):
        # neither collection nor a failed publisher's cleanup may remove them.
        self._in_flight: Counter[str] = Counter()
        if is_server:  # an admin command must not race the server's temp files
            for leftover in self.tmp.iterdir():
                leftover.unlink(missing_ok=True)

    def _stripe(self, digest: str) -> threading.Lock:
        return self._stripes[int(digest[:2], 16)]

    @contextmanager
    def publishing(self, db: Database, source: Path, digest: str) -> Iterator[None]:
        """Place ``source`` as blob ``digest`` for the block that commits its reference.

        The fsyncs happen here, outside the database write lock (PROMISE 3). If the block
        fails, a blob that nothing references is removed again.
        """
        stripe = self._stripe(digest)
        with stripe:  # short: only the rename, so PUTs of equal contents do not queue
            self._place(source, digest)
            self._in_flight[digest] += 1
        try:
            yield
        except BaseException:
            with db.write() as conn, stripe:
                self._unclaim(digest)
                self._remove_if_unreferenced(conn, digest)
            raise
        with stripe:
            self._unclaim(digest)

    def discard_unreferenced(self, db: Database, digests: list[str]) -> None:
        """Remove blobs placed by ``publishing`` whose reference a batch did not commit.

        A batch (E5) publishes the blobs of all its records, and a record refused inside
        the transaction leaves its blob placed but unreferenced; this is the clean-up that
        ``publishing`` does itself when the whole block fails.
        """
        with db.write() as conn:
            for digest in digests:
                with self._stripe(digest):
                    self._remove_if_unreferenced(conn, digest)

    def _remove_if_unreferenced(self, conn: Connection, digest: str) -> None:
        """Under the digest's stripe: unlink a placed blob that nothing references or claims.

        A pinned blob stays: it may be a file a backup or a batch read still has to copy
        (its name was there already, so the placement added nothing).
        """
        row = conn.execute(select(blobs.c.refcount).where(blobs.c.hash == digest)).first()
        if self._in_flight[digest] or (row is not None and row.refcount > 0):
            return
        if not _PINS.run(conn, {"digest": digest}):
            self.path_of(digest).unlink(missing_ok=True)

    def _unclaim(self, digest: str) -> None:
        self._in_flight[digest] -= 1
        if self._in_flight[digest] <= 0:
            del self._in_flight[digest]

    def _place(self, source: Path, digest: str) -> None:
        target = self.path_of(digest)
        if target.exists():  # identical contents are shared; the file there is complete
            source.unlink(missing_ok=True)
            return
        _place_durably(source, target)

    def add_ref(self, conn: Connection, digest: str, size: int, data: bytes | None = None) -> None:
        """One more reference to a blob: placed (inside ``publishing``), or ``data`` itself.

        With ``data`` (PROMISE 5) the bytes are stored unless the blob is live already; a
        blob that is unreferenced may be losing its file to collection, so it gets them too.
        """
        rows = _ADD_REF.run(conn, {"digest": digest, "count": 1})
        if not rows:
            _INSERT_BLOB.run(conn, {"hash": digest, "size": size, "refcount": 1})
        if data is None or (rows and rows[0][0] > 1):
            return
        if not rows or not _HAS_BYTES.run(conn, {"digest": digest}):
            _INSERT_BYTES.run(conn, {"hash": digest, "data": data})

    def inline_bytes(self, conn: Connection, digest: str) -> bytes | None:
        """The bytes of a blob kept in the database, or None when they are in a file."""
        row = conn.execute(_BYTES, {"digest": digest}).first()
        return None if row is None else bytes(row.data)

    def path_of(self, digest: str) -> Path:
        return self.root / digest[:2] / digest[2:4] / digest

    def temp(self) -> TempBlob:
        """A new temp file for a body that is about to arrive."""
        path = self.tmp / f"{secrets.token_hex(12)}.part"
        return TempBlob(path=path, file=open(path, "xb", opener=private_opener))

    def adopt(self, conn: Connection, source: Path, digest: str, size: int) -> None:
        """Take one reference to ``digest``, moving ``source`` into place if needed.

        Runs inside the caller's write transaction; ``source`` is fsynced already. When the
        blob is live already the source is simply removed (identical contents are shared).
        """
        row = conn.execute(select(blobs.c.refcount).where(blobs.c.hash == digest)).first()
        if row is not None and row.refcount > 0:
            source.unlink(missing_ok=True)
            conn.execute(
                update(blobs).where(blobs.c.hash == digest).values(refcount=blobs.c.refcount + 1)
            )
            return
        target = self.path_of(digest)
        _place_durably(source, target)
        if row is None:
            conn.execute(insert(blobs).values(hash=digest, size=size, refcount=1))
        else:
            conn.execute(update(blobs).where(blobs.c.hash == digest).values(refcount=1))

    def ref(self, conn: Connection, digest: str, count: int = 1) -> None:
        """Add references to a blob that is live already (a copy)."""
        _ADD_REFS.run(conn, {"digest": digest, "count": count})

    def unref(self, conn: Connection, digests: list[str]) -> bool:
        """Drop one reference per item; True when a blob file may now be collectable.

        A blob kept in the database that loses its last reference, and that no backup pins,
        is deleted right here (PROMISE 5): an overwrite of a small file then needs neither
        a collection nor a second commit.
        """
        freed = False
        for digest in digests:
            rows = _ADD_REF.run(conn, {"digest": digest, "count": -1})
            if not rows or rows[0][0] > 0:
                continue
            params = {"digest": digest}
            if not self.collects or not _HAS_BYTES.run(conn, params) or _PINS.run(conn, params):
                freed = True  # left to ``collect``
                continue
            _DELETE_BLOB.run(conn, params)
            _DELETE_BYTES.run(conn, params)
        return freed

    def collect(self, conn: Connection) -> int:
        """Delete unreferenced, unpinned blobs (in the caller's write transaction)."""
        if not self.collects:
            return 0
        now = now_iso()
        conn.execute(delete(blob_pins).where(blob_pins.c.expires_time < now))
        pinned = select(blob_pins.c.hash)
        rows = conn.execute(_UNREFERENCED.where(blobs.c.hash.not_in(pinned))).all()
        removed = 0
        for row in rows:
            stripe = self._stripe(row.hash)
            if not stripe.acquire(blocking=False):
                continue  # being published right now: look again next time
            try:
                if self._in_flight[row.hash]:
                    continue  # placed for a commit that has not landed yet
                self.path_of(row.hash).unlink(missing_ok=True)
                conn.execute(delete(blobs).where(blobs.c.hash == row.hash))
                conn.execute(delete(blob_bytes).where(blob_bytes.c.hash == row.hash))
                removed += 1
            finally:
                stripe.release()
        return removed

    def sweep_orphans(self, conn: Connection) -> int:
        """Remove blob files that no row names (a crash between rename and commit).

        On a database that other server processes share, a file without a row may be one
        they are publishing right now: only files older than ``SHARED_ORPHAN_AGE`` go.
        """
        known = {row.hash for row in conn.execute(select(blobs.c.hash))}
        cutoff = time.time() - SHARED_ORPHAN_AGE if is_shared(conn) else None
        removed = 0
        for first in self.root.iterdir():
            if first == self.tmp or not first.is_dir():
                continue
            for second in first.iterdir():
                for item in second.iterdir():
                    if item.name not in known:
                        if cutoff is not None and _mtime(item) > cutoff:
                            continue
                        item.unlink(missing_ok=True)
                        removed += 1
        return removed

    def total(self, conn: Connection) -> int:
        return int(conn.execute(select(func.count()).select_from(blobs)).scalar_one())


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _place_durably(source: Path, target: Path) -> None:
    """Rename ``source`` to ``target`` so that a crash after return keeps the name.

    The rename's folder is fsynced; of the fan-out folders above it, only those this call
    created are recorded (their parents fsynced): folders that existed already are durable.
    """
    created: list[Path] = []  # callers hold the stripe of ``ab/``, so no one else creates these
    folder = target.parent
    while not folder.is_dir():
        created.append(folder)
        folder = folder.parent
    for new_folder in reversed(created):
        new_folder.mkdir(mode=0o700, exist_ok=True)
    os.replace(source, target)
    _fsync_dir(target.parent)
    for new_folder in created:
        _fsync_dir(new_folder.parent)


def private_opener(path: str, flags: int) -> int:
    """For ``open(..., opener=)``: a new file is 0600, whatever the umask (it holds contents)."""
    return os.open(path, flags, 0o600)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def blob_digest(path: Path, block: int = 1 << 20) -> tuple[str, int]:
    """sha256 hex and size of a file, read in blocks (never whole into memory)."""
    hasher = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(block):
            hasher.update(chunk)
            size += len(chunk)
    return hasher.hexdigest(), size
