"""Names the planner invents or must refuse: conflict copies, fold clashes, Unicode twins.

1. ``conflict_name`` follows CLI.md: ``NAME (conflicted copy YYYY-MM-DD HHMMSS HOST).EXT``,
   with `` 2``, `` 3``... inside the brackets when that name is taken, so two conflicts of
   one sync never share a name and an old conflict copy is never overwritten.
2. A name is "taken" by its fold key on a case-folding disk, so a conflict copy can never
   land on an existing file that differs only in case.
3. ``resolve_clashes`` makes sure no two local paths fold into one: a remote entry whose
   name the local disk would merge with another is renamed on the server to a conflict
   name (reason NAME_CLASH) and then synced under that name, so both versions survive.
4. NFC/NFD variants: every tree is keyed by NFC (the server normalises too), so two
   spellings of one name meet at one key here. Where one folder on a non-normalising disk
   holds both, only one spelling can own the key: ``rename_twins`` renames each other one
   beside it to ``NAME (unicode conflict).EXT`` (reason UNICODE_TWIN), and the next round
   syncs it under that name, so no spelling is left behind.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import TypeVar

from syncd.paths import MAX_SEGMENT_BYTES, fold_key, is_within, parent
from syncd.planner.ops import MoveLocal, MoveRemote, Policy, Reason
from syncd.planner.trees import BaseNode, LocalNode, RemoteNode

TWIN_LABEL = "unicode conflict"

N = TypeVar("N")


def fold(path: str, policy: Policy) -> str:
    """The key under which the local disk stores ``path`` (keys are NFC already)."""
    return fold_key(path) if policy.folds_case else path


class Names:
    """The set of names already in use, seen through the local disk's folding."""

    def __init__(self, policy: Policy, *paths: Iterable[str]) -> None:
        self.policy = policy
        self._groups = paths
        self._taken: set[str] | None = None  # built on first use: most syncs need no name

    @property
    def taken(self) -> set[str]:
        if self._taken is None:
            self._taken = {fold(p, self.policy) for group in self._groups for p in group}
        return self._taken

    def is_taken(self, path: str) -> bool:
        return fold(path, self.policy) in self.taken

    def claim(self, path: str) -> None:
        self.taken.add(fold(path, self.policy))


def _split(name: str, is_dir: bool) -> tuple[str, str]:
    """Split a segment into stem and extension; dot-files and directories keep no extension."""
    if is_dir:
        return name, ""
    dot = name.rfind(".")
    if dot <= 0:
        return name, ""
    return name[:dot], name[dot:]


def _fit(stem: str, tail: str) -> str:
    """Shorten ``stem`` so that ``stem + tail`` fits one segment (255 UTF-8 bytes)."""
    room = MAX_SEGMENT_BYTES - len(tail.encode("utf-8"))
    data = stem.encode("utf-8")[: max(room, 1)]
    return data.decode("utf-8", errors="ignore") + tail


def _free_name(path: str, label: str, names: Names, is_dir: bool) -> str:
    """``NAME (LABEL).EXT`` beside ``path``, numbered inside the brackets until it is free;
    claims it in ``names`` before returning."""
    head = parent(path)
    stem, ext = _split(path.rpartition("/")[2], is_dir)
    counter = 1
    while True:
        tag = label if counter == 1 else f"{label} {counter}"
        segment = _fit(stem, f" ({tag}){ext}")
        candidate = f"{head}/{segment}" if head else segment
        if not names.is_taken(candidate):
            names.claim(candidate)
            return candidate
        counter += 1


def conflict_name(path: str, policy: Policy, names: Names, *, is_dir: bool = False) -> str:
    """A free conflict-copy path beside ``path``; claims it in ``names`` before returning."""
    return _free_name(path, f"conflicted copy {policy.now} {policy.host}", names, is_dir)


def twin_name(path: str, names: Names, *, is_dir: bool = False) -> str:
    """A free path beside ``path`` for a second Unicode spelling of its name."""
    return _free_name(path, TWIN_LABEL, names, is_dir)


