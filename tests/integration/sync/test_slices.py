"""A full sync plans and runs in slices: it converges, resumes after a kill between slices,
pairs far moves, and judges mass deletes over the whole sync (issue 14, small scale).

``slice_paths`` is set low so a tree of a few hundred paths takes many slices; the real
server (full, with the change feed that slicing needs) and real folders."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

from syncd.soak.faults import Fault
from syncd.soak.harness import client_argv, wait_until
from syncd.soak.proxy import FaultProxy
from tests.integration.sync.test_dry_run import LOGGED_OP, everything
from tests.support.clients import (
    SyncClient,
    remote_tree,
    server_files,
    settled_files,
    sync_settled,
    write,
)

SLICE = re.compile(r"event=slice index=(\d+) paths=(\d+)")
UPLOAD = re.compile(r"op=Upload path=(\S+)")


@pytest.fixture
def mode() -> str:
    return "full"  # slices need the mirror of the change feed


@pytest.fixture(autouse=True)
def small_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCD_SLICE_PATHS", "20")


def fill(folder: Path, count: int, folders: int = 12) -> set[str]:
    paths = {f"d{i % folders:02d}/sub{i % 3}/f{i:04d}.txt" for i in range(count)}
    for rel in paths:
        write(folder / rel, f"file {rel}\n")
    return paths


def slices(stderr: str) -> list[int]:
    return [int(paths) for _, paths in SLICE.findall(stderr)]


def test_a_sync_in_slices_converges_and_a_no_op_plans_nothing(make_client, sync_server, account):
    a, b = make_client("a"), make_client("b")
    paths = fill(a.folder, 300)
    first = a.sync()
    sizes = slices(first.stderr)
    assert len(sizes) >= 10, first.stderr[-2000:]  # 300 files and 48 folders, 20 at a time
    assert max(sizes) <= 40  # about slice_paths each (a folder's entries stay whole)
    assert set(UPLOAD.findall(first.stderr)) == paths
    down = b.sync()
    assert len(slices(down.stderr)) >= 10
    assert b.tree() == a.tree()
    assert set(remote_tree(sync_server, *account)) == paths
    quiet = sync_settled(a)
    assert "event=slices_planned changed=0" in quiet.stderr
    assert "op=" not in quiet.stderr and not slices(quiet.stderr)


def synced_pair(make_client) -> tuple[SyncClient, SyncClient]:
    """Two clients holding the same 200 files, the first settled."""
    a, b = make_client("a"), make_client("b")
    fill(a.folder, 200)
    a.sync()
    b.sync()
    sync_settled(a)
    return a, b


def test_a_change_far_down_the_tree_is_all_a_no_op_plans(make_client, sync_server, account):
    a, b = synced_pair(make_client)
    write(a.folder / "d05/sub2/f0005.txt", "edited\n")
    proc = a.sync()
    assert "event=slices_planned changed=1 " in proc.stderr
    assert UPLOAD.findall(proc.stderr) == ["d05/sub2/f0005.txt"]
    b.sync()
    assert (b.folder / "d05/sub2/f0005.txt").read_text() == "edited\n"


def test_a_folder_moved_far_in_path_order_is_one_move(make_client, sync_server, account):
    """The move's two ends lie in different slices; SQL pairs them by inode."""
    a, b = synced_pair(make_client)
    (a.folder / "d00").rename(a.folder / "zz-moved")
    proc = a.sync()
    assert "op=MoveRemote path=d00 dest=zz-moved" in proc.stderr, proc.stderr[-3000:]
    assert "op=Upload" not in proc.stderr and "op=DeleteRemote" not in proc.stderr
    b.sync()
    assert b.tree() == a.tree()


def settled_with_250_deleted(make_client) -> tuple[SyncClient, set[str]]:
    """A client that synced 300 files (returned) and then deleted 250 of them."""
    a = make_client("a")
    paths = fill(a.folder, 300)
    a.sync()
    sync_settled(a)
    for rel in sorted(paths)[:250]:
        (a.folder / rel).unlink()
    return a, paths


