"""The remote tree on a base-only server: one full listing per sync.

Without E1 there are no revisions or hashes: remote change is judged from ``size`` and
``modified_time`` against the base, and equal content is proven by downloading and
comparing (the planner asks for that with a ``Need``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from syncd.planner.trees import RemoteNode


@dataclass
class ListingResult:
    """The remote tree, the entries refused, and paths whose entries contradict each other
    (``unknown``: kept out of this plan entirely, so they are neither synced nor deleted)."""

    tree: dict[str, RemoteNode]
    rejected: list[tuple[str, str]] = field(default_factory=list)
    unknown: set[str] = field(default_factory=set)


def list_remote(client: object, workspace_id: str) -> ListingResult:
    """Fetch the whole listing and key it by NFC path (the transport already validated it)."""
    result = client.files.list(workspace_id)
    entries = getattr(result, "entries", result)
    rejected = list(getattr(result, "rejected", []) or [])
    tree: dict[str, RemoteNode] = {}
    unknown: set[str] = set()
    for entry in entries:
        node = entry.to_remote_node()
        if node.path in tree or node.path in unknown:
            unknown.add(node.path)
            continue
        tree[node.path] = node
    for path in sorted(unknown):
        tree.pop(path, None)
        rejected.append((path, "listed more than once, with contradicting entries"))
    return ListingResult(tree=tree, rejected=rejected, unknown=unknown)
