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
