"""The shared subtree SQL: which prefixes are read, and renames that spare look-alikes."""

from __future__ import annotations

from syncd.planner.trees import BaseNode, Kind
from syncd.state import Store
from syncd.state.sql import rename_subtree, subtree_params


def test_subtree_params_bound_exactly_the_paths_below() -> None:
    path, low, high = subtree_params("a")
    assert (path, low, high) == ("a", "a/", "a0")
    below = ["a/x", "a/\U0010ffff"]
    beside = ["a", "a b", "a.txt", "a0", "ab", "A/x"]
    assert all(low <= p < high for p in below)
    assert not any(low <= p < high for p in beside)


def test_rename_subtree_replaces_the_destination_and_spares_siblings(store: Store) -> None:
    names = ["d", "d/x", "d/e/y", "d0", "d b", "e", "e/old"]
    store.put_base(BaseNode(n, Kind.FILE, 1) for n in names)
    with store.transaction() as conn:
        rename_subtree(conn, "base", "d", "e")
    assert set(store.base()) == {"e", "e/x", "e/e/y", "d0", "d b"}
