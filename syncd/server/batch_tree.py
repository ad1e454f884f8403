"""A batch's records (E5) against one workspace's tree, set-based: read once, decide, write.

The single request runs six to eight statements per file; a batch of 200 records run
through it one by one kept the one commit thread busy ~30 ms. Here the rows a batch needs
are read first, every record is decided in memory, and the net change is written with
one ``executemany`` per statement.

1. ``TreeView.read`` reads the entries of every path the batch names and of all their
   ancestors, in one query (per 500 paths). Parents are explicit rows, so these rows
   answer every check of the single request. A delete of a directory that existed before
   the batch reads that directory's subtree once (a range, as ``delete_path`` does).
   The caller has issued the revision first (``storage`` PROMISE 4), so no other process
   changes these rows until the commit.
2. ``put``, ``delete`` and ``mkdir`` apply one record with the checks, their order and the
   errors of ``entries.put_file``, ``delete_path`` and ``mkdir``; a refusal raises before
   the view changes, so it fails that record alone and later records see what the earlier
   ones did (a parent made by an earlier record, a file an earlier record deleted).
3. ``write`` writes the difference between the rows read and the view: deleted, updated
   and inserted entries, and the tombstones. A path whose entry from before the batch
   ended in it (deleted, or deleted and made again: a new life) leaves one tombstone with
   that entry's type and creation; lives begun inside the batch leave none. That is
   exactly what the records one by one leave (``entries._tombstone``).
4. ``write`` returns the net change of blob references per hash: -1 for each entry from
   before that was replaced or deleted, +1 for each file entry the batch leaves, so an
   overwrite with the same contents nets 0, as add-then-drop does one record at a time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from syncd.paths import ancestors, is_within, is_within_any
from syncd.server.compiled import Compiled
from syncd.server.entries import DIR, FILE, Condition, Entry, missing_parents, subtree
from syncd.server.schema import entries, tombstones
from syncd.server.service.errors import Conflict, NotFound

IN_LIST = 500  # paths per IN (...)

_DELETE = Compiled(
    delete(entries).where(
        entries.c.workspace_id == bindparam("ws"), entries.c.path == bindparam("at")
    )
)
_UPDATE = Compiled(
    update(entries).where(
        entries.c.workspace_id == bindparam("ws"), entries.c.path == bindparam("at")
    ),
    keys=("type", "size", "hash", "modified_time", "revision", "created_revision"),
)
_INSERT = Compiled(insert(entries), keys=Entry._fields)
_TOMBSTONE = Compiled(
    insert(tombstones), keys=("workspace_id", "path", "revision", "type", "created_revision")
)


class TreeView:
    """The entries a batch touches: as read (``before``) and as the records leave them."""

    def __init__(self, conn: Connection, workspace_id: str, revision: int, now: str) -> None:
        self._conn = conn  # the batch's write transaction
        self.workspace_id = workspace_id
        self.revision = revision  # the batch's one revision, issued already
        self.now = now  # every entry the batch writes has this modified_time
        self.before: dict[str, Entry | None] = {}  # None: no entry before the batch
        self.after: dict[str, Entry | None] = {}  # same keys as ``before``
        self._subtrees: set[str] = set()  # directories whose whole subtree is read

    @classmethod
    def read(
        cls, conn: Connection, workspace_id: str, paths: Iterable[str], revision: int, now: str
    ) -> TreeView:
        """The view of ``paths`` and their ancestors (PROMISE 1)."""
        view = cls(conn, workspace_id, revision, now)
        wanted: set[str] = set()
        for path in paths:
            wanted.add(path)
            wanted.update(ancestors(path))
        ordered = sorted(wanted)
        found: dict[str, Entry] = {}
        for start in range(0, len(ordered), IN_LIST):
            query = select(entries).where(
                entries.c.workspace_id == workspace_id,
                entries.c.path.in_(ordered[start : start + IN_LIST]),
            )
            found.update((row.path, Entry(*row)) for row in conn.execute(query))
        view.before = {path: found.get(path) for path in ordered}
        view.after = dict(view.before)
        return view

    def _new(
        self,
        path: str,
        kind: str,
        size: int | None = None,
        digest: str | None = None,
        created: int | None = None,
    ) -> Entry:
        revision = self.revision
        return Entry(
            self.workspace_id,
            path,
            kind,
            size,
            digest,
            self.now,
            revision,
            revision if created is None else created,
        )

    def _parents(self, path: str) -> list[str]:
        """``entries.missing_parents`` on the view: ``Conflict`` when one is a file."""
        found = {p: e for p in ancestors(path) if (e := self.after[p]) is not None}
        return missing_parents(found, path)

    def put(self, path: str, digest: str, size: int, condition: Condition) -> Entry:
        """As ``entries.put_file``: condition, then a directory there, then the parents."""
        existing = self.after[path]
        condition.check(existing)
        if existing is not None and existing.type == DIR:
            raise Conflict(f"{path!r} is a directory")
        for parent in self._parents(path):
            self.after[parent] = self._new(parent, DIR)
        created = None if existing is None else existing.created_revision
        entry = self._new(path, FILE, size, digest, created)
        self.after[path] = entry
        return entry

    def delete(self, path: str, condition: Condition) -> None:
        """As ``entries.delete_path``: condition, then 404, then the whole subtree goes."""
        existing = self.after[path]
        condition.check(existing)
        if existing is None:
            raise NotFound(f"no entry {path!r}")
        self.after[path] = None
        if existing.type != DIR:
            return  # a file has nothing below it
        self._read_subtree(path)
        for other, entry in self.after.items():
            if entry is not None and is_within(other, path):
                self.after[other] = None

    def mkdir(self, path: str) -> tuple[Entry, bool]:
        """As ``entries.mkdir``: an existing directory is left alone; (entry, created)."""
        existing = self.after[path]
        if existing is not None:
            if existing.type == DIR:
                return existing, False
            raise Conflict(f"{path!r} is a file")
        for parent in self._parents(path):
            self.after[parent] = self._new(parent, DIR)
        entry = self._new(path, DIR)
        self.after[path] = entry
        return entry, True

    def _read_subtree(self, path: str) -> None:
        """Add the rows below ``path`` from before the batch that the view lacks (PROMISE 1).

        Only a directory that was there before the batch has rows below it in the
        database; one made inside the batch has only what the view holds already.
        """
        before = self.before.get(path)
        if before is None or before.type != DIR or is_within_any(path, self._subtrees):
            return
        self._subtrees.add(path)
        for row in self._conn.execute(select(entries).where(subtree(self.workspace_id, path))):
            if row.path not in self.before:
                entry = Entry(*row)
                self.before[row.path] = entry
                self.after[row.path] = entry

    def write(self, conn: Connection) -> Counter[str]:
        """The net change, one ``executemany`` per statement (PROMISE 3); the ref deltas."""
        gone: list[dict[str, object]] = []
        changed: list[dict[str, object]] = []
        made: list[dict[str, object]] = []
        lives: list[dict[str, object]] = []
        refs: Counter[str] = Counter()
        ws = self.workspace_id
        for path, entry in self.after.items():
            old = self.before[path]
            if entry is old:
                continue  # untouched (or made and deleted again inside the batch)
            if old is not None:
                if old.hash is not None:
                    refs[old.hash] -= 1
                ended = entry is None or entry.created_revision != old.created_revision
                if ended and old.created_revision < self.revision:
                    lives.append(
                        {
                            "workspace_id": ws,
                            "path": path,
                            "revision": self.revision,
                            "type": old.type,
                            "created_revision": old.created_revision,
                        }
                    )
            if entry is None:
                gone.append({"ws": ws, "at": path})
                continue
            if entry.hash is not None:
                refs[entry.hash] += 1
            if old is None:
                made.append(entry._asdict())
            else:
                values = entry._asdict()
                del values["workspace_id"], values["path"]
                changed.append({"ws": ws, "at": path, **values})
        for statement, rows in ((_DELETE, gone), (_UPDATE, changed), (_INSERT, made)):
            if rows:
                statement.run_many(conn, rows)
        if lives:
            _TOMBSTONE.run_many(conn, lives)
        return refs
