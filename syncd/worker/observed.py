"""Base rows built from what an op observed: the stat after it, the entry the server left.

1. The base is never taken from the plan: a file's local facts come from a stat around
   the effect, its remote facts from the server's answer (docs/design.md, rclone bisync's lesson).
2. A folder's row keeps its inode, which lets a later rename be seen as one move.
"""

from __future__ import annotations

from pathlib import Path

from syncd.local.hashing import StatSig
from syncd.planner.trees import BaseNode, Kind, RemoteNode


def stat_of(path: Path) -> StatSig | None:
    """The stat of ``path`` now; None when nothing is there."""
    try:
        return StatSig.from_stat(path.stat())
    except FileNotFoundError:
        return None


def file_base(
    path: str, size: int, hash_: str | None, sig: StatSig | None, remote: RemoteNode | None
) -> BaseNode:
    """A file's base row: ``sig`` None leaves the local facts out (compare by hash later)."""
    return BaseNode(
        path=path,
        kind=Kind.FILE,
        size=size,
        hash=hash_,
        local_mtime_ns=sig.mtime_ns if sig else None,
        local_inode=sig.inode if sig else None,
        remote_revision=remote.revision if remote else None,
        remote_modified_time=remote.modified_time if remote else None,
    )


def dir_base(
    path: str, remote: RemoteNode | None = None, *, sig: StatSig | None = None
) -> BaseNode:
    """A folder's base row; its inode is what lets a later rename be seen as one move."""
    return BaseNode(
        path=path,
        kind=Kind.DIR,
        local_inode=sig.inode if sig else None,
        remote_revision=remote.revision if remote else None,
        remote_modified_time=remote.modified_time if remote else None,
    )
