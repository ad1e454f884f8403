"""End to end: the safety rules of the engine, each one a test (full and base-only server)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from syncd.config import Settings
from syncd.errors import MassDelete, RootVanished
from syncd.session import open_session
from syncd.soak.harness import run_admin
from tests.support.clients import remote_tree, write


def test_vanished_root_is_refused(make_client, sync_server, account):
    a = make_client("a")
    write(a.folder / "precious.txt", "do not delete me")
    a.sync()
    shutil.rmtree(a.folder)
    proc = a.run()
    assert proc.returncode == 5, proc.stderr
    assert "missing" in proc.stderr
    a.folder.mkdir()  # an empty folder where the synced one was: marker gone
    proc = a.run()
    assert proc.returncode == 5, proc.stderr
    assert remote_tree(sync_server, *account) != {}


def test_mass_delete_needs_consent(make_client, sync_server, account):
    a = make_client("a")
    for i in range(30):
        write(a.folder / f"f{i:02}.txt", f"file {i}")
    a.sync()
    for i in range(25):
        (a.folder / f"f{i:02}.txt").unlink()
    proc = a.run()
    assert proc.returncode == 5, proc.stderr
    assert "delete" in proc.stderr
    assert len(remote_tree(sync_server, *account)) == 30  # nothing was changed
    a.sync("--allow-mass-delete")
    assert len(remote_tree(sync_server, *account)) == 5


def _settings(client, **extra) -> Settings:
    return Settings(
        server=client.server.url,
        workspace=client.workspace,
        dir=client.folder,
        api_key=client.api_key,
        state_dir=client.state_dir,
        **extra,
    )


def test_each_guard_refuses_with_its_own_class(make_client, sync_server, account):
    """The daemon and the CLI tell a mass delete from a vanished folder by the class."""
    a = make_client("a")
    for i in range(30):
        write(a.folder / f"f{i:02}.txt", f"file {i}")
    a.sync()
    for i in range(25):
        (a.folder / f"f{i:02}.txt").unlink()
    with open_session(_settings(a)) as session, pytest.raises(MassDelete) as mass:
        session.engine.sync()
    assert "delete 25 of 30 files on the server" in str(mass.value)
    for i in range(25, 30):  # the folder empty but its marker kept: the guard's verdict
        (a.folder / f"f{i:02}.txt").unlink()
    with open_session(_settings(a)) as session, pytest.raises(RootVanished) as gone:
        session.engine.sync()
    assert "the local folder is empty but held 30 files" in str(gone.value)
    with open_session(_settings(a, dry_run=True)) as session:
        report = session.engine.sync(dry_run=True)
    assert [r.kind for r in report.refusals] == ["root_vanished", "mass_delete"]
    assert len(remote_tree(sync_server, *account)) == 30  # nothing was changed


def test_dry_run_changes_nothing(make_client, sync_server, account):
    a = make_client("a")
    write(a.folder / "new.txt", "new")
    proc = a.sync("--dry-run")
    assert "op=Upload path=new.txt" in proc.stdout
    assert remote_tree(sync_server, *account) == {}


def test_symlinks_and_unsyncable_items_are_reported(make_client, sync_server, account):
    a = make_client("a")
    write(a.folder / "ok.txt", "fine")
    os.symlink("/etc/passwd", a.folder / "link")
    # a name that is not UTF-8 cannot be a workspace path
    with open(os.path.join(os.fsencode(a.folder), b"bad\xff.txt"), "wb") as fh:
        fh.write(b"x")
    proc = a.sync(expect=1)  # for the bad name: the link alone is skipped, not a failure
    assert "event=skipped path=link " in proc.stderr
    assert "could not sync link" not in proc.stderr
    assert "bad" in proc.stderr
    assert remote_tree(sync_server, *account).keys() == {"ok.txt"}


def test_kill_during_sync_then_converges(make_client, sync_server, account):
    a = make_client("a")
    big = os.urandom(24 * 1024 * 1024)
    write(a.folder / "big.bin", big)
    for i in range(50):
        write(a.folder / f"small/{i}.txt", f"s{i}")
    env = {**os.environ, "SYNCD_API_KEY": a.api_key}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "syncd",
            "sync",
            "--server",
            a.server.url,
            "--workspace",
            a.workspace,
            "--dir",
            str(a.folder),
            "--state-dir",
            str(a.state_dir),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        if len(remote_tree(sync_server, *account)) >= 5:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    a.sync()
    b = make_client("b")
    b.sync()
    assert b.tree() == a.tree()
    assert not [p for p in a.folder.rglob(".syncd-tmp-*")]
    assert (b.folder / "big.bin").read_bytes() == big


def test_reset_after_restore_merges(make_client, sync_server, account, mode, tmp_path):
    if mode == "base-only":
        pytest.skip("revision_obsoleted is an E2 behaviour")
    key, workspace = account
    a = make_client("a")
    write(a.folder / "early.txt", "in the backup")
    a.sync()
    backup = tmp_path / "ws.backup"
    run_admin(sync_server.data_dir, "backup", workspace, str(backup))
    write(a.folder / "late.txt", "after the backup")
    a.sync()
    run_admin(sync_server.data_dir, "restore", str(backup))
    # the server lost late.txt; the client must not delete it locally, but upload it again
    proc = a.sync()
    assert "reset" in proc.stderr
    assert (a.folder / "late.txt").exists()
    assert set(remote_tree(sync_server, key, workspace)) == {"early.txt", "late.txt"}
