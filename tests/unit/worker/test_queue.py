"""The worker runs a Plan phase by phase, journals first, and batches small uploads (E5)."""

from __future__ import annotations

import threading

import pytest

from syncd.errors import ItemError, PreconditionFailed, ServerUnreachable, SourceChanged
from syncd.planner.ops import (
    DeleteRemote,
    MkdirRemote,
    Plan,
    Reason,
    RecordBase,
    Upload,
    describe,
)
from syncd.planner.trees import Kind, LocalNode
from syncd.state import JournalStatus
from syncd.transport.batch_items import DeletePath, PutFile, WriteResult, WriteState
from syncd.worker import queue as queue_module
from syncd.worker.outcome import Status
from tests.unit.worker.conftest import Rig
from tests.unit.worker.fakes import digest, local_node

MiB = 1 << 20


def plan_of(*phases: list) -> Plan:
    ops, ends = [], []
    for phase in phases:
        ops += phase
        ends.append(len(ops))
    return Plan(ops=tuple(ops), phase_ends=tuple(ends))


def upload(rig: Rig, rel: str, data: bytes, *, remote: bool = False) -> Upload:
    rig.write(rel, data)
    node = rig.server.node(rel) if remote else None
    return Upload(rel, Reason.LOCAL_NEW, local=local_node(rig.root, rel), remote=node)


def statuses(outcomes) -> dict[str, Status]:
    return {o.path: o.status for o in outcomes}


def test_phases_run_in_order_each_as_few_requests(rig: Rig) -> None:
    rig.server.put("old.txt", b"old")
    (rig.root / "a" / "b").mkdir(parents=True)
    plan = plan_of(
        [MkdirRemote("a", Reason.LOCAL_NEW), MkdirRemote("z", Reason.LOCAL_NEW)],
        [MkdirRemote("a/b", Reason.LOCAL_NEW)],
        [upload(rig, f"a/b/f{n}", b"x" * n) for n in range(40)],
        [DeleteRemote("old.txt", Reason.LOCAL_DELETED, remote=rig.server.node("old.txt"))],
    )
    outcomes = rig.run(plan, transfers=1)
    assert {o.status for o in outcomes} == {Status.DONE}
    assert len(outcomes) == len(plan.ops)
    calls = [(name, paths[0]) for name, paths in rig.server.calls]
    assert calls == [
        ("batch.write", "a"),
        ("batch.write", "a/b"),
        ("batch.write", "a/b/f0"),
        ("batch.write", "old.txt"),
    ]
    assert rig.server.calls[0][1] == ("a", "z")
    assert len(rig.server.calls[2][1]) == 40
    assert sorted(rig.server.files) == [f"a/b/f{n}" for n in sorted(range(40), key=str)]
    assert set(rig.store.base()) == {"a", "z", "a/b"} | {f"a/b/f{n}" for n in range(40)}


def test_no_op_of_a_phase_starts_before_the_one_before_is_through(rig: Rig) -> None:
    first = [upload(rig, f"one/{n}", b"1" * (MiB + n)) for n in range(6)]  # alone, in parallel
    second = [upload(rig, f"two/{n}", b"2" * (MiB + n)) for n in range(6)]
    busy = threading.Semaphore(0)
    seen: list[str] = []
    real = rig.client.files.upload

    def upload_slowly(workspace_id, path, source, **kwargs):
        seen.append(path)
        if path.startswith("two/"):
            assert {p for p in seen if p.startswith("one/")} == {op.path for op in first}
            assert not busy.acquire(blocking=False), "a first-phase upload still running"
        else:
            busy.release()
            try:
                return real(workspace_id, path, source, **kwargs)
            finally:
                busy.acquire()
        return real(workspace_id, path, source, **kwargs)

    rig.client.files.upload = upload_slowly
    outcomes = rig.run(plan_of(first, second), transfers=4)
    assert {o.status for o in outcomes} == {Status.DONE}


