"""Content-addressed blobs: every file's bytes live once, named by their sha256.

Several server processes may share the database and the data directory; the database
alone decides when a blob file may go, so collection is safe whichever process runs it.
The files themselves are kept by a ``BlobStore`` (``blobstore.py``); nothing else in the
server touches them.

1. A blob is written to a temp file in the staging folder, fsynced, then put into the
   store (``FileBlobStore`` links it to ``blobs/ab/cd/<hex>``), so a crash never leaves
   half a blob under a real name. The temp file is the publisher's own copy: it stays
   until the reference is committed.
2. A blob row with ``refcount > 0`` always has its bytes: a ``blob_bytes`` row or its
   file. The transaction that takes a reference holds the row's lock (its ``UPDATE``);
   when the blob was unreferenced or new, it checks the file there and, if collection
   took it since it was placed, links the own copy in again before the commit.
3. A file is removed only under the lock of its row, with ``refcount <= 0`` and no pin on
   it (read after the lock was taken), in the transaction that deletes the row and before
   that commits: a publisher on any process either waits for the lock and then finds the
   file gone (and links its copy), or holds the lock first and the collector skips the
   row. Unlinking after the commit would let a publisher see the file just before it
   goes. A file with no row (a crash between placement and commit, or a refused write)
   first gets a row of refcount 0, then goes the same way.
4. Pins (``blob_pins``) keep an unreferenced blob for a backup or a batch read until they
   expire. Whoever pins reads its entries with the workspace held (``storage.hold``), so
   no last reference can drop between that read and the pin.
5. Temp files a crash left behind are removed at start-up and by the housekeeping timer,
   once unchanged for ``TEMP_AGE``: a younger one may be a body that another server
   process is receiving right now.
6. A blob of at most ``INLINE_MAX`` bytes that arrives in one PUT is kept in the database
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
import time
from collections.abc import Iterable, Iterator
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
)

from syncd.server.blobstore import BlobStore, FileBlobStore
from syncd.server.compiled import Compiled
from syncd.server.db import Database, insert_missing
from syncd.server.schema import blob_bytes, blob_pins, blobs
from syncd.server.timefmt import now_iso

TEMP_AGE = 3600.0  # seconds; far longer than a body goes without a byte (PROMISE 5)
INLINE_MAX = 64 << 10  # PROMISE 6: small enough that a commit carries it at no extra fsync
IN_LIST = 500  # hashes per IN (...)

# Compiled once and run on the DBAPI cursor (``compiled.py``): a PUT runs these under the
# write lock, where SQLAlchemy's execution layer cost more than SQLite itself.
_ADD_REFS_SQL = (
    blobs.update()
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
_UNREFERENCED = blobs.c.refcount <= literal_column("0")


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
        """Flush and fsync; return the sha256 hex. Called before the file is placed."""
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        return self._hasher.hexdigest()

    def discard(self) -> None:
        if not self.file.closed:
            self.file.close()
        self.path.unlink(missing_ok=True)


class Blobs:
    """The blobs of one database and its store, and the rules of PROMISES 1-6."""

    def __init__(self, store: BlobStore, staging: Path, *, is_server: bool = True) -> None:
        self.store = store
        self.tmp = staging  # on the store's file system, so a body is linked, not copied
        self.tmp.mkdir(mode=0o700, parents=True, exist_ok=True)
        if is_server:  # an admin command leaves temp files to the servers
            self.sweep_temps()

    def sweep_temps(self) -> int:
        """Remove temp files unchanged for ``TEMP_AGE`` (PROMISE 5): a crash's leftovers."""
        cutoff = time.time() - TEMP_AGE
        removed = 0
        for leftover in self.tmp.iterdir():
            if _changed(leftover) < cutoff:
                leftover.unlink(missing_ok=True)
                removed += 1
        return removed

    @contextmanager
    def publishing(self, db: Database, source: Path, digest: str) -> Iterator[Path]:
        """Place ``source`` as blob ``digest`` for the block that commits its reference.

        The fsyncs happen here, outside the database write lock. The block passes the
        yielded copy to ``add_ref`` (PROMISE 2); it is removed when the block ends. If the
        block fails, a blob that nothing references is removed again (PROMISE 3).
        """
        size = source.stat().st_size
        try:
            self._place(source, digest)
            try:
                yield source
            except BaseException:
                self.discard_unreferenced(db, [(digest, size)])
                raise
        finally:
            source.unlink(missing_ok=True)

    def discard_unreferenced(self, db: Database, placed: list[tuple[str, int]]) -> None:
        """Remove placed blobs (sha256 hex, size) whose reference was not committed.

        A batch (E5) publishes the blobs of all its records, and a record refused inside
        the transaction leaves its blob placed but unreferenced; this is the clean-up that
        ``publishing`` does itself when the whole block fails. A pinned blob stays: it may
        be a file a backup or a batch read still has to copy.
        """
        with db.write() as conn:
            rows = [{"hash": digest, "size": size, "refcount": 0} for digest, size in placed]
            insert_missing(conn, blobs, rows)  # PROMISE 3: no file goes without its row
            self._remove(conn, [digest for digest, _ in placed], skip_locked=False)

    def _place(self, source: Path, digest: str) -> None:
        self.store.put(digest, source)  # identical contents are shared: one file

    def add_ref(
        self,
        conn: Connection,
        digest: str,
        size: int,
        data: bytes | None = None,
        copy: Path | None = None,
    ) -> None:
        """One more reference to a blob: ``data`` itself, or placed with ``copy`` its own.

        With ``data`` (PROMISE 6) the bytes are stored unless the blob is live already; a
        blob that is unreferenced may be losing its file to collection, so it gets them too.
        With ``copy`` (PROMISE 2) a blob that was not live gets its file back if it went.
        """
        rows = _ADD_REF.run(conn, {"digest": digest, "count": 1})
        if not rows:
            _INSERT_BLOB.run(conn, {"hash": digest, "size": size, "refcount": 1})
        if rows and rows[0][0] > 1:
            return  # live before this reference: its bytes are there (PROMISE 2)
        if data is not None:
            if not rows or not _HAS_BYTES.run(conn, {"digest": digest}):
                _INSERT_BYTES.run(conn, {"hash": digest, "data": data})
        elif copy is not None and not self.store.exists(digest):
            self.store.put(digest, copy)  # collected since it was placed

    def inline_bytes(self, conn: Connection, digest: str) -> bytes | None:
        """The bytes of a blob kept in the database, or None when they are in a file."""
        row = conn.execute(_BYTES, {"digest": digest}).first()
        return None if row is None else bytes(row.data)

    def open(self, digest: str) -> BinaryIO:
        """A blob file for reading; ``BlobMissing`` if collection took it meanwhile."""
        return self.store.open(digest)

    def stage(self, source: Path, name: str) -> Path:
        """A second name for ``source`` in the staging folder, to publish from.

        An upload commit publishes this one, so the session keeps its bytes if the commit
        is refused; ``publishing`` removes it.
        """
        staged = self.tmp / f"{name}.{secrets.token_hex(4)}.commit"  # two processes may
        os.link(source, staged)  # commit one session at once: each has its own name
        return staged

    def temp(self) -> TempBlob:
        """A new temp file for a body that is about to arrive."""
        path = self.tmp / f"{secrets.token_hex(12)}.part"
        return TempBlob(path=path, file=open(path, "xb", opener=private_opener))

    def adopt(self, conn: Connection, source: Path, digest: str, size: int) -> None:
        """Take one reference to ``digest``, placing ``source`` (fsynced) if needed.

        Runs inside the caller's write transaction; the caller removes ``source`` after
        the commit, as ``publishing`` does.
        """
        self._place(source, digest)
        self.add_ref(conn, digest, size, copy=source)

    def ref(self, conn: Connection, digest: str, count: int = 1) -> None:
        """Add references to a blob that is live already (a copy)."""
        _ADD_REFS.run(conn, {"digest": digest, "count": count})

    def unref(self, conn: Connection, digests: list[str]) -> bool:
        """Drop one reference per item; True when a blob file may now be collectable.

        A blob kept in the database that loses its last reference, and that no backup pins,
        is deleted right here (PROMISE 6): an overwrite of a small file then needs neither
        a collection nor a second commit. This transaction holds the row's lock (its
        ``UPDATE``), so the pins it reads are all there are (PROMISE 4).
        """
        freed = False
        for digest in digests:
            rows = _ADD_REF.run(conn, {"digest": digest, "count": -1})
            if not rows or rows[0][0] > 0:
                continue
            params = {"digest": digest}
            if not _HAS_BYTES.run(conn, params) or _PINS.run(conn, params):
                freed = True  # left to ``collect``
                continue
            _DELETE_BLOB.run(conn, params)
            _DELETE_BYTES.run(conn, params)
        return freed

    def collect(self, conn: Connection) -> int:
        """Delete unreferenced, unpinned blobs (in the caller's write transaction).

        Rows another process has locked (a reference being taken, or another collection)
        are skipped: they are looked at again next time.
        """
        conn.execute(delete(blob_pins).where(blob_pins.c.expires_time < now_iso()))
        pinned = select(blob_pins.c.hash)
        query = select(blobs.c.hash).where(_UNREFERENCED, blobs.c.hash.not_in(pinned))
        candidates = [row.hash for row in conn.execute(query)]
        return self._remove(conn, candidates, skip_locked=True)

    def _remove(self, conn: Connection, digests: Iterable[str], *, skip_locked: bool) -> int:
        """PROMISE 3 for ``digests``: lock their rows, read the pins, then unlink and delete."""
        removed = 0
        wanted = sorted(set(digests))
        for start in range(0, len(wanted), IN_LIST):
            some = wanted[start : start + IN_LIST]
            lock = (
                select(blobs.c.hash)
                .where(blobs.c.hash.in_(some), _UNREFERENCED)
                .with_for_update(skip_locked=skip_locked)
            )
            locked = [row.hash for row in conn.execute(lock)]
            if not locked:
                continue
            pins = select(blob_pins.c.hash).where(blob_pins.c.hash.in_(locked))
            pinned = {row.hash for row in conn.execute(pins)}
            gone = [digest for digest in locked if digest not in pinned]
            for digest in gone:
                self.store.delete(digest)  # before the commit: PROMISE 3
            if gone:
                conn.execute(delete(blobs).where(blobs.c.hash.in_(gone)))
                conn.execute(delete(blob_bytes).where(blob_bytes.c.hash.in_(gone)))
            removed += len(gone)
        return removed

    def sweep_orphans(self, conn: Connection) -> int:
        """Remove blob files that no row names (a crash between placement and commit).

        Such a file may also be one another server process placed a moment ago: it gets
        a row of refcount 0 and goes through ``_remove`` (PROMISE 3), so that publisher's
        commit, which checks its file under the row's lock, links its copy in again.
        """
        known = {row.hash for row in conn.execute(select(blobs.c.hash))}
        orphans = {digest: size for digest, size in self.store.stored() if digest not in known}
        if not orphans:
            return 0
        rows = [{"hash": digest, "size": size, "refcount": 0} for digest, size in orphans.items()]
        insert_missing(conn, blobs, rows)
        return self._remove(conn, orphans, skip_locked=True)

    def total(self, conn: Connection) -> int:
        return int(conn.execute(select(func.count()).select_from(blobs)).scalar_one())


def on_disk(root: Path, *, is_server: bool = True) -> Blobs:
    """The blobs of a data directory: files under ``root``, bodies staged in ``root/tmp``."""
    return Blobs(FileBlobStore(root), root / "tmp", is_server=is_server)


def _changed(path: Path) -> float:
    """When the file last changed, linking included (its ctime); 0 if it is gone."""
    try:
        return path.stat().st_ctime
    except OSError:
        return 0.0


def private_opener(path: str, flags: int) -> int:
    """For ``open(..., opener=)``: a new file is 0600, whatever the umask (it holds contents)."""
    return os.open(path, flags, 0o600)


def blob_digest(path: Path, block: int = 1 << 20) -> tuple[str, int]:
    """sha256 hex and size of a file, read in blocks (never whole into memory)."""
    hasher = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(block):
            hasher.update(chunk)
            size += len(chunk)
    return hasher.hexdigest(), size
