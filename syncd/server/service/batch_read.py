"""E6 batch reads, without HTTP: one committed state of many paths, sent as a record stream.

1. ``read_whole`` first tries the cheap way: one read snapshot (no write lock, no trip
   through the commit thread) of the asked entries and, when every file among them is
   kept in the database and they come to at most ``MEMORY`` bytes, their bytes too. The
   records and their bytes then all come from that one committed state and are in memory
   before the answer starts, so no collection can take anything from under the answer
   and no pin is needed: this is the common case of a batch of small files.
2. Otherwise ``snapshot`` reads the entries of every asked path and pins the blobs of the
   files among them (``blob_pins``, as a backup does) in one transaction, run as a
   mutation of the group commit, with the workspace held (``storage.hold``): no write of
   any server process can land between the read and the pins, and the answer starts only
   once both are committed. The records all show that one state.
3. Collection and the clean-up of small blobs in ``Blobs.unref`` both skip pinned
   blobs, in whichever server process they run, so every blob the snapshot names is still
   there while the answer is sent: blobs are immutable, so reading them after the
   snapshot's transaction sends exactly the snapshot's bytes. So in both ways no blob an
   answer names is collected before the answer has it (the promise of E6).
4. ``answer`` streams the records in request order; the bytes of small blobs kept in the
   database are fetched a window at a time (``WINDOW`` bytes), large ones read from their
   file in blocks, so memory stays bounded whatever the batch holds.
5. ``unpin`` drops the pins once a pinned answer is over (sent, or cut short) and says
   whether a pinned blob lost its last reference meanwhile, so the caller has it
   collected; pins that a crash left behind expire after ``PIN_TTL``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Row, delete, func, insert, select

from syncd.protocol.batch import ReadRecord
from syncd.protocol.errors import WireCode
from syncd.protocol.records import PayloadSource, encode_stream
from syncd.server import storage
from syncd.server.blobs import INLINE_MAX, Blobs
from syncd.server.db import Database
from syncd.server.schema import blob_bytes, blob_pins, entries
from syncd.server.schema import blobs as blob_rows
from syncd.server.timefmt import later_iso

PIN_TTL = 24 * 3600.0
MEMORY = 8 << 20  # bytes of one answer that ``read_whole`` may hold (PROMISE 1)
WINDOW = 1 << 20  # bytes of small blobs fetched from the database in one read
BLOCK = 1 << 20
IN_LIST = 500  # paths or hashes per IN (...)


@dataclass(frozen=True, slots=True)
class Found:
    """One asked path and its entry in the snapshot (None: no such entry)."""

    path: str
    row: Row | None


def snapshot(
    conn: Connection, *, account_id: str, workspace_id: str, paths: Sequence[str], holder: str
) -> tuple[list[Found], bool]:
    """The entries of ``paths`` and pins on their blobs (PROMISE 2); True when pinned."""
    storage.get_workspace(conn, account_id, workspace_id)
    storage.hold(conn, workspace_id)  # no other process's write lands before the pins
    rows = _entries(conn, workspace_id, paths)
    digests = sorted({row.hash for row in rows.values() if row.type == "file"})
    if digests:
        expires = later_iso(PIN_TTL)
        conn.execute(
            insert(blob_pins),
            [{"hash": digest, "holder": holder, "expires_time": expires} for digest in digests],
        )
    return [Found(path, rows.get(path)) for path in paths], bool(digests)


def read_whole(
    db: Database, *, account_id: str, workspace_id: str, paths: Sequence[str]
) -> tuple[list[Found], dict[str, bytes]] | None:
    """PROMISE 1 in one read snapshot: the entries and every file's bytes, or None when
    some file's bytes are in a blob file or the files pass ``MEMORY`` (then ``snapshot``).

    For a worker thread: it reads without the write lock."""
    with db.read() as conn:
        return _read_whole(conn, account_id, workspace_id, paths)


def _read_whole(
    conn: Connection, account_id: str, workspace_id: str, paths: Sequence[str]
) -> tuple[list[Found], dict[str, bytes]] | None:
    storage.get_workspace(conn, account_id, workspace_id)
    rows = _entries(conn, workspace_id, paths)
    files = {row.hash: row.size for row in rows.values() if row.type == "file"}
    if sum(files.values()) > MEMORY or any(size > INLINE_MAX for size in files.values()):
        return None
    data: dict[str, bytes] = {}
    wanted = sorted(files)
    for start in range(0, len(wanted), IN_LIST):
        query = select(blob_bytes.c.hash, blob_bytes.c.data).where(
            blob_bytes.c.hash.in_(wanted[start : start + IN_LIST])
        )
        data.update((row.hash, bytes(row.data)) for row in conn.execute(query))
    if len(data) < len(files):
        return None  # kept in a file (a body spooled to disk): only a pin keeps it
    return [Found(path, rows.get(path)) for path in paths], data


def _entries(conn: Connection, workspace_id: str, paths: Sequence[str]) -> dict[str, Row]:
    rows: dict[str, Row] = {}
    for start in range(0, len(paths), IN_LIST):
        query = select(entries).where(
            entries.c.workspace_id == workspace_id,
            entries.c.path.in_(list(paths[start : start + IN_LIST])),
        )
        rows.update((row.path, row) for row in conn.execute(query))
    return rows


def unpin(conn: Connection, *, holder: str) -> bool:
    """Drop the pins of one answer; True when a blob they kept is now unreferenced."""
    pinned = [row.hash for row in conn.execute(select(blob_pins.c.hash).where(_held(holder)))]
    conn.execute(delete(blob_pins).where(_held(holder)))
    for start in range(0, len(pinned), IN_LIST):
        query = select(func.count()).where(
            blob_rows.c.hash.in_(pinned[start : start + IN_LIST]), blob_rows.c.refcount <= 0
        )
        if conn.execute(query).scalar_one():
            return True
    return False


def _held(holder: str):
    return blob_pins.c.holder == holder


def answer(
    db: Database, blobs: Blobs, found: list[Found], whole: dict[str, bytes] | None = None
) -> Iterator[bytes]:
    """The answer's byte chunks (PROMISE 4); ``whole``: every file's bytes, read already."""
    return encode_stream(_records(db, blobs, found, whole))


def _records(
    db: Database, blobs: Blobs, found: list[Found], whole: dict[str, bytes] | None
) -> Iterator[tuple[ReadRecord, PayloadSource]]:
    window: dict[str, bytes] = whole or {}
    fetched_to = len(found) if whole is not None else 0  # found[:fetched_to] looked up
    for index, item in enumerate(found):
        row = item.row
        if row is None:
            yield ReadRecord(item.path, 404, error=WireCode.NOT_FOUND), None
            continue
        if row.type != "file":
            yield ReadRecord(item.path, 409, error=WireCode.CONFLICT), None
            continue
        if row.size <= INLINE_MAX and index >= fetched_to:
            window, fetched_to = _fetch_window(db, found, index)
        record = ReadRecord(
            item.path,
            200,
            size=row.size,
            revision=row.revision,
            hash=f"sha256:{row.hash}",
            modified_time=row.modified_time,
        )
        data = window.get(row.hash)
        yield record, data if data is not None else _blob_blocks(blobs, row.hash, row.size)


def _fetch_window(db: Database, found: list[Found], start: int) -> tuple[dict[str, bytes], int]:
    """The small blobs kept in the database for ``found[start:end]``, about ``WINDOW`` bytes."""
    wanted: set[str] = set()
    size = 0
    end = start
    while end < len(found) and size < WINDOW and len(wanted) < IN_LIST:
        row = found[end].row
        end += 1
        if row is not None and row.type == "file" and row.size <= INLINE_MAX:
            wanted.add(row.hash)
            size += row.size
    with db.read() as conn:
        query = select(blob_bytes.c.hash, blob_bytes.c.data).where(blob_bytes.c.hash.in_(wanted))
        return {row.hash: bytes(row.data) for row in conn.execute(query)}, end


def _blob_blocks(blobs: Blobs, digest: str, size: int) -> Iterator[bytes]:
    """A blob's file in blocks; pinned, so it is there (a short one ends the answer)."""
    with blobs.open(digest) as handle:
        position = 0
        while position < size:
            chunk = handle.read(min(BLOCK, size - position))
            if not chunk:
                break
            position += len(chunk)
            yield chunk
