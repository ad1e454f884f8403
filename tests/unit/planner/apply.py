"""An in-memory worker: applies a Plan to dict copies of both sides, as the real one must.

What each op does (and what the real worker must do the same way). "Matches" compares a
node with the one the op carries, ignoring ``path`` (a move renames, it does not change).
Every op first checks its preconditions and raises ``PlanBroken`` if one fails: for the
planner's tests that is a bug in the plan (the real worker turns it into a conflict or a
re-plan instead).

- ``Upload(path, local, remote)``: local[path] matches ``local``; ``remote`` None: path is
  absent on the server (create only), else remote[path] matches it (If-Match). The parent
  is a directory on the server. The server gets the local content at a new revision.
- ``Download(path, remote, local)``: remote[path] matches ``remote``; ``local`` None: path
  is absent locally, else local[path] matches it (the old file goes to the trash). The
  local parent is a directory. The disk gets the remote content (new inode and mtime).
- ``MkdirLocal`` / ``MkdirRemote(path)``: path absent on that side, parent a directory.
- ``MoveLocal(path, dest, local)`` with reason ``UNICODE_TWIN``: ``local`` is one spelling
  of ``path`` on disk, in ``twins`` or at ``local[path]``; ``dest`` is free on disk. That
  spelling moves to ``dest``; when it was ``local[path]``, the one twin left at ``path``
  takes its place. What a twin folder holds (``below_twins``, not scanned while it is a
  twin) comes along. The base is untouched: it describes the spelling that stays.
- ``MoveLocal(path, dest, local)`` / ``MoveRemote(path, dest, remote)``: the source matches,
  ``dest`` is absent and its parent is a directory on that side; the whole subtree moves
  (revisions are kept in this model; the real server may renumber them, see plan.py).
  A real move (reason LOCAL_MOVED / REMOTE_MOVED) carries the base rows of the subtree
  along, since the other side already holds ``dest``; a rename to a conflict name
  (TYPE_CHANGED, NAME_CLASH) leaves the base alone: it describes what was agreed at ``path``.
- ``TrashLocal(path, local)``: local[path] matches; the subtree goes to ``trash``.
- ``DeleteRemote(path, remote)``: remote[path] matches; the subtree is deleted.
- ``KeepBoth(path, conflict_path, local, remote)``: both match, ``conflict_path`` is free
  on both sides; local path -> conflict_path (rename), conflict_path uploaded create-only,
  remote downloaded to path.
- ``RecordBase(path, local, remote)``: both match and hold the same content.
- ``ForgetBase(path)``: absent on both sides; the base row goes.

After every op the base of each touched path is recorded from what is now observed: equal
on both sides -> a base row from both nodes; absent on both -> no row; else unchanged.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace

from syncd.paths import fold_key, is_within, parent
from syncd.planner.ops import (
    DeleteRemote,
    Download,
    ForgetBase,
    KeepBoth,
    MkdirLocal,
    MkdirRemote,
    MoveLocal,
    MoveRemote,
    Op,
    Plan,
    Reason,
    RecordBase,
    TrashLocal,
    Upload,
)
from syncd.planner.trees import BaseNode, Kind, LocalNode, RemoteNode


class PlanBroken(AssertionError):
    """A plan whose op cannot run as written on the world it was planned for."""


def _same(a: object, b: object) -> bool:
    return a is not None and b is not None and replace(a, path="") == replace(b, path="")


def bare_remote(node: RemoteNode) -> RemoteNode:
    """What a base-only server shows of an entry: no revision, no hash (no E1)."""
    return replace(node, revision=None, hash=None)


def bare_base(node: BaseNode) -> BaseNode:
    """A base row as a client of a base-only server keeps it: no remote revision."""
    return replace(node, remote_revision=None)


def _equal(local: LocalNode | None, remote: RemoteNode | None) -> bool:
    """Both sides hold the same thing: two directories, or two files of one content."""
    if local is None or remote is None or local.kind is not remote.kind:
        return False
    return local.kind is Kind.DIR or local.hash == remote.hash


def _subtree(tree: dict, root: str) -> list[str]:
    return [p for p in tree if is_within(p, root)]


@dataclass
class World:
    """Both sides and the base; ``folds_case`` makes the local side a case-folding disk."""

    local: dict[str, LocalNode]
    remote: dict[str, RemoteNode]
    base: dict[str, BaseNode]
    folds_case: bool = False
    bare: bool = False  # the planner sees the server as a base-only one (see ``view``)
    trash: list[LocalNode] = field(default_factory=list)
    twins: list[LocalNode] = field(default_factory=list)  # second spellings on disk
    below_twins: dict[str, list[LocalNode]] = field(default_factory=dict)  # by disk_name
    _clock: itertools.count = field(default_factory=lambda: itertools.count(10_000))

    def _tick(self) -> int:
        return next(self._clock)

    def view(self) -> tuple[dict, dict, dict]:
        """(local, remote, base) as the planner sees them; full facts unless ``bare``."""
        if not self.bare:
            return dict(self.local), dict(self.remote), dict(self.base)
        return (
            dict(self.local),
            {p: bare_remote(n) for p, n in self.remote.items()},
            {p: bare_base(n) for p, n in self.base.items()},
        )

    def _remote_is(self, path: str, seen: RemoteNode | None) -> bool:
        node = self.remote.get(path)
        if self.bare and node is not None:
            node = bare_remote(node)
        return _same(node, seen)

    # checks

    def _check(self, ok: bool, op: Op, why: str) -> None:
        if not ok:
            raise PlanBroken(f"{type(op).__name__} {op.path!r}: {why}")

    def _parent_ok(self, tree: dict, path: str) -> bool:
        head = parent(path)
        return head == "" or (head in tree and tree[head].kind is Kind.DIR)

    def _local_free(self, path: str) -> bool:
        if path in self.local:
            return False
        if self.folds_case:
            key = fold_key(path)
            return not any(fold_key(p) == key for p in self.local)
        return True

    # effects

    def _new_local(self, path: str, kind: Kind, digest: str | None, size: int | None) -> None:
        tick = self._tick()
        self.local[path] = LocalNode(path, kind, size, tick, tick, digest)

    def _new_remote(self, path: str, kind: Kind, digest: str | None, size: int | None) -> None:
        tick = self._tick()
        self.remote[path] = RemoteNode(path, kind, size, f"t{tick}", tick, digest)

    def _move(self, tree: dict, src: str, dest: str) -> None:
        for path in sorted(_subtree(tree, src)):
            node = tree.pop(path)
            new = dest + path[len(src) :]
            tree[new] = replace(node, path=new)

    def _record(self, *paths: str) -> None:
        for path in paths:
            local, remote = self.local.get(path), self.remote.get(path)
            if local is None and remote is None:
                self.base.pop(path, None)
            elif _equal(local, remote):
                self.base[path] = BaseNode(
                    path,
                    local.kind,
                    local.size,
                    local.hash,
                    local.mtime_ns,
                    local.inode,
                    remote.revision,
                    remote.modified_time,
                )

    def apply(self, plan: Plan) -> None:
        """Run every op of ``plan`` in order (phases are only a permission to overlap)."""
        for op in plan.ops:
            self.apply_op(op)

    def apply_op(self, op: Op) -> None:
        path = op.path
        if isinstance(op, Upload):
            self._check(_same(self.local.get(path), op.local), op, "local moved on")
            if op.remote is None:
                self._check(path not in self.remote, op, "remote exists (create only)")
            else:
                self._check(self._remote_is(path, op.remote), op, "remote moved on")
            self._check(self._parent_ok(self.remote, path), op, "no remote parent")
            node = self.local[path]
            self._new_remote(path, Kind.FILE, node.hash, node.size)
            self._record(path)
        elif isinstance(op, Download):
            self._check(self._remote_is(path, op.remote), op, "remote moved on")
            if op.local is None:
                self._check(self._local_free(path), op, "local exists (must be absent)")
            else:
                self._check(_same(self.local.get(path), op.local), op, "local moved on")
            self._check(self._parent_ok(self.local, path), op, "no local parent")
            node = self.remote[path]
            self._new_local(path, Kind.FILE, node.hash, node.size)
            self._record(path)
        elif isinstance(op, MkdirLocal):
            self._check(self._local_free(path), op, "local exists")
            self._check(self._parent_ok(self.local, path), op, "no local parent")
            self._new_local(path, Kind.DIR, None, None)
            self._record(path)
        elif isinstance(op, MkdirRemote):
            self._check(path not in self.remote, op, "remote exists")
            self._check(self._parent_ok(self.remote, path), op, "no remote parent")
            self._new_remote(path, Kind.DIR, None, None)
            self._record(path)
        elif isinstance(op, MoveLocal) and op.reason is Reason.UNICODE_TWIN:
            self._rename_twin(op)
        elif isinstance(op, MoveLocal):
            self._check(_same(self.local.get(path), op.local), op, "local source moved on")
            src_key = fold_key(path) if self.folds_case else path
            dest_key = fold_key(op.dest) if self.folds_case else op.dest
            self._check(self._local_free(op.dest) or src_key == dest_key, op, "local dest taken")
            self._check(self._parent_ok(self.local, op.dest), op, "no local dest parent")
            self._moved(self.local, op)
        elif isinstance(op, MoveRemote):
            self._check(self._remote_is(path, op.remote), op, "remote source moved on")
            self._check(op.dest not in self.remote, op, "remote dest taken")
            self._check(self._parent_ok(self.remote, op.dest), op, "no remote dest parent")
            self._moved(self.remote, op)
        elif isinstance(op, TrashLocal):
            self._check(_same(self.local.get(path), op.local), op, "local moved on")
            gone = sorted(_subtree(self.local, path))
            self.trash.extend(self.local.pop(p) for p in gone)
            self._record(*gone)
        elif isinstance(op, DeleteRemote):
            self._check(self._remote_is(path, op.remote), op, "remote moved on")
            gone = sorted(_subtree(self.remote, path))
            for p in gone:
                del self.remote[p]
            self._record(*gone)
        elif isinstance(op, KeepBoth):
            self._keep_both(op)
        elif isinstance(op, RecordBase):
            self._check(_same(self.local.get(path), op.local), op, "local moved on")
            self._check(self._remote_is(path, op.remote), op, "remote moved on")
            self._check(_equal(self.local[path], self.remote[path]), op, "contents differ")
            self._record(path)
        elif isinstance(op, ForgetBase):
            self._check(path not in self.local and path not in self.remote, op, "still there")
            self.base.pop(path, None)
        else:  # pragma: no cover - a new op kind needs a branch here
            raise PlanBroken(f"unknown op {op!r}")

    def _moved(self, tree: dict, op: MoveLocal | MoveRemote) -> None:
        src, dest = op.path, op.dest
        before = _subtree(tree, src)
        self._move(tree, src, dest)
        if op.reason in (Reason.LOCAL_MOVED, Reason.REMOTE_MOVED):
            self._move(self.base, src, dest)
        after = _subtree(tree, dest)
        self._record(*before, *after)

    def _rename_twin(self, op: MoveLocal) -> None:
        """One spelling of ``op.path`` moves to ``op.dest``; the base stays with the other."""
        self._check(self._local_free(op.dest), op, "local dest taken")
        self._check(self._parent_ok(self.local, op.dest), op, "no local dest parent")
        twin = next((t for t in self.twins if t == op.local), None)
        if twin is not None:
            self.twins.remove(twin)
            self._unhide(twin, op.dest)
            return
        self._check(_same(self.local.get(op.path), op.local), op, "no such spelling")
        left = [t for t in self.twins if t.path == op.path]
        self._check(len(left) == 1, op, "no single spelling left to take the name")
        self._move(self.local, op.path, op.dest)
        self.twins.remove(left[0])
        self._unhide(left[0], op.path)

    def _unhide(self, twin: LocalNode, path: str) -> None:
        """A twin (and what it holds) becomes an ordinary entry at ``path``."""
        self.local[path] = replace(twin, path=path, disk_name=None)
        for node in self.below_twins.pop(twin.disk_name or "", []):
            new = path + node.path[len(twin.path) :]
            self.local[new] = replace(node, path=new)

    def _keep_both(self, op: KeepBoth) -> None:
        path, conflict = op.path, op.conflict_path
        self._check(_same(self.local.get(path), op.local), op, "local moved on")
        self._check(self._remote_is(path, op.remote), op, "remote moved on")
        self._check(self._local_free(conflict), op, "local conflict name taken")
        self._check(conflict not in self.remote, op, "remote conflict name taken")
        self._move(self.local, path, conflict)
        mine = self.local[conflict]
        self._new_remote(conflict, Kind.FILE, mine.hash, mine.size)
        theirs = self.remote[path]
        self._new_local(path, Kind.FILE, theirs.hash, theirs.size)
        self._record(path, conflict)
