"""Selective sync: the ops that take an excluded path off this device, never off the server.

Exclude rules are local to one device (``syncd exclude``, the ``exclude`` config key). The
planner treats an excluded path as unknown on both sides, as it does an ignored one, so
nothing below it is downloaded, uploaded or deleted anywhere. What was synced there before
leaves the folder through the local trash (``TrashLocal``, which drops its base rows) so
that no later pass reads its absence as a local delete; base rows without a local copy are
forgotten (``ForgetBase``). A local entry that was never synced stays where it is.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from syncd.paths import is_within
from syncd.planner.ops import ForgetBase, Op, Reason, TrashLocal
from syncd.planner.trees import BaseNode, LocalNode


def exclusion_ops(
    excluded: Collection[str], local: Mapping[str, LocalNode], base: Mapping[str, BaseNode]
) -> list[Op]:
    """One op per excluded path that still has base rows; pure, sorted by path."""
    result: list[Op] = []
    roots = _outermost(excluded)
    for root in roots:
        if not any(is_within(p, root) for p in base):
            continue
        node = local.get(root)
        if node is not None:
            result.append(TrashLocal(root, Reason.EXCLUDED, local=node))
        else:
            result.append(ForgetBase(root, Reason.EXCLUDED))
    return result


def _outermost(paths: Collection[str]) -> list[str]:
    """The excluded paths that no other excluded path contains."""
    ordered = sorted(set(paths))
    return [p for p in ordered if not any(q != p and is_within(p, q) for q in ordered)]
