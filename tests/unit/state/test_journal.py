"""The journal: intents are durable before effects, completions are cheap, crashes show."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from syncd.planner.ops import (
    DeleteRemote,
    Download,
    ForgetBase,
    KeepBoth,
    MkdirLocal,
    MkdirRemote,
    MoveLocal,
    MoveRemote,
    Op,
    Reason,
    RecordBase,
    TrashLocal,
    Upload,
    UploadCopy,
)
from syncd.planner.trees import Kind, LocalNode, RemoteNode
from syncd.state import Journal, JournalStatus, Store, decode_op, encode_op
from syncd.state.journal import OP_CLASSES

LOCAL = LocalNode("a.txt", Kind.FILE, 3, 10, 77, "sha256:l", disk_name="a\u0301.txt")
REMOTE = RemoteNode("a.txt", Kind.FILE, 4, "2026-01-01T00:00:00+00:00", 5, "sha256:r")
EVERY_OP: list[Op] = [
    Upload("a.txt", Reason.LOCAL_CHANGED, local=LOCAL, remote=REMOTE),
    Upload("n.txt", Reason.LOCAL_NEW, local=LOCAL),
    Download("a.txt", Reason.REMOTE_CHANGED, remote=REMOTE, local=LOCAL),
    MkdirRemote("d", Reason.LOCAL_NEW),
    MkdirLocal("d", Reason.REMOTE_NEW),
    MoveRemote("d", Reason.LOCAL_MOVED, dest="e", remote=RemoteNode("d", Kind.DIR)),
    MoveLocal("d", Reason.REMOTE_MOVED, dest="e", local=LocalNode("d", Kind.DIR)),
    DeleteRemote("a.txt", Reason.LOCAL_DELETED, remote=REMOTE),
    TrashLocal("a.txt", Reason.REMOTE_DELETED, local=LOCAL),
    KeepBoth("a.txt", Reason.BOTH_CHANGED, conflict_path="a (c).txt", local=LOCAL, remote=REMOTE),
    RecordBase("a.txt", Reason.BOTH_EQUAL, local=LOCAL, remote=REMOTE),
    ForgetBase("gone", Reason.BOTH_DELETED),
    UploadCopy("a.txt", Reason.BOTH_CHANGED, dest="a (c).txt", local=LOCAL, remote=REMOTE),
]


def test_every_op_kind_is_covered_here() -> None:
    assert {type(op).__name__ for op in EVERY_OP} == set(OP_CLASSES) - {"Op"}


@pytest.mark.parametrize("op", EVERY_OP, ids=lambda op: type(op).__name__)
def test_ops_round_trip_through_json(op: Op) -> None:
    kind, dest, payload = encode_op(op)
    assert kind == type(op).__name__
    rebuilt = decode_op(kind, payload)
    assert rebuilt == op
    assert type(rebuilt.reason) is Reason
    for field in dataclasses.fields(rebuilt):
        value = getattr(rebuilt, field.name)
        if isinstance(value, LocalNode | RemoteNode):
            assert value.kind is Kind(value.kind)
    assert dest == (getattr(op, "dest", None) or getattr(op, "conflict_path", None) or None)


@pytest.mark.parametrize("op", EVERY_OP, ids=lambda op: type(op).__name__)
def test_the_payload_is_every_field_as_asdict_gives_it(op: Op) -> None:
    """Journals written before the cheaper encoder stay readable, and the reverse."""
    _kind, _dest, payload = encode_op(op)
    assert json.loads(payload) == json.loads(json.dumps(dataclasses.asdict(op), default=sorted))


def test_begin_done_failed_and_pending(store: Store) -> None:
    journal = Journal(store)
    first, second, third = journal.begin_many(EVERY_OP[:3])
    assert [e.id for e in journal.pending()] == [first, second, third]
    journal.done(first)
    journal.failed(second, "disk full")
    assert [e.id for e in journal.pending()] == [third]
    entry = journal.pending()[0]
    assert entry.status is JournalStatus.STARTED and entry.started_time is not None
    assert entry.op() == EVERY_OP[2]
    failed = [r for r in store.journal_rows.with_status(["failed"]) if r["id"] == second]
    assert failed[0]["error"] == "disk full" and failed[0]["finished_time"]


def test_completions_are_buffered_until_the_next_commit(db_path: Path) -> None:
    store = Store.open(db_path)
    journal = Journal(store)
    started = journal.begin_many([EVERY_OP[0]])[0]
    journal.done(started)
    # A second, independent reader (the next process) does not see the buffered
    # completion yet: after a crash here the op would show as interrupted, which is safe.
    with Store.open(db_path) as other:
        assert [e.id for e in Journal(other).pending()] == [started]
    journal.begin_many([EVERY_OP[1]])  # the next intent commit carries the completion along
    with Store.open(db_path) as other:
        assert started not in [e.id for e in Journal(other).pending()]
    store.close()


def test_completion_inside_a_transaction_commits_with_it(db_path: Path, store: Store) -> None:
    journal = Journal(store)
    started = journal.begin_many([EVERY_OP[0]])[0]
    with store.transaction():
        store.meta.set_cursor(3)
        journal.done(started)
    with Store.open(db_path) as other:
        assert Journal(other).pending() == []
        assert other.meta.cursor() == 3


def test_pending_after_close_without_done(db_path: Path) -> None:
    with Store.open(db_path) as store:
        started = Journal(store).begin_many([EVERY_OP[9]])[0]
    with Store.open(db_path) as store:
        journal = Journal(store)
        pending = journal.pending()
        assert [(e.id, e.op_kind, e.path, e.dest) for e in pending] == [
            (started, "KeepBoth", "a.txt", "a (c).txt")
        ]
        journal.settle([started])
        assert journal.pending() == []
        assert journal.prune() == 1
        assert store.journal_rows.with_status(["done", "failed"]) == []


def test_pending_after_kill_9(db_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        from syncd.planner.ops import MoveLocal, Reason, TrashLocal
        from syncd.state import Journal, Store
        store = Store.open(Path({str(db_path)!r}))
        journal = Journal(store)
        ids = journal.begin_many([
            MoveLocal("d", Reason.REMOTE_MOVED, dest="e"),
            TrashLocal("x", Reason.REMOTE_DELETED),
        ])
        journal.done(ids[0])
        journal.flush()
        journal.begin_many([TrashLocal("y", Reason.REMOTE_DELETED)])
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert proc.returncode == -9, proc.stderr
    with Store.open(db_path) as store:
        pending = Journal(store).pending()
    assert [(e.op_kind, e.path) for e in pending] == [("TrashLocal", "x"), ("TrashLocal", "y")]
    assert pending[0].op() == TrashLocal("x", Reason.REMOTE_DELETED)


def test_unknown_kind_from_a_newer_syncd_is_kept_but_not_rebuilt(store: Store) -> None:
    store.journal_rows.insert(
        [
            {
                "op_kind": "Teleport",
                "path": "p",
                "dest": None,
                "payload": "{}",
                "status": "started",
                "planned_time": "t",
                "started_time": "t",
            }
        ]
    )
    (entry,) = Journal(store).pending()
    assert entry.path == "p" and entry.op() is None


def test_many_small_ops_batch_into_few_commits(store: Store) -> None:
    journal = Journal(store)
    ids = journal.begin_many(EVERY_OP * 200)
    assert len(ids) == len(set(ids)) == len(EVERY_OP) * 200
    for entry_id in ids:
        journal.done(entry_id)
    journal.flush()
    assert journal.pending() == []
    assert journal.prune() == len(ids)


def test_closing_the_store_writes_buffered_completions(db_path: Path) -> None:
    with Store.open(db_path) as store:
        journal = Journal(store)
        started = journal.begin_many([EVERY_OP[0]])[0]
        journal.done(started)
    with Store.open(db_path) as store:
        assert Journal(store).pending() == []


def test_a_full_sync_settles_what_a_crash_left_and_drops_finished_rows(store: Store) -> None:
    journal = Journal(store)
    _crashed, done, failed = journal.begin_many(EVERY_OP[:3])
    journal.done(done)
    journal.failed(failed, "disk full")
    journal.finish_sync(full=True)
    assert journal.pending() == []
    assert store.journal_rows.with_status(["started", "done", "failed"]) == []


def test_a_scoped_sync_drops_finished_rows_and_keeps_interrupted_ones(store: Store) -> None:
    journal = Journal(store)
    crashed, done = journal.begin_many(EVERY_OP[:2])
    journal.done(done)  # buffered: another process would still see it as started
    journal.finish_sync(full=False)
    assert [e.id for e in journal.pending()] == [crashed]
    assert store.journal_rows.with_status(["done", "failed"]) == []
