"""A batch's blob references (E5), counted set-based: the net change per hash at once.

``Blobs.add_ref`` and ``Blobs.unref`` run three to five statements per reference; a batch
of 200 new files ran a thousand. Here a batch's net deltas (``batch_tree`` PROMISE 4) are
applied with one statement per kind, keeping every rule of ``blobs.py``:

1. The rows of every hash whose count changes are locked first, in hash order (``FOR
   UPDATE`` on PostgreSQL; SQLite has one writer), and their counts read under the lock,
   so the counts written are exact whatever other processes do; a lost race (a new blob
   another process inserted first, a deadlock) raises, and the group commit runs the
   batch again (``db.is_race``).
2. A blob that was not live before (no row, or ``refcount <= 0``) gets its bytes as the
   single request gives them (blobs PROMISES 2 and 6): a small payload is stored in
   ``blob_bytes`` unless its row is there; a placed file is linked in again if collection
   took it since it was placed. The source is that of the first record that succeeded
   with that hash.
3. A blob that drops its last reference is deleted with its row when its bytes are in the
   database and no pin holds it (blobs PROMISE 6); otherwise it is left to collection,
   and ``count`` says so (freed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import ColumnElement, Connection, bindparam, delete, insert, select

from syncd.server.blobs import Blobs
from syncd.server.compiled import Compiled
from syncd.server.schema import blob_bytes, blob_pins, blobs

IN_LIST = 500  # hashes per IN (...)

_ADD = Compiled(
    blobs.update()
    .where(blobs.c.hash == bindparam("digest"))
    .values(refcount=blobs.c.refcount + bindparam("count"))
)
_INSERT = Compiled(insert(blobs), keys=("hash", "size", "refcount"))
_INSERT_BYTES = Compiled(insert(blob_bytes), keys=("hash", "data"))
_DELETE = Compiled(delete(blobs).where(blobs.c.hash == bindparam("digest")))
_DELETE_BYTES = Compiled(delete(blob_bytes).where(blob_bytes.c.hash == bindparam("digest")))


@dataclass(frozen=True, slots=True)
class Source:
    """Where a new reference's bytes are: in memory (``data``) or a placed file's ``copy``."""

    size: int
    data: bytes | None = None
    copy: Path | None = None


def count(
    conn: Connection, store: Blobs, deltas: Mapping[str, int], sources: Mapping[str, Source]
) -> bool:
    """Apply ``deltas`` (hash -> change of refcount); True when a blob is left to collection.

    Every hash with a positive delta has its ``Source`` in ``sources``.
    """
    moved = sorted(digest for digest, delta in deltas.items() if delta)
    if not moved:
        return False
    current = _locked_counts(conn, moved)
    _run(conn, _ADD, [{"digest": d, "count": deltas[d]} for d in moved if d in current])
    fresh = [d for d in moved if d not in current]
    rows = [{"hash": d, "size": sources[d].size, "refcount": deltas[d]} for d in fresh]
    _run(conn, _INSERT, rows)  # a delta < 0 always has a row: an entry named it
    waking = [d for d in moved if deltas[d] > 0 and current.get(d, 0) <= 0]
    _give_bytes(conn, store, waking, set(fresh), sources)
    dying = [d for d in moved if d in current and current[d] > 0 >= current[d] + deltas[d]]
    return _drop(conn, dying)


def _locked_counts(conn: Connection, digests: list[str]) -> dict[str, int]:
    """PROMISE 1: the rows of ``digests`` locked (in order) and their counts as locked."""
    found: dict[str, int] = {}
    for start in range(0, len(digests), IN_LIST):
        query = (
            select(blobs.c.hash, blobs.c.refcount)
            .where(blobs.c.hash.in_(digests[start : start + IN_LIST]))
            .order_by(blobs.c.hash)
            .with_for_update()
        )
        found.update((row.hash, row.refcount) for row in conn.execute(query))
    return found


def _give_bytes(
    conn: Connection,
    store: Blobs,
    waking: list[str],
    fresh: set[str],
    sources: Mapping[str, Source],
) -> None:
    """PROMISE 2 for the blobs that become live; a ``fresh`` one (no row) has no bytes row
    either, since bytes go with their row, so only the others are looked up."""
    inline = [d for d in waking if sources[d].data is not None]
    have = _present(conn, blob_bytes.c.hash, [d for d in inline if d not in fresh])
    _run(
        conn, _INSERT_BYTES, [{"hash": d, "data": sources[d].data} for d in inline if d not in have]
    )
    for digest in waking:
        copy = sources[digest].copy
        if sources[digest].data is None and copy is not None and not store.store.exists(digest):
            store.store.put(digest, copy)  # collected since it was placed


def _drop(conn: Connection, dying: list[str]) -> bool:
    """PROMISE 3: delete the dead blobs kept in the database; True if any is left."""
    if not dying:
        return False
    inline = _present(conn, blob_bytes.c.hash, dying)
    pinned = _present(conn, blob_pins.c.hash, dying)
    gone = [{"digest": d} for d in dying if d in inline and d not in pinned]
    _run(conn, _DELETE, gone)
    _run(conn, _DELETE_BYTES, gone)
    return len(gone) < len(dying)


def _present(conn: Connection, column: ColumnElement[str], digests: list[str]) -> set[str]:
    """The ``digests`` that ``column`` (a hash column) holds."""
    found: set[str] = set()
    for start in range(0, len(digests), IN_LIST):
        query = select(column).where(column.in_(digests[start : start + IN_LIST]))
        found.update(row[0] for row in conn.execute(query))
    return found


def _run(conn: Connection, statement: Compiled, rows: list[dict[str, object]]) -> None:
    if rows:
        statement.run_many(conn, rows)
