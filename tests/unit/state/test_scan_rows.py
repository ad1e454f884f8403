"""The walk of a sync in slices and its SQL: a path is queued unless walk, base and
mirror agree on every fact the planner compares; far moves are found by inode and hash."""

from __future__ import annotations

from syncd.planner.trees import BaseNode, Kind, LocalNode, RemoteNode
from syncd.state.store import Store

F, D = Kind.FILE, Kind.DIR


def synced(store: Store, path: str, *, inode: int = 1, revision: int = 1) -> None:
    """One file that walk, base and mirror agree on."""
    store.scan_rows.put([LocalNode(path, F, 5, 100, inode)])
    store.put_base([BaseNode(path, F, 5, "sha256:x", 100, inode, revision)])
    store.remote.apply(
        upserts=[RemoteNode(path, F, 5, "t", revision, "sha256:x")], deletes=[], cursor=revision
    )


def queued(store: Store) -> list[str]:
    store.scan_rows.queue_dirty()
    return [row[1] for row in store.scan_rows.queued(limit=2)]


def test_only_disagreeing_paths_are_queued_in_path_order(store: Store) -> None:
    for i, name in enumerate(["a", "b", "c", "d", "e"]):
        synced(store, name, inode=i + 10)
    assert queued(store) == []
    store.scan_rows.put([LocalNode("b", F, 5, 101, 11)])  # touched on disk
    store.scan_rows.put([LocalNode("new", F, 1, 1, 99)])  # new on disk
    store.remote.apply(upserts=[RemoteNode("d", F, 5, "t", 7, "sha256:y")], deletes=[], cursor=7)
    store.remote.apply(upserts=[], deletes=["e"], cursor=8)  # gone from the server
    assert queued(store) == ["b", "d", "e", "new"]  # read two at a time, in order
    rows = list(store.scan_rows.queued())
    assert [r[2:] for r in rows if r[1] == "e"] == [("file", "file", None)]


def test_a_path_gone_from_the_disk_is_queued_and_bounds_the_deletes(store: Store) -> None:
    synced(store, "a")
    synced(store, "b", inode=2)
    store.scan_rows.clear()
    store.scan_rows.put([LocalNode("a", F, 5, 100, 1)])
    assert queued(store) == ["b"]
    assert store.scan_rows.delete_bounds() == (0, 1)  # (local, remote) deletes at most


def test_far_moves_are_paired_by_inode_and_by_hash(store: Store) -> None:
    synced(store, "a/x", inode=7)
    synced(store, "m/y", inode=8)
    store.scan_rows.clear()
    store.scan_rows.put([LocalNode("z/x", F, 5, 100, 7), LocalNode("m/y", F, 5, 100, 8)])
    store.scan_rows.queue_dirty()  # moves are read from the queue
    assert store.scan_rows.local_moves() == [("a/x", "z/x")]
    store.remote.apply(
        upserts=[RemoteNode("q/y", F, 5, "t", 9, "sha256:x")], deletes=["m/y"], cursor=9
    )
    store.scan_rows.queue_dirty()
    assert ("m/y", "q/y") in store.scan_rows.remote_moves()
