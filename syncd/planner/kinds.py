"""Type changes: one side holds a file where the other holds a directory (plan stage 3).

1. A change of type on one side only, with the other side unchanged at and below the path
   since the base, is an ordinary change and the other side follows: its old entry is
   deleted first (a folder goes whole: to the local trash, or from the server after a fresh
   listing showed nothing new in it; a file conditionally) and the table then copies the
   new entry across as a new one.
2. Anything else is a conflict, and both are kept: the other side changed or added
   something at or below the path since the base, either side holds unknown (ignored,
   unreadable) entries there, there is no base (two new entries), or it is a merge. The
   file steps aside to a conflict name on its own side and the directory takes the path,
   so nothing the other side changed or added is deleted: an edit beats a delete.
3. Both are applied to the trees at once, as moves are, so the table sees the path as it
   will be. The nodes a follow deletes are kept for the guards, which count every file a
   deleted folder held.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from syncd.paths import is_within
from syncd.planner.moves import Trees
from syncd.planner.names import Names, conflict_name, rename_subtree
from syncd.planner.ops import DeleteRemote, MoveLocal, MoveRemote, Op, Policy, Reason, TrashLocal
from syncd.planner.rules import State, below, is_unconfirmed, local_state, remote_state
from syncd.planner.trees import BaseNode, LocalNode, RemoteNode

UNCHANGED = (State.SAME, State.TOUCHED)


@dataclass
class TypeChanges:
    """What stage 3 planned, and what it took out of the trees.

    ``renames``: files stepping aside to a conflict name (run with the moves).
    ``deletes``: the followed side's old entries (see ``plan._order`` for when they run).
    ``created``: the conflict names and the followed paths; the copies made at or below
    them carry the reason TYPE_CHANGED. ``gone_local`` / ``gone_remote``: the nodes the
    deletes take away, for the guards. ``unsure``: remote files (path -> node as seen)
    whose hash would let the other side follow (kept both until it is known).
    """

    renames: list[MoveLocal | MoveRemote] = field(default_factory=list)
    deletes: list[DeleteRemote | TrashLocal] = field(default_factory=list)
    created: set[str] = field(default_factory=set)
    gone_local: dict[str, LocalNode] = field(default_factory=dict)
    gone_remote: dict[str, RemoteNode] = field(default_factory=dict)
    unsure: dict[str, RemoteNode] = field(default_factory=dict)


class _Index:
    """Sorted paths of each tree, made once: a type change needs what lies below a path.

    Type changes never nest (below a file there is nothing), so a path taken out of a
    tree is only filtered out here, and nothing a later type change looks at is added.
    """

    def __init__(self, trees: Trees) -> None:
        self._trees = trees
        self._sorted: dict[str, list[str]] = {}

    def below(self, side: str, path: str) -> list[str]:
        tree = getattr(self._trees, side)
        if side not in self._sorted:
            self._sorted[side] = sorted(tree)
        return [p for p in below(self._sorted[side], path) if p in tree]

    def take(self, side: str, path: str) -> dict:
        """Remove ``path`` and everything below it from that tree; return what was removed."""
        tree = getattr(self._trees, side)
        taken = {p: tree.pop(p) for p in self.below(side, path)}
        if path in tree:
            taken[path] = tree.pop(path)
        return taken


def _unsure(node: RemoteNode, agreed: BaseNode, policy: Policy) -> bool:
    """Our upload to a base-only server whose bytes were not hashed yet (rules.py)."""
    known = policy.remote_hashes.keys() | policy.different_contents
    return is_unconfirmed(node, agreed) and agreed.path not in known


def _unchanged(
    index: _Index, trees: Trees, side: str, path: str, policy: Policy, unsure: dict
) -> bool:
    """``side`` holds at and below ``path`` only what the base knows, each unchanged
    (entries the base knows may be gone: a delete there agrees with the type change).

    Files only the hash of their bytes can judge go into ``unsure`` and make it False for
    now: the plan asks for those hashes and is made again.
    """
    tree, base = getattr(trees, side), trees.base
    node, agreed = tree[path], base[path]
    if node.kind is not agreed.kind:
        return False
    pending = {}
    for p in index.below(side, path) if node.is_dir else [path]:
        n, b = tree[p], base.get(p)
        if b is None or n.kind is not b.kind:
            return False
        if n.is_dir:
            continue
        if side == "remote" and _unsure(n, b, policy):
            pending[p] = n
            continue
        state = local_state(n, b) if side == "local" else remote_state(n, b, policy.remote_hashes)
        if state not in UNCHANGED:
            return False
    unsure.update(pending)
    return not pending


def _follow(index: _Index, trees: Trees, path: str, policy: Policy, unsure: dict) -> str | None:
    """Which side follows a one-sided type change at ``path``: "local", "remote" or None."""
    agreed = trees.base.get(path)
    unknown = policy.local_unknown | policy.remote_unknown
    if policy.is_merge or agreed is None or any(is_within(u, path) for u in unknown):
        return None
    local, remote = trees.local[path], trees.remote[path]
    if local.kind is not agreed.kind and _unchanged(index, trees, "remote", path, policy, unsure):
        return "remote"
    if remote.kind is not agreed.kind and _unchanged(index, trees, "local", path, policy, unsure):
        return "local"
    return None


def resolve_type_changes(trees: Trees, policy: Policy, names: Names) -> TypeChanges:
    """Plan every path where the two sides hold different kinds; edits ``trees``."""
    out = TypeChanges()
    index = _Index(trees)
    clashes = sorted(
        path
        for path, node in trees.local.items()
        if path in trees.remote and trees.remote[path].kind is not node.kind
    )
    for path in clashes:
        local, remote = trees.local.get(path), trees.remote.get(path)
        if local is None or remote is None or local.kind is remote.kind:
            continue  # a clash above this path already moved it
        side = _follow(index, trees, path, policy, out.unsure)
        op: Op
        if side is not None:
            gone = out.gone_remote if side == "remote" else out.gone_local
            taken = index.take(side, path)
            gone.update(taken)
            for p in taken:  # the delete drops these rows: the path starts anew
                trees.base.pop(p, None)
            if side == "remote":
                out.deletes.append(DeleteRemote(path, Reason.TYPE_CHANGED, remote=remote))
            else:
                out.deletes.append(TrashLocal(path, Reason.TYPE_CHANGED, local=local))
            out.created.add(path)
            continue
        dest = conflict_name(path, policy, names)
        out.created.add(dest)
        if local.is_dir:
            op = MoveRemote(path, Reason.TYPE_CHANGED, dest=dest, remote=remote)
            rename_subtree(trees.remote, path, dest)
        else:
            op = MoveLocal(path, Reason.TYPE_CHANGED, dest=dest, local=local)
            rename_subtree(trees.local, path, dest)
        out.renames.append(op)
    return out
