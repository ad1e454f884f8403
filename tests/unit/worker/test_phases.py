"""How one phase is cut into units: what may be batched, and what must run alone."""

from __future__ import annotations

from syncd.planner.ops import Download, Reason
from syncd.planner.trees import Kind, LocalNode, RemoteNode
from syncd.worker.phases import Batching, UnitKind, cut


def download(path: str) -> Download:
    remote = RemoteNode(path, Kind.FILE, size=10, revision=1, hash="h" * 64)
    local = LocalNode(path, Kind.FILE, size=3, mtime_ns=1, inode=7)
    return Download(path, Reason.REMOTE_CHANGED, local=local, remote=remote)


def test_small_downloads_share_one_read() -> None:
    units = cut([download("a.txt"), download("b.txt")], Batching())
    assert [(u.kind, u.indices) for u in units] == [(UnitKind.READ, (0, 1))]


def test_a_download_onto_a_followed_link_runs_alone() -> None:
    # a batch would replace the link with a file; alone it keeps the link (worker/links.py)
    units = cut([download("a.txt"), download("link.txt")], Batching(), links={"link.txt"})
    assert {(u.kind, u.indices) for u in units} == {(UnitKind.READ, (0,)), (UnitKind.SINGLE, (1,))}


def test_without_batching_every_op_is_single() -> None:
    units = cut([download("a.txt"), download("b.txt")], None)
    assert {u.kind for u in units} == {UnitKind.SINGLE}
