"""Names a case-folding disk would merge, found in SQL over walk, base and mirror: the
outermost of each clash, however far apart in path order, and nothing else."""

from __future__ import annotations

import unicodedata

from syncd.planner.trees import BaseNode, Kind, LocalNode, RemoteNode
from syncd.state import fold_clashes
from syncd.state.store import Store

F, D = Kind.FILE, Kind.DIR


def test_no_clash_in_a_tree_of_distinct_names(store: Store) -> None:
    store.scan_rows.put([LocalNode(p, F, 1, 1, i) for i, p in enumerate(["a", "b", "c/d"])])
    store.put_base([BaseNode("a", F, 1, "sha256:x", 1, 0, 1)])
    assert fold_clashes.clashes(store) == []


def test_clashes_across_walk_base_and_mirror_come_outermost_first(store: Store) -> None:
    store.scan_rows.put(
        [
            LocalNode("README.md", F, 1, 1, 1),
            LocalNode("Photos", D, None, None, 2),
            LocalNode("Photos/x.jpg", F, 1, 1, 3),
            LocalNode("Photos/only-here.jpg", F, 1, 1, 4),
            LocalNode("m", F, 1, 1, 5),
        ]
    )
    store.put_base([BaseNode("README.md", F, 1, "sha256:x", 1, 1, 1)])
    store.remote.apply(
        upserts=[
            RemoteNode("README.md", F, 1, "t", 1, "sha256:x"),
            RemoteNode("readme.md", F, 2, "t", 2, "sha256:y"),  # far from README.md
            RemoteNode("photos", D, None, "t", 3, None),
            RemoteNode("photos/X.JPG", F, 1, "t", 4, "sha256:z"),
        ],
        deletes=[],
        cursor=4,
    )
    groups = sorted(sorted(g) for g in fold_clashes.clashes(store))
    assert groups == [["Photos", "photos"], ["README.md", "readme.md"]]


def test_an_nfd_spelling_and_a_case_variant_fold_together(store: Store) -> None:
    nfc = "caf\u00e9.txt"
    upper = unicodedata.normalize("NFC", "CAF\u00c9.TXT")
    store.scan_rows.put([LocalNode(nfc, F, 1, 1, 1)])
    store.remote.apply(upserts=[RemoteNode(upper, F, 1, "t", 1, "sha256:x")], deletes=[], cursor=1)
    assert sorted(fold_clashes.clashes(store)[0]) == sorted([nfc, upper])
