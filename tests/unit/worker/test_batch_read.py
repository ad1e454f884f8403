"""Small downloads in E6 batches: checked, installed like single ones, durable per batch."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from syncd.errors import ProtocolViolation
from syncd.local import durable as durable_module
from syncd.local import write as write_module
from syncd.local.ignore import is_our_temp_file
from syncd.planner.ops import Download, Plan, Reason
from syncd.transport.batch_read import ReadItem
from syncd.worker.outcome import Status
from syncd.worker.phases import GROUP_ITEMS
from tests.unit.worker.conftest import Rig
from tests.unit.worker.fakes import CutShort, digest, local_node
from tests.unit.worker.test_queue import plan_of

MiB = 1 << 20


def download(rig: Rig, rel: str, data: bytes, *, local: bool = False) -> Download:
    rig.server.put(rel, data)
    node = local_node(rig.root, rel) if local else None
    return Download(rel, Reason.REMOTE_NEW, remote=rig.server.node(rel), local=node)


def files_of(root: Path) -> dict[str, bytes]:
    found = {}
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            path = Path(dirpath, name)
            found[path.relative_to(root).as_posix()] = path.read_bytes()
    return found


@pytest.fixture
def durability(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every fsync, of a file or a folder, in order; syncfs is not offered (fsync path)."""
    monkeypatch.setattr(durable_module, "_libc_syncfs", lambda: None)
    events: list[tuple[str, str]] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        st = os.fstat(fd)
        events.append(("file" if stat.S_ISREG(st.st_mode) else "dir", str(st.st_ino)))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return events


