"""Selective sync: the ops that take an excluded path off this device, never off the server.

Exclude rules are local to one device (``syncd exclude``, the ``exclude`` config key). The
planner treats an excluded path as unknown on both sides, as it does an ignored one, so
nothing below it is downloaded, uploaded or deleted anywhere. What was synced there before
leaves the folder through the local trash (``TrashLocal``, which drops its base rows) so
that no later pass reads its absence as a local delete; base rows without a local copy are
forgotten (``ForgetBase``).

What the server does not hold stays where it is: a local entry that was never synced, or
a file changed here since the last sync (the only copy of that version). Only the synced,
unchanged parts go to the trash, each as the outermost entry with nothing of the kind
below it; then the rest of the path's base rows are forgotten, so the kept files are
plain local files under an excluded path (reported, not uploaded) and meet the server's
versions as new ones, keeping both, if the path is included again.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from syncd.paths import ancestors, is_within
from syncd.planner.ops import ForgetBase, Op, Reason, TrashLocal
from syncd.planner.rules import State, local_state
from syncd.planner.trees import BaseNode, LocalNode

UNCHANGED = (State.SAME, State.TOUCHED)


def exclusion_phases(
    excluded: Collection[str], local: Mapping[str, LocalNode], base: Mapping[str, BaseNode]
) -> list[list[Op]]:
    """The trash ops, then the forgets, for each excluded path that still has base rows;
    pure, each phase sorted by path (a forget runs after the trash ops below it)."""
    trash: list[Op] = []
    forget: list[Op] = []
    for root in _outermost(excluded):
        if not any(is_within(p, root) for p in base):
            continue
        if root not in local:
            forget.append(ForgetBase(root, Reason.EXCLUDED))
            continue
        under = sorted(p for p in local if is_within(p, root))
        kept = [p for p in under if not _synced(local[p], base.get(p))]
        if not kept:
            trash.append(TrashLocal(root, Reason.EXCLUDED, local=local[root]))
            continue
        holding = set(kept) | {a for p in kept for a in ancestors(p) if is_within(a, root)}
        for path in under:
            parent = path.rpartition("/")[0]
            if path not in holding and parent in holding:
                trash.append(TrashLocal(path, Reason.EXCLUDED, local=local[path]))
        forget.append(ForgetBase(root, Reason.EXCLUDED))
    return [phase for phase in (trash, forget) if phase]


def _synced(node: LocalNode, base: BaseNode | None) -> bool:
    """The server holds this entry as it is here (a folder: as itself; its contents are
    judged one by one)."""
    if base is None or base.kind is not node.kind:
        return False
    return node.is_dir or local_state(node, base) in UNCHANGED


def _outermost(paths: Collection[str]) -> list[str]:
    """The excluded paths that no other excluded path contains."""
    ordered = sorted(set(paths))
    return [p for p in ordered if not any(q != p and is_within(p, q) for q in ordered)]
