"""A scoped read of the base or the remote mirror: exactly the rows at and below the
prefixes, by the path index."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from syncd.planner.trees import BaseNode, Kind, RemoteNode
from syncd.state import Store
from syncd.state.sql import SUBTREE, subtree_params

# Siblings that a prefix test or a LIKE pattern could confuse with the subtree of "a":
# "a b" and "a.txt" sort before "a/", "a0" is the end of the range, "%"/"_" are LIKE
# wildcards, "A" differs only in case.
NAMES = [
    "a",
    "a/x",
    "a/x/y",
    "a b",
    "a b/in",
    "a.txt",
    "a0",
    "a0/z",
    "ab",
    "A/x",
    "b",
    "%",
    "%/in",
    "%x",
    "_",
    "_/in",
    "a_b",
    "a%b",
    "a%b/in",
    "ü",
    "ü/ç",
]


@pytest.fixture
def filled(store: Store) -> Store:
    store.put_base(BaseNode(n, Kind.FILE, len(n)) for n in NAMES)
    return store


@pytest.fixture
def mirrored(store: Store) -> Store:
    """The same names in the remote mirror, with a directory for each parent."""
    store.remote.apply(upserts=[remote_node(n) for n in NAMES], deletes=[], cursor=1)
    return store


def remote_node(name: str) -> RemoteNode:
    is_parent = any(other.startswith(name + "/") for other in NAMES)
    if is_parent:
        return RemoteNode(name, Kind.DIR, revision=1)
    return RemoteNode(name, Kind.FILE, len(name), "2026-01-01T00:00:00+00:00", 1, f"sha256:{name}")


def under(prefixes: set[str]) -> set[str]:
    """What the reconciler's own filter keeps: the path or one of its ancestors."""
    return {n for n in NAMES if n in prefixes or any(n.startswith(p + "/") for p in prefixes)}


PREFIXES = pytest.mark.parametrize(
    "prefixes",
    [
        {"a"},
        {"a b"},
        {"a0"},
        {"%"},
        {"_"},
        {"a_b", "a%b"},
        {"a/x"},
        {"a", "a/x", "a/x/y"},  # nested prefixes read each row once
        {"ü"},
        {"missing", "a/missing"},
        {"A"},
        {""},
        set(),
    ],
    ids=lambda prefixes: repr(sorted(prefixes)),
)


@PREFIXES
def test_rows_at_and_below_the_prefixes_and_nothing_else(filled: Store, prefixes: set[str]) -> None:
    got = filled.base(prefixes=prefixes)
    assert set(got) == under(prefixes)
    assert all(got[p] == BaseNode(p, Kind.FILE, len(p)) for p in got)


@PREFIXES
def test_mirror_rows_at_and_below_the_prefixes_and_nothing_else(
    mirrored: Store, prefixes: set[str]
) -> None:
    got = mirrored.remote.tree(prefixes=prefixes)
    assert set(got) == under(prefixes)
    assert all(got[p] == remote_node(p) for p in got)


def test_no_prefix_reads_the_whole_mirror_and_files_count_every_file(mirrored: Store) -> None:
    assert mirrored.remote.tree(prefixes=None) == {n: remote_node(n) for n in NAMES}
    assert mirrored.remote.files() == sum(not remote_node(n).is_dir for n in NAMES)


def test_no_prefix_reads_the_whole_base(filled: Store) -> None:
    assert set(filled.base()) == set(NAMES)
    assert filled.base(prefixes=None) == filled.base()


@pytest.mark.parametrize("table", ["base", "remote"])
def test_the_scoped_read_searches_the_path_index(store: Store, db_path: Path, table: str) -> None:
    raw = sqlite3.connect(db_path)
    try:
        plan = raw.execute(
            f"EXPLAIN QUERY PLAN SELECT * FROM {table} WHERE {SUBTREE}", subtree_params("a")
        ).fetchall()
    finally:
        raw.close()
    details = [row[-1] for row in plan]
    assert not any(d.startswith("SCAN") for d in details), details
    assert sum("USING INDEX" in d for d in details) == 2, details


def test_has_base_and_base_files(store: Store) -> None:
    assert store.has_base() is False and store.base_files() == 0
    store.put_base([BaseNode("d", Kind.DIR), BaseNode("d/f", Kind.FILE, 1)])
    assert store.has_base() is True and store.base_files() == 1
