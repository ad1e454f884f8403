"""The walk table kept between full syncs never hides a change, end to end: after a kill
between the walk and the end of the sync, a folder that vanished, a scoped daemon pass
that wrote the base behind the walk's back, and a state database of schema version 1.

The real server (full: slices need the change feed), real folders, real state files."""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
from pathlib import Path

import pytest

from syncd.config import Settings
from syncd.daemon.steps import run_full, run_scoped
from syncd.session import open_session
from syncd.soak.faults import Fault
from syncd.soak.harness import client_argv, wait_until
from syncd.soak.proxy import FaultProxy
from syncd.state.schema import SCHEMA_VERSION
from tests.support.clients import SyncClient, remote_tree, sync_settled, write
from tests.support.schema_v1 import downgrade_to_v1

PLANNED = re.compile(r"event=slices_planned changed=(\d+)")


@pytest.fixture
def mode() -> str:
    return "full"


def synced_pair(make_client) -> tuple[SyncClient, SyncClient]:
    a, b = make_client("a"), make_client("b")
    for i in range(30):
        write(a.folder / f"d{i % 3}/sub/f{i:02d}.txt", f"file {i}\n")
    write(a.folder / "top.txt", "top\n")
    a.sync()
    b.sync()
    sync_settled(a)
    return a, b


def state_db(client: SyncClient) -> Path:
    (db,) = client.state_dir.glob("*.sqlite3")
    return db


def test_a_change_walked_by_a_killed_sync_is_synced_by_the_next(
    tmp_path: Path, make_client, sync_server, account, request: pytest.FixtureRequest
):
    """The killed sync's walk already stored the new facts of the edited and the deleted
    file: the next walk finds nothing new there, yet both are still synced. Every sync of
    ``a`` goes through the fault proxy (its state is keyed by the server's URL)."""
    key, workspace = account
    proxy = FaultProxy(sync_server.url, seed=14).start()
    request.addfinalizer(proxy.stop)
    a, b = make_client("a"), make_client("b")
    env = {**os.environ, "SYNCD_API_KEY": key, "PYTHONUNBUFFERED": "1"}
    argv = client_argv("sync", proxy.url, workspace, a.folder, a.state_dir)

    def sync_a() -> str:
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return proc.stderr

    for i in range(30):
        write(a.folder / f"d{i % 3}/sub/f{i:02d}.txt", f"file {i}\n")
    sync_a()
    sync_a()
    assert PLANNED.search(sync_a()).group(1) == "0"
    b.sync()
    write(a.folder / "d1/sub/f01.txt", "edited before the kill\n")
    (a.folder / "d2/sub/f02.txt").unlink()
    proxy.add(Fault("stall", method="POST", path=r"/batch$", times=None, delay=30))
    proxy.add(Fault("stall", method="DELETE", path=r".*", times=None, delay=30))
    log_path = tmp_path / "killed.log"
    with open(log_path, "w") as log_file:
        killed = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=log_file)
        try:
            caught = wait_until(
                lambda: "event=slices_planned" in log_path.read_text(), timeout=60, interval=0.01
            )
        finally:
            killed.send_signal(signal.SIGKILL)
            killed.wait(30)
    assert caught, log_path.read_text()[-3000:]
    assert PLANNED.search(log_path.read_text()).group(1) == "2"
    proxy.clear()
    again = sync_a()
    assert PLANNED.search(again).group(1) == "2", again[-3000:]
    b.sync()
    assert (b.folder / "d1/sub/f01.txt").read_text() == "edited before the kill\n"
    assert not (b.folder / "d2/sub/f02.txt").exists()
    assert b.tree() == a.tree()


def test_a_vanished_folder_and_a_folder_turned_file_are_followed(make_client, sync_server):
    a, b = synced_pair(make_client)
    shutil.rmtree(a.folder / "d0")
    shutil.rmtree(a.folder / "d1/sub")
    write(a.folder / "d1/sub", "a file where a folder was\n")
    a.sync()
    quiet = sync_settled(a)
    assert PLANNED.search(quiet.stderr).group(1) == "0"
    remote = remote_tree(sync_server, a.api_key, a.workspace)
    assert not [p for p in remote if p.startswith("d0/") or p.startswith("d1/sub/")]
    b.sync()
    assert b.tree() == a.tree()
    shutil.rmtree(b.folder / "d2")  # and from the other side: a's walk table is stale now
    b.sync()
    a.sync()
    assert not (a.folder / "d2").exists()
    assert a.tree() == b.tree()


def test_a_scoped_pass_behind_the_walk_never_hides_a_change(
    tmp_path: Path, make_client, sync_server, account
):
    """A scoped daemon pass changes the disk and the base but not the walk table; the
    following full passes still see every later change on both sides."""
    a, b = synced_pair(make_client)
    key, workspace = account
    settings = Settings(
        server=sync_server.url,
        workspace=workspace,
        dir=a.folder,
        api_key=key,
        state_dir=a.state_dir,
    )
    with open_session(settings) as session:
        run_full(session, set())
        write(a.folder / "d0/sub/f00.txt", "changed, synced by a scoped pass\n")
        write(a.folder / "scoped.txt", "new, synced by a scoped pass\n")
        run_scoped(session, {"d0/sub/f00.txt", "scoped.txt"})
        assert "scoped.txt" in remote_tree(sync_server, key, workspace)
        b.sync()
        write(b.folder / "d0/sub/f00.txt", "then changed on the other device\n")
        (b.folder / "scoped.txt").unlink()
        b.sync()
        run_full(session, set())
    assert (a.folder / "d0/sub/f00.txt").read_text() == "then changed on the other device\n"
    assert not (a.folder / "scoped.txt").exists()
    assert a.tree() == b.tree()


def test_a_state_of_schema_version_1_is_migrated_and_converges(make_client, sync_server):
    a, b = synced_pair(make_client)
    db = state_db(a)
    with sqlite3.connect(db) as conn:  # as syncd with schema 1 left it
        downgrade_to_v1(conn)
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    conn.close()
    (a.folder / "top.txt").unlink()  # gone here, and changed there
    write(b.folder / "d2/sub/f02.txt", "changed on the other device\n")
    b.sync()
    a.sync()
    with sqlite3.connect(db) as conn:
        version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    conn.close()
    assert version == (str(SCHEMA_VERSION),)
    assert (a.folder / "d2/sub/f02.txt").read_text() == "changed on the other device\n"
    assert "top.txt" not in remote_tree(sync_server, a.api_key, a.workspace)
    quiet = sync_settled(a)
    assert PLANNED.search(quiet.stderr).group(1) == "0"
    b.sync()
    assert a.tree() == b.tree()
