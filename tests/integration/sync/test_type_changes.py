"""End to end: a folder replaced by a file (or the reverse), full and base-only servers.

A type change on one side only is an ordinary change: the other side follows, its old
entries go to its trash (locally) or are deleted (remotely). With a change at that path on
the other side too, both are kept. Client ``a`` makes each change; ``b`` follows it, which
is the same change arriving from the remote side.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from tests.support.clients import SyncClient, remote_tree, write


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def trashed(client: SyncClient) -> dict[str, str]:
    """rel path -> sha256 of every file in the client's trash (``DIR/date/time-rand/rel``)."""
    found = {}
    for trash in client.state_dir.glob("*.trash"):
        for path in trash.rglob("*"):
            if path.is_file() and path.parent != trash:  # not the trash's own index
                rel = path.relative_to(trash).parts[2:]
                found[Path(*rel).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def _synced_pair(make_client, files: dict[str, str]) -> tuple[SyncClient, SyncClient]:
    a, b = make_client("a"), make_client("b")
    for rel, text in {"keep.txt": "steady", **files}.items():
        write(a.folder / rel, text)
    a.sync()
    b.sync()
    assert b.tree() == a.tree()
    return a, b


def _no_conflict_copies(*clients: SyncClient) -> None:
    for client in clients:
        assert not [p for p in client.tree() if "conflicted copy" in p], client.tree()


def test_folder_replaced_by_a_file_is_followed(make_client, sync_server, account):
    a, b = _synced_pair(make_client, {"box/a.txt": "a", "box/sub/b.txt": "b"})
    shutil.rmtree(a.folder / "box")
    write(a.folder / "box", "now a file")
    a.sync()
    assert remote_tree(sync_server, *account) == a.tree()
    b.sync()
    expected = {"keep.txt": _sha("steady"), "box": _sha("now a file")}
    assert a.tree() == b.tree() == remote_tree(sync_server, *account) == expected
    assert (b.folder / "box").is_file()
    assert trashed(b) == {"box/a.txt": _sha("a"), "box/sub/b.txt": _sha("b")}
    _no_conflict_copies(a, b)
    for client in (a, b):  # nothing left to do on either side
        assert "uploaded 0, downloaded 0, moved 0, deleted 0" in client.sync().stdout


def test_file_replaced_by_a_folder_is_followed(make_client, sync_server, account):
    a, b = _synced_pair(make_client, {"box": "a file"})
    (a.folder / "box").unlink()
    write(a.folder / "box/in.txt", "inside")
    write(a.folder / "box/deep/er.txt", "deeper")
    a.sync()
    assert remote_tree(sync_server, *account) == a.tree()
    b.sync()
    expected = {
        "keep.txt": _sha("steady"),
        "box/in.txt": _sha("inside"),
        "box/deep/er.txt": _sha("deeper"),
    }
    assert a.tree() == b.tree() == remote_tree(sync_server, *account) == expected
    assert trashed(b) == {"box": _sha("a file")}
    _no_conflict_copies(a, b)
    for client in (a, b):
        assert "uploaded 0, downloaded 0, moved 0, deleted 0" in client.sync().stdout


def test_file_replacing_a_folder_that_changed_remotely_keeps_both(
    make_client, sync_server, account
):
    """The remote side added and edited inside the folder first: nothing of that is lost."""
    a, b = _synced_pair(make_client, {"box/a.txt": "a", "box/old.txt": "old"})
    write(b.folder / "box/new.txt", "new from b")
    write(b.folder / "box/a.txt", "a edited by b")
    b.sync()
    shutil.rmtree(a.folder / "box")
    write(a.folder / "box", "file from a")
    a.sync()
    b.sync()
    assert a.tree() == b.tree() == remote_tree(sync_server, *account)
    tree = a.tree()
    assert tree["box/new.txt"] == _sha("new from b")
    assert tree["box/a.txt"] == _sha("a edited by b")
    assert "box/old.txt" not in tree  # deleted by a, unchanged by b: a plain delete
    (copy,) = [p for p in tree if p.startswith("box (conflicted copy ")]
    assert tree[copy] == _sha("file from a")


def test_folder_changed_locally_while_remote_replaced_it_keeps_both(
    make_client, sync_server, account
):
    """The type change reached the server first; the changes inside win their paths."""
    a, b = _synced_pair(make_client, {"box/a.txt": "a", "box/old.txt": "old"})
    shutil.rmtree(a.folder / "box")
    write(a.folder / "box", "file from a")
    a.sync()
    write(b.folder / "box/new.txt", "new from b")
    write(b.folder / "box/a.txt", "a edited by b")
    b.sync()
    a.sync()
    assert a.tree() == b.tree() == remote_tree(sync_server, *account)
    tree = a.tree()
    assert tree["box/new.txt"] == _sha("new from b")
    assert tree["box/a.txt"] == _sha("a edited by b")
    assert "box/old.txt" not in tree
    (copy,) = [p for p in tree if p.startswith("box (conflicted copy ")]
    assert tree[copy] == _sha("file from a")