def test_each_record_is_conditional_as_its_single_request_would_be(rig: Rig) -> None:
    rig.server.put("over.txt", b"theirs, seen by the plan")
    rig.server.put("doomed.txt", b"doomed")
    sent: list = []
    rig.client.batch.before_write = sent.extend
    new = upload(rig, "new.txt", b"new")
    over = upload(rig, "over.txt", b"mine", remote=True)
    big = upload(rig, "big.bin", b"b" * MiB)  # not below the threshold: one request
    delete = DeleteRemote("doomed.txt", Reason.LOCAL_DELETED, remote=rig.server.node("doomed.txt"))
    outcomes = rig.run(plan_of([new, over, big, delete]))
    assert {o.status for o in outcomes} == {Status.DONE}
    assert sent == [
        PutFile("new.txt", rig.root / "new.txt", if_revision=0),
        PutFile("over.txt", rig.root / "over.txt", if_revision=over.remote.revision),
        DeletePath("doomed.txt", if_revision=delete.remote.revision),
    ]
    assert ("files.upload", ("big.bin",)) in rig.server.calls
    assert rig.server.files["over.txt"][0] == b"mine"


def test_a_refused_record_replans_that_path_only(rig: Rig) -> None:
    rig.server.put("taken.txt", b"theirs")
    ops = [upload(rig, "taken.txt", b"mine")]  # planned as new: the server has one now
    ops += [upload(rig, f"ok{n}.txt", b"ok") for n in range(3)]
    outcomes = rig.run(plan_of(ops))
    assert statuses(outcomes) == {
        "taken.txt": Status.REPLAN,
        "ok0.txt": Status.DONE,
        "ok1.txt": Status.DONE,
        "ok2.txt": Status.DONE,
    }
    assert rig.server.files["taken.txt"][0] == b"theirs"
    base = rig.store.base()
    assert "taken.txt" not in base
    entry = rig.server.entry("ok1.txt")
    assert (base["ok1.txt"].hash, base["ok1.txt"].remote_revision) == (
        entry.hash,
        entry.revision,
    )
    assert base["ok1.txt"].local_inode == (rig.root / "ok1.txt").stat().st_ino


def test_a_lost_answer_is_replanned_and_never_sent_again(rig: Rig) -> None:
    rig.client.batch.answer = lambda item: WriteResult(item, WriteState.UNKNOWN)
    outcomes = rig.run(plan_of([upload(rig, f"u{n}", b"u") for n in range(5)]))
    assert {o.status for o in outcomes} == {Status.REPLAN}
    assert [name for name, _ in rig.server.calls] == ["batch.write"]
    assert rig.store.base() == {}


def test_a_file_changed_under_the_send_is_replanned_an_unreadable_one_fails(rig: Rig) -> None:
    def shaped(item):
        if item.path == "edited":
            return WriteResult(item, WriteState.NOT_SENT, error=SourceChanged("edited: changed"))
        if item.path == "locked":
            return WriteResult(item, WriteState.NOT_SENT, error=ItemError("cannot read locked"))
        return None

    rig.client.batch.answer = shaped
    ops = [upload(rig, name, b"data") for name in ("edited", "locked", "fine")]
    outcomes = rig.run(plan_of(ops))
    assert statuses(outcomes) == {
        "edited": Status.REPLAN,
        "locked": Status.FAILED,
        "fine": Status.DONE,
    }


def test_a_file_written_during_the_send_keeps_its_local_facts_out_of_the_base(
    rig: Rig,
) -> None:
    op = upload(rig, "raced.txt", b"as planned")
    rig.client.batch.before_write = lambda items: rig.write("raced.txt", b"a later edit!")
    outcomes = rig.run(plan_of([op, upload(rig, "calm.txt", b"calm")]))
    assert {o.status for o in outcomes} == {Status.DONE}
    base = rig.store.base()
    assert base["raced.txt"].local_mtime_ns is None  # the next scan compares by hash
    assert base["raced.txt"].hash == digest(b"a later edit!")  # what was actually sent
    assert base["calm.txt"].local_mtime_ns is not None