def test_mass_deletes_are_judged_over_the_whole_sync(make_client, sync_server, account):
    """Each slice deletes fewer than the limit; together they are refused before any runs."""
    a, paths = settled_with_250_deleted(make_client)
    proc = a.sync("--max-delete", "50", expect=5)
    assert "would delete 250 of 300 files on the server" in proc.stderr
    assert "op=DeleteRemote" not in proc.stderr
    assert set(remote_tree(sync_server, *account)) == paths  # nothing was deleted
    allowed = a.sync("--max-delete", "50", "--allow-mass-delete")
    assert len(slices(allowed.stderr)) >= 2
    assert len(remote_tree(sync_server, *account)) == 50


def test_a_first_sync_killed_between_slices_resumes_with_the_rest(
    tmp_path: Path, make_client, sync_server, account, request: pytest.FixtureRequest
):
    """kill -9 after some slices ran: the restart uploads only what no slice recorded,
    and what went up is not sent again. Each batch is held back by the fault proxy so
    the sync can be caught between slices."""
    key, workspace = account
    a: SyncClient = make_client("a")
    paths = fill(a.folder, 400)
    proxy = FaultProxy(sync_server.url, seed=14).start()
    request.addfinalizer(proxy.stop)
    proxy.add(Fault("stall", method="POST", path=r"/batch$", times=None, delay=0.2))
    env = {**os.environ, "SYNCD_API_KEY": key, "PYTHONUNBUFFERED": "1"}
    log_path = tmp_path / "first.log"
    argv = client_argv("sync", proxy.url, workspace, a.folder, a.state_dir)
    with open(log_path, "w") as log_file:  # a file, not a pipe: the log never blocks
        first = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=log_file)
        try:
            caught = wait_until(
                lambda: len(slices(log_path.read_text())) >= 3, timeout=120, interval=0.01
            )
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(30)
    first_log = log_path.read_text()
    assert caught, first_log[-3000:]
    assert first.returncode == -signal.SIGKILL
    at_kill = settled_files(sync_server, key, workspace)
    assert 0 < len(at_kill) < len(paths)
    proxy.clear()
    again = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    uploaded = set(UPLOAD.findall(again.stderr))
    assert not uploaded & set(at_kill)  # nothing the server held went up again
    assert uploaded | set(at_kill) == paths
    after = server_files(sync_server, key, workspace)
    assert set(after) == paths
    assert {p: after[p] for p in at_kill} == at_kill


CONFLICT_TIME = re.compile(r"\d{4}-\d\d-\d\d \d{6}")


def dry_run_in_slices(client: SyncClient, *args: str, expect: int = 0) -> tuple[list[str], str]:
    """``sync --dry-run``: the ops it printed (conflict times cut out) and its stderr,
    after checking that it went in several slices and changed nothing."""
    before = everything(client)
    proc = client.sync("--dry-run", *args, expect=expect)
    assert everything(client) == before, "the dry run changed something"
    assert len(slices(proc.stderr)) >= 2, proc.stderr[-3000:]
    assert "nothing changed" in proc.stdout
    printed = [line for line in proc.stdout.splitlines() if line.startswith("op=")]
    assert f"dry run: {len(printed)} operations planned" in proc.stdout
    return sorted(CONFLICT_TIME.sub("T", line) for line in printed), proc.stderr


