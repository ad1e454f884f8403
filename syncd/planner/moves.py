"""Pair a disappearance and an appearance into one move, so nothing is transferred again.

1. Local moves: a base path gone from the disk plus a new local path with the same inode
   (or, for a file, the same known hash and size) -> one ``MoveRemote``. Remote moves: a
   base path gone from the server plus a new remote path with the same hash (a directory:
   every base file below it found again below the new one) -> one ``MoveLocal``.
2. A directory rename is one move; its children are implied and get no op of their own
   unless they also changed (then the table handles them at the new path).
3. A move is planned only when the source is still there, unchanged, on the other side and
   the destination is free there (and in the base); otherwise the pair falls back to
   delete + create, which loses nothing.
4. Each move is applied at once to the other side's tree and to the base ("virtually"), so
   later moves and the table see the world as it will be; the moves are returned in the
   order they must run, each source spelled as it will be when its turn comes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from syncd.paths import ancestors, is_within
from syncd.planner.names import fold, rename_subtree
from syncd.planner.ops import MoveLocal, MoveRemote, Policy, Reason
from syncd.planner.rules import State, below, local_state, remote_state
from syncd.planner.trees import BaseNode, Kind, LocalNode, RemoteNode

UNCHANGED = (State.SAME, State.TOUCHED)


@dataclass
class Trees:
    """The three trees as they will be after the moves planned so far."""

    local: dict[str, LocalNode]
    remote: dict[str, RemoteNode]
    base: dict[str, BaseNode]
    renames: list[tuple[str, str]] = field(default_factory=list)

    def translate(self, path: str) -> str:
        """Where ``path`` of the original trees lives after the moves planned so far."""
        for src, dest in self.renames:
            if is_within(path, src):
                path = dest + path[len(src) :]
        return path


def _depth(path: str) -> int:
    return path.count("/")


def _unique(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Keep pairs whose source and destination each appear once (ambiguous ones fall back)."""
    srcs = Counter(s for s, _ in pairs)
    dests = Counter(d for _, d in pairs)
    return [(s, d) for s, d in pairs if srcs[s] == 1 and dests[d] == 1]


def _local_pairs(trees: Trees) -> list[tuple[str, str]]:
    """(base path, new local path) candidates by inode, then by hash and size for files."""
    gone = [p for p in trees.base if p not in trees.local]
    new = [p for p in trees.local if p not in trees.base]
    by_inode: dict[tuple[Kind, int], list[str]] = {}
    by_hash: dict[tuple[str, int | None], list[str]] = {}
    for path in new:
        node = trees.local[path]
        if node.inode is not None:
            by_inode.setdefault((node.kind, node.inode), []).append(path)
        if not node.is_dir and node.hash is not None:
            by_hash.setdefault((node.hash, node.size), []).append(path)
    pairs = []
    for path in gone:
        base = trees.base[path]
        found = by_inode.get((base.kind, base.local_inode or -1), [])
        found = [q for q in found if _same_file(base, trees.local[q])]
        if not found and not base.is_dir and base.hash is not None:
            found = by_hash.get((base.hash, base.size), [])
        if len(found) == 1:
            pairs.append((path, found[0]))
    return _unique(pairs)


def _same_file(base: BaseNode, node: LocalNode) -> bool:
    """Whether a new local entry with the inode of a gone base file can be that file.

    A file system hands a freed inode to the next new file at once, so an inode alone does
    not prove a move (a file deleted and another created in one sync would pair, and the
    new content would meet the old one as a conflict). A rename keeps size and mtime; an
    entry that differs in either is a delete plus a create, which loses nothing.
    """
    if base.is_dir:
        return True
    if base.size is not None and node.size != base.size:
        return False
    return base.local_mtime_ns is None or node.mtime_ns == base.local_mtime_ns


def _remote_pairs(trees: Trees) -> list[tuple[str, str]]:
    """(base path, new remote path) candidates: files by hash, directories by contents."""
    gone = [p for p in trees.base if p not in trees.remote]
    if not gone:
        return []
    new = [p for p in trees.remote if p not in trees.base]
    new_dirs = [q for q in new if trees.remote[q].is_dir]
    by_hash: dict[tuple[str | None, int | None], list[str]] = {}
    for q in new:
        node = trees.remote[q]
        if not node.is_dir and node.hash is not None:
            by_hash.setdefault((node.hash, node.size), []).append(q)
    base_paths = sorted(trees.base)
    pairs = []
    for path in gone:
        base = trees.base[path]
        if base.is_dir:
            files = [
                (p[len(path) :], trees.base[p].hash)
                for p in below(base_paths, path)
                if not trees.base[p].is_dir
            ]
            found = [q for q in new_dirs if _same_files(trees, files, q)]
        else:
            found = by_hash.get((base.hash, base.size), []) if base.hash is not None else []
        if len(found) == 1:
            pairs.append((path, found[0]))
    return _unique(pairs)


