"""Names the planner invents or must refuse: conflict copies and local fold clashes.

1. ``conflict_name`` follows CLI.md: ``NAME (conflicted copy YYYY-MM-DD HHMMSS HOST).EXT``,
   with `` 2``, `` 3``... inside the brackets when that name is taken, so two conflicts of
   one sync never share a name and an old conflict copy is never overwritten.
2. A name is "taken" by its fold key on a case-folding disk, so a conflict copy can never
   land on an existing file that differs only in case.
3. ``resolve_clashes`` makes sure no two local paths fold into one: a remote entry whose
   name the local disk would merge with another is renamed on the server to a conflict
   name (reason NAME_CLASH) and then synced under that name, so both versions survive.
4. NFC/NFD variants: every tree is keyed by NFC (the server normalises too), so two
   spellings of one name meet at one key here; two such files on one non-normalising disk
   are the scanner's to report, since only one of them can own the key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import TypeVar

from syncd.paths import MAX_SEGMENT_BYTES, fold_key, parent
from syncd.planner.ops import MoveRemote, Policy, Reason
from syncd.planner.trees import RemoteNode

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


def conflict_name(path: str, policy: Policy, names: Names, *, is_dir: bool = False) -> str:
    """A free conflict-copy path beside ``path``; claims it in ``names`` before returning."""
    head = parent(path)
    stem, ext = _split(path.rpartition("/")[2], is_dir)
    base_label = f"conflicted copy {policy.now} {policy.host}"
    counter = 1
    while True:
        label = base_label if counter == 1 else f"{base_label} {counter}"
        segment = _fit(stem, f" ({label}){ext}")
        candidate = f"{head}/{segment}" if head else segment
        if not names.is_taken(candidate):
            names.claim(candidate)
            return candidate
        counter += 1


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
) -> tuple[list[MoveRemote], dict[str, RemoteNode], set[str]]:
    """Rename remote entries that would fold onto another local name (prevents a download
    silently replacing a different file on a case-insensitive disk).

    Returns the server renames, the remote tree after them, and the new paths.
    """
    if not policy.folds_case:
        return [], remote, set()
    claimed = {fold(p, policy): p for p in sorted(local)}
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
