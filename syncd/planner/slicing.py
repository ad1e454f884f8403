"""Cut the paths of a large sync into slices that can each be planned on their own.

The input is the sorted stream of paths where the folder's walk, the base and the mirror
disagree (``syncd.state.scan_rows``), each with its kind on each side; the output is a
scope per slice (``syncd.scope``), planned and run one after the other by ``syncd.slices``.

1. A slice holds about ``limit`` paths, each as an exact entry: only what changed is
   planned, and nothing below a path comes with it unless it changed too.
2. A slice is never cut inside the subtree of a path that is deleted or changes kind on
   a side (its base kind is not what a side holds), nor where the sides hold different
   kinds with no base: the planner decides such a folder with everything below it in
   view (one delete for a folder deleted whole, never a delete of what the other side
   kept below it). Such a subtree may make its slice larger than ``limit``.
3. A move whose ends lie far apart in path order is a ``group``: the subtrees at its
   ends (the outermost gone and the outermost new folder, found in SQL) go whole into
   the slice where the first of their paths comes, and their paths are not planned again
   when the stream reaches them.
4. Slices come in path order, so a folder comes before what is below it.
5. Names that a case-folding disk would merge are a group too (``clash_pairs``): the
   planner renames one of them only with the other in view.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from syncd.paths import ancestors, is_within
from syncd.scope import exact

Queued = tuple[int, str, str | None, str | None, str | None]
"""(seq, path, kind in the walk, in the base, in the mirror); a kind is None where absent."""


def holds_subtree(walk: str | None, base: str | None, mirror: str | None) -> bool:
    """True when the planner must see everything below this path at once (promise 2)."""
    if base is not None:
        return walk != base or mirror != base
    return walk is not None and mirror is not None and walk != mirror


def slices(
    queued: Iterable[Queued], groups: Sequence[Sequence[str]], limit: int
) -> Iterator[set[str]]:
    """The scopes of the slices (promises 1-4); ``groups`` are the ends of far moves."""
    owner: dict[str, int] = {}
    for index, ends in enumerate(groups):
        for end in ends:
            owner.setdefault(end, index)
    placed: set[int] = set()
    current: set[str] = set()
    size = 0
    whole: list[str] = []  # paths of this slice whose subtrees must stay with them
    for _seq, path, walk, base, mirror in queued:
        group = _group_of(path, owner)
        if group is not None:
            if group not in placed:
                placed.add(group)
                current.update(groups[group])
                size += len(groups[group])
            continue
        if size >= limit and not any(is_within(path, w) for w in whole):
            yield current
            current, size, whole = set(), 0, []
        current.add(exact(path))
        size += 1
        if holds_subtree(walk, base, mirror):
            whole.append(path)
    if current:
        yield current


def _group_of(path: str, owner: dict[str, int]) -> int | None:
    """The group whose end holds ``path`` (the path itself or an ancestor is an end)."""
    if not owner:
        return None
    found = owner.get(path)
    if found is not None:
        return found
    for parent in ancestors(path):
        found = owner.get(parent)
        if found is not None:
            return found
    return None


def join_groups(pairs: Iterable[tuple[str, str]]) -> list[list[str]]:
    """Pairs of move ends joined where they share an end or one lies inside another: each
    group goes into one slice."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        parent[find(a)] = find(b)
    ends = sorted(parent)
    for end in ends:
        for other in ancestors(end):
            if other in parent:
                parent[find(end)] = find(other)
                break
    out: dict[str, list[str]] = {}
    for end in ends:
        out.setdefault(find(end), []).append(end)
    return list(out.values())


def clash_pairs(clashes: Iterable[Sequence[str]]) -> Iterator[tuple[str, str]]:
    """Each set of paths that fold together as pairs for ``join_groups`` (promise 5)."""
    for paths in clashes:
        for other in paths[1:]:
            yield paths[0], other