def rename_subtree(tree: dict[str, N], src: str, dest: str) -> dict[str, N]:
    """Move ``src`` and everything below it to ``dest``, in place; returns ``tree``.

    A file costs one pop; a directory one scan of the tree (directory moves are few).
    """
    node = tree.pop(src, None)
    if node is not None:
        tree[dest] = replace(node, path=dest)  # type: ignore[type-var]
        if not getattr(node, "is_dir", False):
            return tree
    prefix = src + "/"
    for path in [p for p in tree if p.startswith(prefix)]:
        new = dest + path[len(src) :]
        tree[new] = replace(tree.pop(path), path=new)  # type: ignore[type-var]
    return tree


def _depth(path: str) -> int:
    return path.count("/")


def resolve_clashes(
    local: Mapping[str, object],
    remote: dict[str, RemoteNode],
    policy: Policy,
    names: Names,
    held: Iterable[str] = (),
) -> tuple[list[MoveRemote], dict[str, RemoteNode], set[str]]:
    """Rename remote entries that would fold onto another local name (prevents a download
    silently replacing a different file on a case-insensitive disk). ``held``: local names
    the plan leaves alone, which occupy their names on disk all the same.

    Returns the server renames, the remote tree after them, and the new paths.
    """
    if not policy.folds_case:
        return [], remote, set()
    claimed = {fold(p, policy): p for p in sorted([*local, *held])}
    ops: list[MoveRemote] = []
    created: set[str] = set()
    tree = dict(remote)
    depth = 0
    while True:
        level = sorted(p for p in tree if _depth(p) == depth)
        if not level and all(_depth(p) < depth for p in tree):
            break
        for path in level:
            key = fold(path, policy)
            owner = claimed.get(key)
            if owner is None or owner == path:
                claimed[key] = path
                continue
            node = tree[path]
            dest = conflict_name(path, policy, names, is_dir=node.is_dir)
            ops.append(MoveRemote(path, Reason.NAME_CLASH, dest=dest, remote=node))
            rename_subtree(tree, path, dest)
            created.add(dest)
            claimed[fold(dest, policy)] = dest
        depth += 1
    return ops, tree, created


def _keeper(candidates: list[LocalNode], base: BaseNode | None) -> LocalNode:
    """The spelling that keeps the name: the one the base knows (by inode), else the
    scanner's choice (the NFC spelling, first in the list). The synced spelling staying
    put means its base row, and every base row below a folder, still describes it."""
    if base is not None and base.local_inode is not None:
        for node in candidates:
            if node.kind is base.kind and node.inode == base.local_inode:
                return node
    return candidates[0]


def rename_twins(
    local: Mapping[str, LocalNode],
    base: Mapping[str, BaseNode],
    policy: Policy,
    names: Names,
) -> tuple[list[MoveLocal], set[str]]:
    """Rename every spelling of a name but one beside it (prevents a file the disk holds
    under a second spelling from never being synced, or from being taken for the first).

    Returns the renames and the names they were made for: the plan leaves those (and what
    is below them) alone this round, so nothing acts on a name the disk holds twice; the
    next round sees each spelling once. A twin below such a name waits for that round.
    """
    twins: dict[str, list[LocalNode]] = {}
    for node in policy.local_twins:
        twins.setdefault(node.path, []).append(node)
    ops: list[MoveLocal] = []
    keys = sorted(twins)
    for key in keys:
        if any(is_within(key, other) and key != other for other in keys):
            continue
        owner = local.get(key)
        candidates = ([owner] if owner is not None else []) + twins[key]
        keeper = _keeper(candidates, base.get(key)) if owner is not None else None
        for node in candidates:
            if node is keeper:
                continue
            dest = twin_name(key, names, is_dir=node.is_dir)
            ops.append(MoveLocal(key, Reason.UNICODE_TWIN, dest=dest, local=node))
    return ops, set(keys)