def _same_files(trees: Trees, files: list[tuple[str, str | None]], dest: str) -> bool:
    """Every base file of a directory is below ``dest`` with the same hash (at least one)."""
    if not files:
        return False
    for rel, digest in files:
        node = trees.remote.get(dest + rel)
        if digest is None or node is None or node.hash != digest:
            return False
    return True


def _blocked(path: str, unknown: frozenset[str]) -> bool:
    return any(is_within(u, path) or is_within(path, u) for u in unknown)


def _room(tree: dict, dest: str) -> bool:
    """No ancestor of ``dest`` is a file on that side (else the move could not land)."""
    return all(a not in tree or tree[a].is_dir for a in ancestors(dest))


def _disk_keys(local: Iterable[str], policy: Policy) -> set[str]:
    """Fold keys of every local name and its ancestors (what the disk holds or will)."""
    keys = set()
    for path in local:
        keys.add(fold(path, policy))
        keys.update(fold(a, policy) for a in ancestors(path))
    return keys


def _lands_on_disk(trees: Trees, src: str, dest: str, policy: Policy, keys: set[str]) -> bool:
    """``dest`` and each parent still to be made fold onto no other local name (a
    case-only rename of ``src`` is fine). Prevents a rename onto a different file."""
    if dest in trees.local or not _room(trees.local, dest):
        return False
    key = fold(dest, policy)
    if key in keys and key != fold(src, policy):
        return False
    missing = [a for a in ancestors(dest) if a not in trees.local]
    return not any(fold(a, policy) in keys for a in missing)


def find_local_moves(trees: Trees, policy: Policy) -> list[MoveRemote]:
    """Local renames become server moves; ``trees.remote`` and ``trees.base`` follow."""
    trees.renames = []
    ops: list[MoveRemote] = []
    unknown = policy.local_unknown | policy.remote_unknown
    for old, dest in sorted(_local_pairs(trees), key=lambda p: (_depth(p[1]), p[1])):
        src = trees.translate(old)
        base = trees.base.get(src)
        remote = trees.remote.get(src)
        ok = (
            base is not None
            and src not in trees.local
            and dest in trees.local
            and dest not in trees.base
            and dest not in trees.remote
            and _room(trees.remote, dest)
            and remote is not None
            and remote.kind is base.kind
            and (remote.is_dir or remote_state(remote, base, policy.remote_hashes) in UNCHANGED)
            and not is_within(dest, src)
            and not _blocked(src, unknown)
            and not _blocked(dest, unknown)
        )
        if not ok:
            continue
        assert remote is not None
        ops.append(MoveRemote(src, Reason.LOCAL_MOVED, dest=dest, remote=remote))
        _apply(trees, "remote", src, dest)
    return ops


def find_remote_moves(trees: Trees, policy: Policy, disk: Iterable[str] = ()) -> list[MoveLocal]:
    """Server renames become local renames; ``trees.local`` and ``trees.base`` follow.

    ``disk``: every name on disk, those left out of ``trees.local`` included (a name held
    in two spellings this round, an excluded folder not yet in the trash): a move must not
    land on any of them either.
    """
    trees.renames = []
    ops: list[MoveLocal] = []
    unknown = policy.local_unknown | policy.remote_unknown
    pairs = sorted(_remote_pairs(trees), key=lambda p: (_depth(p[1]), p[1]))
    keys = _disk_keys([*disk, *trees.local], policy) if pairs else set()
    for old, dest in pairs:
        src = trees.translate(old)
        base = trees.base.get(src)
        local = trees.local.get(src)
        ok = (
            base is not None
            and src not in trees.remote
            and dest in trees.remote
            and dest not in trees.base
            and local is not None
            and local.kind is base.kind
            and (local.is_dir or local_state(local, base) in UNCHANGED)
            and _lands_on_disk(trees, src, dest, policy, keys)
            and not is_within(dest, src)
            and not _blocked(src, unknown)
            and not _blocked(dest, unknown)
        )
        if not ok:
            continue
        assert local is not None
        ops.append(MoveLocal(src, Reason.REMOTE_MOVED, dest=dest, local=local))
        _apply(trees, "local", src, dest)
        keys |= _disk_keys([p for p in trees.local if is_within(p, dest)], policy)
    return ops


def _apply(trees: Trees, side: str, src: str, dest: str) -> None:
    """Move ``src`` to ``dest`` on ``side`` and in the base, as the worker will."""
    is_dir = trees.base[src].is_dir
    rename_subtree(trees.remote if side == "remote" else trees.local, src, dest)
    rename_subtree(trees.base, src, dest)
    if is_dir:  # only a directory can hold the source of a later move
        trees.renames.append((src, dest))
