"""What a scoped sync covers: a set of entries, each a path with its subtree or, made by
``exact``, the path alone.

A sync in slices (``syncd.slices``) plans a folder's entries in several slices, so a
folder whose subtree goes on past its slice is planned as itself, without what lies below
it; the daemon's dirty paths are all whole subtrees. An exact entry carries a NUL, which
no workspace path can hold, so the two kinds share one ``set[str]`` and a reader that
does not know exact entries (``is_within_any``) matches nothing by one: it only reads less.
"""

from __future__ import annotations

from collections.abc import Iterable

EXACT = "\x00"


def exact(path: str) -> str:
    """The scope entry for ``path`` alone, not its subtree."""
    return path + EXACT


def split(scope: Iterable[str]) -> tuple[list[str], list[str]]:
    """The (subtree paths, exact paths) of a scope."""
    subtrees: list[str] = []
    exacts: list[str] = []
    for entry in scope:
        if entry.endswith(EXACT):
            exacts.append(entry[:-1])
        else:
            subtrees.append(entry)
    return subtrees, exacts