def test_small_downloads_come_in_one_read_and_are_durable_per_batch(
    rig: Rig, durability: list[tuple[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    for folder in ("a", "b"):
        (rig.root / folder).mkdir()
    ops = [download(rig, f"{'ab'[n % 2]}/f{n}", b"%d" % n) for n in range(20)]
    real_put = rig.store.put_base

    def put_base(nodes):
        nodes = list(nodes)
        for node in nodes:  # the file's bytes and its folder's entry were durable before
            inode = str((rig.root / node.path).stat().st_ino)
            folder = str((rig.root / node.path).parent.stat().st_ino)
            assert ("file", inode) in durability and ("dir", folder) in durability
        return real_put(nodes)

    rig.store.put_base = put_base  # type: ignore[method-assign]
    outcomes = rig.run(plan_of(ops), transfers=1)
    assert {o.status for o in outcomes} == {Status.DONE}
    assert [name for name, _ in rig.server.calls] == ["batch.read"]
    assert files_of(rig.root) == {op.path: rig.server.files[op.path][0] for op in ops}
    files = [e for e in durability if e[0] == "file"]
    folders = [e for e in durability if e[0] == "dir"]
    assert len(files) == 20  # one per file
    assert sorted(folders) == sorted(  # one per distinct folder, not one per file
        ("dir", str((rig.root / name).stat().st_ino)) for name in ("a", "b")
    )
    base = rig.store.base()
    entry = rig.server.entry("a/f0")
    assert (base["a/f0"].hash, base["a/f0"].remote_revision) == (entry.hash, entry.revision)
    assert base["a/f0"].local_inode == (rig.root / "a/f0").stat().st_ino


def test_an_overwrite_keeps_the_old_version_in_the_trash(rig: Rig) -> None:
    rig.write("doc.txt", b"old local version")
    op = download(rig, "doc.txt", b"new remote version", local=True)
    outcomes = rig.run(plan_of([op, download(rig, "other", b"o")]))
    assert {o.status for o in outcomes} == {Status.DONE}
    assert (rig.root / "doc.txt").read_bytes() == b"new remote version"
    assert [e.path.read_bytes() for e in rig.trash.list()] == [b"old local version"]


def test_a_file_edited_since_the_plan_is_never_overwritten(rig: Rig) -> None:
    rig.write("doc.txt", b"as the plan saw it")
    op = download(rig, "doc.txt", b"remote", local=True)
    rig.write("doc.txt", b"edited by the user after the plan")
    outcomes = rig.run(plan_of([op, download(rig, "other", b"o")]))
    assert {o.path: o.status for o in outcomes} == {"doc.txt": Status.FAILED, "other": Status.DONE}
    assert (rig.root / "doc.txt").read_bytes() == b"edited by the user after the plan"
    assert not [n for n in os.listdir(rig.root) if is_our_temp_file(n)]
    assert "doc.txt" not in rig.store.base()


def test_another_version_on_the_server_is_replanned_not_installed(rig: Rig) -> None:
    op = download(rig, "moving.txt", b"as listed")
    rig.server.put("moving.txt", b"changed since the listing")
    gone = download(rig, "gone.txt", b"g")
    del rig.server.files["gone.txt"]
    outcomes = rig.run(plan_of([op, gone, download(rig, "ok", b"ok")]))
    assert {o.path: o.status for o in outcomes} == {
        "moving.txt": Status.REPLAN,
        "gone.txt": Status.REPLAN,
        "ok": Status.DONE,
    }
    assert files_of(rig.root) == {"ok": b"ok"}


def test_an_item_cut_short_comes_again_and_is_installed_once(rig: Rig) -> None:
    ops = [download(rig, "first", b"first"), download(rig, "second", b"second")]

    def script(paths: list[str]):
        first = ReadItem("first", rig.server.entry("first"), None)
        first.data = b"first"
        yield first
        yield CutShort("second", rig.server.entry("second"), None)
        again = ReadItem("second", rig.server.entry("second"), None)
        again.data = b"second"
        yield again

    rig.client.batch.read_script = script
    outcomes = rig.run(plan_of(ops))
    assert {o.status for o in outcomes} == {Status.DONE}
    assert files_of(rig.root) == {"first": b"first", "second": b"second"}


def test_a_bad_item_fails_alone_and_leaves_no_temp_file(rig: Rig) -> None:
    ops = [download(rig, "bad", b"bad"), download(rig, "good", b"good")]

    def script(paths: list[str]):
        yield ReadItem("bad", None, ProtocolViolation("batch read bad: got other bytes"))
        good = ReadItem("good", rig.server.entry("good"), None)
        good.data = b"good"
        yield good

    rig.client.batch.read_script = script
    outcomes = rig.run(plan_of(ops))
    assert {o.path: o.status for o in outcomes} == {"bad": Status.FAILED, "good": Status.DONE}
    assert files_of(rig.root) == {"good": b"good"}


def test_a_read_broken_for_good_leaves_nothing_behind(rig: Rig) -> None:
    from syncd.errors import ServerUnreachable

    ops = [download(rig, "a", b"a"), download(rig, "b", b"b")]

    def script(paths: list[str]):
        item = ReadItem("a", rig.server.entry("a"), None)
        item.data = b"a"
        yield item
        raise ServerUnreachable("batch read: gave up")

    rig.client.batch.read_script = script
    with pytest.raises(ServerUnreachable):
        rig.run(plan_of(ops))
    assert files_of(rig.root) == {}  # neither installed nor left as a temp file
    assert rig.store.base() == {}


def test_large_and_unhashed_downloads_go_one_by_one(rig: Rig) -> None:
    big = download(rig, "big", b"B" * MiB)
    outcomes = rig.run(Plan(ops=(big,), phase_ends=(1,)))
    assert outcomes[0].status is Status.DONE
    assert rig.server.calls == [("files.download", ("big",))]
    assert digest((rig.root / "big").read_bytes()) == big.remote.hash


def test_a_download_group_installs_through_write_install(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []
    real = write_module.install

    def spy(temp, target, **kwargs):
        seen.append(kwargs["rel_path"])
        assert kwargs["folders"] is not None  # the folder fsync is left to the batch
        return real(temp, target, **kwargs)

    monkeypatch.setattr(write_module, "install", spy)
    rig.run(plan_of([download(rig, "x", b"x"), download(rig, "y", b"y")]))
    assert sorted(seen) == ["x", "y"]


def test_with_syncfs_a_batch_is_durable_in_two_calls_before_any_base_row(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    for folder in ("a", "b"):
        (rig.root / folder).mkdir()
    ops = [download(rig, f"{'ab'[n % 2]}/f{n}", b"%d" % n) for n in range(20)]
    targets = [rig.root / op.path for op in ops]
    events: list[str] = []
    real_fsync, real_syncfs = os.fsync, durable_module._libc_syncfs()
    if real_syncfs is None or durable_module.fs_type(rig.root) not in (
        durable_module.SYNCFS_FILE_SYSTEMS
    ):
        pytest.skip("no syncfs for this folder's file system")

    def syncfs(fd: int) -> int:
        installed = sum(target.exists() for target in targets)
        events.append(f"syncfs with {installed} installed")
        return real_syncfs(fd)  # type: ignore[operator]

    def fsync(fd: int) -> None:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            events.append("file fsync")
        real_fsync(fd)

    monkeypatch.setattr(durable_module, "_libc_syncfs", lambda: syncfs)
    monkeypatch.setattr(durable_module, "dirty_bytes", lambda: 0)
    monkeypatch.setattr(os, "fsync", fsync)
    real_put = rig.store.put_base

    def put_base(nodes):
        events.append("base")
        return real_put(nodes)

    rig.store.put_base = put_base  # type: ignore[method-assign]
    outcomes = rig.run(plan_of(ops), transfers=1)
    assert {o.status for o in outcomes} == {Status.DONE}
    # the bytes before any rename, the renames before the base; no fsync per file
    assert events == ["syncfs with 0 installed", "syncfs with 20 installed", "base"]
    assert files_of(rig.root) == {op.path: rig.server.files[op.path][0] for op in ops}


def test_much_dirty_data_on_the_machine_keeps_one_fsync_per_file(
    rig: Rig, durability: list[tuple[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    monkeypatch.setattr(durable_module, "_libc_syncfs", lambda: calls.append)
    monkeypatch.setattr(durable_module, "dirty_bytes", lambda: durable_module.syncfs_budget(3) + 1)
    monkeypatch.setattr(durable_module, "fs_type", lambda path: "ext4")
    ops = [download(rig, f"f{n}", b"%d" % n) for n in range(3)]
    outcomes = rig.run(plan_of(ops), transfers=1)
    assert {o.status for o in outcomes} == {Status.DONE}
    assert calls == []
    assert len([e for e in durability if e[0] == "file"]) == 3


def test_a_failing_syncfs_falls_back_to_fsync_of_every_file(
    rig: Rig, durability: list[tuple[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    failed: list[int] = []

    def syncfs(fd: int) -> int:
        failed.append(fd)
        return -1  # an I/O error since the folder was opened

    monkeypatch.setattr(durable_module, "_libc_syncfs", lambda: syncfs)
    monkeypatch.setattr(durable_module, "dirty_bytes", lambda: 0)
    monkeypatch.setattr(durable_module, "fs_type", lambda path: "ext4")
    ops = [download(rig, f"f{n}", b"%d" % n) for n in range(3)]
    outcomes = rig.run(plan_of(ops), transfers=1)
    assert {o.status for o in outcomes} == {Status.DONE}
    assert len(failed) == 1  # then the fsync path for the rest of the batch
    assert len([e for e in durability if e[0] == "file"]) == 3
    assert len([e for e in durability if e[0] == "dir"]) == 1


def test_a_backlog_is_paid_once_by_the_first_batch_of_a_run(
    rig: Rig, durability: list[tuple[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dirty data beyond one batch's budget, within the run's: the first batch's syncfs
    writes it out for every batch after it; the others, still seeing it, fsync each file
    rather than pay for it again."""
    files = 600
    syncfs_calls: list[int] = []
    monkeypatch.setattr(
        durable_module, "_libc_syncfs", lambda: lambda fd: syncfs_calls.append(fd) or 0
    )
    dirty = durable_module.syncfs_budget(files) - 1
    assert dirty > durable_module.syncfs_budget(GROUP_ITEMS)  # over any one batch's
    monkeypatch.setattr(durable_module, "dirty_bytes", lambda: dirty)
    monkeypatch.setattr(durable_module, "fs_type", lambda path: "ext4")
    ops = [download(rig, f"f{n:03d}", b"%d" % n) for n in range(files)]
    outcomes = rig.run(plan_of(ops), transfers=2)
    assert {o.status for o in outcomes} == {Status.DONE}
    assert len(syncfs_calls) == 2  # one batch: its files, then its renames
    fsynced = len([e for e in durability if e[0] == "file"])
    assert 0 < fsynced < files  # the other batches, file by file


def test_a_backlog_tells_its_run_once() -> None:
    backlog = durable_module.Backlog(600)
    assert backlog.files_for(200) == 600
    assert backlog.files_for(200) == 200
    assert durable_module.Backlog(0).files_for(5) == 5
