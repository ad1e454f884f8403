"""End to end: symbolic links, skipped by policy (exit 0, reported once) or followed.

Under ``symlinks = follow`` a link to a file inside the folder syncs that file's content;
what the server does to the link's path never writes through the link nor replaces it.
"""

from __future__ import annotations

import json
import os

from tests.support.clients import SyncClient, remote_tree, write


def status_of(client: SyncClient) -> dict:
    proc = client.run("--json", command="status")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_a_symlink_is_skipped_reported_once_and_the_sync_succeeds(
    make_client, sync_server, account
):
    a = make_client("a")
    write(a.folder / "ok.txt", "fine")
    os.symlink("/etc/passwd", a.folder / "out-link")
    os.symlink("ok.txt", a.folder / "in-link.txt")
    first = a.sync()  # exit 0: a healthy folder with links is no failure
    assert "could not sync" not in first.stderr
    assert first.stderr.count("event=skipped") == 2, first.stderr
    assert "event=skipped path=out-link" in first.stderr
    again = a.sync()
    assert "event=skipped" not in again.stderr  # reported once, not on every sync
    assert remote_tree(sync_server, *account).keys() == {"ok.txt"}
    info = status_of(a)
    assert {s["path"] for s in info["skipped"]} == {"out-link", "in-link.txt"}
    assert all("symlinks = skip" in s["reason"] for s in info["skipped"])
    assert info["errors"] == []
    (a.folder / "out-link").unlink()
    a.sync()
    assert {s["path"] for s in status_of(a)["skipped"]} == {"in-link.txt"}


def test_follow_uploads_the_target_content_but_never_leaves_the_folder(
    make_client, sync_server, account, tmp_path
):
    a, b = make_client("a"), make_client("b")
    secret = tmp_path / "outside" / "secret.txt"
    write(secret, "must never reach the server")
    write(a.folder / "docs/a.txt", "content of a")
    os.symlink("docs/a.txt", a.folder / "link.txt")
    os.symlink(secret, a.folder / "out.txt")
    os.symlink(a.folder / "docs", a.folder / "docs-link")
    a.sync("--symlinks", "follow")
    remote = remote_tree(sync_server, *account)
    assert remote.keys() == {"docs/a.txt", "link.txt"}
    assert remote["link.txt"] == remote["docs/a.txt"]
    skipped = {s["path"]: s["reason"] for s in status_of(a)["skipped"]}
    assert skipped.keys() == {"out.txt", "docs-link"}
    assert "outside the folder" in skipped["out.txt"] and "folder" in skipped["docs-link"]
    b.sync()
    assert (b.folder / "link.txt").read_text() == "content of a"
    # the target changes: the link's content follows on the next sync
    write(a.folder / "docs/a.txt", "content of a, edited")
    a.sync("--symlinks", "follow")
    b.sync()
    assert (b.folder / "link.txt").read_text() == "content of a, edited"
    assert (a.folder / "link.txt").is_symlink()


def test_a_remote_change_at_a_followed_link_keeps_the_link_and_both_versions(
    make_client, sync_server, account
):
    a, b = make_client("a"), make_client("b")
    write(a.folder / "docs/a.txt", "the target")
    os.symlink("docs/a.txt", a.folder / "link.txt")
    a.sync("--symlinks", "follow")
    b.sync()
    write(b.folder / "link.txt", "edited on b, where link.txt is a plain file")
    b.sync()
    proc = a.sync("--symlinks", "follow")
    assert "conflict" in proc.stderr
    # the link is still a link to the same target, and the target is untouched
    assert os.readlink(a.folder / "link.txt") == "docs/a.txt"
    assert (a.folder / "docs/a.txt").read_text() == "the target"
    (copy,) = a.folder.glob("link (conflicted copy *).txt")
    assert copy.read_text() == "edited on b, where link.txt is a plain file"
    assert [c["conflict_path"] for c in status_of(a)["conflicts"]] == [copy.name]
    b.sync()
    assert (b.folder / copy.name).read_text() == "edited on b, where link.txt is a plain file"
    assert (b.folder / "link.txt").read_text() == "the target"
    assert b.tree() == a.tree()
    assert remote_tree(sync_server, *account) == a.tree()
    again = a.sync("--symlinks", "follow")  # converged: nothing more to do
    assert "uploaded 0, downloaded 0" in again.stdout


def test_a_remote_delete_trashes_the_link_itself_and_keeps_its_target(make_client):
    a, b = make_client("a"), make_client("b")
    write(a.folder / "docs/a.txt", "the target")
    os.symlink("docs/a.txt", a.folder / "link.txt")
    a.sync("--symlinks", "follow")
    b.sync()
    (b.folder / "link.txt").unlink()
    b.sync()
    a.sync("--symlinks", "follow")
    assert not os.path.lexists(a.folder / "link.txt")
    assert (a.folder / "docs/a.txt").read_text() == "the target"
    (trashed,) = [
        os.path.join(d, n) for d, _, names in os.walk(a.state_dir) for n in names if n == "link.txt"
    ]
    assert os.readlink(trashed) == "docs/a.txt"  # the link itself, as it was
    assert a.tree() == b.tree()


def test_a_remote_move_makes_a_link_at_the_new_path(make_client, sync_server, account, mode):
    a, b = make_client("a"), make_client("b")
    write(a.folder / "docs/a.txt", "the target")
    os.symlink("docs/a.txt", a.folder / "link.txt")
    a.sync("--symlinks", "follow")
    b.sync()
    os.rename(b.folder / "link.txt", b.folder / "docs/moved.txt")
    b.sync()
    a.sync("--symlinks", "follow")
    assert not os.path.lexists(a.folder / "link.txt")
    moved = a.folder / "docs/moved.txt"
    assert moved.read_text() == "the target"
    if mode == "full":  # a move is seen by hash; a base-only server has none
        assert moved.is_symlink() and os.readlink(moved) == "a.txt"
    assert a.tree() == b.tree()
    assert remote_tree(sync_server, *account) == a.tree()
