"""The remote mirror on a real SQLite file: feed pages with their cursor, and resets."""

from __future__ import annotations

import pytest

from syncd.planner.trees import BaseNode, Kind, RemoteNode
from syncd.state import Store

FILE_A = BaseNode("docs/a.txt", Kind.FILE, 3, "sha256:aa", 111, 7, 4, "2026-01-01T00:00:00+00:00")


def test_remote_mirror_pages_and_reset(store: Store) -> None:
    file_a = RemoteNode("d/a", Kind.FILE, 3, "2026-01-01T00:00:00+00:00", 4, "sha256:a")
    directory = RemoteNode("d", Kind.DIR, None, None, 2, None)
    store.remote.apply(
        upserts=[directory, file_a, RemoteNode("k", Kind.FILE, 1)], deletes=[], cursor=4
    )
    assert store.remote.tree() == {
        "d": directory,
        "d/a": file_a,
        "k": RemoteNode("k", Kind.FILE, 1),
    }
    assert store.meta.cursor() == 4
    moved = RemoteNode("e", Kind.DIR, revision=5)
    store.remote.apply(upserts=[moved, RemoteNode("d", Kind.FILE, 9)], deletes=["d"], cursor=5)
    assert set(store.remote.tree()) == {"d", "e", "k"}  # d/a went with its directory
    assert store.remote.tree()["d"].kind is Kind.FILE
    store.put_base([FILE_A])
    store.remote.reset(drop_base=False)
    assert (store.remote.tree(), store.meta.cursor(), store.base_count()) == ({}, None, 1)
    assert not store.meta.is_merge_pending()
    store.remote.apply(upserts=[file_a], deletes=[], cursor=7)
    store.remote.reset(drop_base=True)
    assert (store.remote.tree(), store.meta.cursor(), store.base_count()) == ({}, None, 0)
    assert store.meta.is_merge_pending()


def test_a_page_and_its_cursor_join_the_callers_transaction(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.remote.apply(upserts=[RemoteNode("x", Kind.FILE, 1)], deletes=[], cursor=3)
        raise RuntimeError("crash before the commit")
    assert (store.remote.tree(), store.meta.cursor()) == ({}, None)
    store.remote.apply(upserts=[RemoteNode("x", Kind.FILE, 1)], deletes=[], cursor=3)
    assert (set(store.remote.tree()), store.meta.cursor()) == ({"x"}, 3)
