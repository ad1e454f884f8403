"""The meta facts on a real SQLite file: values, lineage, cursor, merge, last sync."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd.errors import UsageError
from syncd.state import Store


def test_meta_values_cursor_and_json(store: Store) -> None:
    assert store.meta.get("nothing") is None
    store.meta.set("k", "v")
    assert store.meta.get("k") == "v"
    store.meta.set("k", None)
    assert store.meta.get("k") is None
    assert store.meta.cursor() is None
    store.meta.set_cursor(0)
    assert store.meta.cursor() == 0


def test_bind_records_lineage_and_refuses_another_triple(store: Store, tmp_path: Path) -> None:
    store.meta.bind("http://Host:8765/", "ws1", tmp_path / "folder")
    lineage = store.meta.lineage()
    assert lineage is not None
    assert (lineage.server_url, lineage.workspace_id) == ("http://host:8765", "ws1")
    assert lineage.local_folder == str((tmp_path / "folder").resolve())
    store.meta.bind("http://host:8765", "ws1", tmp_path / "folder")  # same triple: fine
    with pytest.raises(UsageError, match="belongs to"):
        store.meta.bind("http://host:8765", "ws2", tmp_path / "folder")


def test_first_sync_and_reset_are_merges(store: Store, tmp_path: Path) -> None:
    assert not store.meta.is_merge_pending()
    store.meta.bind("http://h", "ws", tmp_path / "f")
    assert store.meta.is_merge_pending()
    store.meta.finish_merge(17)
    assert (store.meta.is_merge_pending(), store.meta.cursor()) == (False, 17)


def test_folder_id_and_last_sync(store: Store) -> None:
    assert store.meta.folder_id() is None and store.meta.last_sync() is None
    store.meta.set_folder_id("f-123")
    store.meta.record_sync({"uploaded": 2, "exit_code": 0}, time="2026-01-02T03:04:05+00:00")
    assert store.meta.folder_id() == "f-123"
    last = store.meta.last_sync()
    assert last is not None
    assert (last.time, last.result) == (
        "2026-01-02T03:04:05+00:00",
        {"uploaded": 2, "exit_code": 0},
    )
