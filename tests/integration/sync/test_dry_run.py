"""End to end: ``--dry-run`` changes nothing, anywhere, and the real sync after it behaves
as if it had not happened (full and base-only server).

Each test takes a full snapshot (the folder with contents, inodes and times, the whole
state directory byte for byte, absence included, and the server's listing, contents and
revision) before and after the dry run, then runs the real sync and checks that it did
exactly what the dry run printed.
"""

from __future__ import annotations

import re

import pytest

from syncd.soak.harness import run_admin
from tests.support.clients import SyncClient, remote_tree, write
from tests.support.snapshot import disk_snapshot, server_snapshot

LEFTOVER = ".syncd-tmp-0123456789abcdef"  # a temp file of ours, as a crash leaves one
LOGGED_OP = re.compile(r" INFO syncd\.worker (op=\S+ path=.* reason=\S+)$")


def everything(client: SyncClient) -> tuple[object, ...]:
    return (
        disk_snapshot(client.folder),
        disk_snapshot(client.state_dir),
        server_snapshot(client.server, client.api_key, client.workspace),
    )


def dry_run(client: SyncClient) -> list[str]:
    """Run ``sync --dry-run``, check that nothing changed, return the ops it printed."""
    before = everything(client)
    proc = client.sync("--dry-run")
    after = everything(client)
    assert after[0] == before[0], "the dry run changed the folder"
    assert after[1] == before[1], "the dry run changed the state directory"
    assert after[2] == before[2], "the dry run changed the server"
    assert "nothing changed" in proc.stdout
    return sorted(line for line in proc.stdout.splitlines() if line.startswith("op="))


def real_sync(client: SyncClient) -> tuple[list[str], str]:
    """Run the real sync; return the ops it executed (from its log) and its stderr."""
    proc = client.sync()
    done = [m.group(1) for line in proc.stderr.splitlines() if (m := LOGGED_OP.search(line))]
    return sorted(done), proc.stderr


def test_first_sync_dry_run_writes_nothing(make_client, sync_server, account):
    a, b = make_client("a"), make_client("b")
    write(b.folder / "remote-only.txt", "from the server")
    write(b.folder / "same.txt", "equal on both sides")
    write(b.folder / "sub/deep.txt", "a remote folder")
    b.sync()
    write(a.folder / "local-only.txt", "from the disk")
    write(a.folder / "same.txt", "equal on both sides")
    write(a.folder / LEFTOVER, "half a download")
    assert not a.state_dir.exists()

    planned = dry_run(a)

    assert "op=Upload path=local-only.txt reason=MERGE_LOCAL_ONLY" in planned
    assert "op=RecordBase path=same.txt reason=BOTH_EQUAL" in planned
    assert any(p.startswith("op=Download path=remote-only.txt") for p in planned)
    assert not a.state_dir.exists()
    assert not (a.folder / ".syncd-root").exists()
    done, _ = real_sync(a)
    assert done == planned
    assert a.tree() == remote_tree(sync_server, *account)


def test_pending_changes_dry_run_writes_nothing(make_client, sync_server, account):
    a, b = make_client("a"), make_client("b")
    for name in ("edit-local", "delete-local", "edit-remote", "delete-remote", "same"):
        write(a.folder / f"{name}.txt", f"{name} v1")
    a.sync()
    b.sync()
    write(a.folder / "edit-local.txt", "edited on the disk, longer than before")
    write(a.folder / "new-local.txt", "new on the disk")
    (a.folder / "delete-local.txt").unlink()
    write(b.folder / "edit-remote.txt", "edited on the server, longer than before")
    write(b.folder / "new-remote.txt", "new on the server")
    (b.folder / "delete-remote.txt").unlink()
    b.sync()
    write(a.folder / LEFTOVER, "half a download")

    planned = dry_run(a)

    assert len(planned) >= 6, planned
    assert "op=Upload path=new-local.txt reason=LOCAL_NEW" in planned
    assert any(p.startswith("op=Download path=edit-remote.txt") for p in planned)
    assert any(p.startswith("op=TrashLocal path=delete-remote.txt") for p in planned)
    assert any(p.startswith("op=DeleteRemote path=delete-local.txt") for p in planned)
    assert dry_run(a) == planned  # a second dry run sees the very same facts
    done, _ = real_sync(a)
    assert done == planned
    b.sync()
    assert a.tree() == b.tree() == remote_tree(sync_server, *account)


def test_dry_run_after_a_restore_keeps_the_reset_for_the_real_sync(
    make_client, sync_server, account, mode, tmp_path
):
    if mode == "base-only":
        pytest.skip("revision_obsoleted is an E2 behaviour")
    a = make_client("a")
    write(a.folder / "early.txt", "in the backup")
    a.sync()
    backup = tmp_path / "ws.backup"
    run_admin(sync_server.data_dir, "backup", a.workspace, str(backup))
    write(a.folder / "late.txt", "after the backup")
    a.sync()
    run_admin(sync_server.data_dir, "restore", str(backup))

    planned = dry_run(a)

    assert "op=Upload path=late.txt reason=MERGE_LOCAL_ONLY" in planned
    assert not [p for p in planned if p.startswith(("op=TrashLocal", "op=DeleteRemote"))]
    done, stderr = real_sync(a)
    assert "reset" in stderr  # the real sync still meets the 410 and merges
    assert done == planned
    assert set(remote_tree(sync_server, *account)) == {"early.txt", "late.txt"}
    assert (a.folder / "late.txt").exists()
