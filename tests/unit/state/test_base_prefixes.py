"""A scoped read of the base: exactly the rows at and below the prefixes, by the index."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from syncd.planner.trees import BaseNode, Kind
from syncd.state import Store

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


def under(prefixes: set[str]) -> set[str]:
    """What the reconciler's own filter keeps: the path or one of its ancestors."""
    return {n for n in NAMES if n in prefixes or any(n.startswith(p + "/") for p in prefixes)}


@pytest.mark.parametrize(
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
    ids=repr,
)
def test_rows_at_and_below_the_prefixes_and_nothing_else(filled: Store, prefixes: set[str]) -> None:
    got = filled.base(prefixes=prefixes)
    assert set(got) == under(prefixes)
    assert all(got[p] == BaseNode(p, Kind.FILE, len(p)) for p in got)


def test_no_prefix_reads_the_whole_base(filled: Store) -> None:
    assert set(filled.base()) == set(NAMES)
    assert filled.base(prefixes=None) == filled.base()


def test_the_scoped_read_searches_the_path_index(filled: Store, db_path: Path) -> None:
    raw = sqlite3.connect(db_path)
    try:
        plan = raw.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM base WHERE path = ? OR (path >= ? AND path < ?)",
            ("a", "a/", "a0"),
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
