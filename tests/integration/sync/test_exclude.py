"""End to end: selective sync per device with ``syncd exclude``, on the full and the
base-only server. Excluding never deletes on the server; including again downloads."""

from __future__ import annotations

import json

from tests.support.clients import SyncClient, remote_tree, write


def excluded(client: SyncClient, *args: str) -> str:
    proc = client.run(*args, command="exclude")
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_exclude_trashes_the_local_copy_keeps_the_server_and_include_brings_it_back(
    make_client,
):
    a, b = make_client("a"), make_client("b")
    write(a.folder / "big/one.bin", "1" * 100)
    write(a.folder / "big/sub/two.bin", "2" * 50)
    write(a.folder / "keep.txt", "keep")
    a.sync()
    b.sync()
    everything = remote_tree(a.server, a.api_key, a.workspace)
    assert set(b.tree()) == {"big/one.bin", "big/sub/two.bin", "keep.txt"}

    excluded(b, "add", "big/")
    assert json.loads(excluded(b, "list", "--json"))["added"] == ["big"]
    b.sync()
    assert set(b.tree()) == {"keep.txt"}  # the local copy went to the trash
    assert remote_tree(a.server, a.api_key, a.workspace) == everything

    write(a.folder / "big/three.bin", "3")  # new on the server: not downloaded here
    a.sync()
    write(b.folder / "big/mine.txt", "local only")  # new here: not uploaded
    b.sync()
    b.sync()
    assert set(b.tree()) == {"keep.txt", "big/mine.txt"}
    assert "big/mine.txt" not in remote_tree(a.server, a.api_key, a.workspace)
    status = json.loads(b.run("--json", command="status").stdout)
    assert {"path": "big/mine.txt", "reason": "excluded on this device"} in status["skipped"]

    excluded(b, "remove", "big")
    b.sync()
    assert set(b.tree()) >= {"big/one.bin", "big/sub/two.bin", "big/three.bin", "keep.txt"}
    a.sync()
    assert "big/mine.txt" in a.tree()  # included again: the local file goes up now


def test_exclude_refuses_a_bad_path_and_removing_what_is_not_excluded(make_client):
    a = make_client("a")
    a.sync()
    proc = a.run("add", "/abs", command="exclude")
    assert proc.returncode == 2 and "bad path" in proc.stderr and "Traceback" not in proc.stderr
    proc = a.run("remove", "nothing", command="exclude")
    assert proc.returncode == 2 and "not excluded" in proc.stderr


def test_excluding_keeps_what_the_server_does_not_hold(make_client):
    """A folder excluded with an unsynced edit and a new file in it: only the synced part
    goes to the trash; the rest stays, is reported, and meets the server's versions as
    new files (both kept) when the folder is included again."""
    a = make_client("a")
    write(a.folder / "big/one.bin", "1" * 100)
    write(a.folder / "big/sub/two.bin", "2" * 50)
    a.sync()
    write(a.folder / "big/one.bin", "my edit, not uploaded yet")
    write(a.folder / "big/new.txt", "new here")
    excluded(a, "add", "big")
    a.sync()
    assert set(a.tree()) == {"big/one.bin", "big/new.txt"}
    assert (a.folder / "big/one.bin").read_text() == "my edit, not uploaded yet"
    server = remote_tree(a.server, a.api_key, a.workspace)
    assert set(server) == {"big/one.bin", "big/sub/two.bin"}  # nothing deleted, nothing up
    trashed = json.loads(a.run("list", "--json", command="trash").stdout)
    assert {r["path"] for r in trashed} == {"big/sub/two.bin"}
    a.sync()
    skipped = json.loads(a.run("--json", command="status").stdout)["skipped"]
    assert {s["path"] for s in skipped} >= {"big/one.bin", "big/new.txt"}

    excluded(a, "remove", "big")
    a.sync()
    a.sync()
    mine = "my edit, not uploaded yet"
    tree_now = {p: (a.folder / p).read_text() for p in a.tree()}
    assert mine in tree_now.values() and "1" * 100 in tree_now.values()  # both versions
    assert tree_now["big/sub/two.bin"] == "2" * 50 and tree_now["big/new.txt"] == "new here"
    assert remote_tree(a.server, a.api_key, a.workspace) == {p: h for p, h in a.tree().items()}
