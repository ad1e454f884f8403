"""End to end: moves are one request, names survive the trip, status reports the sync."""

from __future__ import annotations

import json
import os
import unicodedata

from tests.support.clients import remote_tree, write


def requests_since(server, mark: int, method: str) -> list[str]:
    """Access-log lines of the server after ``mark`` for one HTTP method."""
    return [line for line in server.stderr_lines[mark:] if f" method={method} " in line]


def test_directory_rename_is_one_move_without_transfer(make_client, sync_server, account, mode):
    a, b = make_client("a"), make_client("b")
    for i in range(10):
        write(a.folder / f"photos/{i}.jpg", f"picture {i}")
    a.sync()
    b.sync()
    os.rename(a.folder / "photos", a.folder / "albums")
    mark = len(sync_server.stderr_lines)
    proc = a.sync()
    assert "op=MoveRemote path=photos dest=albums" in proc.stderr
    assert requests_since(sync_server, mark, "PUT") == []
    b.sync()
    assert set(b.tree()) == {f"albums/{i}.jpg" for i in range(10)}
    assert remote_tree(sync_server, *account) == a.tree()


def test_nfd_name_on_disk_syncs_as_one_nfc_entry(make_client, sync_server, account):
    a, b = make_client("a"), make_client("b")
    nfd = unicodedata.normalize("NFD", "résumé.txt")
    write(a.folder / nfd, "cv")
    a.sync()
    assert set(remote_tree(sync_server, *account)) == {unicodedata.normalize("NFC", nfd)}
    b.sync()
    # a second sync of the NFD side sees no change: the NFD spelling is the same entry
    again = a.sync()
    assert "uploaded 0, downloaded 0" in again.stdout
    assert [p.name for p in b.folder.iterdir() if not p.name.startswith(".syncd-")] == [
        unicodedata.normalize("NFC", nfd)
    ]


def test_remote_entries_below_an_nfd_folder_land_inside_it(make_client, sync_server, account):
    """Found by the soak (seed 569): a folder spelled NFD on disk got a remote child, and
    the worker built the child's path from the NFC spelling: a folder that does not exist
    on disk. Every later sync failed on it and the clients never converged."""
    a, b = make_client("a"), make_client("b")
    nfd = unicodedata.normalize("NFD", "Ünïcode")
    nfc = unicodedata.normalize("NFC", nfd)
    (a.folder / nfd).mkdir()
    write(a.folder / nfd / "old.txt", "old")
    a.sync()
    b.sync()
    (b.folder / nfc / "sub").mkdir()
    write(b.folder / nfc / "sub" / "new.txt", "new")
    write(b.folder / nfc / "also.txt", "also")
    b.sync()
    os.rename(b.folder / nfc / "old.txt", b.folder / nfc / "sub" / "moved.txt")
    b.sync()
    a.sync()  # exit 0: nothing failed
    names = sorted(p.name for p in a.folder.iterdir() if not p.name.startswith(".syncd-"))
    assert names == [nfd]  # no NFC twin appeared beside the user's folder
    assert (a.folder / nfd / "sub" / "new.txt").read_text() == "new"
    assert (a.folder / nfd / "sub" / "moved.txt").read_text() == "old"
    assert (a.folder / nfd / "also.txt").read_text() == "also"
    on_a = {unicodedata.normalize("NFC", path): h for path, h in a.tree().items()}
    assert remote_tree(sync_server, *account) == on_a == b.tree()


def test_three_clients_converge_with_concurrent_edits(make_client):
    a, b, c = make_client("a"), make_client("b"), make_client("c")
    write(a.folder / "shared.txt", "v0")
    a.sync()
    b.sync()
    c.sync()
    write(a.folder / "shared.txt", "from a")
    write(b.folder / "shared.txt", "from b")
    write(c.folder / "c-only.txt", "c")
    for client in (a, b, c, a, b):
        client.sync()
    assert a.tree() == b.tree() == c.tree()
    versions = sorted(p.read_text() for p in c.folder.glob("shared*.txt"))
    assert versions == ["from a", "from b"]


def test_status_json_reports_last_sync_and_conflicts(make_client):
    a, b = make_client("a"), make_client("b")
    write(a.folder / "x.txt", "base")
    a.sync()
    b.sync()
    write(a.folder / "x.txt", "a")
    write(b.folder / "x.txt", "b")
    a.sync()
    b.sync()
    proc = b.run("--json", command="status")
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["last_sync"] is not None
    assert info["last_result"]["conflicts"] == 1
    assert [c["path"] for c in info["conflicts"]] == ["x.txt"]
