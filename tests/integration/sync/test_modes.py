"""End to end: one-way modes write only their side, keep both versions of a conflict, stay
quiet on the next pass, and lose nothing when the folder goes back to two-way."""

from __future__ import annotations

import json

from tests.support.clients import SyncClient, local_tree, remote_tree, sync_settled, write


def remote(client: SyncClient) -> dict[str, str]:
    return remote_tree(client.server, client.api_key, client.workspace)


def contents(client: SyncClient) -> set[bytes]:
    return {p.read_bytes() for p in client.folder.rglob("*") if p.is_file()}


def remote_contents(client: SyncClient, names: set[str]) -> dict[str, str]:
    return {p: h for p, h in remote(client).items() if p in names}


def test_upload_only_changes_nothing_here_and_two_way_then_keeps_everything(make_client):
    a, b = make_client("a"), make_client("b")
    write(a.folder / "shared.txt", "base")
    write(a.folder / "kept.txt", "kept")
    a.sync()
    b.sync()
    write(b.folder / "shared.txt", "edit from b")
    write(b.folder / "theirs.txt", "new on the server")
    b.sync()
    write(a.folder / "shared.txt", "edit from a, longer")
    (a.folder / "kept.txt").unlink()
    write(a.folder / "mine.txt", "new here")
    before = local_tree(a.folder)

    proc = a.sync("--mode", "upload-only")
    assert "server copy at shared (conflicted copy " in proc.stderr
    assert local_tree(a.folder) == before  # the local folder is never changed
    on_server = remote(a)
    assert "kept.txt" in on_server  # a local delete is not propagated by default
    assert "mine.txt" in on_server
    (copy,) = [p for p in on_server if p.startswith("shared (conflicted copy ")]
    assert on_server[copy] == before["shared.txt"]  # the local version went up aside
    assert on_server["shared.txt"] != before["shared.txt"]  # the remote one stayed

    again = a.sync("--mode", "upload-only")  # the next pass loops on nothing
    assert "conflicted copy" not in again.stderr
    assert local_tree(a.folder) == before
    assert remote(a) == on_server
    status = json.loads(a.run("--json", command="status").stdout)
    assert status["mode"] == "upload-only"

    a.sync()  # back to two-way: every version ends up on both sides
    assert "op=" not in sync_settled(a).stderr
    b.sync()
    assert local_tree(a.folder) == remote(a) == local_tree(b.folder)
    assert {
        b"edit from a, longer",
        b"edit from b",
        b"kept",
        b"new here",
        b"new on the server",
    } <= contents(a)


def test_upload_only_propagates_local_deletes_when_told(make_client):
    a = make_client("a")
    write(a.folder / "gone.txt", "soon deleted")
    write(a.folder / "stays.txt", "stays")
    a.sync()
    (a.folder / "gone.txt").unlink()
    a.sync("--mode", "upload-only", "--propagate-deletes")
    assert set(remote(a)) == {"stays.txt"}
    assert local_tree(a.folder) == remote(a)


def test_download_only_never_writes_the_server_and_keeps_a_local_edit_aside(make_client):
    a, b = make_client("a"), make_client("b")
    write(a.folder / "shared.txt", "base")
    write(a.folder / "deleted here.txt", "comes back")
    a.sync()
    b.sync()
    write(b.folder / "shared.txt", "edit from b")
    b.sync()
    write(a.folder / "shared.txt", "edit from a, longer")
    write(a.folder / "mine.txt", "stays here")
    (a.folder / "deleted here.txt").unlink()
    on_server = remote(a)

    proc = a.sync("--mode", "download-only")
    assert "local copy at shared (conflicted copy " in proc.stderr
    assert remote(a) == on_server  # nothing written to the server
    assert (a.folder / "shared.txt").read_text() == "edit from b"
    (copy,) = a.folder.glob("shared (conflicted copy *")
    assert copy.read_text() == "edit from a, longer"
    assert (a.folder / "deleted here.txt").read_text() == "comes back"
    assert (a.folder / "mine.txt").read_text() == "stays here"
    settled = sync_settled_in(a, "download-only")
    assert "op=" not in settled.stderr
    assert remote(a) == on_server

    a.sync()  # two-way: what stayed local goes up now
    b.sync()
    assert local_tree(a.folder) == remote(a) == local_tree(b.folder)
    assert {copy.name, "mine.txt"} <= set(remote(a))


def sync_settled_in(client: SyncClient, mode: str):
    """A sync in ``mode`` after which one more must have nothing to do (sync_settled)."""
    proc = client.sync("--mode", mode)
    if "op=" in proc.stderr and all(
        "op=RecordBase" in line for line in proc.stderr.splitlines() if " op=" in line
    ):
        proc = client.sync("--mode", mode)
    return proc
