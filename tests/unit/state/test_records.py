"""The small tables beside the trees (records.py), on a real SQLite file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from syncd.planner.trees import BaseNode, Kind
from syncd.state import DaemonState, JournalStatus, Store


def test_upload_sessions_resume_only_the_same_file_before_expiry(store: Store) -> None:
    sessions = store.upload_sessions
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    sessions.remember("ws", "big.bin", 100, 5, "up-1", later)
    assert sessions.find("ws", "big.bin", 100, 5) == "up-1"
    assert sessions.find("ws", "big.bin", 101, 5) is None
    assert sessions.find("ws", "big.bin", 100, 6) is None
    assert sessions.find("other", "big.bin", 100, 5) is None
    sessions.remember("ws", "big.bin", 100, 6, "up-2", later.replace("+00:00", "Z"))
    assert sessions.find("ws", "big.bin", 100, 6) == "up-2"
    sessions.remember("ws", "old.bin", 1, 1, "up-3", "2000-01-01T00:00:00+00:00")
    assert sessions.find("ws", "old.bin", 1, 1) is None
    sessions.forget("ws", "big.bin")
    assert sessions.find("ws", "big.bin", 100, 6) is None


def test_conflicts_are_recorded_once(store: Store) -> None:
    store.conflicts.add("a.txt", "a (conflicted copy 2026-01-01 000000 h).txt", time="t1")
    store.conflicts.add("a.txt", "a (conflicted copy 2026-01-01 000000 h).txt", time="t2")
    store.conflicts.add("b.txt", "b (conflicted copy 2026-01-01 000000 h).txt", time="t3")
    conflicts = store.conflicts.rows()
    assert [(c.path, c.time) for c in conflicts] == [("a.txt", "t1"), ("b.txt", "t3")]
    store.conflicts.clear([conflicts[0].conflict_path])
    assert [c.path for c in store.conflicts.rows()] == ["b.txt"]


def test_item_errors_count_and_clear_when_the_path_syncs(store: Store) -> None:
    store.item_errors.record("x.txt", "permission denied", time="t1")
    store.item_errors.record("x.txt", "still denied", time="t2")
    store.item_errors.record("y.txt", "bad name", time="t1")
    x = store.item_errors.rows()[0]
    assert (x.path, x.reason, x.count, x.first_time, x.last_time) == (
        "x.txt",
        "still denied",
        2,
        "t1",
        "t2",
    )
    store.put_base([BaseNode("x.txt", Kind.FILE, 1)])
    assert [e.path for e in store.item_errors.rows()] == ["y.txt"]
    store.drop_base(["y.txt"])
    assert store.item_errors.rows() == []
    store.item_errors.record("z.txt", "why")
    store.item_errors.clear(["z.txt", "never-failed.txt"])
    assert store.item_errors.rows() == []


def test_dirty_paths_keep_first_seen_and_clear_only_what_was_covered(store: Store) -> None:
    store.dirty.mark(["a", "b"], time="t1")
    store.dirty.mark(["a", "c"], time="t2")
    assert store.dirty.rows() == {"a": "t1", "b": "t1", "c": "t2"}
    store.dirty.clear(["a", "b"])
    assert store.dirty.rows() == {"c": "t2"}


def test_daemon_status_row(store: Store) -> None:
    row = store.daemon_status
    assert row.read() is None
    row.write("syncing", transfers=[{"path": "a", "bytes": 3}], pid=99, time="t")
    status = row.read()
    assert status is not None
    assert (status.state, status.transfers, status.pid) == (
        DaemonState.SYNCING,
        [{"path": "a", "bytes": 3}],
        99,
    )
    row.write(DaemonState.IDLE)
    idle = row.read()
    assert idle is not None and idle.state is DaemonState.IDLE and idle.transfers == []
    assert idle.as_dict()["state"] == "idle"
    with pytest.raises(ValueError):
        row.write("sleeping")
    row.clear()
    assert row.read() is None


def test_journal_rows_insert_update_select_delete(store: Store) -> None:
    rows = store.journal_rows
    base = {"op_kind": "Upload", "dest": None, "payload": "{}", "planned_time": "t0"}
    ids = rows.insert([{**base, "path": p, "status": "planned"} for p in ("a", "b", "c")])
    assert len(ids) == 3 and ids == sorted(ids)
    rows.update([{"id": ids[0], "status": "started", "started_time": "t1"}])
    rows.update([{"id": ids[0], "status": JournalStatus.DONE.value, "finished_time": "t2"}])
    rows.update([{"id": ids[1], "status": "failed", "error": "denied"}])
    done = rows.with_status(["done"])
    assert [(r["path"], r["started_time"], r["finished_time"]) for r in done] == [("a", "t1", "t2")]
    assert [r["error"] for r in rows.with_status(["failed"])] == ["denied"]
    assert rows.delete(["done", "failed"]) == 2
    assert [r["path"] for r in rows.with_status(["planned", "started"])] == ["c"]
    assert rows.insert([]) == []


def test_records_join_the_callers_transaction(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.put_base([BaseNode("x", Kind.FILE, 1)])
        store.conflicts.add("x", "x (conflicted copy)")
        store.dirty.mark(["x"])
        raise RuntimeError("crash in the middle")
    assert store.base() == {} and store.conflicts.rows() == [] and store.dirty.rows() == {}