def test_the_base_rows_and_journal_completions_of_batches_share_one_transaction(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    completions: list[int] = []  # the transaction of each write of completed ops
    real_finish = rig.store.journal_rows.finish

    def finish(rows):
        if any(status == JournalStatus.DONE.value for status, *_ in rows):
            assert rig.store.in_transaction()
            completions.append(rig.opened[0])
        return real_finish(rows)

    monkeypatch.setattr(rig.store.journal_rows, "finish", finish)
    ops = [upload(rig, f"d/{n:03}", b"%d" % n) for n in range(150)]
    rig.run(plan_of(ops), transfers=2)  # two batches of 75
    rows = [(txn, paths) for txn, paths in rig.base_writes if paths]
    assert sum(len(paths) for _, paths in rows) == 150
    batches = [paths for name, paths in rig.server.calls if name == "batch.write"]
    assert len(batches) > 1
    assert len({txn for txn, _ in rows}) == 1  # both batches' rows: one commit
    assert completions == [rows[0][0]]  # every completion, in that same commit
    assert rig.journal.pending() == []


def test_past_flush_ops_finished_ops_the_base_is_written_in_several_commits(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queue_module, "FLUSH_OPS", 50)
    ops = [upload(rig, f"d/{n:03}", b"%d" % n) for n in range(150)]
    rig.run(plan_of(ops), transfers=2)  # two batches of 75: each one past the limit
    rows = [(txn, paths) for txn, paths in rig.base_writes if paths]
    assert sum(len(paths) for _, paths in rows) == 150
    assert len({txn for txn, _ in rows}) == 2


def test_ops_that_did_not_end_done_are_journalled_failed_with_why(rig: Rig) -> None:
    def shaped(item):
        if item.path == "locked":
            return WriteResult(item, WriteState.NOT_SENT, error=ItemError("cannot read locked"))
        return None

    rig.client.batch.answer = shaped
    rig.run(plan_of([upload(rig, name, b"data") for name in ("locked", "fine")]))
    rows = {r["path"]: r for r in rig.store.journal_rows.with_status(["done", "failed"])}
    assert rows["fine"]["status"] == JournalStatus.DONE.value
    assert rows["locked"]["status"] == JournalStatus.FAILED.value
    assert "cannot read locked" in rows["locked"]["error"]


def test_the_journal_holds_every_op_of_a_phase_before_the_batch_is_sent(rig: Rig) -> None:
    seen: list[set[str]] = []

    def check(items):
        started = {e.path for e in rig.journal.pending()}
        seen.append(started)

    rig.client.batch.before_write = check
    ops = [upload(rig, f"j{n}", b"j") for n in range(3)]
    rig.run(plan_of(ops))
    assert seen == [{"j0", "j1", "j2"}]
    rig.journal.flush()
    statuses_ = {r["status"] for r in rig.store.journal_rows.with_status(["done"])}
    assert statuses_ == {JournalStatus.DONE.value}


def test_without_batches_each_file_is_one_request(rig: Rig) -> None:
    ops = [upload(rig, f"s{n}", b"s") for n in range(3)]
    ops.append(MkdirRemote("dir", Reason.LOCAL_NEW))
    outcomes = rig.run(plan_of(ops), batching=False)
    assert {o.status for o in outcomes} == {Status.DONE}
    names = sorted(name for name, _ in rig.server.calls)
    assert names == ["files.mkdir", "files.upload", "files.upload", "files.upload"]


def test_state_only_ops_need_no_request(rig: Rig) -> None:
    rig.write("same.txt", b"same")
    node = local_node(rig.root, "same.txt")
    rig.server.put("same.txt", b"same")
    op = RecordBase("same.txt", Reason.BOTH_EQUAL, local=node, remote=rig.server.node("same.txt"))
    outcomes = rig.run(plan_of([op, upload(rig, "other", b"o")]))
    assert {o.status for o in outcomes} == {Status.DONE}
    assert rig.store.base()["same.txt"].hash == digest(b"same")


def test_a_fatal_error_stops_before_the_next_phase(rig: Rig) -> None:
    def down(items):
        raise ServerUnreachable("gave up")

    rig.client.batch.before_write = down
    later = MkdirRemote("later", Reason.LOCAL_NEW)
    with pytest.raises(ServerUnreachable):
        rig.run(plan_of([upload(rig, "a", b"a")], [later]))
    assert rig.server.dirs == set()
    assert {e.path for e in rig.journal.pending()} == {"a"}  # what may be half-done shows


def test_a_bare_sequence_of_ops_still_runs_one_by_one(rig: Rig) -> None:
    ops = [upload(rig, "p", b"p"), MkdirRemote("q", Reason.LOCAL_NEW)]
    ctx_outcomes = rig.run(tuple(ops))  # type: ignore[arg-type]
    assert [o.path for o in ctx_outcomes] == ["p", "q"]
    assert [name for name, _ in rig.server.calls] == ["batch.write", "batch.write"]


def test_a_precondition_failed_batch_as_a_whole_replans_each(rig: Rig) -> None:
    def refuse(items):
        raise PreconditionFailed("the whole batch")

    rig.client.batch.before_write = refuse
    outcomes = rig.run(plan_of([upload(rig, "x", b"x"), MkdirRemote("y", Reason.LOCAL_NEW)]))
    assert statuses(outcomes) == {"x": Status.REPLAN, "y": Status.REPLAN}


def test_a_folder_and_a_record_for_a_missing_local_file(rig: Rig) -> None:
    op = upload(rig, "vanishing", b"v")
    (rig.root / "vanishing").unlink()
    outcomes = rig.run(plan_of([op, MkdirRemote("m", Reason.LOCAL_NEW)]))
    assert statuses(outcomes) == {"vanishing": Status.REPLAN, "m": Status.DONE}
    assert rig.server.calls == [("batch.write", ("m",))]
    assert rig.store.base()["m"].kind is Kind.DIR


def test_an_upload_of_a_folder_is_never_batched(rig: Rig) -> None:
    from syncd.worker.phases import Batching

    batching = Batching()
    assert not batching.takes_write(Upload("d", Reason.LOCAL_NEW, local=LocalNode("d", Kind.DIR)))
    assert batching.takes_write(Upload("f", Reason.LOCAL_NEW, local=LocalNode("f", Kind.FILE, 1)))
    assert not batching.takes_write(
        Upload("f", Reason.LOCAL_NEW, local=LocalNode("f", Kind.FILE, MiB))
    )


def test_each_op_has_one_log_line_before_any_outcome_of_its_phase(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    def shaped(item):
        if item.path.endswith("0"):
            return WriteResult(item, WriteState.NOT_SENT, error=ItemError("cannot read"))
        return None

    rig.client.batch.answer = shaped
    ops = [upload(rig, f"d/{n:03}", b"%d" % n) for n in range(150)]
    rig.write("same.txt", b"same")
    rig.server.put("same.txt", b"same")
    node, remote = local_node(rig.root, "same.txt"), rig.server.node("same.txt")
    ops.append(RecordBase("same.txt", Reason.BOTH_EQUAL, local=node, remote=remote))
    with caplog.at_level("INFO", logger="syncd.worker"):
        rig.run(plan_of(ops), transfers=2)  # two batches and an inline op in one phase
    lines = [r.getMessage() for r in caplog.records if r.name == "syncd.worker"]
    traced = [line for line in lines if line.startswith("op=") and "status=" not in line]
    assert sorted(traced) == sorted(describe(op) for op in ops)
    warned = [i for i, line in enumerate(lines) if "status=" in line]
    assert len(warned) == 15
    assert max(lines.index(line) for line in traced) < min(warned)


def test_no_op_line_is_formatted_when_info_is_not_shown(
    rig: Rig, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    formatted: list[str] = []
    monkeypatch.setattr(queue_module.ops, "describe", lambda op: formatted.append(op.path))
    with caplog.at_level("WARNING", logger="syncd.worker"):
        rig.run(plan_of([upload(rig, f"q{n}", b"q") for n in range(3)]))
    assert formatted == []