def test_a_dry_run_in_slices_prints_what_the_real_run_then_does(make_client, sync_server, account):
    """Planned slice by slice on the facts before the sync, the dry run's plan is the
    real run's, whose slices each ran after the ones before: a far move, deletes on both
    sides, new files on both sides and a conflict, over many slices."""
    a, b = synced_pair(make_client)
    (a.folder / "d00").rename(a.folder / "zz-moved")  # far in path order: one move
    for i in (7, 19, 31):
        (a.folder / f"d07/sub{i % 3}/f{i:04d}.txt").unlink()
    for i in (10, 22):
        (b.folder / f"d10/sub{i % 3}/f{i:04d}.txt").unlink()
    write(a.folder / "d03/sub0/f0003.txt", "edited on the disk\n")
    write(b.folder / "d03/sub0/f0003.txt", "edited on the server, differently\n")
    for i in range(30):
        write(a.folder / f"d{i % 11 + 1:02d}/new-local-{i}.txt", f"local {i}\n")
        write(b.folder / f"d11/new-remote-{i}.txt", f"remote {i}\n")
    b.sync()

    planned, _ = dry_run_in_slices(a)
    assert "op=MoveRemote path=d00 dest=zz-moved reason=LOCAL_MOVED" in planned
    kinds = {line.split()[0] for line in planned}
    assert {"op=MoveRemote", "op=DeleteRemote", "op=TrashLocal", "op=KeepBoth"} <= kinds
    assert {"op=Upload", "op=Download"} <= kinds
    proc = a.sync()
    logged = (LOGGED_OP.search(line) for line in proc.stderr.splitlines())
    done = sorted(CONFLICT_TIME.sub("T", m.group(1)) for m in logged if m)
    assert done == planned
    b.sync()
    assert a.tree() == b.tree() == remote_tree(sync_server, *account)


def test_a_dry_run_in_slices_is_refused_as_the_real_run_is(make_client, sync_server, account):
    """Each slice deletes fewer than the limit; the dry run judges them together, prints
    the same refusal as the real run and exits 5; with consent it plans them all."""
    a, paths = settled_with_250_deleted(make_client)
    planned, stderr = dry_run_in_slices(a, "--max-delete", "50", expect=5)
    refused = [line for line in stderr.splitlines() if "would delete 250 of 300" in line]
    assert refused, stderr[-3000:]
    real = a.sync("--max-delete", "50", expect=5)
    assert refused[0].removeprefix("refused: ") in real.stderr
    assert set(remote_tree(sync_server, *account)) == paths
    consented, _ = dry_run_in_slices(a, "--max-delete", "50", "--allow-mass-delete")
    assert consented == planned
    deleted = {line.split()[1].removeprefix("path=") for line in planned}
    assert all(line.startswith("op=DeleteRemote") for line in planned)
    assert {p for p in paths if any(p == d or p.startswith(d + "/") for d in deleted)} == set(
        sorted(paths)[:250]
    )


def marked(client: SyncClient) -> int:
    """Paths the client's state still has marked for comparison (``changed_paths``)."""
    import sqlite3

    (db,) = client.state_dir.rglob("*.sqlite3")
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM changed_paths").fetchone()[0]


def test_a_first_sync_leaves_no_settled_path_marked_for_the_next_one(
    make_client, sync_server, account
):
    a, b = make_client("a"), make_client("b")
    fill(a.folder, 300)
    a.sync()
    assert marked(a) < 30  # its 300 files and 48 folders agree now; only a few may not
    b.sync()
    assert b.tree() == a.tree()
    assert marked(b) < 30  # what it downloaded is in its walk as the base records it
    sync_settled(a)
    sync_settled(b)
    assert marked(a) == 0
    assert marked(b) == 0


def test_a_download_changed_or_deleted_before_the_next_walk_is_still_synced(
    make_client, sync_server, account
):
    """The walk takes a download as the base records it; the next walk still sees a
    change or a delete of it, and a second client's edit of it arrives."""
    a, b = make_client("a"), make_client("b")
    paths = sorted(fill(a.folder, 120))
    a.sync()
    b.sync()
    assert b.tree() == a.tree()
    edited, gone, remote_edit = paths[3], paths[60], paths[100]
    write(b.folder / edited, "edited on b, a longer body than before\n")
    (b.folder / gone).unlink()
    write(a.folder / remote_edit, "edited on a\n")
    a.sync()
    b.sync()
    a.sync()
    server = remote_tree(sync_server, *account)
    assert gone not in server
    assert (a.folder / edited).read_text() == "edited on b, a longer body than before\n"
    assert not (a.folder / gone).exists()
    assert (b.folder / remote_edit).read_text() == "edited on a\n"
    assert b.tree() == a.tree()
