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
    """The remote tree, the entries refused, and the paths to keep out of the plan
    (``unknown``: none from a listing, which the transport refuses whole when it
    contradicts itself, see ``syncd.transport.consistency``)."""

    tree: dict[str, RemoteNode]
    rejected: list[tuple[str, str]] = field(default_factory=list)
    unknown: set[str] = field(default_factory=set)


def list_remote(client: object, workspace_id: str) -> ListingResult:
    """Fetch the whole listing and key it by NFC path (the transport validated each path,
    and that the entries form one tree)."""
    result = client.files.list(workspace_id)
    entries = getattr(result, "entries", result)
    rejected = list(getattr(result, "rejected", []) or [])
    tree = {node.path: node for node in (entry.to_remote_node() for entry in entries)}
    return ListingResult(tree=tree, rejected=rejected)
