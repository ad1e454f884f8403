"""The file tree of a workspace: list, put, delete, mkdir, move, copy (no HTTP).

1. Every mutation runs inside the caller's write transaction and issues exactly one
   revision, or none when nothing changed (``mkdir`` of an existing directory). A batch
   (E5) issues its one revision itself and hands it to each mutation as ``revision``.
2. Parents are explicit directory rows; a file where a directory is needed, or the reverse,
   is ``Conflict`` and changes nothing.
3. Conditions (E4) are checked before anything else; a lost race is ``PreconditionFailed``.
4. Each deleted entry leaves a tombstone (its life, for the change feed); blob references
   are counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import Connection, Row, and_, bindparam, delete, insert, or_, select, update

from syncd.paths import ancestors, is_within
from syncd.server.blobs import Blobs
from syncd.server.compiled import Compiled
from syncd.server.schema import entries, tombstones
from syncd.server.service.errors import Conflict, NotFound, PreconditionFailed
from syncd.server.storage import bump
from syncd.server.timefmt import now_iso

FILE = "file"
DIR = "directory"


@dataclass(frozen=True, slots=True)
class Condition:
    """E4 preconditions of one request; the empty condition always holds."""

    if_match: int | None = None  # the entry must exist at exactly this revision
    must_not_exist: bool = False  # If-None-Match: * / if_revision 0

    def check(self, entry: Row | Entry | None) -> None:
        if self.must_not_exist and entry is not None:
            raise PreconditionFailed("the entry exists already")
        if self.if_match is not None and (entry is None or entry.revision != self.if_match):
            raise PreconditionFailed("the entry is not at the expected revision")


NO_CONDITION = Condition()


def subtree(workspace_id: str, path: str):
    """``path`` and everything below it; a binary range, so no LIKE escaping is needed."""
    return and_(
        entries.c.workspace_id == workspace_id,
        or_(entries.c.path == path, and_(entries.c.path > path + "/", entries.c.path < path + "0")),
    )


def list_entries(conn: Connection, workspace_id: str) -> list[Row]:
    return list(
        conn.execute(
            select(entries).where(entries.c.workspace_id == workspace_id).order_by(entries.c.path)
        )
    )


class Entry(NamedTuple):
    """A row of ``entries`` as the hot path reads it, or as a write left it (no read-back)."""

    workspace_id: str
    path: str
    type: str
    size: int | None
    hash: str | None
    modified_time: str
    revision: int
    created_revision: int


# Compiled once and run on the DBAPI cursor (``compiled.py``): a PUT runs these under the
# write lock, where SQLAlchemy's execution layer cost more than SQLite itself.
_INSERT = Compiled(insert(entries), keys=Entry._fields)
_UPDATE = Compiled(
    update(entries).where(
        entries.c.workspace_id == bindparam("ws"), entries.c.path == bindparam("at")
    ),
    keys=("type", "size", "hash", "modified_time", "revision"),
)
_ENTRY = select(entries).where(
    entries.c.workspace_id == bindparam("ws"), entries.c.path == bindparam("at")
)


@cache
def _some(count: int) -> Compiled:
    """The entries of ``count`` paths of one workspace (one statement per path depth)."""
    paths = [bindparam(f"p{i}") for i in range(count)]
    return Compiled(
        select(entries).where(entries.c.workspace_id == bindparam("ws"), entries.c.path.in_(paths))
    )


def get_entry(conn: Connection, workspace_id: str, path: str) -> Row | None:
    return conn.execute(_ENTRY, {"ws": workspace_id, "at": path}).first()


def _with_ancestors(conn: Connection, workspace_id: str, path: str) -> dict[str, Entry]:
    """The entries of ``path`` and of its ancestors that exist, by path (one query)."""
    paths = [*ancestors(path), path]
    params = {"ws": workspace_id, **{f"p{i}": item for i, item in enumerate(paths)}}
    return {row[1]: Entry(*row) for row in _some(len(paths)).run(conn, params)}


def missing_parents(found: dict[str, Entry], path: str) -> list[str]:
    """The ancestors of ``path`` that a write must create, outermost first.

    ``Conflict`` when one of them is a file. Parents are explicit rows, so below the
    first missing ancestor every other one is missing too.
    """
    wanted = ancestors(path)
    for parent in wanted:
        if parent in found and found[parent].type != DIR:
            raise Conflict(f"{parent!r} is a file, not a directory")
    return [parent for parent in wanted if parent not in found]


def _insert_dirs(
    conn: Connection, workspace_id: str, paths: list[str], revision: int, now: str
) -> None:
    if paths:
        _INSERT.run_many(
            conn,
            [
                Entry(workspace_id, path, DIR, None, None, now, revision, revision)._asdict()
                for path in paths
            ],
        )


def _tombstone(conn: Connection, workspace_id: str, rows: list[Row], revision: int) -> None:
    """Record the life of each deleted entry, from its creation to this revision.

    Earlier lives of the same path stay: a cursor inside one of them must still hear of
    its end. An entry created in this same revision lived through no cursor and leaves
    nothing (which also keeps one row per path and revision).
    """
    lives = [
        {
            "workspace_id": workspace_id,
            "path": row.path,
            "revision": revision,
            "type": row.type,
            "created_revision": row.created_revision,
        }
        for row in rows
        if row.created_revision < revision
    ]
    if lives:
        conn.execute(insert(tombstones), lives)


def put_file(
    conn: Connection,
    blobs: Blobs,
    workspace_id: str,
    path: str,
    blob: tuple[str, int],
    condition: Condition,
    history: int | None,
    *,
    account_id: str,
    data: bytes | None = None,
    copy: Path | None = None,
    revision: int | None = None,
) -> tuple[Entry, bool]:
    """Publish a blob (sha256 hex, size) at ``path``; return (entry, blob freed).

    The workspace must be live and ``account_id``'s. The blob is either placed already
    (inside ``Blobs.publishing``, which yields the ``copy`` to pass here and removes the
    blob again if this refuses) or ``data``, stored with the reference in this
    transaction. Eight statements for a new file: this is the hot path of every upload,
    run under the write lock. A ``revision`` issued by the caller (who checked the
    workspace with it) is used instead of a new one.
    """
    digest, size = blob
    if revision is None:
        revision = bump(conn, workspace_id, history, account_id)  # first: another's is 404
    found = _with_ancestors(conn, workspace_id, path)
    existing = found.get(path)
    condition.check(existing)
    if existing is not None and existing.type == DIR:
        raise Conflict(f"{path!r} is a directory")
    parents = missing_parents(found, path)
    now = now_iso()
    _insert_dirs(conn, workspace_id, parents, revision, now)
    blobs.add_ref(conn, digest, size, data, copy)
    entry = Entry(
        workspace_id,
        path,
        FILE,
        size,
        digest,
        now,
        revision,
        revision if existing is None else existing.created_revision,
    )
    if existing is None:
        _INSERT.run(conn, entry._asdict())
        return entry, False
    values = {"type": FILE, "size": size, "hash": digest, "modified_time": now}
    _UPDATE.run(conn, {"ws": workspace_id, "at": path, "revision": revision, **values})
    return entry, blobs.unref(conn, [existing.hash])  # type: ignore[list-item]


def delete_path(
    conn: Connection,
    blobs: Blobs,
    workspace_id: str,
    path: str,
    condition: Condition,
    history: int | None,
    *,
    revision: int | None = None,
) -> bool:
    """Delete a file, or a directory with its contents; True when blobs were freed.

    The revision comes first: it orders this after the workspace's other writers
    (``storage`` PROMISE 4), so the rows read next are the ones deleted and unreferenced.
    """
    if revision is None:
        revision = bump(conn, workspace_id, history)
    existing = get_entry(conn, workspace_id, path)
    condition.check(existing)
    if existing is None:
        raise NotFound(f"no entry {path!r}")
    rows = list(conn.execute(select(entries).where(subtree(workspace_id, path))))
    conn.execute(delete(entries).where(subtree(workspace_id, path)))
    _tombstone(conn, workspace_id, rows, revision)
    return blobs.unref(conn, [row.hash for row in rows if row.hash])


def mkdir(
    conn: Connection,
    workspace_id: str,
    path: str,
    condition: Condition,
    history: int | None,
    *,
    revision: int | None = None,
) -> tuple[Row | Entry, bool]:
    """Create a directory (and its parents); an existing directory is left alone.

    Returns the directory's entry and whether it was created (an existing one changes
    nothing and, on its own, issues no revision).
    """
    existing = get_entry(conn, workspace_id, path)
    condition.check(existing)
    if existing is not None:
        if existing.type == DIR:
            return existing, False
        raise Conflict(f"{path!r} is a file")
    parents = missing_parents(_with_ancestors(conn, workspace_id, path), path)
    if revision is None:
        revision = bump(conn, workspace_id, history)
    now = now_iso()
    _insert_dirs(conn, workspace_id, [*parents, path], revision, now)
    return Entry(workspace_id, path, DIR, None, None, now, revision, revision), True


def transfer(
    conn: Connection,
    blobs: Blobs,
    workspace_id: str,
    source: str,
    dest: str,
    condition: Condition,
    history: int | None,
    *,
    is_move: bool,
) -> None:
    """Move or copy a file or a whole subtree onto a path that does not exist yet.

    The revision comes first, as in ``delete_path``: a copy must not reference a blob
    whose entry another process deleted after it was read.
    """
    revision = bump(conn, workspace_id, history)
    existing = get_entry(conn, workspace_id, source)
    condition.check(existing)
    if existing is None:
        raise NotFound(f"no entry {source!r}")
    if is_within(dest, source):
        raise Conflict(f"cannot {'move' if is_move else 'copy'} {source!r} into itself")
    if get_entry(conn, workspace_id, dest) is not None:
        raise Conflict(f"{dest!r} exists already")
    parents = missing_parents(_with_ancestors(conn, workspace_id, dest), dest)
    rows = list(conn.execute(select(entries).where(subtree(workspace_id, source))))
    now = now_iso()
    _insert_dirs(conn, workspace_id, parents, revision, now)
    if is_move:
        conn.execute(delete(entries).where(subtree(workspace_id, source)))
        _tombstone(conn, workspace_id, rows, revision)
    for row in rows:
        new_path = dest + row.path[len(source) :]
        conn.execute(
            insert(entries).values(
                workspace_id=workspace_id,
                path=new_path,
                type=row.type,
                size=row.size,
                hash=row.hash,
                modified_time=row.modified_time if is_move else now,
                revision=revision,
                created_revision=revision,
            )
        )
        if row.hash and not is_move:
            blobs.ref(conn, row.hash)


def drop_all(conn: Connection, blobs: Blobs, workspace_id: str) -> bool:
    """Remove every entry and tombstone of a workspace (DELETE, restore)."""
    hashes = [
        row.hash
        for row in conn.execute(
            select(entries.c.hash).where(
                entries.c.workspace_id == workspace_id, entries.c.hash.is_not(None)
            )
        )
    ]
    conn.execute(delete(entries).where(entries.c.workspace_id == workspace_id))
    conn.execute(delete(tombstones).where(tombstones.c.workspace_id == workspace_id))
    return blobs.unref(conn, hashes)
